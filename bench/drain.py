"""Drain: bulk-enqueue N echo jobs, run one `runworker --burst`, measure jobs/s.

Throughput is taken from the database's own timestamps, from the first claim to the last
completion, so process start-up is not counted. Beside it, in the same run and on the same
database, the ceiling: the same number of bare claim+complete cycles done with plain ORM
calls in one loop (one compare-and-set UPDATE and one completing UPDATE per job, each
committed), and the ratio of the two.

    .venv/bin/python bench/drain.py --database sqlite --jobs 10000 --runs 3
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from common import REPO, fresh_database, machine, median


def enqueue(count: int) -> None:
    from batches.services import create_batch

    create_batch("drain", [{"job_type": "echo", "parameters": {"message": "x"}}] * count)


def drain_once(kind: str, count: int, concurrency: int | None) -> float:
    env = fresh_database(kind)
    command = [sys.executable, "manage.py", "runworker", "--burst"]
    if concurrency:
        command += ["--concurrency", str(concurrency)]
    script = (
        "import sys; sys.path.insert(0, 'bench');"
        "from common import setup_django; import os;"
        "setup_django(dict(os.environ));"
        f"from drain import enqueue; enqueue({count})"
    )
    subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, check=True)
    subprocess.run(command, cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL)
    probe = (
        "import sys; sys.path.insert(0, 'bench');"
        "from common import setup_django; import os;"
        "setup_django(dict(os.environ));"
        "from django.db.models import Max, Min; from jobs.models import Job;"
        "r = Job.objects.aggregate(a=Min('started_at'), b=Max('completed_at'));"
        "n = Job.objects.filter(status='completed').count();"
        "print(n, (r['b'] - r['a']).total_seconds())"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, env=env, check=True, capture_output=True, text=True
    ).stdout.split()
    done, seconds = int(out[0]), float(out[1])
    if done != count:
        raise SystemExit(f"only {done} of {count} jobs completed")
    return count / seconds


def ceiling_once(kind: str, count: int) -> float:
    """The naive loop: claim with a compare-and-set UPDATE, complete with another UPDATE,
    each in its own transaction (autocommit), one job at a time."""
    env = fresh_database(kind)
    script = (
        "import sys; sys.path.insert(0, 'bench');"
        "from common import setup_django; import os;"
        "setup_django(dict(os.environ));"
        f"from drain import enqueue, naive_loop; enqueue({count}); print(naive_loop())"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(out.strip().splitlines()[-1])


def naive_loop() -> float:
    from django.utils import timezone

    from jobs.models import Job

    ids = list(Job.objects.filter(status="pending").values_list("pk", flat=True))
    start = time.perf_counter()
    for pk in ids:
        Job.objects.filter(pk=pk, status="pending").update(
            status="processing", worker_id="naive", started_at=timezone.now()
        )
        Job.objects.filter(pk=pk, status="processing").update(
            status="completed", results={}, completed_at=timezone.now()
        )
    return len(ids) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(machine())
    results: dict[str, list[float]] = {"default": [], "1": [], "ceiling": []}
    for _ in range(args.runs):
        results["default"].append(drain_once(args.database, args.jobs, None))
        results["1"].append(drain_once(args.database, args.jobs, 1))
        results["ceiling"].append(ceiling_once(args.database, args.jobs))
    default, single, ceiling = (median(results[k]) for k in ("default", "1", "ceiling"))
    print(f"database={args.database} jobs={args.jobs} runs={args.runs}")
    print(f"runworker default concurrency: median {default:.0f} jobs/s  {results['default']}")
    print(f"runworker --concurrency 1:     median {single:.0f} jobs/s  {results['1']}")
    print(f"naive claim+complete loop:     median {ceiling:.0f} cycles/s {results['ceiling']}")
    print(f"ratio worker/naive: {default / ceiling:.2f}")


if __name__ == "__main__":
    main()
