"""The job services: enqueue and every transition, allowed and refused, on a real database.

A refused transition must raise InvalidTransition and change nothing at all: not the job
row (status, updated_at, …), not its log, not its batch's counters.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db.models import Q
from django.utils import timezone

from batches import selectors as batch_selectors
from batches import services as batch_services
from batches.counters import COUNTER_FIELDS
from batches.models import Batch
from batches.services import create_batch
from jobcenter.errors import InvalidTransition, NotFound, UnknownJobType, ValidationError
from jobs import selectors, services
from jobs.models import Job, JobLog, default_progress
from jobs.states import TRANSITIONS, JobStatus

pytestmark = pytest.mark.django_db

P, R, C, F, X = "pending", "processing", "completed", "failed", "cancelled"

# The service that performs each transition. ``cancel`` is one service for two transitions:
# a pending job is cancelled at once, a processing one gets ``request_cancel``.
SERVICE: dict[str, Callable[[str], Job]] = {
    "claim": lambda job_id: services.claim(job_id, "worker-b", lease_seconds=120),
    "start": services.start,
    "complete": lambda job_id: services.complete(job_id, {"answer": 42}),
    "fail": lambda job_id: services.fail(job_id, "BOOM", "it broke", {"where": "test"}),
    "retry": lambda job_id: services.retry(job_id, "FLAKY", "try again", delay_seconds=30),
    "release": services.release,
    "cancel": services.cancel,
    "request_cancel": services.cancel,
    "confirm_cancel": services.confirm_cancel,
    "restart": services.restart,
    "set_pending": services.set_pending,
}


def performed(name: str, status: str) -> str:
    """The transition the service for ``name`` performs on a job in ``status``."""
    if name in {"cancel", "request_cancel"}:
        return "request_cancel" if status == R else "cancel"
    return name


@pytest.fixture
def batch() -> Batch:
    """An empty batch to put jobs in, so that every test also checks its counters."""
    return Batch.objects.create(batch_name="services")


def make_job(status: str, batch: Batch | None = None, **kwargs: Any) -> Job:
    """A job brought to ``status`` through the services themselves."""
    job = services.enqueue("echo", {"message": "hi"}, batch=batch, **kwargs)
    if status in {R, C}:
        services.claim(job.pk, "worker-a")
        services.start(job.pk)
    if status == C:
        services.complete(job.pk, {"message": "hi"})
    elif status == F:
        services.fail(job.pk, "EARLIER", "failed before the test")
    elif status == X:
        services.cancel(job.pk)
    job.refresh_from_db()
    assert job.status == status
    return job


def job_row(job_id: str) -> dict[str, Any]:
    return Job.objects.filter(pk=job_id).values().get()


def batch_row(batch_id: str) -> dict[str, Any]:
    return Batch.objects.filter(pk=batch_id).values().get()


def log_count(job_id: str) -> int:
    return JobLog.objects.filter(job_id=job_id).count()


def assert_counters_match_jobs(batch_id: str) -> None:
    batch = batch_selectors.get_batch(batch_id)
    actual = batch_selectors.recounted(batch_id)
    assert batch_selectors.stored_counts(batch) == actual
    assert batch.total_jobs == sum(actual.values())


# --- the table, pair by pair -----------------------------------------------------------------


def test_every_transition_has_a_service() -> None:
    assert set(SERVICE) == set(TRANSITIONS)


@pytest.mark.parametrize("name", sorted(TRANSITIONS))
@pytest.mark.parametrize("status", JobStatus.values)
def test_service_allows_exactly_what_the_table_allows(status: str, name: str, batch: Batch) -> None:
    job = make_job(status, batch)
    effective = TRANSITIONS[performed(name, status)]
    before_job, before_batch, before_logs = job_row(job.pk), batch_row(batch.pk), log_count(job.pk)

    if status in effective.sources:
        result = SERVICE[name](job.pk)
        after = job_row(job.pk)
        assert result.status == after["status"] == effective.target
        assert after["updated_at"] > before_job["updated_at"]
        assert log_count(job.pk) == before_logs + 1
        counters = batch_row(batch.pk)
        if status != effective.target:
            assert counters[COUNTER_FIELDS[status]] == before_batch[COUNTER_FIELDS[status]] - 1
            assert (
                counters[COUNTER_FIELDS[effective.target]]
                == before_batch[COUNTER_FIELDS[effective.target]] + 1
            )
        assert_counters_match_jobs(batch.pk)
    else:
        with pytest.raises(InvalidTransition) as refused:
            SERVICE[name](job.pk)
        assert refused.value.status_code == 409
        assert refused.value.details["status"] == status
        assert refused.value.details["transition"] == effective.name
        # cancel() is two transitions (cancel, request_cancel): it names both sources
        cancel = name in {"cancel", "request_cancel"}
        allowed = {"pending", "processing"} if cancel else set(effective.sources)
        assert set(refused.value.details["allowed_from"]) == allowed
        assert status in refused.value.message
        assert job_row(job.pk) == before_job
        assert batch_row(batch.pk) == before_batch
        assert log_count(job.pk) == before_logs


@pytest.mark.parametrize("name", sorted(TRANSITIONS))
@pytest.mark.parametrize("status", JobStatus.values)
def test_engine_applies_a_transition_only_from_its_sources(
    status: str, name: str, batch: Batch
) -> None:
    """change_jobs, which the batch actions use, follows the table with no service logic
    in between (here request_cancel from pending is refused, not turned into a cancel)."""
    job = make_job(status, batch)
    before_job, before_logs = job_row(job.pk), log_count(job.pk)
    changed = services.change_jobs(Q(pk=job.pk), name, f"test {name}")
    if status in TRANSITIONS[name].sources:
        assert changed == [job.pk]
        assert job_row(job.pk)["status"] == TRANSITIONS[name].target
        assert log_count(job.pk) == before_logs + 1
    else:
        assert changed == []
        assert job_row(job.pk) == before_job
        assert log_count(job.pk) == before_logs
    assert_counters_match_jobs(batch.pk)


@pytest.mark.parametrize("name", sorted(TRANSITIONS))
def test_every_service_reports_a_missing_job_as_not_found(name: str) -> None:
    with pytest.raises(NotFound):
        SERVICE[name]("job-does-not-exist")


# --- what each allowed transition writes -----------------------------------------------------


def last_log(job_id: str) -> JobLog:
    log = selectors.job_logs(job_id).last()
    assert log is not None
    return log


def test_claim_takes_a_lease_for_the_worker(batch: Batch) -> None:
    job = make_job(P, batch)
    before = timezone.now()
    claimed = services.claim(job.pk, "worker-7", lease_seconds=90)
    assert claimed.status == R
    assert claimed.worker_id == "worker-7"
    assert claimed.lease_expires_at is not None
    assert before + timedelta(seconds=89) < claimed.lease_expires_at
    assert claimed.lease_expires_at < timezone.now() + timedelta(seconds=91)
    assert claimed.attempts == 0  # an attempt is counted by start
    assert last_log(job.pk).message == "Claimed by worker worker-7."
    assert (batch_row(batch.pk)["pending_jobs"], batch_row(batch.pk)["processing_jobs"]) == (0, 1)


def test_of_two_claims_of_one_job_exactly_one_wins(batch: Batch) -> None:
    job = make_job(P, batch)
    services.claim(job.pk, "first")
    with pytest.raises(InvalidTransition):
        services.claim(job.pk, "second")
    assert selectors.get_job(job.pk).worker_id == "first"


def test_start_counts_the_attempt_and_resets_progress(batch: Batch) -> None:
    job = make_job(P, batch)
    services.claim(job.pk, "w")
    services.report_progress(job.pk, 40, "stale", "from before")
    started = services.start(job.pk)
    assert started.attempts == 1
    assert started.started_at is not None
    assert started.progress == {"step": "", "percent": 0, "message": ""}
    again = services.start(job.pk)
    assert again.attempts == 2
    assert last_log(job.pk).message == "Attempt started."


def test_a_retry_attempt_starts_without_the_previous_attempts_error(batch: Batch) -> None:
    job = make_job(R, batch)
    services.retry(job.pk, "FLAKY", "attempt 1 fails", delay_seconds=0)
    services.claim(job.pk, "w")
    started = services.start(job.pk)
    assert (started.status, started.attempts, started.error) == (R, 2, None)


def test_complete_stores_results_and_releases_the_job(batch: Batch) -> None:
    job = make_job(R, batch)
    done = services.complete(job.pk, {"markdown_content": "# hi", "assets": ["a.png"]})
    assert done.status == C
    assert done.results == {"markdown_content": "# hi", "assets": ["a.png"]}
    assert done.error is None
    assert done.progress["percent"] == 100.0
    assert done.completed_at is not None
    assert (done.worker_id, done.lease_expires_at, done.cancel_requested) == (None, None, False)
    assert last_log(job.pk).message == "Completed."
    row = batch_row(batch.pk)
    assert (row["completed_jobs"], row["status"]) == (1, C)


def test_fail_stores_a_structured_error(batch: Batch) -> None:
    job = make_job(R, batch)
    failed = services.fail(job.pk, "PDF_BROKEN", "cannot read page 3", {"page": 3})
    assert failed.status == F
    assert failed.error == {
        "code": "PDF_BROKEN",
        "message": "cannot read page 3",
        "details": {"page": 3},
    }
    assert failed.completed_at is not None
    assert failed.worker_id == "worker-a"  # held until that worker has stopped the attempt
    log = last_log(job.pk)
    assert (log.level, log.message) == ("error", "Failed: PDF_BROKEN: cannot read page 3")


def test_a_pending_job_can_be_failed_by_an_operator(batch: Batch) -> None:
    job = make_job(P, batch)
    assert services.fail(job.pk, "BY_HAND", "not needed").status == F
    assert batch_row(batch.pk)["failed_jobs"] == 1


def test_retry_puts_the_job_back_later_with_the_error(batch: Batch) -> None:
    job = make_job(R, batch)
    before = timezone.now()
    retried = services.retry(job.pk, "TIMEOUT", "remote slow", delay_seconds=30)
    assert retried.status == P
    assert retried.error == {"code": "TIMEOUT", "message": "remote slow", "details": None}
    assert retried.run_after is not None
    assert (
        before + timedelta(seconds=29) < retried.run_after < timezone.now() + timedelta(seconds=31)
    )
    assert retried.worker_id is None and retried.lease_expires_at is None
    assert retried.attempts == 1  # the spent attempt stays counted
    assert last_log(job.pk).level == "warning"


def test_release_gives_the_attempt_back(batch: Batch) -> None:
    job = make_job(R, batch)  # claimed and started: one attempt
    services.report_progress(job.pk, 40, "pages", "page 4/10")
    released = services.release(job.pk)
    assert released.status == P
    assert released.attempts == 0
    assert released.progress == default_progress()  # what it showed went with the attempt
    assert released.worker_id is None and released.lease_expires_at is None
    services.claim(job.pk, "w")
    assert services.release(job.pk).attempts == 0  # never below zero


def test_cancel_of_a_pending_job_is_immediate(batch: Batch) -> None:
    job = make_job(P, batch)
    cancelled = services.cancel(job.pk)
    assert cancelled.status == X
    assert cancelled.completed_at is not None
    assert last_log(job.pk).message == "Cancelled."
    row = batch_row(batch.pk)
    assert (row["cancelled_jobs"], row["status"]) == (1, X)


def test_cancel_of_a_processing_job_asks_its_worker(batch: Batch) -> None:
    job = make_job(R, batch)
    requested = services.cancel(job.pk)
    assert requested.status == R
    assert requested.cancel_requested is True
    assert requested.worker_id == "worker-a"  # still the worker's until it stops
    assert last_log(job.pk).message == "Cancel requested."
    logs = JobLog.objects.filter(job_id=job.pk).count()
    assert services.cancel(job.pk).cancel_requested  # asked again: nothing new
    assert JobLog.objects.filter(job_id=job.pk).count() == logs
    assert batch_row(batch.pk)["processing_jobs"] == 1
    confirmed = services.confirm_cancel(job.pk)
    assert confirmed.status == X
    assert confirmed.cancel_requested is False
    assert confirmed.completed_at is not None and confirmed.worker_id is None
    assert batch_row(batch.pk)["cancelled_jobs"] == 1


@pytest.mark.parametrize("status", [C, F, X])
def test_restart_runs_a_finished_job_from_scratch(status: str, batch: Batch) -> None:
    job = make_job(status, batch)
    restarted = services.restart(job.pk)
    assert restarted.status == P
    assert restarted.attempts == 0
    assert restarted.results is None and restarted.error is None
    assert restarted.progress == {"step": "", "percent": 0, "message": ""}
    assert restarted.started_at is None and restarted.completed_at is None
    assert restarted.run_after is None
    assert last_log(job.pk).message == f"Restarted (was {status})."
    row = batch_row(batch.pk)
    assert (row["pending_jobs"], row["status"], row["completed_at"]) == (1, P, None)


def test_set_pending_puts_a_stuck_job_back_as_it_is(batch: Batch) -> None:
    job = make_job(R, batch)
    back = services.set_pending(job.pk)
    assert back.status == P
    assert back.attempts == 1  # unlike restart, the history stays
    assert back.worker_id == "worker-a" and back.lease_expires_at is not None  # held
    assert last_log(job.pk).message == "Set to pending (was processing)."
    failed = make_job(F, batch)
    again = services.set_pending(failed.pk)
    assert again.error is None and again.completed_at is None


def test_report_progress_only_while_processing(batch: Batch) -> None:
    job = make_job(P, batch)
    assert services.report_progress(job.pk, 50, "s", "m") is False
    assert selectors.get_job(job.pk).progress["percent"] == 0
    services.claim(job.pk, "w")
    logs = log_count(job.pk)
    assert services.report_progress(job.pk, 150, "page", "3/4") is True
    assert selectors.get_job(job.pk).progress == {
        "step": "page",
        "percent": 100.0,
        "message": "3/4",
    }
    assert services.report_progress(job.pk, -5) is True
    assert selectors.get_job(job.pk).progress["percent"] == 0.0
    assert log_count(job.pk) == logs  # progress is not a state change


# --- archive / unarchive ---------------------------------------------------------------------


@pytest.mark.parametrize("status", [C, F, X])
def test_archive_and_unarchive_a_finished_job(status: str, batch: Batch) -> None:
    job = make_job(status, batch)
    archived = services.archive(job.pk)
    assert archived.archived is True and archived.status == status
    assert last_log(job.pk).message == "Archived."
    logs = log_count(job.pk)
    assert services.archive(job.pk).archived is True  # again: nothing to do, no log line
    assert log_count(job.pk) == logs
    unarchived = services.unarchive(job.pk)
    assert unarchived.archived is False
    assert last_log(job.pk).message == "Unarchived."
    assert_counters_match_jobs(batch.pk)


@pytest.mark.parametrize("status", [P, R])
def test_unfinished_jobs_cannot_be_archived(status: str, batch: Batch) -> None:
    job = make_job(status, batch)
    before, logs = job_row(job.pk), log_count(job.pk)
    with pytest.raises(InvalidTransition) as refused:
        services.archive(job.pk)
    assert refused.value.details["transition"] == "archive"
    assert job_row(job.pk) == before
    assert log_count(job.pk) == logs


def test_archive_of_a_missing_job_is_not_found() -> None:
    with pytest.raises(NotFound):
        services.archive("job-missing")
    with pytest.raises(NotFound):
        services.unarchive("job-missing")


# --- enqueue ---------------------------------------------------------------------------------


def test_enqueue_stores_normalised_parameters_and_a_log_line() -> None:
    job = services.enqueue("echo", {"message": "hello"}, job_name="smoke", priority=5)
    stored = Job.objects.get(pk=job.pk)
    assert stored.parameters == {
        "message": "hello",
        "sleep_seconds": 0,
        "steps": 1,
        "fail_with": None,
    }
    assert (stored.status, stored.job_name, stored.priority) == (P, "smoke", 5)
    assert stored.max_attempts == 1  # echo's own limit
    assert stored.batch_id is None
    assert [log.message for log in selectors.job_logs(job.pk)] == ["Created (echo)."]


def test_enqueue_without_parameters_uses_every_default() -> None:
    job = services.enqueue("echo")
    assert job.parameters["steps"] == 1 and job.parameters["message"] == ""


def test_enqueue_max_attempts_follows_limit_overrides(settings: Any) -> None:
    settings.JOBCENTER_PROCESSOR_LIMITS = {"echo": {"max_attempts": 4}}
    assert services.enqueue("echo").max_attempts == 4
    assert services.enqueue("echo", max_attempts=9).max_attempts == 9


@pytest.mark.parametrize(
    ("parameters", "field"),
    [
        ({"steps": 0}, "parameters.steps"),
        ({"steps": "many"}, "parameters.steps"),
        ({"sleep_seconds": -1}, "parameters.sleep_seconds"),
        ({"mesage": "typo"}, "parameters.mesage"),
    ],
)
def test_enqueue_refuses_invalid_parameters_naming_the_field(
    parameters: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        services.enqueue("echo", parameters)
    assert refused.value.status_code == 422
    assert [detail["field"] for detail in refused.value.details] == [field]
    assert field in refused.value.message
    assert not Job.objects.exists()


def test_enqueue_reports_every_bad_field_at_once() -> None:
    with pytest.raises(ValidationError) as refused:
        services.enqueue("echo", {"steps": 0, "sleep_seconds": "x", "extra": 1})
    fields = {detail["field"] for detail in refused.value.details}
    assert fields == {"parameters.steps", "parameters.sleep_seconds", "parameters.extra"}


def test_enqueue_of_an_unknown_job_type() -> None:
    with pytest.raises(UnknownJobType) as refused:
        services.enqueue("transmogrify", {})
    assert isinstance(refused.value, ValidationError)
    assert refused.value.code == "UNKNOWN_JOB_TYPE"
    assert [detail["field"] for detail in refused.value.details] == ["job_type"]
    assert "echo" in refused.value.message  # names what is registered
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"access_control": {"visibility": "secret"}}, "access_control.visibility"),
        ({"access_control": {"read_acess": ["bob"]}}, "access_control.read_acess"),
        ({"access_control": {"read_access": "bob"}}, "access_control.read_access"),
        ({"webhook": {"url": "not a url"}}, "webhook.url"),
        ({"webhook": {"url": "https://example.org/hook", "sekret": "x"}}, "webhook.sekret"),
    ],
)
def test_enqueue_refuses_invalid_access_control_and_webhook(
    kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        services.enqueue("echo", {}, **kwargs)
    assert field in [detail["field"] for detail in refused.value.details]
    assert not Job.objects.exists()


def test_enqueue_normalises_access_control_and_webhook() -> None:
    job = services.enqueue(
        "echo",
        access_control={"visibility": "public", "read_access": ["team"]},
        webhook={"url": "https://example.org/hook"},
    )
    stored = Job.objects.get(pk=job.pk)
    assert stored.access_control == {
        "visibility": "public",
        "read_access": ["team"],
        "write_access": [],
        "admin_access": [],
    }
    assert stored.webhook == {"url": "https://example.org/hook", "secret": None}


def test_enqueue_into_a_batch_counts_the_job(batch: Batch) -> None:
    services.enqueue("echo", batch=batch)
    job = services.enqueue("echo", batch=batch.pk)
    row = batch_row(batch.pk)
    assert (row["total_jobs"], row["pending_jobs"], row["status"]) == (2, 2, P)
    assert job.batch_id == batch.pk
    assert_counters_match_jobs(batch.pk)


def test_enqueue_into_an_ended_batch_reopens_it() -> None:
    created = create_batch("ended", [{"job_type": "echo"}])
    services.fail(created.job_ids[0], "X", "y")
    assert batch_row(created.batch.pk)["completed_at"] is not None
    services.enqueue("echo", batch=created.batch)
    row = batch_row(created.batch.pk)
    assert (row["status"], row["completed_at"], row["total_jobs"]) == (R, None, 2)


def test_enqueue_into_a_missing_batch_is_not_found() -> None:
    with pytest.raises(NotFound) as missing:
        services.enqueue("echo", batch="batch-nope")
    assert missing.value.status_code == 404
    assert not Job.objects.exists()


@pytest.mark.parametrize("back", ["restart", "set_pending"])
def test_a_job_back_in_the_queue_is_no_longer_archived_nor_is_its_batch(
    back: str, batch: Batch
) -> None:
    """Otherwise it would be pending and archived, and never claimed (the jobs of an
    archived batch are not)."""
    job = make_job(F, batch)
    batch_services.archive_batch(batch.pk)
    assert Job.objects.get(pk=job.pk).archived and Batch.objects.get(pk=batch.pk).archived
    getattr(services, back)(job.pk)
    job.refresh_from_db()
    assert (job.status, job.archived) == (P, False)
    assert not Batch.objects.get(pk=batch.pk).archived
    assert_counters_match_jobs(batch.pk)


def test_restarting_an_archived_batch_unarchives_it(batch: Batch) -> None:
    jobs = [make_job(F, batch) for _ in range(3)]
    batch_services.archive_batch(batch.pk)
    assert batch_services.restart_batch(batch.pk) == 3
    assert not Batch.objects.get(pk=batch.pk).archived
    assert not Job.objects.filter(pk__in=[j.pk for j in jobs], archived=True).exists()


def test_set_pending_gives_a_job_with_no_attempts_left_one_more(batch: Batch) -> None:
    job = make_job(R, batch, max_attempts=1)
    job = services.fail(job.pk, "BOOM", "it ran once and failed: 1 of 1 attempts used")
    assert (job.attempts, job.max_attempts) == (1, 1)
    services.set_pending(job.pk)
    job.refresh_from_db()
    assert (job.status, job.attempts, job.max_attempts) == (P, 1, 2)
    fresh = make_job(P, batch, max_attempts=3)  # attempts left: unchanged
    services.fail(fresh.pk, "X", "failed while pending")
    services.set_pending(fresh.pk)
    fresh.refresh_from_db()
    assert (fresh.attempts, fresh.max_attempts) == (0, 3)


def test_a_job_added_to_an_archived_batch_brings_the_batch_back(batch: Batch) -> None:
    """Claims skip archived batches: without this the new job would wait forever."""
    Batch.objects.filter(pk=batch.pk).update(archived=True)
    job = services.enqueue("echo", {"message": "late"}, batch=batch)
    batch.refresh_from_db()
    assert batch.archived is False
    assert (job.status, job.batch_id) == (JobStatus.PENDING, batch.pk)
