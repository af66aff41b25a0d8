"""The one error shape for every kind of bad input, and the small endpoints: job types,
workers, health, the OpenAPI schema (a discriminated union of the registered job types)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from batches.services import create_batch
from jobs import services
from jobs.models import Job, JobTypeSetting, Worker
from tests.api.conftest import bearer_client, error_of
from tests.api.processors import WITH_DOSSIER

pytestmark = pytest.mark.django_db


def post(client: Client, path: str, data: Any, content_type: str = "application/json") -> Any:
    return client.post(path, data, content_type=content_type)


def test_unknown_route_is_404_in_the_error_shape(client: Client) -> None:
    for path in ["/api/nope", "/api/jobs/x/y/z", "/api/jobs/"]:
        response = client.get(path)
        assert response.status_code == 404, path
        assert error_of(response)["code"] == "NOT_FOUND"
    assert error_of(client.post("/api/nope"))["code"] == "NOT_FOUND"


def test_wrong_method_is_405_in_the_error_shape(client: Client) -> None:
    response = client.patch("/api/jobs")
    assert response.status_code == 405
    assert error_of(response)["code"] == "METHOD_NOT_ALLOWED"
    assert set(response["Allow"].split(", ")) == {"GET", "POST"}


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        ("{not json", "application/json", 400, "BAD_REQUEST"),
        ("[1, 2]", "application/json", 422, "VALIDATION_ERROR"),
        ('"text"', "application/json", 422, "VALIDATION_ERROR"),
        ("", "application/json", 422, "VALIDATION_ERROR"),
        (
            '{"job_type": "echo", "parameters": {"message": NaN}}',
            "application/json",
            422,
            "VALIDATION_ERROR",
        ),
        (
            '{"job_type": "echo", "parameters": {"message": "a\\u0000b"}}',
            "application/json",
            422,
            "VALIDATION_ERROR",
        ),
        (
            '{"job_type": "echo", "job_name": "\\ud800"}',
            "application/json",
            422,
            "VALIDATION_ERROR",
        ),
        (
            '{"job_type": "echo", "parameters": ' + "[" * 200 + "]" * 200 + "}",
            "application/json",
            422,
            "VALIDATION_ERROR",
        ),
        (
            '{"job_type": "echo", "priority": 99999999999}',
            "application/json",
            422,
            "VALIDATION_ERROR",
        ),
        ('{"job_type": "echo", "priority": "high"}', "application/json", 422, "VALIDATION_ERROR"),
        ('{"job_type": "e\\u0000cho"}', "application/json", 422, "VALIDATION_ERROR"),
        (
            '{"job_type": "echo", "webhook": {"url": "not a url"}}',
            "application/json",
            422,
            "VALIDATION_ERROR",
        ),
        (
            '{"job_type": "echo", "access_control": {"visibility": "secret"}}',
            "application/json",
            422,
            "VALIDATION_ERROR",
        ),
        (
            '{"job_type": "echo", "access_control": {"read_access": ["a\\u0000"]}}',
            "application/json",
            422,
            "VALIDATION_ERROR",
        ),
    ],
)
def test_bad_bodies_get_a_clear_error_never_a_500(
    client: Client, body: str, content_type: str, status: int, code: str
) -> None:
    response = post(client, "/api/jobs", body, content_type)
    assert response.status_code == status, response.content
    assert error_of(response)["code"] == code
    assert not Job.objects.exists()


def test_nul_in_parameters_names_the_field(client: Client) -> None:
    response = post(
        client, "/api/jobs", '{"job_type": "echo", "parameters": {"message": "a\\u0000"}}'
    )
    detail = error_of(response)["details"][0]
    assert detail["field"] == "parameters.message"
    assert "NUL" in detail["message"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/jobs/%00",
        "/api/jobs/job-%00x/logs",
        "/api/jobs?search=%00",
        "/api/jobs?batch_id=%00",
        "/api/jobs?job_type=%00",
        "/api/jobs?cursor=%00",
        "/api/batches/%00",
        "/api/batches?search=a%00",
        "/api/jobs/" + "x" * 300,
    ],
)
def test_nul_and_oversized_identifiers_are_4xx(client: Client, path: str) -> None:
    response = client.get(path)
    assert 400 <= response.status_code < 500, (path, response.content)
    error_of(response)


def test_job_types_list_schema_limits_and_pause(client: Client, settings: Any) -> None:
    settings.JOBCENTER_PROCESSORS = WITH_DOSSIER
    JobTypeSetting.objects.create(job_type="sum", paused=True)
    types = {item["job_type"]: item for item in client.get("/api/job-types").json()}
    assert set(types) == {"echo", "dossier", "sum"}
    assert types["echo"]["parameters_schema"]["properties"]["steps"]["maximum"] == 10_000
    assert types["echo"]["limits"]["max_attempts"] == 1
    assert types["sum"]["paused"] is True and types["echo"]["paused"] is False
    assert types["dossier"]["description"].startswith("Test job type")


def test_job_types_show_the_concurrency_that_holds(client: Client) -> None:
    def echo() -> dict[str, Any]:
        return {item["job_type"]: item for item in client.get("/api/job-types").json()}["echo"]

    default = echo()["default_concurrency"]
    assert echo()["limits"]["concurrency"] == default
    services.set_type_concurrency("echo", 3)  # an operator's setting, over the default
    assert (echo()["limits"]["concurrency"], echo()["default_concurrency"]) == (3, default)
    services.set_type_concurrency("echo", None)
    assert echo()["limits"]["concurrency"] == default


def test_workers_list_and_liveness(client: Client) -> None:
    now = timezone.now()
    Worker.objects.create(
        worker_id="w-live", host="h1", pid=1, heartbeat_at=now, running_jobs=["job-1"]
    )
    Worker.objects.create(
        worker_id="w-stale", host="h2", pid=2, heartbeat_at=now - timedelta(minutes=5)
    )
    Worker.objects.create(
        worker_id="w-stopped", host="h3", pid=3, status="stopped", heartbeat_at=now
    )
    workers = {item["worker_id"]: item for item in client.get("/api/workers").json()}
    assert set(workers) == {"w-live", "w-stale"}
    assert workers["w-live"]["alive"] is True and workers["w-stale"]["alive"] is False
    assert workers["w-live"]["running_jobs"] == ["job-1"]
    everything = client.get("/api/workers?include_stopped=true").json()
    assert {item["worker_id"] for item in everything} == {"w-live", "w-stale", "w-stopped"}


def test_health_reports_workers_and_oldest_pending_age(make_job: Any) -> None:
    anonymous = Client()
    body = anonymous.get("/api/health").json()
    assert body["status"] == "ok" and body["workers_alive"] == 0
    assert body["oldest_pending_age_seconds"] is None
    job = make_job()
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(minutes=10))
    Worker.objects.create(worker_id="w", host="h", pid=1, heartbeat_at=timezone.now())
    body = anonymous.get("/api/health").json()
    assert body["workers_alive"] == 1
    assert 590 < body["oldest_pending_age_seconds"] < 700
    # a job scheduled for later is not late, however long ago it was submitted
    Job.objects.filter(pk=job.pk).update(run_after=timezone.now() + timedelta(hours=1))
    assert anonymous.get("/api/health").json()["oldest_pending_age_seconds"] is None
    # nor is a job an operator holds: its type paused, or its batch paused or archived
    Job.objects.filter(pk=job.pk).update(run_after=None)
    services.set_type_paused(job.job_type, True)
    assert anonymous.get("/api/health").json()["oldest_pending_age_seconds"] is None
    services.set_type_paused(job.job_type, False)
    held = create_batch("held", [{"job_type": job.job_type}], is_active=False).job_ids[0]
    Job.objects.filter(pk=held).update(created_at=timezone.now() - timedelta(hours=5))
    assert 590 < anonymous.get("/api/health").json()["oldest_pending_age_seconds"] < 700


def test_health_counts_only_running_workers_with_a_fresh_heartbeat(db: None, settings: Any) -> None:
    settings.JOBCENTER_WORKER_ALIVE_SECONDS = 30
    now = timezone.now()
    Worker.objects.create(worker_id="running", host="h", pid=1, heartbeat_at=now)
    Worker.objects.create(
        worker_id="running-stale", host="h", pid=2, heartbeat_at=now - timedelta(seconds=45)
    )
    for status in ("stopping", "stopped", "gone"):
        Worker.objects.create(worker_id=status, host="h", pid=3, status=status, heartbeat_at=now)
    anonymous = Client()
    assert anonymous.get("/api/health").json()["workers_alive"] == 1
    settings.JOBCENTER_WORKER_ALIVE_SECONDS = 60  # the stale one is fresh enough now
    assert anonymous.get("/api/health").json()["workers_alive"] == 2
    client = bearer_client(User.objects.create_user("watcher"))
    listed = {item["worker_id"]: item["alive"] for item in client.get("/api/workers").json()}
    assert listed == {"running": True, "running-stale": True, "stopping": False, "gone": False}


def test_openapi_documents_a_union_of_the_registered_job_types(settings: Any) -> None:
    settings.JOBCENTER_PROCESSORS = WITH_DOSSIER
    schema = Client().get("/api/openapi.json").json()
    components = schema["components"]["schemas"]
    body = schema["paths"]["/api/jobs"]["post"]["requestBody"]["content"]["application/json"]
    create = components[body["schema"]["$ref"].rsplit("/", 1)[1]]
    assert create["discriminator"]["propertyName"] == "job_type"
    mapping = create["discriminator"]["mapping"]
    assert set(mapping) == {"echo", "dossier", "sum"}
    echo = components[mapping["echo"].rsplit("/", 1)[1]]
    assert echo["properties"]["job_type"]["const"] == "echo"
    params = echo["properties"]["parameters"]
    params_ref = (params.get("$ref") or params["allOf"][0]["$ref"]).rsplit("/", 1)[1]
    assert "sleep_seconds" in components[params_ref]["properties"]
    # The batch's jobs are the same union (without the per-request fields).
    batch = components["BatchCreateIn"]["properties"]["jobs"]["items"]
    items = components[batch["$ref"].rsplit("/", 1)[1]]
    assert set(items["discriminator"]["mapping"]) == {"echo", "dossier", "sum"}
    assert (
        "batch_id"
        not in components[items["discriminator"]["mapping"]["sum"].rsplit("/", 1)[1]]["properties"]
    )
    # Every authenticated operation declares both ways in.
    security = schema["paths"]["/api/jobs"]["get"]["security"]
    assert {name for item in security for name in item} == {"ApiKeyAuth", "SessionAuth"}
    assert "security" not in schema["paths"]["/api/health"]["get"]


def test_error_responses_are_documented(client: Client) -> None:
    schema = client.get("/api/openapi.json").json()
    responses = schema["paths"]["/api/jobs/{job_id}/restart"]["post"]["responses"]
    assert {"200", "401", "403", "404", "409", "422"} <= set(responses)
    ref = responses["409"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/ErrorOut")


@pytest.mark.django_db
def test_a_request_refused_before_any_view_gets_the_error_shape() -> None:
    """An empty Host header (schemathesis sent one) is refused by Django's middleware; under
    /api/ the answer is still JSON in the API's shape (the legacy routes: theirs)."""
    client = Client()
    response = client.get("/api/jobs", HTTP_HOST="")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BAD_REQUEST"
    legacy = client.get("/api/legacy/event-job/jobs", HTTP_HOST="")
    assert (legacy.status_code, legacy.json()["error_type"]) == (400, "BAD_REQUEST")
    assert "text/html" in client.get("/admin/", HTTP_HOST="")["Content-Type"]


def test_the_api_root_points_to_docs_and_health_answers_head(db: None) -> None:
    anonymous = Client()
    root = anonymous.get("/api/")
    assert root.status_code == 200
    assert root.json() == {
        "name": "Job Center API",
        "docs": "/api/docs",
        "openapi": "/api/openapi.json",
        "health": "/api/health",
    }
    head = anonymous.head("/api/health")
    assert head.status_code == 200 and head.content == b""


def test_the_api_docs_use_the_bundled_swagger_ui_as_run_sh_serves_it(
    settings: Any, tmp_path: Path
) -> None:
    """/api/docs took Swagger UI from a CDN (django-ninja does that unless "ninja" is an
    installed app), so the page stayed blank without internet access. As under run.sh: the
    manifest storage, collectstatic, then WhiteNoise serving what was collected (DEBUG off)."""
    settings.DEBUG = False
    settings.STATIC_ROOT = tmp_path / "static"
    call_command("collectstatic", interactive=False, verbosity=0)
    client = Client()  # a new handler, so WhiteNoise indexes the files just collected

    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<title>Job Center API</title>" in html
    assert "cdn" not in html and "https://" not in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    names = {re.sub(r"\.[0-9a-f]{12}\.", ".", url.rsplit("/", 1)[-1]) for url in assets}
    assert {"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-init.js"} <= names
    for url in assets:
        assert url.startswith("/static/ninja/"), url
        response = client.get(url)
        assert response.status_code == 200, url
        body = b"".join(response.streaming_content)
        if url.endswith("-bundle.js"):
            assert b"SwaggerUIBundle" in body


@pytest.mark.parametrize(
    "path",
    [
        "/api/jobs?statuses=failed",
        "/api/batches?stauts=pending",
        "/api/jobs?limit=5&x=1",
        "/api/workers?include_stoped=true",
    ],
)
def test_an_unknown_query_parameter_is_refused_not_ignored(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"][0]["message"] == "unknown query parameter"


def test_a_cache_buster_passes(client: Client) -> None:
    assert client.get("/api/jobs?_=1732780000").status_code == 200
    assert client.get("/api/workers?include_stopped=true&_=1").status_code == 200


def test_a_batchs_jobs_take_no_batch_id_query_parameter(client: Client) -> None:
    schema = client.get("/api/openapi.json").json()
    operation = schema["paths"]["/api/batches/{batch_id}/jobs"]["get"]
    query = [p["name"] for p in operation["parameters"] if p["in"] == "query"]
    assert "batch_id" not in query and "status" in query and "cursor" in query
