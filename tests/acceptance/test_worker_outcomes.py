"""How attempts end and what the database learns while they run: retries with backoff,
error codes for every kind of failure (none of which stops the worker), progress and log
lines."""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import pytest

from jobs import services
from jobs.models import Job, JobLog
from jobs.states import JobStatus
from tests.acceptance.workers import Workers, wait_for, wait_for_status
from tests.worker_processors import read_records

pytestmark = pytest.mark.slow


def test_retries_with_backoff_until_success_or_attempts_run_out(
    workers: Workers, tmp_path: Path
) -> None:
    runs = tmp_path / "runs.txt"
    workers.start("--concurrency", "2")
    succeeds = services.enqueue("flaky", {"path": str(runs), "succeed_on": 3}).pk
    gives_up = services.enqueue("flaky", {"path": str(runs), "succeed_on": 9}, max_attempts=2).pk

    # While waiting for its second attempt, the job is pending with run_after in the future.
    def waiting_for_retry() -> Job | None:
        job = Job.objects.get(pk=succeeds)
        return job if job.status == JobStatus.PENDING and job.attempts == 1 else None

    waiting = wait_for(waiting_for_retry, timeout=15, message="no retry scheduled")
    assert waiting.error["code"] == "FLAKY"
    assert waiting.run_after is not None and waiting.run_after > waiting.updated_at
    # Exponential backoff with jitter: 2 s * 2**(attempt-1), +/- 20 %.
    assert 1.5 <= (waiting.run_after - waiting.updated_at).total_seconds() <= 2.5

    done, failed = wait_for_status([succeeds, gives_up], {"completed", "failed"}, workers, 30)
    assert (done.status, done.attempts, done.results) == ("completed", 3, {"succeeded_on": 3})
    assert done.error is None
    assert (failed.status, failed.attempts) == ("failed", 2)
    assert failed.error == {
        "code": "FLAKY",
        "message": "attempt 2 fails",
        "details": {"attempt": 2},
    }

    runs_of = [item for item in read_records(runs) if item.job_id == succeeds]
    assert [item.attempt for item in runs_of] == [1, 2, 3]
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(runs_of)]
    assert 1.5 <= gaps[0] <= 4.0, gaps
    assert 3.0 <= gaps[1] <= 7.0, gaps
    # Every attempt is in the job's log.
    messages = list(JobLog.objects.filter(job_id=succeeds).values_list("message", flat=True))
    claims = [text for text in messages if text.startswith("Claimed")]
    assert [text.rsplit("(", 1)[1] for text in claims] == [
        "attempt 1/3).",
        "attempt 2/3).",
        "attempt 3/3).",
    ]
    retries = [text for text in messages if text.startswith("Attempt failed")]
    assert len(retries) == 2 and all("FLAKY: attempt" in text for text in retries)
    assert messages[-1] == "Completed."
    failed_log = JobLog.objects.filter(job_id=gives_up).order_by("timestamp", "id").last()
    assert failed_log.message == "Failed: FLAKY: attempt 2 fails"
    assert failed_log.level == "error"


def test_every_kind_of_failure_has_its_code_and_the_worker_goes_on(
    workers: Workers, tmp_path: Path
) -> None:
    runs = tmp_path / "runs.txt"

    def fails(how: str, **extra: Any) -> str:
        return services.enqueue("fails", {"path": str(runs), "how": how}, **extra).pk

    permanent = fails("permanent")
    exception = fails("exception", max_attempts=1)
    bad_results = fails("bad_results")
    not_json = fails("not_json")
    # A stored job whose type no processor handles (here: never registered anywhere), and one
    # whose parameters no longer validate: test set-up writes them directly.
    unknown = Job.objects.create(job_type="retired_type", parameters={"x": 1}).pk
    invalid = services.enqueue("record", {"path": str(runs)}).pk
    Job.objects.filter(pk=invalid).update(parameters={"path": 5, "colour": "red"})
    ids = [permanent, exception, bad_results, not_json, unknown, invalid]

    worker = workers.start("--concurrency", "2")
    jobs = dict(zip(ids, wait_for_status(ids, "failed", workers, timeout=30), strict=True))
    after = services.enqueue("record", {"path": str(runs)}).pk
    wait_for_status(after, "completed", workers)
    assert worker.alive()

    codes = {job_id: job.error["code"] for job_id, job in jobs.items()}
    assert codes == {
        permanent: "BAD_INPUT",
        exception: "PROCESSOR_ERROR",
        bad_results: "INVALID_RESULTS",
        not_json: "INVALID_RESULTS",
        unknown: "UNKNOWN_JOB_TYPE",
        invalid: "INVALID_PARAMETERS",
    }
    # Permanent errors are not retried even with attempts left.
    assert {job_id: job.attempts for job_id, job in jobs.items()} == dict.fromkeys(ids, 1)
    assert jobs[permanent].error["details"] == {"why": "test"}
    assert jobs[exception].error["message"] == "ZeroDivisionError: division by zero"
    assert "1 / 0" in jobs[exception].error["details"]["traceback"]
    assert "list" in jobs[bad_results].error["message"]
    assert "retired_type" in jobs[unknown].error["message"]
    fields = {item["field"] for item in jobs[invalid].error["details"]}
    assert fields == {"path", "colour"}
    # Neither unknown type nor invalid parameters ran anything.
    ran = {item.job_id for item in read_records(runs)}
    assert unknown not in ran and invalid not in ran and after in ran


def test_exception_is_retried_while_attempts_are_left(workers: Workers, tmp_path: Path) -> None:
    runs = tmp_path / "runs.txt"
    job_id = services.enqueue("fails", {"path": str(runs), "how": "exception"}).pk
    workers.start("--concurrency", "1")
    (job,) = wait_for_status(job_id, "failed", workers, timeout=20)
    assert job.attempts == 2 == len(read_records(runs))
    assert job.error["code"] == "PROCESSOR_ERROR"


def test_a_restarted_job_starts_from_an_empty_folder(workers: Workers, tmp_path: Path) -> None:
    """Restart runs a job from scratch: before, the files of its earlier run stayed and
    were served (a failed rerun still offered the old transcript)."""
    job_id = services.enqueue("record", {"save_file": True}).pk
    workers.start("--concurrency", "1")
    wait_for_status(job_id, "completed", workers, timeout=20)
    folder = tmp_path / "media" / job_id
    (first,) = folder.iterdir()
    services.restart(job_id)  # back to pending at once, attempts reset
    (job,) = wait_for_status(job_id, "completed", workers, timeout=20)
    assert job.attempts == 1
    (second,) = folder.iterdir()
    assert second.name != first.name


def test_progress_reaches_the_database_throttled_and_logs_become_rows(
    workers: Workers, tmp_path: Path
) -> None:
    """100 progress reports in 3 s: the database sees some of them while the job runs (so
    watchers see it move), but a few writes a second, not one per report."""
    workers.start("--concurrency", "1")
    params = {"path": str(tmp_path / "runs.txt"), "seconds": 3, "steps": 100, "log_every": 25}
    job_id = services.enqueue("slow", params).pk
    seen: list[tuple[Any, ...]] = []
    wait_for(
        lambda: Job.objects.get(pk=job_id).status == JobStatus.PROCESSING,
        timeout=20,
        message="did not start",
        interval=0.01,
    )
    started = time.monotonic()
    while True:
        job = Job.objects.get(pk=job_id)
        if job.status != JobStatus.PROCESSING:
            break
        value = (job.progress["percent"], job.progress["step"], job.progress["message"])
        if not seen or seen[-1] != value:
            seen.append(value)
        time.sleep(0.01)
    running_for = time.monotonic() - started
    assert job.status == JobStatus.COMPLETED

    moving = [value for value in seen if 0 < value[0] < 100]
    assert len(moving) >= 2, seen
    assert all(step == "working" and message.startswith("step ") for _, step, message in moving)
    percents = [value[0] for value in moving]
    assert percents == sorted(percents)
    assert len(seen) <= 3 * running_for + 3, f"{len(seen)} writes in {running_for:.1f}s"
    assert job.progress == {"step": "done", "percent": 100.0, "message": ""}

    lines = list(
        JobLog.objects.filter(job_id=job_id, message__startswith="reached").values_list(
            "level", "message"
        )
    )
    assert lines == [
        ("info", "reached step 25"),
        ("info", "reached step 50"),
        ("info", "reached step 75"),
        ("warning", "reached step 100"),
    ]
    # In order: the processor's last line comes before the worker's "Completed.".
    messages = list(JobLog.objects.filter(job_id=job_id).values_list("message", flat=True))
    assert messages[-2:] == ["reached step 100", "Completed."], messages
