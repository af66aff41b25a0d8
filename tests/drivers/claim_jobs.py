"""Claim (and finish) jobs with the queue services, racing other processes doing the same
(tests/integration/test_queue.py).

Usage: python -m tests.drivers.claim_jobs WORKER_ID GO_FILE LIMIT PATH [--finish] [--peers N]

PATH is ``default`` (the backend's fast path: SKIP LOCKED on PostgreSQL) or ``portable``
(``skip_locked=False``). Claims LIMIT jobs at a time until no job is pending; with
--finish, completes what it claimed after each round (one finish_jobs call) so that the
batch counters race too. With --peers N, each process waits after its first claim until
all N have made theirs (marker files next to GO_FILE): the first claims race, and SQLite's
busy handler (no fairness) cannot let one process take every job before the others got the
lock once. Prints {"claimed": [ids in claim order], "recorded": [ids]}.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from tests.drivers import report, setup_and_wait


def main(argv: list[str]) -> None:
    worker_id, go_file, limit, path = argv[0], Path(argv[1]), int(argv[2]), argv[3]
    finish = "--finish" in argv[4:]
    peers = int(argv[argv.index("--peers") + 1]) if "--peers" in argv else 0
    setup_and_wait(go_file)

    from jobs import queue
    from jobs.models import Job
    from jobs.states import JobStatus

    skip_locked = None if path == "default" else False
    claimed: list[str] = []
    recorded: list[str] = []
    while True:
        jobs = queue.claim_jobs(worker_id, limit=limit, lease_seconds=120, skip_locked=skip_locked)
        claimed += [job.job_id for job in jobs]
        if peers and len(claimed) == len(jobs):  # the first round
            wait_for_peers(go_file.parent, worker_id, peers)
        if finish and jobs:
            outcomes = [
                queue.Outcome(job.job_id, "completed", results={}, attempt=job.attempt)
                for job in jobs
            ]
            recorded += queue.finish_jobs(worker_id, outcomes)
        if not jobs and not Job.objects.filter(status=JobStatus.PENDING).exists():
            break
        # A real worker runs its jobs between claims.
        time.sleep(0.002)
    report({"claimed": claimed, "recorded": recorded})


def wait_for_peers(folder: Path, worker_id: str, peers: int, timeout: float = 30.0) -> None:
    (folder / f"first-claim-{worker_id}").touch()
    deadline = time.monotonic() + timeout
    while len(list(folder.glob("first-claim-*"))) < peers:
        if time.monotonic() > deadline:
            raise SystemExit(f"{worker_id}: the other processes made no first claim")
        time.sleep(0.005)


if __name__ == "__main__":
    main(sys.argv[1:])
