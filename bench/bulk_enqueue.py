"""Bulk enqueue: N echo jobs in one create_batch call (validation, one transaction, bulk
inserts of jobs and their log lines), median of several runs on a fresh database.

    .venv/bin/python bench/bulk_enqueue.py --database sqlite --jobs 10000 --runs 5
"""

from __future__ import annotations

import argparse
import time

from common import fresh_database, machine, median, setup_django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    setup_django(fresh_database(args.database))
    print(machine())
    from batches.services import create_batch

    jobs = [{"job_type": "echo", "parameters": {"message": f"job {i}"}} for i in range(args.jobs)]
    create_batch("warm-up", jobs[:10])
    timings = []
    for run in range(args.runs):
        start = time.perf_counter()
        created = create_batch(f"bulk {run}", jobs)
        timings.append(time.perf_counter() - start)
        assert created.batch.total_jobs == args.jobs
    print(
        f"database={args.database} jobs={args.jobs} runs={args.runs}: median "
        f"{median(timings):.3f} s ({args.jobs / median(timings):.0f} jobs/s); "
        f"all: {', '.join(f'{t:.3f}' for t in timings)}"
    )


if __name__ == "__main__":
    main()
