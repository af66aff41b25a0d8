"""Batches: bulk creation (all or nothing), the batch actions, the derived batch status, and
counter repair. After every change the stored counters must equal a recount from the jobs."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from batches import selectors as batch_selectors
from batches import services as batch_services
from batches.counters import batch_status
from batches.models import Batch
from batches.services import create_batch
from jobcenter.errors import DuplicateUniqueKey, InvalidTransition, NotFound, ValidationError
from jobs import queue, services
from jobs.models import Job, JobLog
from jobs.services import JobSpec

P, R, C, F, X = "pending", "processing", "completed", "failed", "cancelled"
WITH_SUM = ["processors.echo.EchoProcessor", "tests.drivers.processors.SumProcessor"]


@pytest.fixture
def two_types(settings: Any) -> Iterator[None]:
    """Register a second job type (the registry follows the setting)."""
    settings.JOBCENTER_PROCESSORS = WITH_SUM
    yield


def assert_consistent(batch_id: str) -> Batch:
    """Counters, total, status and completed_at all agree with the jobs."""
    batch = batch_selectors.get_batch(batch_id)
    actual = batch_selectors.recounted(batch_id)
    assert batch_selectors.stored_counts(batch) == actual
    assert batch.total_jobs == sum(actual.values())
    assert batch.status == batch_status(actual)
    ended = bool(batch.total_jobs) and not (actual[P] or actual[R])
    assert (batch.completed_at is not None) == ended
    return batch


def batch_with(*statuses: str, name: str = "mixed") -> tuple[str, dict[str, list[str]]]:
    """A batch whose jobs are brought to ``statuses`` (one job each) through the services;
    returns the batch id and the job ids per status."""
    created = create_batch(name, [{"job_type": "echo"} for _ in statuses])
    by_status: dict[str, list[str]] = {}
    for job_id, status in zip(created.job_ids, statuses, strict=True):
        if status in {R, C}:
            services.claim(job_id, "worker-a")
            services.start(job_id)
        if status == C:
            services.complete(job_id, {})
        elif status == F:
            services.fail(job_id, "E", "failed")
        elif status == X:
            services.cancel(job_id)
        by_status.setdefault(status, []).append(job_id)
    assert_consistent(created.batch.pk)
    return created.batch.pk, by_status


def statuses_of(job_ids: list[str]) -> set[str]:
    return set(Job.objects.filter(pk__in=job_ids).values_list("status", flat=True))


ALL_FIVE = (P, P, R, R, C, C, F, F, X, X)


# --- the derived status ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "status"),
    [
        ({}, P),
        ({P: 3}, P),
        ({P: 2, R: 1}, R),
        ({R: 1, C: 5}, R),
        ({P: 1, C: 1}, R),  # some ended, others wait: under way
        ({P: 1, X: 1}, R),
        ({C: 3}, C),
        ({C: 1, F: 9, X: 2}, C),  # every job ended and one completed
        ({F: 2, X: 5}, F),
        ({X: 4}, X),
    ],
)
def test_batch_status_rules(counts: dict[str, int], status: str) -> None:
    assert batch_status(counts) == status


@pytest.mark.django_db
def test_batch_status_and_completed_at_follow_its_jobs() -> None:
    created = create_batch("life", [{"job_type": "echo"}, {"job_type": "echo"}])
    first, second = created.job_ids
    batch_id = created.batch.pk
    assert assert_consistent(batch_id).status == P
    services.claim(first, "w")
    assert assert_consistent(batch_id).status == R
    services.start(first)
    services.complete(first, {})
    assert assert_consistent(batch_id).status == R
    services.cancel(second)
    ended = assert_consistent(batch_id)
    assert ended.status == C and ended.completed_at is not None
    services.restart(second)
    assert assert_consistent(batch_id).status == R
    services.fail(second, "E", "x")
    assert assert_consistent(batch_id).status == C
    services.restart(first)
    assert assert_consistent(batch_id).status == R
    services.fail(first, "E", "x")
    assert assert_consistent(batch_id).status == F


# --- create_batch ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_batch_with_mixed_types(two_types: None) -> None:
    created = create_batch(
        "mixed",
        [
            {"job_type": "echo", "parameters": {"message": "a"}, "job_name": "first"},
            JobSpec(job_type="sum", parameters={"numbers": [1, 2]}, priority=3),
            {"job_type": "echo", "unique_key": "k-1", "max_attempts": 5},
        ],
    )
    batch = assert_consistent(created.batch.pk)
    assert batch.batch_name == "mixed" and batch.batch_id.startswith("batch-")
    assert (batch.total_jobs, batch.pending_jobs, batch.status) == (3, 3, P)
    jobs = {job.pk: job for job in Job.objects.filter(batch_id=batch.pk)}
    assert list(jobs) != [] and set(jobs) == set(created.job_ids)
    echo, total, keyed = (jobs[job_id] for job_id in created.job_ids)
    assert echo.parameters == {"message": "a", "sleep_seconds": 0, "steps": 1, "fail_with": None}
    assert echo.job_name == "first" and echo.max_attempts == 1
    assert total.job_type == "sum" and total.parameters == {"numbers": [1, 2], "label": "sum"}
    assert (total.priority, total.max_attempts) == (3, 2)
    assert (keyed.unique_key, keyed.max_attempts) == ("k-1", 5)
    assert JobLog.objects.filter(job__batch_id=batch.pk).count() == 3
    assert created.reused == []


@pytest.mark.django_db
def test_create_batch_is_all_or_nothing(two_types: None) -> None:
    with pytest.raises(ValidationError) as refused:
        create_batch(
            "bad",
            [
                {"job_type": "echo"},
                {"job_type": "sum", "parameters": {"numbers": []}},
                {"job_type": "echo", "parameters": {"steps": 0}},
                {"job_type": "nope"},
                {"job_type": "echo", "colour": "red"},
                {"parameters": {}},
            ],
        )
    fields = [detail["field"] for detail in refused.value.details]
    assert set(fields) == {
        "jobs[1].parameters.numbers",
        "jobs[2].parameters.steps",
        "jobs[3].job_type",
        "jobs[4].colour",
        "jobs[5].job_type",
    }
    assert "nothing was created" in refused.value.message
    assert not Batch.objects.exists()
    assert not Job.objects.exists()
    assert not JobLog.objects.exists()


@pytest.mark.django_db
def test_errors_after_a_job_that_is_no_spec_name_their_own_jobs() -> None:
    """A job with an unknown field is left out of the specs; the jobs after it were
    numbered by their place among the specs, so their errors named the job before."""
    with pytest.raises(ValidationError) as refused:
        create_batch(
            "bad",
            [
                {"job_type": "echo", "extra": 1},
                {"job_type": "echo", "parameters": {"steps": 0}},
                {"job_type": "echo"},
                {"job_type": "echo", "parameters": {"steps": 0}},
            ],
        )
    fields = [detail["field"] for detail in refused.value.details]
    assert fields == ["jobs[0].extra", "jobs[1].parameters.steps", "jobs[3].parameters.steps"]


@pytest.mark.django_db
def test_create_batch_refuses_bad_batch_level_input() -> None:
    with pytest.raises(ValidationError) as refused:
        create_batch("b", [{"job_type": "echo"}], access_control={"visibility": "x"})
    assert refused.value.details[0]["field"] == "access_control.visibility"
    with pytest.raises(ValidationError) as refused:
        create_batch("b", [{"job_type": "echo"}], webhook={"url": "ftp:/nowhere"})
    assert refused.value.details[0]["field"] == "webhook.url"
    assert not Batch.objects.exists()


@pytest.mark.django_db
def test_empty_batch_is_refused() -> None:
    with pytest.raises(ValidationError) as refused:
        create_batch("empty", [])
    assert refused.value.details == [{"field": "jobs", "message": "empty"}]
    assert not Batch.objects.exists()


@pytest.mark.django_db
def test_too_many_jobs_are_refused(settings: Any) -> None:
    settings.JOBCENTER_MAX_BATCH_SIZE = 3
    create_batch("fits", [{"job_type": "echo"}] * 3)
    with pytest.raises(ValidationError) as refused:
        create_batch("too big", [{"job_type": "echo"}] * 4)
    assert refused.value.details[0]["field"] == "jobs"
    assert "at most 3" in refused.value.message
    assert list(Batch.objects.values_list("batch_name", flat=True)) == ["fits"]


@pytest.mark.django_db
def test_ten_thousand_jobs_in_one_call() -> None:
    jobs = [{"job_type": "echo", "parameters": {"message": f"m{i}"}} for i in range(10_000)]
    created = create_batch("big", jobs)
    batch = assert_consistent(created.batch.pk)
    assert (batch.total_jobs, batch.pending_jobs) == (10_000, 10_000)
    assert len(set(created.job_ids)) == 10_000
    assert Job.objects.filter(batch_id=batch.pk).count() == 10_000
    assert JobLog.objects.filter(job__batch_id=batch.pk).count() == 10_000
    last = Job.objects.get(pk=created.job_ids[-1])
    assert last.parameters == {
        "message": "m9999",
        "sleep_seconds": 0,
        "steps": 1,
        "fail_with": None,
    }
    assert last.status == P and last.access_control["visibility"] == "private"
    # The bulk-inserted jobs are ordinary jobs: the transitions work on them.
    services.claim(created.job_ids[0], "w")
    assert assert_consistent(batch.pk).processing_jobs == 1


@pytest.mark.django_db
def test_unique_key_twice_in_one_batch_is_refused() -> None:
    with pytest.raises(DuplicateUniqueKey) as refused:
        create_batch(
            "dupes",
            [
                {"job_type": "echo", "unique_key": "same"},
                {"job_type": "echo", "unique_key": "other"},
                {"job_type": "echo", "unique_key": "same"},
                {"job_type": "echo", "unique_key": "other"},
                {"job_type": "echo", "unique_key": "same"},
            ],
        )
    error = refused.value
    assert (error.code, error.status_code) == ("DUPLICATE_UNIQUE_KEY", 422)
    assert "'same' at jobs[0], jobs[2], jobs[4]; 'other' at jobs[1], jobs[3]" in error.message
    assert [detail["field"] for detail in error.details] == [
        "jobs[2].unique_key",
        "jobs[4].unique_key",
        "jobs[3].unique_key",
    ]
    assert not Batch.objects.exists() and not Job.objects.exists()


@pytest.mark.django_db
def test_unique_key_held_by_an_unfinished_job_is_reused() -> None:
    holder = services.enqueue("echo", unique_key="held")
    finished = services.enqueue("echo", unique_key="was-held")
    services.fail(finished.pk, "E", "done")
    created = create_batch(
        "reuse",
        [
            {"job_type": "echo", "unique_key": "held"},
            {"job_type": "echo", "unique_key": "was-held"},
        ],
    )
    assert created.job_ids[0] == holder.pk
    assert created.job_ids[1] != finished.pk
    assert created.reused == [0]
    assert Job.objects.get(pk=holder.pk).batch_id is None  # not moved into the new batch
    batch = assert_consistent(created.batch.pk)
    assert batch.total_jobs == 1


# --- batch actions ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_restart_batch_restarts_failed_and_cancelled() -> None:
    batch_id, jobs = batch_with(*ALL_FIVE)
    assert batch_services.restart_batch(batch_id) == 4
    assert statuses_of(jobs[F] + jobs[X]) == {P}
    assert statuses_of(jobs[C]) == {C}
    assert Job.objects.get(pk=jobs[F][0]).error is None
    batch = assert_consistent(batch_id)
    assert (batch.pending_jobs, batch.completed_jobs, batch.status) == (6, 2, R)
    assert batch_services.restart_batch(batch_id) == 0


@pytest.mark.django_db
def test_restart_batch_with_completed_jobs() -> None:
    batch_id, jobs = batch_with(*ALL_FIVE)
    assert batch_services.restart_batch(batch_id, include_completed=True) == 6
    assert statuses_of(jobs[C] + jobs[F] + jobs[X]) == {P}
    assert statuses_of(jobs[R]) == {R}
    assert Job.objects.get(pk=jobs[C][0]).results is None
    batch = assert_consistent(batch_id)
    assert (batch.pending_jobs, batch.processing_jobs, batch.completed_at) == (8, 2, None)


@pytest.mark.django_db
def test_fail_batch_fails_every_unfinished_job() -> None:
    batch_id, jobs = batch_with(*ALL_FIVE)
    assert batch_services.fail_batch(batch_id, message="wrong input") == 4
    assert statuses_of(jobs[P] + jobs[R]) == {F}
    error = Job.objects.get(pk=jobs[R][0]).error
    assert error == {"code": "FAILED_BY_OPERATOR", "message": "wrong input", "details": None}
    batch = assert_consistent(batch_id)
    assert (batch.failed_jobs, batch.status) == (6, C)  # ended, and some completed
    assert batch_services.fail_batch(batch_id) == 0


@pytest.mark.django_db
def test_fail_batch_without_completed_jobs_ends_failed() -> None:
    batch_id, _ = batch_with(P, R, X)
    assert batch_services.fail_batch(batch_id) == 2
    batch = assert_consistent(batch_id)
    assert batch.status == F and batch.completed_at is not None


@pytest.mark.django_db
def test_set_pending_batch() -> None:
    batch_id, jobs = batch_with(*ALL_FIVE)
    assert batch_services.set_pending_batch(batch_id) == 6
    assert statuses_of(jobs[R] + jobs[F] + jobs[X]) == {P}
    assert statuses_of(jobs[C]) == {C}
    # held by the worker that may still run it, until it lets go (or its lease runs out)
    assert Job.objects.get(pk=jobs[R][0]).worker_id == "worker-a"
    assert queue.release_holds("worker-a", jobs[R]) == len(jobs[R])
    assert Job.objects.get(pk=jobs[R][0]).worker_id is None
    batch = assert_consistent(batch_id)
    assert (batch.pending_jobs, batch.status) == (8, R)


@pytest.mark.django_db
def test_cancel_batch_cancels_pending_and_asks_workers_to_stop_processing() -> None:
    batch_id, jobs = batch_with(*ALL_FIVE)
    assert batch_services.cancel_batch(batch_id) == 4
    assert statuses_of(jobs[P]) == {X}
    running = Job.objects.filter(pk__in=jobs[R])
    assert {(job.status, job.cancel_requested) for job in running} == {(R, True)}
    batch = assert_consistent(batch_id)
    assert (batch.cancelled_jobs, batch.processing_jobs, batch.status) == (4, 2, R)
    assert batch_services.cancel_batch(batch_id) == 0  # already asked: nothing new
    for job_id in jobs[R]:
        services.confirm_cancel(job_id)
    batch = assert_consistent(batch_id)
    assert (batch.status, batch.cancelled_jobs) == (C, 6)


@pytest.mark.django_db
def test_archive_and_unarchive_batch() -> None:
    batch_id, jobs = batch_with(*ALL_FIVE)
    assert batch_services.archive_batch(batch_id) == 6
    assert Batch.objects.get(pk=batch_id).archived is True
    archived = set(
        Job.objects.filter(batch_id=batch_id, archived=True).values_list("pk", flat=True)
    )
    assert archived == set(jobs[C] + jobs[F] + jobs[X])
    assert batch_services.archive_batch(batch_id) == 0
    assert batch_services.unarchive_batch(batch_id) == 6
    assert Batch.objects.get(pk=batch_id).archived is False
    assert not Job.objects.filter(batch_id=batch_id, archived=True).exists()
    assert_consistent(batch_id)


@pytest.mark.django_db
def test_jobs_that_end_after_their_batch_was_archived_are_archived_too() -> None:
    """Archiving a batch with running jobs left them un-archived once they ended."""
    batch_id, jobs = batch_with(R, R, R, P, P, C)
    assert batch_services.archive_batch(batch_id) == 1
    completed, failed, cancelled = jobs[R]
    services.complete(completed, {})
    services.fail(failed, "E", "failed")
    services.cancel(cancelled)  # asks the worker to stop it
    services.confirm_cancel(cancelled)
    services.cancel(jobs[P][0])  # never ran: held by the archived batch, now cancelled
    ended = [completed, failed, cancelled, jobs[P][0]]
    assert set(
        Job.objects.filter(batch_id=batch_id, archived=True).values_list("pk", flat=True)
    ) == {
        *ended,
        *jobs[C],
    }
    assert not Job.objects.get(pk=jobs[P][1]).archived  # still pending: not finished
    for job_id in ended:
        messages = JobLog.objects.filter(job_id=job_id).values_list("message", flat=True)
        assert sum(text.endswith("; archived with its batch.") for text in messages) == 1
    # Unarchived, the batch's jobs end as they are.
    batch_services.unarchive_batch(batch_id)
    services.cancel(jobs[P][1])
    assert not Job.objects.filter(batch_id=batch_id, archived=True).exists()
    assert_consistent(batch_id)


@pytest.mark.django_db
def test_toggle_active() -> None:
    batch_id, _ = batch_with(P, C)
    assert batch_services.toggle_active(batch_id).is_active is False
    assert Batch.objects.get(pk=batch_id).is_active is False
    assert batch_services.toggle_active(batch_id).is_active is True
    assert batch_services.set_active(batch_id, True).is_active is True
    assert_consistent(batch_id)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "action",
    [
        batch_services.restart_batch,
        batch_services.fail_batch,
        batch_services.set_pending_batch,
        batch_services.cancel_batch,
        batch_services.archive_batch,
        batch_services.unarchive_batch,
        batch_services.toggle_active,
        batch_services.recount_batch,
    ],
)
def test_batch_actions_on_a_missing_batch_are_not_found(action: Any) -> None:
    with pytest.raises(NotFound):
        action("batch-missing")


@pytest.mark.django_db
def test_batch_actions_leave_other_batches_alone() -> None:
    batch_id, _ = batch_with(P, F)
    other_id, other_jobs = batch_with(P, F, name="other")
    before = Batch.objects.filter(pk=other_id).values().get()
    batch_services.restart_batch(batch_id)
    batch_services.fail_batch(batch_id)
    batch_services.cancel_batch(batch_id)
    assert Batch.objects.filter(pk=other_id).values().get() == before
    assert statuses_of(other_jobs[P]) == {P} and statuses_of(other_jobs[F]) == {F}


# --- counter repair --------------------------------------------------------------------------


def corrupt(batch_id: str, **wrong: Any) -> None:
    Batch.objects.filter(pk=batch_id).update(**wrong)


@pytest.mark.django_db
def test_recount_batch_repairs_and_reports_corrupted_counters() -> None:
    batch_id, _ = batch_with(P, P, R, C, F)
    corrupt(batch_id, pending_jobs=99, completed_jobs=0, total_jobs=7, status=C)
    dry = batch_services.recount_batch(batch_id, dry_run=True)
    assert dry == {
        "pending_jobs": (99, 2),
        "completed_jobs": (0, 1),
        "total_jobs": (7, 5),
        "status": (C, R),
    }
    assert Batch.objects.get(pk=batch_id).pending_jobs == 99  # dry run changed nothing
    assert batch_services.recount_batch(batch_id) == dry
    batch = assert_consistent(batch_id)
    assert batch.status == R
    assert batch_services.recount_batch(batch_id) == {}


@pytest.mark.django_db
def test_recount_batch_sets_status_and_completed_at_of_a_batch_that_had_ended() -> None:
    batch_id, _ = batch_with(C, F)
    corrupt(batch_id, completed_jobs=0, pending_jobs=2, status=P, completed_at=None)
    assert batch_services.recount_batch(batch_id) == {
        "pending_jobs": (2, 0),
        "completed_jobs": (0, 1),
        "status": (P, C),
        "completed_at": (None, "set"),
    }
    batch = assert_consistent(batch_id)
    assert batch.status == C and batch.completed_at is not None


@pytest.mark.django_db
def test_recount_batches_command_prints_what_it_fixed() -> None:
    broken_id, _ = batch_with(P, C)
    fine_id, _ = batch_with(F, name="fine")
    corrupt(broken_id, pending_jobs=5, cancelled_jobs=2, total_jobs=9)

    out = StringIO()
    call_command("recount_batches", "--dry-run", stdout=out)
    assert f"{broken_id}: pending_jobs 5→1, cancelled_jobs 2→0, total_jobs 9→2" in out.getvalue()
    assert "2 batch(es) checked, 1 would fix." in out.getvalue()
    assert Batch.objects.get(pk=broken_id).pending_jobs == 5

    out = StringIO()
    call_command("recount_batches", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines == [
        f"{broken_id}: pending_jobs 5→1, cancelled_jobs 2→0, total_jobs 9→2",
        "2 batch(es) checked, 1 fixed.",
    ]
    assert_consistent(broken_id)
    assert fine_id not in out.getvalue()

    out = StringIO()
    call_command("recount_batches", fine_id, broken_id, stdout=out)
    assert out.getvalue().splitlines() == ["2 batch(es) checked, 0 fixed."]


@pytest.mark.django_db
def test_restart_batch_leaves_jobs_whose_unique_key_is_taken_and_restarts_the_rest() -> None:
    created = create_batch(
        "keys",
        [
            {"job_type": "echo", "unique_key": "report-1"},
            {"job_type": "echo", "unique_key": "report-2"},
            {"job_type": "echo"},
        ],
    )
    keyed, free_key, plain = created.job_ids
    for job_id in created.job_ids:
        services.fail(job_id, "E", "failed")
    holder = services.enqueue("echo", unique_key="report-1")  # takes the key meanwhile

    assert batch_services.restart_batch(created.batch.pk) == 2
    assert statuses_of([free_key, plain]) == {P}
    assert statuses_of([keyed]) == {F}
    assert Job.objects.get(pk=holder.pk).status == P
    assert_consistent(created.batch.pk)

    with pytest.raises(InvalidTransition) as refused:
        services.restart(keyed)
    assert refused.value.details["held_by"] == holder.pk
    assert statuses_of([keyed]) == {F}


@pytest.mark.django_db
def test_recount_batch_repairs_a_wrong_status_when_the_counters_are_right() -> None:
    batch_id, _ = batch_with(C, C)
    Batch.objects.filter(pk=batch_id).update(status=P, completed_at=None)
    wrong = batch_services.recount_batch(batch_id)
    assert set(wrong) == {"status", "completed_at"}
    assert wrong["status"] == (P, C)
    assert_consistent(batch_id)
    assert batch_services.recount_batch(batch_id) == {}
