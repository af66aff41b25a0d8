"""Batches: creation (all or nothing, 10,000 jobs in one request), list filters, the batch's
jobs, counters and the batch actions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from batches.models import Batch
from batches.services import create_batch
from jobs import services
from jobs.models import Job, JobLog
from tests.api.conftest import drive, error_of
from tests.api.processors import WITH_DOSSIER

pytestmark = pytest.mark.django_db


def post(client: Client, path: str, data: Any = None, **extra: Any) -> Any:
    return client.post(path, data, content_type="application/json", **extra)


def test_create_batch_of_mixed_types(client: Client, owner: Any, settings: Any) -> None:
    settings.JOBCENTER_PROCESSORS = WITH_DOSSIER
    response = post(
        client,
        "/api/jobs/batch",
        {
            "batch_name": "conference",
            "jobs": [
                {"job_type": "echo", "parameters": {"message": "a"}},
                {"job_type": "sum", "parameters": {"numbers": [1, 2]}, "priority": 3},
                {"job_type": "dossier", "parameters": {"session": "s1"}, "job_name": "s1"},
            ],
            "access_control": {"read_access": ["team"]},
            "webhook": {"url": "https://example.org/batch", "secret": "k"},
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    batch = Batch.objects.get(pk=body["batch_id"])
    assert body["total_jobs"] == batch.total_jobs == 3 and body["pending_jobs"] == 3
    assert body["isActive"] is True and body["is_active"] is True
    assert body["webhook"] == {"url": "https://example.org/batch", "signed": True}
    jobs = {job.pk: job for job in Job.objects.filter(batch=batch)}
    assert list(body["job_ids"]) == sorted(jobs, key=lambda pk: body["job_ids"].index(pk))
    assert {jobs[pk].job_type for pk in body["job_ids"]} == {"echo", "sum", "dossier"}
    assert all(
        job.user == owner and job.access_control["read_access"] == ["team"] for job in jobs.values()
    )


def test_one_invalid_job_rejects_the_whole_batch(client: Client) -> None:
    response = post(
        client,
        "/api/jobs/batch",
        {
            "batch_name": "b",
            "jobs": [
                {"job_type": "echo"},
                {"job_type": "echo", "parameters": {"steps": -1}},
                {"job_type": "nope"},
            ],
        },
    )
    assert response.status_code == 422
    error = error_of(response)
    fields = [detail["field"] for detail in error["details"]]
    assert fields == ["jobs[1].parameters.steps", "jobs[2].job_type"]
    assert not Batch.objects.exists() and not Job.objects.exists()


def test_a_unique_key_repeated_in_one_batch_is_refused(client: Client) -> None:
    """It made one job of the two silently, dropping the second's parameters."""
    response = post(
        client,
        "/api/jobs/batch",
        {
            "batch_name": "b",
            "jobs": [
                {"job_type": "echo", "parameters": {"message": "a"}, "unique_key": "talk-7"},
                {"job_type": "echo", "unique_key": "talk-8"},
                {"job_type": "echo", "parameters": {"message": "b"}, "unique_key": "talk-7"},
            ],
        },
    )
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "DUPLICATE_UNIQUE_KEY"
    assert "'talk-7' at jobs[0], jobs[2]" in error["message"]
    assert error["details"] == [
        {"field": "jobs[2].unique_key", "message": "unique_key 'talk-7' is also given to jobs[0]"}
    ]
    assert not Batch.objects.exists() and not Job.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"batch_name": "b", "jobs": []}, "jobs"),
        ({"jobs": [{"job_type": "echo"}]}, "batch_name"),
        ({"batch_name": "b", "jobs": [{"parameters": {}}]}, "jobs[0].job_type"),
        (
            {"batch_name": "b", "jobs": [{"job_type": "echo", "priority": 2**40}]},
            "jobs[0].priority",
        ),
        ({"batch_name": "b", "jobs": [{"job_type": "echo", "bogus": 1}]}, "jobs[0].bogus"),
        ({"batch_name": "b", "jobs": [{"job_type": "echo"}], "extra": 1}, "extra"),
    ],
)
def test_batch_shape_errors_name_the_field(client: Client, body: Any, field: str) -> None:
    response = post(client, "/api/jobs/batch", body)
    assert response.status_code == 422
    assert error_of(response)["details"][0]["field"] == field
    assert not Batch.objects.exists()


@pytest.mark.parametrize("name", ["", " ", " \t\n ", "\u00a0\u3000"])
def test_an_empty_or_blank_batch_name_is_refused_like_a_missing_one(
    client: Client, name: str
) -> None:
    response = post(client, "/api/jobs/batch", {"batch_name": name, "jobs": [{"job_type": "echo"}]})
    assert response.status_code == 422, response.content
    error = error_of(response)
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"][0]["field"] == "batch_name"
    assert error["message"] == (
        "Invalid request: batch_name: must not be empty or only whitespace: give the batch a name"
    )
    assert not Batch.objects.exists() and not Job.objects.exists()


def test_a_batch_name_with_text_around_spaces_is_kept_as_sent(client: Client) -> None:
    response = post(
        client, "/api/jobs/batch", {"batch_name": " day 1 ", "jobs": [{"job_type": "echo"}]}
    )
    assert response.status_code == 201
    assert Batch.objects.get().batch_name == " day 1 "


def test_openapi_says_a_batch_name_is_not_blank(client: Client) -> None:
    schemas = client.get("/api/openapi.json").json()["components"]["schemas"]
    name = schemas["BatchCreateIn"]["properties"]["batch_name"]
    assert (name["minLength"], name["pattern"], name["maxLength"]) == (1, r"\S", 255)


@pytest.mark.slow
def test_ten_thousand_jobs_in_one_request(client: Client) -> None:
    jobs = [{"job_type": "echo", "parameters": {"message": f"m{i}"}} for i in range(10_000)]
    response = post(client, "/api/jobs/batch", {"batch_name": "big", "jobs": jobs})
    assert response.status_code == 201, response.content[:500]
    body = response.json()
    assert body["total_jobs"] == 10_000 and len(body["job_ids"]) == 10_000
    assert Job.objects.filter(batch_id=body["batch_id"]).count() == 10_000
    assert JobLog.objects.filter(job__batch_id=body["batch_id"]).count() == 10_000
    page = client.get(f"/api/batches/{body['batch_id']}/jobs?limit=1000&include_total=true").json()
    assert page["total"] == 10_000 and len(page["items"]) == 1000
    # the jobs share their created_at; oldest first lists them as they were submitted
    page = client.get(f"/api/batches/{body['batch_id']}/jobs?limit=1000&ordering=created_at")
    messages = [item["parameters"]["message"] for item in page.json()["items"]]
    assert messages == [f"m{i}" for i in range(1000)]


def test_get_batch_counters_and_progress(client: Client, owner: Any) -> None:
    batch = create_batch("b", [{"job_type": "echo"}] * 4, user=owner).batch
    job_ids = list(Job.objects.filter(batch=batch).values_list("pk", flat=True))
    drive(job_ids[0], "completed")
    drive(job_ids[1], "failed")
    drive(job_ids[2], "processing")
    body = client.get(f"/api/batches/{batch.pk}").json()
    assert body["total_jobs"] == 4
    assert (
        body["pending_jobs"],
        body["processing_jobs"],
        body["completed_jobs"],
        body["failed_jobs"],
    ) == (1, 1, 1, 1)
    assert body["progress_percent"] == 50.0
    assert body["status"] == "processing"


def batch_ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["batch_id"] for item in response.json()["items"]]


def test_batch_list_filters(client: Client, owner: Any, settings: Any) -> None:
    settings.JOBCENTER_PROCESSORS = WITH_DOSSIER
    echo = create_batch("Echo run", [{"job_type": "echo"}], user=owner).batch
    sums = create_batch(
        "Sums", [{"job_type": "sum", "parameters": {"numbers": [1]}}], user=owner
    ).batch
    client.post(f"/api/batches/{sums.pk}/toggle-active")
    done = create_batch("done", [{"job_type": "echo"}], user=owner).batch
    drive(Job.objects.get(batch=done).pk, "completed")
    client.post(f"/api/batches/{done.pk}/archive")

    assert batch_ids(client.get("/api/batches")) == [done.pk, sums.pk, echo.pk]
    assert batch_ids(client.get("/api/batches?status=completed")) == [done.pk]
    assert batch_ids(client.get("/api/batches?is_active=false")) == [sums.pk]
    assert batch_ids(client.get("/api/batches?isActive=false")) == [sums.pk]
    assert batch_ids(client.get("/api/batches?isActive=true&archived=false")) == [echo.pk]
    assert batch_ids(client.get("/api/batches?archived=true")) == [done.pk]
    # both spellings at once: fine when they agree
    assert batch_ids(client.get("/api/batches?is_active=false&isActive=false")) == [sums.pk]
    assert batch_ids(client.get("/api/batches?is_active=1&isActive=true&archived=false")) == [
        echo.pk
    ]
    assert batch_ids(client.get("/api/batches?job_type=sum")) == [sums.pk]
    assert batch_ids(client.get("/api/batches?search=echo")) == [echo.pk]
    assert batch_ids(client.get(f"/api/batches?search={sums.pk}")) == [sums.pk]
    first = client.get("/api/batches?limit=2&include_total=true").json()
    assert first["total"] == 3
    rest = batch_ids(client.get(f"/api/batches?limit=2&cursor={first['next_cursor']}"))
    assert [item["batch_id"] for item in first["items"]] + rest == [done.pk, sums.pk, echo.pk]


@pytest.mark.parametrize(
    "query", ["is_active=true&isActive=false", "isActive=0&is_active=1", "is_active=no&isActive=on"]
)
def test_is_active_and_isactive_contradicting_is_422_naming_both(
    client: Client, owner: Any, query: str
) -> None:
    """Not an empty list (both filters applied), which reads as "no such batches"."""
    create_batch("b", [{"job_type": "echo"}], user=owner)
    response = client.get(f"/api/batches?{query}")
    assert response.status_code == 422, response.content
    error = error_of(response)
    assert error["code"] == "VALIDATION_ERROR"
    assert "isActive" in error["message"] and "is_active" in error["message"]
    assert error["details"] == [
        {
            "field": "isActive",
            "in": "query",
            "message": error["message"].removeprefix("Invalid request: isActive: "),
            "type": "conflicting_parameters",
        }
    ]


def test_batch_jobs_use_the_job_filters(client: Client, owner: Any) -> None:
    batch = create_batch("b", [{"job_type": "echo"}] * 3, user=owner).batch
    other = create_batch("o", [{"job_type": "echo"}], user=owner).batch
    job_ids = list(Job.objects.filter(batch=batch).values_list("pk", flat=True))
    drive(job_ids[0], "failed")
    listed = batch_ids_of_jobs = [
        item["job_id"] for item in client.get(f"/api/batches/{batch.pk}/jobs").json()["items"]
    ]
    assert sorted(listed) == sorted(job_ids)
    assert Job.objects.get(batch=other).pk not in batch_ids_of_jobs
    failed = client.get(f"/api/batches/{batch.pk}/jobs?status=failed").json()["items"]
    assert [item["job_id"] for item in failed] == [job_ids[0]]
    assert client.get("/api/batches/batch-missing/jobs").status_code == 404


def statuses(batch: Batch) -> list[str]:
    return sorted(Job.objects.filter(batch=batch).values_list("status", flat=True))


def make_mixed(owner: Any) -> Batch:
    """A batch with one job in each status."""
    batch = create_batch("b", [{"job_type": "echo"}] * 5, user=owner).batch
    for job_id, status in zip(
        Job.objects.filter(batch=batch).order_by("pk").values_list("pk", flat=True),
        ["pending", "processing", "completed", "failed", "cancelled"],
        strict=True,
    ):
        drive(job_id, status)
    return batch


@pytest.mark.parametrize(
    ("action", "payload", "changed", "after"),
    [
        ("restart", None, 2, ["completed", "pending", "pending", "pending", "processing"]),
        (
            "restart",
            {"include_completed": True},
            3,
            ["pending", "pending", "pending", "pending", "processing"],
        ),
        ("fail", {"message": "stop"}, 2, ["cancelled", "completed", "failed", "failed", "failed"]),
        ("pending", None, 3, ["completed", "pending", "pending", "pending", "pending"]),
        ("cancel", None, 2, ["cancelled", "cancelled", "completed", "failed", "processing"]),
        ("archive", None, 3, ["cancelled", "completed", "failed", "pending", "processing"]),
    ],
)
def test_batch_actions(
    client: Client, owner: Any, action: str, payload: Any, changed: int, after: list[str]
) -> None:
    batch = make_mixed(owner)
    response = post(client, f"/api/batches/{batch.pk}/{action}", payload)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["action"] == action and body["changed"] == changed
    assert statuses(batch) == after
    batch.refresh_from_db()
    counted = (
        batch.pending_jobs,
        batch.processing_jobs,
        batch.completed_jobs,
        batch.failed_jobs,
        batch.cancelled_jobs,
    )
    assert counted == tuple(
        after.count(s) for s in ["pending", "processing", "completed", "failed", "cancelled"]
    )
    assert body["batch"]["pending_jobs"] == batch.pending_jobs
    if action == "archive":
        assert body["batch"]["archived"] is True
        assert Job.objects.filter(batch=batch, archived=True).count() == 3
    if action == "fail":
        failed = Job.objects.filter(batch=batch, error__code="FAILED_BY_OPERATOR")
        assert {job.error["message"] for job in failed} == {"stop"}


def test_a_job_running_when_its_batch_is_archived_is_archived_when_it_ends(
    client: Client, owner: Any
) -> None:
    batch = make_mixed(owner)
    post(client, f"/api/batches/{batch.pk}/archive")
    running = Job.objects.get(batch=batch, status="processing")
    assert client.get(f"/api/jobs/{running.pk}").json()["archived"] is False
    services.complete(running.pk, {})
    body = client.get(f"/api/jobs/{running.pk}").json()
    assert (body["status"], body["archived"]) == ("completed", True)


def test_cancel_asks_workers_to_stop_running_jobs(client: Client, owner: Any) -> None:
    batch = make_mixed(owner)
    post(client, f"/api/batches/{batch.pk}/cancel")
    running = Job.objects.get(batch=batch, status="processing")
    assert running.cancel_requested is True


def test_toggle_active(client: Client, owner: Any) -> None:
    batch = create_batch("b", [{"job_type": "echo"}], user=owner).batch
    body = post(client, f"/api/batches/{batch.pk}/toggle-active").json()
    assert body["batch"]["is_active"] is False and body["batch"]["isActive"] is False
    assert (
        post(client, f"/api/batches/{batch.pk}/toggle-active").json()["batch"]["isActive"] is True
    )


def test_a_batchs_jobs_take_a_batch_id_only_when_it_is_the_same(client: Client, owner: Any) -> None:
    batch = create_batch("b", [{"job_type": "echo"}], user=owner).batch
    same = client.get(f"/api/batches/{batch.pk}/jobs?batch_id={batch.pk}")
    assert same.status_code == 200 and len(same.json()["items"]) == 1
    other = client.get(f"/api/batches/{batch.pk}/jobs?batch_id=batch-other")
    assert other.status_code == 422 and error_of(other)["details"][0]["field"] == "batch_id"


def test_an_action_without_options_refuses_a_body(client: Client, owner: Any) -> None:
    batch = create_batch("b", [{"job_type": "echo"}], user=owner).batch
    response = post(client, f"/api/batches/{batch.pk}/toggle-active", {"is_active": True})
    assert response.status_code == 422
    assert error_of(response)["details"] == [
        {"field": "body", "message": "this action takes no body"}
    ]
    job_id = batch.jobs.get().pk
    response = client.post(f"/api/jobs/{job_id}/cancel", "x", content_type="text/plain")
    assert response.status_code == 422
    assert Batch.objects.get(pk=batch.pk).is_active  # nothing changed
    assert post(client, f"/api/batches/{batch.pk}/toggle-active", {}).status_code == 200


def test_actions_on_a_missing_batch_are_404(client: Client) -> None:
    for action in ["restart", "fail", "pending", "cancel", "archive", "toggle-active"]:
        response = post(client, f"/api/batches/batch-missing/{action}")
        assert response.status_code == 404, action
        assert error_of(response)["code"] == "NOT_FOUND"


def test_action_that_changes_nothing_reports_zero(client: Client, owner: Any) -> None:
    batch = create_batch("b", [{"job_type": "echo"}], user=owner).batch
    body = post(client, f"/api/batches/{batch.pk}/restart").json()
    assert body["changed"] == 0
    assert statuses(batch) == ["pending"]


def test_batch_action_options_are_validated(client: Client, owner: Any) -> None:
    batch = create_batch("b", [{"job_type": "echo"}], user=owner).batch
    response = post(client, f"/api/batches/{batch.pk}/restart", {"include_completed": "maybe"})
    assert response.status_code == 422
    assert error_of(response)["details"][0]["field"] == "include_completed"


def test_batch_creation_helper_shapes(client: Client, make_job: Callable[..., Job]) -> None:
    """A job created alone is in no batch, and the batch list ignores it."""
    make_job()
    assert client.get("/api/batches").json()["items"] == []
