"""What running workers take, and when: per-type limits across workers (measured), priority
order, run_after, inactive batches, paused types, and the command's options."""

from __future__ import annotations

import socket
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from batches.services import create_batch, set_active, toggle_active
from jobs import services
from jobs.models import Job, JobLog, JobTypeSetting, Worker
from jobs.states import JobStatus
from tests.acceptance.workers import Workers, wait_for, wait_for_status
from tests.worker_processors import read_records

pytestmark = pytest.mark.slow


def max_overlap(path: Path) -> int:
    """The most jobs running at the same moment, from their recorded start and end times."""
    events = sorted(
        [(item.at, 1) for item in read_records(path, "start")]
        + [(item.at, -1) for item in read_records(path, "end")],
        key=lambda event: (event[0], event[1]),  # at equal times an end comes first
    )
    running = peak = 0
    for _, change in events:
        running += change
        peak = max(peak, running)
    return peak


def test_type_limit_holds_across_workers(workers: Workers, tmp_path: Path) -> None:
    """``limited`` allows 2 at once over all workers. Each of the 3 workers runs one job at
    a time, so reaching 2 takes two workers, and only the shared limit keeps the third out.
    Measured from the processors' own start/end times, not from the job table."""
    runs = tmp_path / "runs.txt"
    workers.start_many(3, "--concurrency", "1")
    ids = [services.enqueue("limited", {"path": str(runs), "seconds": 0.4}).pk for _ in range(10)]
    wait_for_status(ids, "completed", workers, timeout=60)

    assert len(read_records(runs, "start")) == 10
    assert max_overlap(runs) == 2
    claimers = {
        message.split()[3]
        for message in JobLog.objects.filter(job_id__in=ids, message__startswith="Claimed")
        .values_list("message", flat=True)
        .iterator()
    }
    assert len(claimers) >= 2, "the limited jobs were not shared among the workers"


def test_priority_then_age(workers: Workers, tmp_path: Path) -> None:
    runs = tmp_path / "runs.txt"
    base = timezone.now() - timedelta(minutes=5)
    jobs = []
    for offset, priority in enumerate([0, 5, -1, 5, 10, 0]):
        job = services.enqueue("record", {"path": str(runs)}, priority=priority)
        Job.objects.filter(pk=job.pk).update(created_at=base + timedelta(seconds=offset))
        jobs.append((-priority, offset, job.pk))
    worker = workers.start("--concurrency", "1", "--burst", ready=False)
    assert worker.wait(60) == 0, worker.describe()
    assert [item.job_id for item in read_records(runs)] == [pk for *_, pk in sorted(jobs)]


def test_run_after_is_respected(workers: Workers, tmp_path: Path) -> None:
    runs = tmp_path / "runs.txt"
    workers.start("--concurrency", "2")
    not_before = timezone.now() + timedelta(seconds=2)
    later = services.enqueue("record", {"path": str(runs)}, run_after=not_before).pk
    now = services.enqueue("record", {"path": str(runs)}).pk
    wait_for_status([later, now], "completed", workers)
    first, second = read_records(runs)
    assert (first.job_id, second.job_id) == (now, later)
    assert second.at >= not_before.timestamp()
    assert Job.objects.get(pk=later).started_at >= not_before


def test_started_at_is_when_a_child_took_the_job_not_the_claim(
    workers: Workers, tmp_path: Path
) -> None:
    """One child, two jobs: the second is claimed ahead while the first runs and waits in
    the worker's prefetch. Its started_at is when its run began, so its duration is its run,
    not its wait."""
    runs = tmp_path / "runs.txt"
    workers.start("--concurrency", "1")
    first = services.enqueue("record", {"path": str(runs), "seconds": 2}).pk
    wait_for(lambda: read_records(runs), timeout=20, message=workers.describe)
    second = services.enqueue("record", {"path": str(runs)}).pk
    waiting = wait_for(
        lambda: Job.objects.filter(pk=second, status=JobStatus.PROCESSING).first(),
        timeout=10,
        message=lambda: f"the second job was not claimed ahead: {workers.describe()}",
    )
    assert waiting.started_at is None, "claimed, waiting for the child: not started"

    done = wait_for_status([first, second], JobStatus.COMPLETED, workers)[1]
    claimed = JobLog.objects.get(job_id=second, message__startswith="Claimed by").timestamp
    (run,) = [item for item in read_records(runs) if item.job_id == second]
    assert done.started_at - claimed >= timedelta(seconds=1), (claimed, done.started_at)
    assert done.started_at.timestamp() <= run.at  # stamped as the job was handed over
    assert done.duration is not None and done.duration < 1.0


def test_jobs_claimed_ahead_go_back_when_their_batch_is_paused(
    workers: Workers, tmp_path: Path
) -> None:
    """A worker claims jobs ahead of its free children; pausing their batch left them
    claimed, and they started once a child was free (an exploratory run saw them start
    23 s after the pause). They go back to pending, attempt not spent; the job a child
    runs finishes."""
    runs = tmp_path / "runs.txt"
    workers.start("--concurrency", "1")
    running = services.enqueue("record", {"path": str(runs), "seconds": 3}).pk
    wait_for(lambda: read_records(runs), timeout=20, message=workers.describe)
    batch = create_batch(
        "paused later", [{"job_type": "record", "parameters": {"path": str(runs)}}]
    )
    (waiting,) = batch.job_ids
    wait_for(
        lambda: Job.objects.filter(pk=waiting, status=JobStatus.PROCESSING).exists(),
        timeout=10,
        message=lambda: f"the batch's job was not claimed ahead: {workers.describe()}",
    )
    set_active(batch.batch.pk, False)
    back = wait_for(
        lambda: Job.objects.filter(pk=waiting, status=JobStatus.PENDING).first(),
        timeout=10,
        message=lambda: f"the waiting job was not handed back: {workers.describe()}",
    )
    assert (back.attempts, back.worker_id, back.started_at) == (0, None, None)
    assert JobLog.objects.filter(
        job_id=waiting,
        message="Released by its worker (not started: its batch is paused); back to pending.",
    ).exists()
    wait_for_status(running, JobStatus.COMPLETED, workers)
    time.sleep(1.0)  # poll rounds in which the worker could have taken it again
    assert [item.job_id for item in read_records(runs)] == [running]
    assert Job.objects.get(pk=waiting).status == JobStatus.PENDING


def test_inactive_batch_and_paused_type_wait(workers: Workers, tmp_path: Path) -> None:
    runs = tmp_path / "runs.txt"
    workers.start("--concurrency", "2")
    batch = create_batch(
        "later", [{"job_type": "record", "parameters": {"path": str(runs)}}] * 3, is_active=False
    )
    JobTypeSetting.objects.create(job_type="flaky", paused=True)
    paused = services.enqueue("flaky", {"path": str(runs), "succeed_on": 1}).pk
    # A job enqueued after them, that the worker does run: by the time it is done, the
    # worker has looked at the others too (several poll rounds: 0.2 s each).
    marker = services.enqueue("echo", {"sleep_seconds": 1}).pk
    wait_for_status(marker, "completed", workers)
    time.sleep(0.5)
    assert read_records(runs) == []
    assert set(Job.objects.filter(batch=batch.batch).values_list("status", "attempts")) == {
        (JobStatus.PENDING, 0)
    }
    assert Job.objects.get(pk=paused).status == JobStatus.PENDING

    assert toggle_active(batch.batch.pk).is_active
    wait_for_status(batch.job_ids, "completed", workers)
    assert Job.objects.get(pk=paused).status == JobStatus.PENDING
    JobTypeSetting.objects.filter(job_type="flaky").update(paused=False)
    wait_for_status(paused, "completed", workers)
    assert sorted(item.job_id for item in read_records(runs)) == sorted([*batch.job_ids, paused])

    # Deactivated again, a batch's new jobs wait again.
    set_active(batch.batch.pk, False)
    extra = services.enqueue("record", {"path": str(runs)}, batch=batch.batch).pk
    marker = services.enqueue("echo", {"sleep_seconds": 0.6}).pk
    wait_for_status(marker, "completed", workers)
    time.sleep(0.4)
    assert Job.objects.get(pk=extra).status == JobStatus.PENDING


def test_burst_max_jobs_type_filters_and_worker_row(workers: Workers, tmp_path: Path) -> None:
    runs = tmp_path / "runs.txt"
    records = [services.enqueue("record", {"path": str(runs)}).pk for _ in range(5)]
    echoes = [services.enqueue("echo", {"message": str(n)}).pk for n in range(3)]

    first = workers.start("--concurrency", "1", "--max-jobs", "2", "--job-types", "record")
    assert first.wait(30) == 0, first.describe()
    assert len(read_records(runs)) == 2
    assert Job.objects.filter(pk__in=records, status=JobStatus.COMPLETED).count() == 2
    rest = Job.objects.filter(pk__in=records).exclude(status=JobStatus.COMPLETED)
    assert set(rest.values_list("status", "attempts")) == {(JobStatus.PENDING, 0)}
    row = first.row()
    assert row is not None
    assert (row.host, row.pid, row.name) == (socket.gethostname(), first.pid, row.worker_id)
    assert (row.job_types, row.exclude_types, row.concurrency) == (["record"], [], 1)
    assert (row.status, row.jobs_done, row.running_jobs) == (Worker.Status.STOPPED, 2, [])
    assert row.stopped_at is not None and row.stopped_at >= row.started_at

    second = workers.start(
        "--burst", "--concurrency", "2", "--exclude-types", "record", "--name", "echoes"
    )
    assert second.wait(30) == 0, second.describe()
    assert Job.objects.filter(pk__in=echoes, status=JobStatus.COMPLETED).count() == 3
    assert Job.objects.filter(pk__in=records, status=JobStatus.PENDING).count() == 3
    row = second.row()
    assert (row.name, row.job_types, row.exclude_types, row.concurrency) == (
        "echoes",
        [],
        ["record"],
        2,
    )
    assert (row.status, row.jobs_done) == (Worker.Status.STOPPED, 3)

    third = workers.start("--burst", "--concurrency", "2", "--job-types", "record,echo")
    assert third.wait(30) == 0, third.describe()
    assert len(read_records(runs)) == 5
    assert Job.objects.filter(status=JobStatus.COMPLETED).count() == 8


def test_bad_options_are_refused(workers: Workers) -> None:
    for args, error in [
        (("--concurrency", "0"), "--concurrency must be at least 1"),
        (("--max-jobs", "0"), "--max-jobs must be at least 1"),
        (("--job-types", "echo,nosuch"), "--job-types: no job type nosuch (known: "),
        (("--exclude-types", "ecko"), "--exclude-types: no job type ecko (known: "),
        (("--poll-interval", "0"), "--poll-interval must be more than 0 seconds"),
        (("--shutdown-timeout", "-5"), "--shutdown-timeout must be 0 seconds or more"),
        (
            ("--job-types", "echo,record", "--exclude-types", "echo"),
            "--job-types and --exclude-types both name echo: the worker would never claim them",
        ),
    ]:
        worker = workers.start(*args, ready=False)
        assert worker.wait(30) != 0
        assert error in worker.output()
    assert not Worker.objects.exists()


def test_jobs_claimed_ahead_go_back_when_no_child_frees_up(
    workers: Workers, tmp_path: Path
) -> None:
    """After many short jobs a worker claims far ahead; when long ones come next, those it
    cannot start within two heartbeats (at least 2 s) go back to pending, no attempt spent,
    for other workers (and a paused batch, and a crash of this worker) to see."""
    runs = tmp_path / "runs.txt"
    workers.start("--concurrency", "1")
    short = [services.enqueue("echo", {"message": str(n)}).pk for n in range(60)]
    wait_for_status(short, JobStatus.COMPLETED, workers)
    long = [
        services.enqueue("slow", {"path": str(runs), "seconds": 4, "steps": 40}).pk
        for _ in range(8)
    ]
    time.sleep(0.3)
    held = Job.objects.filter(pk__in=long, status=JobStatus.PROCESSING).count()
    assert held > 2, "the worker should have claimed ahead (else this test shows nothing)"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        held = Job.objects.filter(pk__in=long, status=JobStatus.PROCESSING).count()
        if held <= 2:
            break
        time.sleep(0.05)
    assert held <= 2, f"{held} jobs still held by a worker with one child"
    waiting = Job.objects.filter(pk__in=long, status=JobStatus.PENDING)
    assert waiting.count() >= 6 and all(job.attempts == 0 for job in waiting)
    assert JobLog.objects.filter(job_id__in=long, message__startswith="Released").exists()
    second = workers.start("--concurrency", "1")
    wait_for_status(long, JobStatus.COMPLETED, workers, timeout=60)
    wait_for(lambda: second.row().jobs_done >= 1, timeout=5, message="the second worker ran none")
