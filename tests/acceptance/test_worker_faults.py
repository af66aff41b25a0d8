"""Faults a worker must survive with every job accounted for: a worker killed with
``kill -9``, a processor that hangs past its timeout, segfaults or calls ``sys.exit``."""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from jobs import services
from jobs.models import Job, JobLog, Worker
from jobs.states import JobStatus
from tests.acceptance.workers import (
    Workers,
    group_pids,
    pid_alive,
    wait_for,
    wait_for_status,
)
from tests.worker_processors import read_records

pytestmark = pytest.mark.slow


def test_killed_worker_jobs_are_taken_over_after_the_lease(
    workers: Workers, tmp_path: Path
) -> None:
    """kill -9 in the middle of two jobs: the one with attempts left is completed by another
    worker once the lease ran out (the lost attempt counted); the one on its last attempt
    fails with WORKER_LOST; the killed worker's row is marked gone."""
    runs = tmp_path / "runs.txt"
    params = {"path": str(runs), "seconds": 2.5, "steps": 25}
    again = services.enqueue("slow", params, max_attempts=3).pk
    last = services.enqueue("slow", params, max_attempts=1).pk
    doomed = workers.start("--concurrency", "2", "--name", "doomed")
    wait_for(
        lambda: len(read_records(runs)) == 2,
        timeout=20,
        message=lambda: f"jobs not started: {workers.describe()}",
    )
    doomed_id = doomed.row().pk
    assert set(Job.objects.filter(status="processing").values_list("worker_id", flat=True)) == {
        doomed_id
    }

    doomed.send(signal.SIGKILL)
    assert doomed.wait(10) == -signal.SIGKILL
    killed_at = time.monotonic()
    rescuer = workers.start("--concurrency", "2", "--name", "rescuer")
    rescuer_id = rescuer.row().pk

    completed, lost = wait_for_status([again, last], {"completed", "failed"}, workers, timeout=30)
    # Not before the lease (3 s from the last renewal) ran out.
    assert time.monotonic() - killed_at >= 2.0
    assert completed.status == JobStatus.COMPLETED
    assert completed.attempts == 2
    assert completed.results == {"steps": 25}
    assert lost.status == JobStatus.FAILED
    assert lost.attempts == 1
    assert lost.error["code"] == "WORKER_LOST"

    executions = Counter(item.job_id for item in read_records(runs, "run"))
    assert executions == {again: 2, last: 1}
    messages = list(JobLog.objects.filter(job_id=again).values_list("message", flat=True))
    assert any(f"Lease of worker {doomed_id} expired" in text for text in messages), messages
    assert any(f"Claimed by worker {rescuer_id} (attempt 2/3)" in text for text in messages)

    wait_for(
        lambda: Worker.objects.get(pk=doomed_id).status == Worker.Status.GONE,
        timeout=10,
        message="the killed worker's row was not marked gone",
    )
    assert Worker.objects.get(pk=rescuer_id).status == Worker.Status.RUNNING
    # The killed worker's children noticed their parent is gone and exited.
    wait_for(
        lambda: group_pids(doomed.pid) == [],
        timeout=10,
        message=lambda: f"orphans of the killed worker still run: {group_pids(doomed.pid)}",
    )


def test_a_killed_workers_job_that_never_started_keeps_its_attempt(
    workers: Workers, tmp_path: Path
) -> None:
    """kill -9 while one job runs and another waits in the worker's prefetch, both on their
    only attempt: the one that ran fails with WORKER_LOST; the one that never started goes
    back to pending with its attempt unspent, and another worker runs it."""
    runs = tmp_path / "runs.txt"
    doomed = workers.start("--concurrency", "1", "--name", "doomed")
    doomed_id = doomed.row().pk
    slow = {"path": str(runs), "seconds": 30, "steps": 300}
    ran = services.enqueue("slow", slow, max_attempts=1).pk
    wait_for(lambda: read_records(runs), timeout=20, message=workers.describe)
    waited = services.enqueue("record", {"path": str(runs)}, max_attempts=1).pk
    wait_for(
        lambda: Job.objects.filter(pk=waited, status="processing", worker_id=doomed_id).exists(),
        timeout=10,
        message=lambda: f"the second job was not claimed ahead: {workers.describe()}",
    )

    doomed.send(signal.SIGKILL)
    assert doomed.wait(10) == -signal.SIGKILL
    workers.start("--concurrency", "1", "--name", "rescuer")

    lost, done = wait_for_status([ran, waited], {"completed", "failed"}, workers, timeout=30)
    assert (lost.status, lost.attempts, lost.error["code"]) == ("failed", 1, "WORKER_LOST")
    assert (done.status, done.attempts, done.error) == ("completed", 1, None)
    assert [item.job_id for item in read_records(runs, "run")] == [ran, waited]
    messages = list(JobLog.objects.filter(job_id=waited).values_list("message", flat=True))
    assert (
        f"Lease of worker {doomed_id} expired before the job started; back to pending, "
        "attempt 1/1 not spent." in messages
    ), messages


def test_hanging_job_is_killed_at_its_timeout(workers: Workers, tmp_path: Path) -> None:
    runs = tmp_path / "runs.txt"
    hang = services.enqueue("hang", {"path": str(runs)}).pk
    after = services.enqueue("record", {"path": str(runs)}).pk
    worker = workers.start("--concurrency", "1")
    started = time.monotonic()

    failed, completed = wait_for_status([hang, after], {"completed", "failed"}, workers, 20)
    assert time.monotonic() - started < 10
    assert failed.status == JobStatus.FAILED
    assert failed.error["code"] == "TIMEOUT"
    assert failed.error["details"] == {"timeout_seconds": 1.0}
    assert failed.attempts == 1
    assert completed.status == JobStatus.COMPLETED

    hang_run, after_run = read_records(runs)
    assert (hang_run.job_id, after_run.job_id) == (hang, after)
    assert not pid_alive(hang_run.pid), "the hanging child was not killed"
    assert after_run.pid != hang_run.pid
    # The replacement child is warm and keeps serving.
    assert worker.alive()
    assert len(worker.children()) >= 1


def test_segfault_and_sys_exit_cost_only_their_job(workers: Workers, tmp_path: Path) -> None:
    runs = tmp_path / "runs.txt"
    segfault = services.enqueue("segfault", {"path": str(runs)}, max_attempts=2).pk
    exits = services.enqueue("exit", {"path": str(runs)}).pk
    worker = workers.start("--concurrency", "1")
    crashed, exited = wait_for_status([segfault, exits], "failed", workers, timeout=30)
    after = services.enqueue("echo", {"message": "still here"}).pk
    (echoed,) = wait_for_status(after, "completed", workers)

    assert crashed.error["code"] == "PROCESSOR_CRASHED"
    assert "signal 11" in crashed.error["message"]
    assert crashed.error["details"] == {"exitcode": -signal.SIGSEGV}
    assert crashed.attempts == 2, "a crash is retried while attempts are left"
    assert exited.error["code"] == "PROCESSOR_CRASHED"
    assert exited.error["details"] == {"exitcode": 3}
    assert exited.attempts == 1
    assert echoed.results["message"] == "still here"

    executions = Counter(item.job_id for item in read_records(runs))
    assert executions == {segfault: 2, exits: 1}
    retry_logs = JobLog.objects.filter(job_id=segfault, message__startswith="Attempt failed")
    assert retry_logs.count() == 1
    assert worker.alive()


def test_a_child_over_its_memory_limit_is_replaced(workers: Workers, tmp_path: Path) -> None:
    """Children are kept warm and reused, until a processor leaks past
    JOBCENTER_CHILD_MAX_MEMORY_MB: then the job still completes and a fresh child follows."""
    runs = tmp_path / "runs.txt"
    workers.start("--concurrency", "1", env={"JOBCENTER_CHILD_MAX_MEMORY_MB": "300"})
    ids = [services.enqueue("record", {"path": str(runs)}).pk for _ in range(2)]
    ids.append(services.enqueue("leaky", {"path": str(runs), "megabytes": 400}).pk)
    ids.append(services.enqueue("record", {"path": str(runs)}).pk)
    jobs = wait_for_status(ids, "completed", workers, timeout=30)
    assert jobs[2].results == {"leaked_mb": 400}
    first, second, leaky, after = read_records(runs)
    assert first.pid == second.pid == leaky.pid, "children are reused between jobs"
    assert after.pid != leaky.pid, "the leaking child was not replaced"
    wait_for(lambda: not pid_alive(leaky.pid), timeout=10, message="leaky child still alive")
