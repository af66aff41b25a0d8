"""unique_key: while a job with the key is unfinished, enqueueing the key again returns that
job. The database decides (a conditional unique constraint), so concurrent callers in
separate processes cannot both insert."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.db import IntegrityError, connection

from jobcenter.db import atomic
from jobcenter.errors import InvalidTransition
from jobs import services
from jobs.models import Job, JobLog
from jobs.states import UNFINISHED
from tests.drivers import run_together

PROCESSES = 4
REPEATS = 5


def finish(job_id: str) -> None:
    services.claim(job_id, "w")
    services.start(job_id)
    services.complete(job_id, {})


@pytest.mark.django_db
def test_the_database_refuses_a_second_unfinished_job_with_the_key() -> None:
    """Inserted straight through the ORM, past the service: the constraint still holds."""
    Job.objects.create(job_type="echo", unique_key="k")
    with pytest.raises(IntegrityError), atomic():
        Job.objects.create(job_type="echo", unique_key="k", status="processing")
    # Finished jobs and jobs without a key never collide.
    Job.objects.create(job_type="echo", unique_key="k", status="completed")
    Job.objects.create(job_type="echo", unique_key="k", status="failed")
    Job.objects.create(job_type="echo")
    Job.objects.create(job_type="echo")
    assert Job.objects.filter(unique_key="k").count() == 3


@pytest.mark.django_db
def test_the_constraint_is_in_the_database_schema() -> None:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Job._meta.db_table)
    assert "job_unique_key_unfinished" in constraints
    assert constraints["job_unique_key_unfinished"]["columns"] == ["unique_key"]
    assert constraints["job_unique_key_unfinished"]["unique"]


@pytest.mark.django_db
def test_enqueue_returns_the_unfinished_holder_of_the_key() -> None:
    first = services.enqueue("echo", {"message": "a"}, unique_key="report-42")
    again = services.enqueue("echo", {"message": "b"}, unique_key="report-42")
    assert again.pk == first.pk
    assert again.parameters["message"] == "a"
    services.claim(first.pk, "w")  # processing is unfinished too
    assert services.enqueue("echo", unique_key="report-42").pk == first.pk
    assert Job.objects.count() == 1


@pytest.mark.django_db
def test_enqueue_job_says_whether_it_created_the_job() -> None:
    """Only the insert knows whether the key was held: the API answers 201 or 200 by it."""
    first = services.enqueue_job("echo", {"message": "a"}, unique_key="report-42")
    again = services.enqueue_job("echo", {"message": "b"}, unique_key="report-42")
    assert first.created and not again.created
    assert again.job.pk == first.job.pk and again.job.parameters["message"] == "a"
    assert services.enqueue_job("echo").created  # no key: always a new job
    assert JobLog.objects.filter(job_id=first.job.pk).count() == 1  # the repeat logged nothing


@pytest.mark.django_db
def test_the_key_is_free_again_once_the_job_finished() -> None:
    first = services.enqueue("echo", unique_key="nightly")
    finish(first.pk)
    second = services.enqueue("echo", unique_key="nightly")
    assert second.pk != first.pk
    services.cancel(second.pk)
    third = services.enqueue("echo", unique_key="nightly")
    assert len({first.pk, second.pk, third.pk}) == 3


@pytest.mark.django_db
@pytest.mark.parametrize("transition", [services.restart, services.set_pending])
def test_a_finished_job_cannot_rejoin_the_queue_while_another_holds_its_key(
    transition: Callable[[str], Job],
) -> None:
    first = services.enqueue("echo", unique_key="nightly")
    services.fail(first.pk, "E", "x")
    holder = services.enqueue("echo", unique_key="nightly")
    before = Job.objects.filter(pk=first.pk).values().get()
    logs = JobLog.objects.filter(job_id=first.pk).count()
    with pytest.raises(InvalidTransition) as refused:
        transition(first.pk)
    assert refused.value.details["unique_key"] == "nightly"
    assert refused.value.details["held_by"] == holder.pk
    assert holder.pk in refused.value.message
    assert Job.objects.filter(pk=first.pk).values().get() == before
    assert JobLog.objects.filter(job_id=first.pk).count() == logs
    # Once the holder has finished, it works.
    services.cancel(holder.pk)
    assert transition(first.pk).status == "pending"


@pytest.mark.django_db
def test_jobs_without_a_key_are_never_deduplicated() -> None:
    assert services.enqueue("echo").pk != services.enqueue("echo").pk
    assert services.enqueue("echo", unique_key="").unique_key is None


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_concurrent_enqueues_of_one_key_make_exactly_one_job(tmp_path: Path) -> None:
    results = run_together(
        "enqueue_unique",
        [["race-key", str(tmp_path / "go"), str(REPEATS)] for _ in range(PROCESSES)],
        tmp_path / "go",
    )
    holders = Job.objects.filter(unique_key="race-key", status__in=UNFINISHED)
    assert holders.count() == 1
    assert Job.objects.filter(unique_key="race-key").count() == 1
    holder = holders.get()
    returned = {job_id for result in results for job_id in result["ids"]}
    assert returned == {holder.pk}
    assert sum(len(result["ids"]) for result in results) == PROCESSES * REPEATS

    # After it finished, the key can be used again, again by racing processes.
    finish(holder.pk)
    results = run_together(
        "enqueue_unique",
        [["race-key", str(tmp_path / "go2"), "2"] for _ in range(PROCESSES)],
        tmp_path / "go2",
    )
    second = Job.objects.get(unique_key="race-key", status__in=UNFINISHED)
    assert second.pk != holder.pk
    assert {job_id for result in results for job_id in result["ids"]} == {second.pk}
    assert Job.objects.filter(unique_key="race-key").count() == 2
