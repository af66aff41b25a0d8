"""The jobs endpoints: create, read, list (filters, ordering, cursor pages), logs, actions
(allowed and refused), delete."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from batches.services import create_batch
from jobs import queue
from jobs.models import Job, JobLog
from jobs.schemas import JobFilter
from tests.api.conftest import drive, error_of
from tests.api.processors import WITH_DOSSIER

pytestmark = pytest.mark.django_db


def post(client: Client, path: str, data: Any = None, **extra: Any) -> Any:
    return client.post(path, data, content_type="application/json", **extra)


# --- create ---------------------------------------------------------------------------------


def test_create_job_returns_201_with_the_stored_job(client: Client, owner: Any) -> None:
    response = post(
        client,
        "/api/jobs",
        {
            "job_type": "echo",
            "parameters": {"message": "hello", "steps": 2},
            "job_name": "greeting",
            "priority": 5,
            "access_control": {"visibility": "public", "read_access": ["bob"]},
            "webhook": {"url": "https://example.org/hook", "secret": "s3cret"},
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    job = Job.objects.get(pk=body["job_id"])
    assert job.user == owner and job.status == "pending" and job.priority == 5
    assert job.parameters == {"message": "hello", "steps": 2, "sleep_seconds": 0, "fail_with": None}
    assert body["parameters"] == job.parameters
    assert body["user"] == "owner"
    assert body["access_control"]["visibility"] == "public"
    assert body["access_control"]["read_access"] == ["bob"]
    # The webhook's secret is stored but never shown.
    assert job.webhook["secret"] == "s3cret"
    assert body["webhook"] == {"url": "https://example.org/hook", "signed": True}
    assert "s3cret" not in response.content.decode()
    # What POST answers reads exactly like what GET answers (timestamps to the same digit).
    assert client.get(f"/api/jobs/{job.pk}").json() == body


def test_invalid_parameters_are_422_naming_the_field(client: Client) -> None:
    response = post(client, "/api/jobs", {"job_type": "echo", "parameters": {"steps": 0}})
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"][0]["field"] == "parameters.steps"
    assert "parameters.steps" in error["message"]
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"job_type": "echo", "parameters": {"steps": True}}, "parameters.steps"),
        ({"job_type": "echo", "priority": True}, "priority"),
        ({"job_type": "echo", "max_attempts": False}, "max_attempts"),
    ],
)
def test_true_or_false_where_a_number_is_declared_is_422(
    client: Client, body: dict[str, Any], field: str
) -> None:
    """pydantic alone would store true as 1; the schema says integer."""
    response = post(client, "/api/jobs", body)
    assert response.status_code == 422, response.content
    assert field in {detail["field"] for detail in error_of(response)["details"]}
    assert not Job.objects.exists()


def test_unknown_parameter_is_refused(client: Client) -> None:
    response = post(client, "/api/jobs", {"job_type": "echo", "parameters": {"mesage": "typo"}})
    assert response.status_code == 422
    assert error_of(response)["details"][0]["field"] == "parameters.mesage"


def test_unknown_job_type_is_422_with_its_own_code(client: Client) -> None:
    response = post(client, "/api/jobs", {"job_type": "nope", "parameters": {}})
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "UNKNOWN_JOB_TYPE"
    assert error["details"][0]["field"] == "job_type"


def test_missing_job_type_is_422(client: Client) -> None:
    response = post(client, "/api/jobs", {"parameters": {}})
    assert response.status_code == 422
    error = error_of(response)
    assert error["details"][0]["field"] == "job_type"
    assert error["details"][0]["in"] == "body"


def test_create_in_a_batch_needs_write_access_to_it(
    client: Client, make_user: Callable[..., Any]
) -> None:
    other = make_user("other")
    theirs = create_batch("theirs", [{"job_type": "echo"}], user=other).batch
    response = post(client, "/api/jobs", {"job_type": "echo", "batch_id": theirs.pk})
    assert response.status_code == 404
    assert Job.objects.filter(batch=theirs).count() == 1


def test_create_in_own_batch_counts_the_job(client: Client, owner: Any) -> None:
    batch = create_batch("mine", [{"job_type": "echo"}], user=owner).batch
    response = post(client, "/api/jobs", {"job_type": "echo", "batch_id": batch.pk})
    assert response.status_code == 201
    assert response.json()["batch_id"] == batch.pk
    batch.refresh_from_db()
    assert batch.total_jobs == 2 and batch.pending_jobs == 2


def test_unique_key_returns_the_unfinished_job(client: Client) -> None:
    first = post(client, "/api/jobs", {"job_type": "echo", "unique_key": "k-1"}).json()
    second = post(client, "/api/jobs", {"job_type": "echo", "unique_key": "k-1"}).json()
    assert first["job_id"] == second["job_id"]
    assert Job.objects.count() == 1


def test_an_empty_or_blank_unique_key_is_no_key(client: Client) -> None:
    """From an exploratory run: ``""`` meant no key, ``"  "`` was a key of its own (and two
    jobs of one batch with it were refused as sharing one)."""
    for key in ["", "  ", "\t"]:
        for _ in range(2):
            response = post(client, "/api/jobs", {"job_type": "echo", "unique_key": key})
            assert response.status_code == 201 and response.json()["unique_key"] is None
    jobs = [{"job_type": "echo", "unique_key": " "}, {"job_type": "echo", "unique_key": " "}]
    batch = post(client, "/api/jobs/batch", {"batch_name": "blank keys", "jobs": jobs})
    assert batch.status_code == 201, batch.json()
    assert Job.objects.count() == 8 and not Job.objects.exclude(unique_key=None).exists()


def test_unique_key_held_is_200_with_the_job_unchanged_and_201_once_it_ended(
    client: Client,
) -> None:
    """201 means "created": a repeat that only finds the job holding its key says so with
    200, and the job is returned as it is, whatever the repeat asked for."""
    created = post(
        client, "/api/jobs", {"job_type": "echo", "unique_key": "k-1", "job_name": "first"}
    )
    assert created.status_code == 201, created.content
    repeat = post(
        client,
        "/api/jobs",
        {
            "job_type": "echo",
            "unique_key": "k-1",
            "job_name": "second",
            "priority": 9,
            "parameters": {"message": "other"},
        },
    )
    assert repeat.status_code == 200, repeat.content
    assert repeat.json() == client.get(f"/api/jobs/{created.json()['job_id']}").json()
    assert repeat.json()["job_name"] == "first" and repeat.json()["priority"] == 0
    assert Job.objects.count() == 1

    drive(created.json()["job_id"], "completed")  # the key is free again
    again = post(client, "/api/jobs", {"job_type": "echo", "unique_key": "k-1"})
    assert again.status_code == 201
    assert again.json()["job_id"] != created.json()["job_id"]


def test_openapi_documents_201_created_and_200_for_a_held_unique_key(client: Client) -> None:
    operation = client.get("/api/openapi.json").json()["paths"]["/api/jobs"]["post"]
    responses = operation["responses"]
    for status in ("200", "201"):
        schema = responses[status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/JobOut"}
    assert "unique_key" in responses["200"]["description"]


def test_run_after_naive_is_utc_and_out_of_range_refused(client: Client) -> None:
    ok = post(client, "/api/jobs", {"job_type": "echo", "run_after": "2030-01-02T03:04:05"})
    assert ok.status_code == 201
    assert ok.json()["run_after"].startswith("2030-01-02T03:04:05")
    bad = post(client, "/api/jobs", {"job_type": "echo", "run_after": "0001-01-01T00:00:00+05:00"})
    assert bad.status_code == 422
    assert error_of(bad)["details"][0]["field"] == "run_after"


# --- read -----------------------------------------------------------------------------------


def test_get_job_shows_progress_results_error_and_timestamps(
    client: Client, make_job: Callable[..., Job]
) -> None:
    job = make_job()
    drive(job.pk, "completed")
    body = client.get(f"/api/jobs/{job.pk}").json()
    assert body["status"] == "completed"
    assert body["results"] == {"message": "done"}
    assert body["progress"]["percent"] == 100.0
    assert body["error"] is None
    assert body["started_at"] and body["completed_at"] and body["duration"] is not None
    failed = make_job()
    drive(failed.pk, "failed")
    error = client.get(f"/api/jobs/{failed.pk}").json()["error"]
    assert error == {"code": "BOOM", "message": "it broke", "details": None}


def test_missing_job_is_404(client: Client) -> None:
    response = client.get("/api/jobs/job-missing")
    assert response.status_code == 404
    assert error_of(response)["code"] == "NOT_FOUND"


# --- list -----------------------------------------------------------------------------------


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["job_id"] for item in response.json()["items"]]


def test_list_is_newest_first_without_results(client: Client, make_job: Callable[..., Job]) -> None:
    jobs = [make_job() for _ in range(3)]
    response = client.get("/api/jobs")
    assert ids(response) == [job.pk for job in reversed(jobs)]
    assert "results" not in response.json()["items"][0]
    assert response.json()["total"] is None


def test_filters(client: Client, owner: Any, make_job: Callable[..., Job]) -> None:
    done = make_job(job_name="Keynote dossier", parameters={"message": "x"})
    drive(done.pk, "completed")
    failed = make_job(job_name="other")
    drive(failed.pk, "failed")
    pending = make_job(job_name="third")
    batch = create_batch("b", [{"job_type": "echo", "job_name": "in batch"}], user=owner).batch
    in_batch = Job.objects.get(batch=batch)

    assert set(ids(client.get("/api/jobs?status=completed"))) == {done.pk}
    assert set(ids(client.get("/api/jobs?status=completed&status=failed"))) == {done.pk, failed.pk}
    assert set(ids(client.get("/api/jobs?status=completed,failed"))) == {done.pk, failed.pk}
    assert set(ids(client.get("/api/jobs?job_type=echo"))) == {
        done.pk,
        failed.pk,
        pending.pk,
        in_batch.pk,
    }
    assert ids(client.get("/api/jobs?job_type=pdf")) == []
    assert ids(client.get(f"/api/jobs?batch_id={batch.pk}")) == [in_batch.pk]
    assert ids(client.get("/api/jobs?search=keynote")) == [done.pk]
    assert ids(client.get(f"/api/jobs?search={pending.pk}")) == [pending.pk]

    Job.objects.filter(pk=done.pk).update(created_at=timezone.now() - timedelta(days=3))
    assert ids(
        client.get(
            "/api/jobs?created_before="
            + (timezone.now() - timedelta(days=1)).isoformat().replace("+", "%2B")
        )
    ) == [done.pk]
    after = (timezone.now() - timedelta(days=1)).isoformat().replace("+", "%2B")
    assert done.pk not in ids(client.get(f"/api/jobs?created_after={after}"))

    client.post(f"/api/jobs/{failed.pk}/archive")
    assert ids(client.get("/api/jobs?archived=true")) == [failed.pk]
    assert failed.pk not in ids(client.get("/api/jobs?archived=false"))


def test_search_looks_into_text_parameters(client: Client, owner: Any, settings: Any) -> None:
    settings.JOBCENTER_PROCESSORS = WITH_DOSSIER
    created = {}
    for key, value in [
        ("event", "PyCon Lille"),
        ("session", "Keynote: Quantum"),
        ("url", "https://example.org/talks/42"),
        ("filename", "slides-final.pdf"),
    ]:
        response = post(client, "/api/jobs", {"job_type": "dossier", "parameters": {key: value}})
        assert response.status_code == 201, response.content
        created[key] = response.json()["job_id"]
    post(client, "/api/jobs", {"job_type": "echo", "parameters": {"message": "lille quantum"}})
    assert ids(client.get("/api/jobs?search=lille")) == [created["event"]]
    assert ids(client.get("/api/jobs?search=QUANTUM")) == [created["session"]]
    assert ids(client.get("/api/jobs?search=talks/42")) == [created["url"]]
    assert ids(client.get("/api/jobs?search=slides-final")) == [created["filename"]]
    job_id = created["event"]
    assert ids(client.get(f"/api/jobs?search={job_id}")) == [job_id]
    # a batch's id finds its jobs, as the admin's search does (docs/admin.md)
    batch = post(client, "/api/jobs/batch", {"batch_name": "b", "jobs": [{"job_type": "echo"}]})
    assert batch.status_code == 201, batch.content
    found = ids(client.get(f"/api/jobs?search={batch.json()['batch_id']}"))
    assert found == batch.json()["job_ids"]
    # A match never spans two fields: "Lille" ends the event, no field holds "lillekeynote".
    Job.objects.filter(pk=created["session"]).update(parameters={"event": "Lille", "session": "K"})
    assert ids(client.get("/api/jobs?search=lillek")) == []


def test_search_is_an_index_lookup_on_postgresql(make_job: Callable[..., Job]) -> None:
    """The trigram index of jobs/migrations/0005 covers exactly the searched expression."""
    if connection.vendor != "postgresql":
        pytest.skip("the trigram index exists on PostgreSQL only")
    wanted = make_job(job_name="Keynote on storage")
    make_job(job_name="Closing panel")
    jobs = JobFilter(search="storage").filter(Job.objects.all())
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table: force the choice
    assert "job_search_trgm" in jobs.explain()
    assert list(jobs) == [wanted]


def test_invalid_filter_values_are_422(client: Client) -> None:
    for query in [
        "status=running",
        "limit=0",
        "limit=5000",
        "created_after=yesterday",
        "ordering=name",
    ]:
        response = client.get(f"/api/jobs?{query}")
        assert response.status_code == 422, query
        assert error_of(response)["details"][0]["in"] == "query"


def test_cursor_pages_cover_everything_once(client: Client, make_job: Callable[..., Job]) -> None:
    created = [make_job().pk for _ in range(7)]
    # Equal timestamps: the job id breaks the tie, so no row is lost between pages.
    Job.objects.filter(pk__in=created[2:5]).update(created_at=timezone.now())
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        url = "/api/jobs?limit=3&include_total=true" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(url).json()
        assert body["total"] == 7
        seen += [item["job_id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert sorted(seen) == sorted(created) and len(seen) == 7


@pytest.mark.parametrize("ordering", ["created_at", "-priority", "priority"])
def test_orderings_page_consistently(
    client: Client, make_job: Callable[..., Job], ordering: str
) -> None:
    for priority in [3, 1, 2, 3, 1]:
        make_job(priority=priority)
    everything = ids(client.get(f"/api/jobs?ordering={ordering}&limit=100"))
    paged: list[str] = []
    cursor = None
    while True:
        body = client.get(
            f"/api/jobs?ordering={ordering}&limit=2" + (f"&cursor={cursor}" if cursor else "")
        ).json()
        paged += [item["job_id"] for item in body["items"]]
        if not (cursor := body["next_cursor"]):
            break
    assert paged == everything
    priorities = [Job.objects.get(pk=pk).priority for pk in everything]
    if ordering == "-priority":
        assert priorities == sorted(priorities, reverse=True)
    if ordering == "priority":
        assert priorities == sorted(priorities)


def test_bad_or_foreign_cursor_is_400(client: Client, make_job: Callable[..., Job]) -> None:
    for _ in range(3):
        make_job()
    response = client.get("/api/jobs?cursor=not-a-cursor")
    assert response.status_code == 400
    assert error_of(response)["code"] == "INVALID_CURSOR"
    cursor = client.get("/api/jobs?limit=1").json()["next_cursor"]
    response = client.get(f"/api/jobs?ordering=priority&cursor={cursor}")
    assert response.status_code == 400
    assert error_of(response)["code"] == "INVALID_CURSOR"
    # Nor does another list take it (same ordering name, other table).
    response = client.get(f"/api/batches?cursor={cursor}")
    assert response.status_code == 400
    assert error_of(response)["code"] == "INVALID_CURSOR"
    job_id = client.get("/api/jobs?limit=1").json()["items"][0]["job_id"]
    response = client.get(f"/api/jobs/{job_id}/logs?cursor={cursor}")
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("path", "values"),
    [
        ("/api/jobs?ordering=-priority", ["jobs:-priority", ["a", {"t": "2026-01-01"}, "job-1"]]),
        ("/api/jobs?ordering=-priority", ["jobs:-priority", [2**70, {"t": "2026-01-01"}, "x"]]),
        ("/api/jobs", ["jobs:-created_at", ["abc", "job-1"]]),
        ("/api/jobs", ["jobs:-created_at", [{"t": "not a date"}, "job-1"]]),
        ("/api/batches", ["batches:-created_at", [5, "batch-1"]]),
        ("LOGS", ["logs:JOB", [{"t": "2026-01-01T00:00:00"}, "not-a-uuid"]]),
    ],
)
def test_a_cursor_with_values_of_the_wrong_type_is_400(
    client: Client, make_job: Callable[..., Job], path: str, values: list[Any]
) -> None:
    job = make_job()
    if path == "LOGS":
        path, values = f"/api/jobs/{job.pk}/logs?", [f"logs:{job.pk}", values[1]]
    raw = json.dumps(values).encode()
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    joint = "&" if "?" in path else "?"
    response = client.get(f"{path}{joint}cursor={cursor}")
    assert response.status_code == 400, response.content
    assert error_of(response)["code"] == "INVALID_CURSOR"


# --- logs -----------------------------------------------------------------------------------


def test_logs_are_paginated_oldest_first(client: Client, make_job: Callable[..., Job]) -> None:
    job = make_job()
    drive(job.pk, "completed")
    expected = list(
        JobLog.objects.filter(job=job).order_by("timestamp", "id").values_list("message", flat=True)
    )
    assert len(expected) >= 4
    first = client.get(f"/api/jobs/{job.pk}/logs?limit=2").json()
    second = client.get(f"/api/jobs/{job.pk}/logs?limit=100&cursor={first['next_cursor']}").json()
    messages = [item["message"] for item in first["items"] + second["items"]]
    assert messages == expected
    assert second["next_cursor"] is None
    errors_only = client.get(f"/api/jobs/{job.pk}/logs?level=error").json()["items"]
    assert errors_only == []


# --- actions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "start", "expected"),
    [
        ("restart", "failed", "pending"),
        ("restart", "completed", "pending"),
        ("cancel", "pending", "cancelled"),
        ("fail", "pending", "failed"),
        ("pending", "failed", "pending"),
        ("pending", "processing", "pending"),
    ],
)
def test_actions(
    client: Client, make_job: Callable[..., Job], action: str, start: str, expected: str
) -> None:
    job = make_job()
    drive(job.pk, start)
    response = post(client, f"/api/jobs/{job.pk}/{action}")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == expected
    assert Job.objects.get(pk=job.pk).status == expected


def test_cancel_of_a_processing_job_asks_its_worker(
    client: Client, make_job: Callable[..., Job]
) -> None:
    job = make_job()
    drive(job.pk, "processing")
    body = post(client, f"/api/jobs/{job.pk}/cancel").json()
    assert body["status"] == "processing" and body["cancel_requested"] is True


def test_fail_takes_a_code_and_message(client: Client, make_job: Callable[..., Job]) -> None:
    job = make_job()
    body = post(client, f"/api/jobs/{job.pk}/fail", {"code": "BAD_INPUT", "message": "nope"}).json()
    assert body["error"]["code"] == "BAD_INPUT" and body["error"]["message"] == "nope"
    response = post(client, f"/api/jobs/{make_job().pk}/fail", {"code": "lower case"})
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("action", "start"),
    [
        ("restart", "pending"),
        ("restart", "processing"),
        ("cancel", "completed"),
        ("fail", "completed"),
        ("pending", "pending"),
        ("pending", "completed"),
        ("archive", "pending"),
    ],
)
def test_refused_transitions_are_409_and_change_nothing(
    client: Client, make_job: Callable[..., Job], action: str, start: str
) -> None:
    job = make_job()
    drive(job.pk, start)
    before = Job.objects.get(pk=job.pk)
    logs = JobLog.objects.filter(job=job).count()
    response = post(client, f"/api/jobs/{job.pk}/{action}")
    assert response.status_code == 409, response.content
    error = error_of(response)
    assert error["code"] == "INVALID_TRANSITION"
    assert error["details"]["status"] == start
    after = Job.objects.get(pk=job.pk)
    assert (after.status, after.updated_at, after.archived) == (
        before.status,
        before.updated_at,
        before.archived,
    )
    assert JobLog.objects.filter(job=job).count() == logs


def test_archive_and_unarchive(client: Client, make_job: Callable[..., Job]) -> None:
    job = make_job()
    drive(job.pk, "completed")
    assert post(client, f"/api/jobs/{job.pk}/archive").json()["archived"] is True
    assert post(client, f"/api/jobs/{job.pk}/unarchive").json()["archived"] is False


def test_delete(client: Client, owner: Any, make_job: Callable[..., Job], media_root: Any) -> None:
    batch = create_batch("b", [{"job_type": "echo"}, {"job_type": "echo"}], user=owner).batch
    job = Job.objects.filter(batch=batch).first()
    assert job is not None
    (media_root / job.pk).mkdir()
    (media_root / job.pk / "out.txt").write_text("x")
    response = client.delete(f"/api/jobs/{job.pk}")
    assert response.status_code == 204
    assert not Job.objects.filter(pk=job.pk).exists()
    assert not JobLog.objects.filter(job_id=job.pk).exists()
    assert not (media_root / job.pk).exists()
    batch.refresh_from_db()
    assert (batch.total_jobs, batch.pending_jobs) == (1, 1)
    assert client.delete(f"/api/jobs/{job.pk}").status_code == 404


def test_delete_of_a_processing_job_is_409(client: Client, make_job: Callable[..., Job]) -> None:
    job = make_job()
    drive(job.pk, "processing")
    response = client.delete(f"/api/jobs/{job.pk}")
    assert response.status_code == 409
    assert error_of(response)["code"] == "INVALID_TRANSITION"
    assert Job.objects.filter(pk=job.pk).exists()


def test_a_job_taken_from_its_running_worker_shows_as_held(
    client: Client, make_job: Callable[..., Job]
) -> None:
    job = make_job()
    drive(job.pk, "processing")
    client.post(f"/api/jobs/{job.pk}/pending")
    body = client.get(f"/api/jobs/{job.pk}").json()
    assert (body["status"], body["held"], body["worker_id"]) == ("pending", True, "worker-test")
    assert body["lease_expires_at"] is not None
    queue.release_holds("worker-test", [job.pk])  # the worker has stopped the attempt
    body = client.get(f"/api/jobs/{job.pk}").json()
    assert (body["held"], body["worker_id"]) == (False, None)
