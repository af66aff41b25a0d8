"""Several ``runworker`` processes drain one batch: every job runs exactly once.

Executions are counted outside the job table (one line per run in a file), so a job run
twice, or run and lost, shows up even if the job rows look right.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from batches.models import Batch
from batches.services import create_batch, recount_batch
from jobs.models import Job, JobLog, Worker
from jobs.states import JobStatus
from tests.acceptance.workers import Workers, wait_for
from tests.worker_processors import read_records

pytestmark = pytest.mark.slow

JOBS = 2000
WORKERS = 3


def test_three_workers_drain_a_batch_exactly_once(workers: Workers, tmp_path: Path) -> None:
    runs = tmp_path / "runs.txt"
    specs = [
        {"job_type": "record", "parameters": {"path": str(runs), "seconds": 0.002}}
        if index % 2
        else {"job_type": "echo", "parameters": {"message": f"m{index}"}}
        for index in range(JOBS)
    ]
    # All three ready before the first job exists: a worker that starts first on a busy
    # machine could otherwise drain the whole batch alone, and nothing would have raced.
    # A lease long enough that a worker stalled for seconds on a loaded machine (SQLite's
    # write lock, six children on two cores) keeps its jobs: expiry is not under test here,
    # and an echo job (one attempt) whose lease ran out would fail WORKER_LOST.
    lease = {"JOBCENTER_LEASE_SECONDS": "30"}
    processes = workers.start_many(WORKERS, "--concurrency", "2", env=lease)
    started = time.monotonic()
    created = create_batch("drain", specs)
    batch_id = created.batch.pk
    record_ids = {job_id for index, job_id in enumerate(created.job_ids) if index % 2}
    unfinished = Job.objects.filter(batch_id=batch_id).exclude(status=JobStatus.COMPLETED)
    wait_for(lambda: not unfinished.exists(), timeout=120, message=workers.describe)
    elapsed = time.monotonic() - started
    print(f"{JOBS} jobs drained by {WORKERS} workers in {elapsed:.1f}s")
    for process in processes:
        process.send(signal.SIGTERM)
    codes = [process.wait(timeout=60) for process in processes]

    assert codes == [0] * WORKERS, workers.describe()
    executions = Counter(item.job_id for item in read_records(runs))
    assert set(executions) == record_ids
    assert [job_id for job_id, count in executions.items() if count != 1] == []

    statuses = Counter(Job.objects.filter(batch_id=batch_id).values_list("status", flat=True))
    assert statuses == {JobStatus.COMPLETED: JOBS}
    assert set(Job.objects.filter(batch_id=batch_id).values_list("attempts", flat=True)) == {1}
    echoed = Job.objects.filter(batch_id=batch_id, job_type="echo").values_list(
        "parameters", "results"
    )
    assert all(results["message"] == params["message"] for params, results in echoed)
    # One "Claimed" line per job more than it has "Released" lines (a worker hands back
    # what no child took for a while): nobody claimed a job another one held.
    lines = Counter(
        (job_id, message.split(" ", 1)[0])
        for job_id, message in JobLog.objects.filter(job__batch_id=batch_id)
        .values_list("job_id", "message")
        .iterator()
    )
    held = {lines[job_id, "Claimed"] - lines[job_id, "Released"] for job_id in created.job_ids}
    assert held == {1}

    batch = Batch.objects.get(pk=batch_id)
    assert recount_batch(batch_id, dry_run=True) == {}
    assert (batch.total_jobs, batch.completed_jobs) == (JOBS, JOBS)
    assert (batch.pending_jobs, batch.processing_jobs, batch.failed_jobs) == (0, 0, 0)
    assert batch.status == JobStatus.COMPLETED and batch.completed_at is not None

    rows = list(Worker.objects.filter(pid__in=[p.pid for p in processes]))
    assert len(rows) == WORKERS
    assert {row.status for row in rows} == {Worker.Status.STOPPED}
    assert sum(row.jobs_done for row in rows) == JOBS
    # They really raced: at least two took part.
    assert sum(row.jobs_done > 0 for row in rows) >= 2, [(r.name, r.jobs_done) for r in rows]
