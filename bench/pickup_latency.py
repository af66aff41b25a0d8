"""Pickup latency: an idle worker, N jobs enqueued one at a time D ms apart; the time from
enqueue (created_at) to the start (started_at: a child process of the worker began the
job, after the claim), p50 and p95. On PostgreSQL LISTEN/NOTIFY wakes the worker; on
SQLite it polls (--poll-interval, default 1 s).

    .venv/bin/python bench/pickup_latency.py --database postgresql --jobs 200 --gap-ms 50
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from common import REPO, fresh_database, machine, percentile, setup_django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--gap-ms", type=float, default=50)
    parser.add_argument("--poll-interval", type=float, default=1.0)
    args = parser.parse_args()
    env = fresh_database(args.database)
    setup_django(env)
    print(machine())
    from jobs.models import Job, Worker
    from jobs.services import enqueue

    worker = subprocess.Popen(
        [sys.executable, "manage.py", "runworker", "--poll-interval", str(args.poll_interval)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not Worker.objects.filter(status="running").exists():
            if time.monotonic() > deadline:
                raise SystemExit("the worker did not start")
            time.sleep(0.2)
        time.sleep(2)  # children warm, worker idle
        for _ in range(args.jobs):
            enqueue("echo", {"message": "latency"})
            time.sleep(args.gap_ms / 1000)
        deadline = time.monotonic() + 60
        while Job.objects.exclude(status="completed").exists():
            if time.monotonic() > deadline:
                raise SystemExit("jobs did not complete")
            time.sleep(0.2)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    latencies = [
        (started - created).total_seconds() * 1000
        for created, started in Job.objects.values_list("created_at", "started_at")
    ]
    print(
        f"database={args.database} jobs={args.jobs} gap={args.gap_ms}ms "
        f"poll_interval={args.poll_interval}s: enqueue->start p50 "
        f"{percentile(latencies, 0.5):.1f} ms, p95 {percentile(latencies, 0.95):.1f} ms, "
        f"max {max(latencies):.1f} ms"
    )


if __name__ == "__main__":
    main()
