"""Stopping work on purpose: cancelling a running job, and shutting a worker down with
SIGTERM (graceful, bounded by --shutdown-timeout; a second signal stops at once)."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest

from jobs import services
from jobs.models import Job, JobLog, Worker
from jobs.states import JobStatus
from tests.acceptance.workers import (
    Workers,
    pid_alive,
    wait_for,
    wait_for_status,
)
from tests.worker_processors import read_records

pytestmark = pytest.mark.slow


def started(runs: Path, count: int, workers: Workers, event: str = "run") -> list[Any]:
    return wait_for(
        lambda: len(read_records(runs, event)) >= count and read_records(runs, event),
        timeout=20,
        message=lambda: f"fewer than {count} jobs started: {workers.describe()}",
    )


def test_cancel_running_jobs(workers: Workers, tmp_path: Path) -> None:
    """A processor that checks ctx.cancelled stops on its own; one that ignores it is killed
    after the grace period (1 s here); both end cancelled and the worker goes on."""
    runs = tmp_path / "runs.txt"
    worker = workers.start("--concurrency", "2")
    polite = services.enqueue("slow", {"path": str(runs), "seconds": 60, "steps": 600}).pk
    stubborn = services.enqueue("ignores_cancel", {"path": str(runs), "seconds": 60}).pk
    records = {item.job_id: item for item in started(runs, 2, workers)}

    cancelled_at = time.monotonic()
    assert services.cancel(polite).cancel_requested
    assert services.cancel(stubborn).cancel_requested
    jobs = wait_for_status([polite, stubborn], "cancelled", workers, timeout=15)
    assert time.monotonic() - cancelled_at < 10
    for job in jobs:
        assert job.completed_at is not None
        assert job.worker_id is None and not job.cancel_requested
        messages = list(JobLog.objects.filter(job_id=job.pk).values_list("message", flat=True))
        assert messages[-2:] == ["Cancel requested.", "Cancelled while running."], messages

    # The polite one saw ctx.cancelled and returned; its child lives on for the next job.
    assert [item.job_id for item in read_records(runs, "saw_cancel")] == [polite]
    assert pid_alive(records[polite].pid)
    # The stubborn one never finished its sleep: its child was killed.
    assert read_records(runs, "end") == []
    wait_for(
        lambda: not pid_alive(records[stubborn].pid),
        timeout=5,
        message="the child ignoring the cancel still runs",
    )
    after = services.enqueue("record", {"path": str(runs)}).pk
    wait_for_status(after, "completed", workers)
    assert worker.alive()


def test_sigterm_lets_running_jobs_finish(workers: Workers, tmp_path: Path) -> None:
    runs = tmp_path / "runs.txt"
    worker = workers.start("--concurrency", "1", "--shutdown-timeout", "20")
    running = services.enqueue("slow", {"path": str(runs), "seconds": 2, "steps": 20}).pk
    started(runs, 1, workers)
    waiting = services.enqueue("record", {"path": str(runs)}).pk
    time.sleep(0.5)  # let the worker claim ahead, if it does: what it holds goes back

    worker.send(signal.SIGTERM)
    assert worker.wait(20) == 0, worker.describe()
    finished = Job.objects.get(pk=running)
    assert finished.status == JobStatus.COMPLETED
    assert finished.results == {"steps": 20}
    left = Job.objects.get(pk=waiting)
    assert (left.status, left.attempts, left.worker_id) == (JobStatus.PENDING, 0, None)
    assert [item.job_id for item in read_records(runs)] == [running]
    row = worker.row()
    assert row.status == Worker.Status.STOPPED and row.stopped_at is not None


def test_sigterm_hands_unfinished_jobs_back_without_spending_an_attempt(
    workers: Workers, tmp_path: Path
) -> None:
    runs = tmp_path / "runs.txt"
    worker = workers.start("--concurrency", "2", "--shutdown-timeout", "0.5")
    ids = [
        services.enqueue("ignores_cancel", {"path": str(runs), "seconds": 60}).pk for _ in range(2)
    ]
    records = started(runs, 2, workers)
    assert Job.objects.get(pk=ids[0]).attempts == 1

    signalled = time.monotonic()
    worker.send(signal.SIGTERM)
    assert worker.wait(15) == 0, worker.describe()
    assert time.monotonic() - signalled < 8
    for job in Job.objects.filter(pk__in=ids):
        assert (job.status, job.attempts, job.worker_id) == (JobStatus.PENDING, 0, None)
        assert job.lease_expires_at is None
        assert JobLog.objects.filter(job_id=job.pk, message__startswith="Released").exists()
    for item in records:
        assert not pid_alive(item.pid), "a child outlived its worker"
    assert worker.row().status == Worker.Status.STOPPED

    # Handed back means runnable: the next worker takes them as attempt 1 again.
    services.cancel(ids[1])
    workers.start("--concurrency", "1", "--shutdown-timeout", "0.5")
    records = started(runs, 3, workers)
    assert (records[-1].job_id, records[-1].attempt) == (ids[0], 1)


def test_second_sigterm_stops_at_once(workers: Workers, tmp_path: Path) -> None:
    runs = tmp_path / "runs.txt"
    worker = workers.start("--concurrency", "1", "--shutdown-timeout", "60")
    job_id = services.enqueue("ignores_cancel", {"path": str(runs), "seconds": 60}).pk
    (record,) = started(runs, 1, workers)
    worker_id = worker.row().pk

    worker.send(signal.SIGTERM)
    time.sleep(0.5)
    assert worker.alive(), "the first SIGTERM must wait for the running job"
    signalled = time.monotonic()
    worker.send(signal.SIGTERM)
    worker.wait(10)
    assert time.monotonic() - signalled < 5
    wait_for(lambda: not pid_alive(record.pid), timeout=5, message="the child still runs")
    # The job was handed back on the way out, its attempt not spent; the worker is stopped.
    job = Job.objects.get(pk=job_id)
    assert (job.status, job.worker_id, job.attempts) == (JobStatus.PENDING, None, 0)
    assert Worker.objects.get(pk=worker_id).status == Worker.Status.STOPPED


@pytest.mark.parametrize("change", ["set pending", "fail and restart"])
def test_a_job_taken_from_a_running_worker_never_runs_on_two_workers_at_once(
    workers: Workers, tmp_path: Path, change: str
) -> None:
    """Another worker, idle and polling, must not claim the job before the worker running
    it has heard (at its next heartbeat) and stopped that attempt."""
    runs = tmp_path / "runs.txt"
    workers.start_many(2, "--concurrency", "1")
    job_id = services.enqueue("slow", {"path": str(runs), "seconds": 4, "steps": 40}).pk
    started(runs, 1, workers)
    if change == "set pending":
        services.set_pending(job_id)
    else:
        services.fail(job_id, "STOPPED", "failed by an operator")
        services.restart(job_id)
    wait_for_status(job_id, "completed", workers, timeout=30)
    records = read_records(runs)
    assert [item.event for item in records] == ["run", "saw_cancel", "run"], records
    assert records[2].at >= records[1].at  # the second attempt began after the first stopped


def test_a_job_set_back_whose_attempt_ends_before_the_worker_hears_runs_again_at_once(
    workers: Workers, tmp_path: Path
) -> None:
    """Its attempt ends normally, its outcome is dropped, and the worker lets go of it
    then: it must not wait for its lease (a minute) to run again."""
    runs = tmp_path / "runs.txt"
    slow_news = {"JOBCENTER_HEARTBEAT_SECONDS": "30", "JOBCENTER_LEASE_SECONDS": "60"}
    workers.start_many(2, "--concurrency", "1", env=slow_news)
    job_id = services.enqueue("slow", {"path": str(runs), "seconds": 1, "steps": 10}).pk
    started(runs, 1, workers)
    services.set_pending(job_id)
    changed = time.monotonic()
    wait_for_status(job_id, "completed", workers, timeout=20)
    assert [item.event for item in read_records(runs)] == ["run", "run"]
    assert time.monotonic() - changed < 15  # not the 60 s lease
    assert Job.objects.get(pk=job_id).attempts == 2


def test_a_running_job_set_back_to_pending_runs_again_after_its_attempt_stopped(
    workers: Workers, tmp_path: Path
) -> None:
    """The worker that runs it must not claim it again while the first attempt still runs
    (two children on one job), nor let that attempt's outcome end the second one."""
    runs = tmp_path / "runs.txt"
    workers.start("--concurrency", "2")
    job_id = services.enqueue("slow", {"path": str(runs), "seconds": 3, "steps": 30}).pk
    started(runs, 1, workers)

    services.set_pending(job_id)
    job = wait_for_status(job_id, "completed", workers, timeout=30)[0]

    assert [item.event for item in read_records(runs)] == ["run", "saw_cancel", "run"]
    assert (job.attempts, job.results) == (2, {"steps": 30})
    assert (job.completed_at - job.started_at).total_seconds() >= 3
    messages = list(JobLog.objects.filter(job_id=job_id).values_list("message", flat=True))
    assert messages.count("Completed.") == 1, messages
