"""The older service's routes under /api/legacy/event-job/, called with the old request shapes:
the old answer envelopes, the old error shape (authentication and validation errors
included), X-User-ID honoured only for an admin key, X-Use-Cache, the old webhook and its
payload delivered over real HTTP on 127.0.0.1, and every operation deprecated in OpenAPI."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from batches import services as batch_services
from batches.models import Batch
from jobs import services, webhooks
from jobs.api_keys import create_api_key
from jobs.models import Job, JobLog, WebhookDelivery
from tests.legacy.processors import WITH_SESSION

pytestmark = pytest.mark.django_db

BASE = "/api/legacy/event-job"
JOB_KEYS = {
    "job_id",
    "job_type",
    "job_name",
    "status",
    "parameters",
    "progress",
    "results",
    "error",
    "batch_id",
    "user_id",
    "access_control",
    "archived",
    "webhook",
    "created_at",
    "updated_at",
    "started_at",
    "processing_started_at",
    "completed_at",
    "logs",
}
BATCH_KEYS = {
    "batch_id",
    "batch_name",
    "status",
    "total_jobs",
    "pending_jobs",
    "processing_jobs",
    "completed_jobs",
    "failed_jobs",
    "cancelled_jobs",
    "archived",
    "isActive",
    "user_id",
    "access_control",
    "created_at",
    "updated_at",
    "completed_at",
}


def session(number: int = 1, **extra: Any) -> dict[str, Any]:
    """A session job's parameters as the old clients send them."""
    return {
        "event": "FOSDEM 2025",
        "session": f"Talk {number}",
        "url": f"https://fosdem.example/2025/talk-{number}",
        "filename": f"talk-{number}.md",
        "track": "Main",
        "day": "2025-02-01",
        "starttime": "10:00",
        "endtime": "10:50",
        "speakers": ["Ada Lovelace"],
        "video_url": f"https://video.example/talk-{number}.mp4",
        "source_language": "en",
        "target_language": "de",
        **extra,
    }


@pytest.fixture(autouse=True)
def session_type(settings: Any, tmp_path: Path) -> Path:
    settings.JOBCENTER_PROCESSORS = WITH_SESSION
    settings.JOBCENTER_MEDIA_ROOT = tmp_path / "media"
    settings.JOBCENTER_WEBHOOK_ALLOW_PRIVATE = True
    return Path(settings.JOBCENTER_MEDIA_ROOT)


def make_user(name: str, *, staff: bool = False) -> User:
    user = User.objects.create_user(name, is_staff=staff)
    if staff:
        for app_label, codename in [
            ("jobs", "view_job"),
            ("jobs", "change_job"),
            ("batches", "view_batch"),
            ("batches", "change_batch"),
        ]:
            user.user_permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
    return user


def client_for(user: User, **headers: str) -> Client:
    key = create_api_key(user, "tests").raw_key
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}", **headers)


@pytest.fixture
def owner() -> User:
    return make_user("owner")


@pytest.fixture
def client(owner: User) -> Client:
    return client_for(owner)


@pytest.fixture
def admin() -> Client:
    return client_for(make_user("admin", staff=True))


def post(client: Client, path: str, body: Any = None, **headers: str) -> Any:
    return client.post(
        BASE + path,
        data=json.dumps(body) if body is not None else "",
        content_type="application/json",
        headers=headers,
    )


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["status"] == "success", body
    return body


def old_error(response: Any, status: int, error_type: str) -> dict[str, Any]:
    """The older service's error shape (never the Job Center's ``{"error": {…}}``)."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"status", "message", "error_type", "details"}, body
    assert body["status"] == "error"
    assert body["error_type"] == error_type, body
    assert isinstance(body["message"], str) and body["message"]
    return body


def new_job(client: Client, number: int = 1, **body: Any) -> dict[str, Any]:
    return ok(post(client, "/jobs", {"parameters": session(number), **body}), 201)["job"]


def drive(job_id: str, to: str) -> Job:
    services.claim(job_id, "worker-test")
    services.start(job_id)
    if to == "processing":
        return Job.objects.get(pk=job_id)
    if to == "completed":
        return services.complete(
            job_id, {"markdown_file": "talk.md", "markdown_content": "# Talk\n\nText."}
        )
    return services.fail(job_id, "VIDEO_DOWNLOAD_FAILED", "404 from video server")


# --- authentication and the error shape -----------------------------------------------------


def test_without_a_key_every_route_is_401_in_the_old_shape() -> None:
    anonymous = Client()
    for method, path in [
        ("get", "/jobs"),
        ("post", "/jobs"),
        ("get", "/jobs/job-x"),
        ("delete", "/jobs/job-x"),
        ("post", "/job-x/restart"),
        ("get", "/batches"),
        ("post", "/batches"),
        ("get", "/batches/batch-x"),
        ("delete", "/batches/batch-x"),
        ("post", "/batches/batch-x/archive"),
        ("post", "/batches/batch-x/toggle-active"),
        ("post", "/batches/fail-all"),
        ("get", "/files/job-x/a.md"),
    ]:
        response = getattr(anonymous, method)(BASE + path)
        old_error(response, 401, "UNAUTHENTICATED")
    wrong = Client(HTTP_AUTHORIZATION="Bearer jc_not-a-key")
    old_error(wrong.get(BASE + "/jobs"), 401, "UNAUTHENTICATED")


def test_invalid_requests_answer_in_the_old_error_shape(client: Client) -> None:
    body = old_error(post(client, "/jobs", {"webhook": {"url": "x"}}), 422, "VALIDATION_ERROR")
    assert "parameters" in body["message"]
    old_error(client.get(BASE + "/jobs", {"limit": 0}), 422, "VALIDATION_ERROR")
    missing = old_error(
        post(client, "/jobs", {"parameters": {"event": "E"}}), 422, "VALIDATION_ERROR"
    )
    assert "parameters.session" in missing["message"]
    bad_cache = post(client, "/jobs", {"parameters": session()}, **{"X-Use-Cache": "maybe"})
    old_error(bad_cache, 422, "VALIDATION_ERROR")
    bad_hook = post(client, "/jobs", {"parameters": session(), "webhook": {"url": "not a url"}})
    assert old_error(bad_hook, 422, "VALIDATION_ERROR")["details"][0]["field"] == "webhook.url"

    # Found by schemathesis: an OFFSET beyond the database's integers was a 500.
    old_error(client.get(BASE + "/jobs", {"skip": 10**22}), 422, "VALIDATION_ERROR")
    old_error(client.get(BASE + "/batches", {"skip": 10**22}), 422, "VALIDATION_ERROR")


def test_unknown_legacy_paths_are_404_in_the_old_shape(client: Client) -> None:
    """Even a path no route pattern matches (a newline in the file path) gets JSON."""
    old_error(client.get(BASE + "/no-such-route"), 404, "NOT_FOUND")
    old_error(client.get(BASE + "/files/job-x/a%0Ab.pdf"), 404, "NOT_FOUND")
    assert set(client.get("/api/jobs/job-x/files/a%0Ab.pdf").json()) == {"error"}


def test_the_new_api_keeps_its_own_error_shape(client: Client) -> None:
    assert set(Client().get("/api/jobs").json()) == {"error"}
    assert set(client.get("/api/jobs/job-missing").json()) == {"error"}


def test_every_legacy_operation_is_deprecated_in_openapi() -> None:
    schema = Client().get("/api/openapi.json").json()
    operations = {
        (method, path): operation
        for path, item in schema["paths"].items()
        if path.startswith(BASE)
        for method, operation in item.items()
    }
    assert set(operations) == {
        ("post", f"{BASE}/jobs"),
        ("get", f"{BASE}/jobs"),
        ("get", f"{BASE}/jobs/{{job_id}}"),
        ("delete", f"{BASE}/jobs/{{job_id}}"),
        ("post", f"{BASE}/{{job_id}}/restart"),
        ("post", f"{BASE}/batches"),
        ("get", f"{BASE}/batches"),
        ("post", f"{BASE}/batches/fail-all"),
        ("get", f"{BASE}/batches/{{batch_id}}"),
        ("delete", f"{BASE}/batches/{{batch_id}}"),
        ("post", f"{BASE}/batches/{{batch_id}}/archive"),
        ("post", f"{BASE}/batches/{{batch_id}}/toggle-active"),
        ("get", f"{BASE}/files/{{path}}"),
    }
    for key, operation in operations.items():
        assert operation.get("deprecated") is True, key
        assert operation.get("security"), key  # authenticated like the rest
    assert not schema["paths"]["/api/jobs"]["post"].get("deprecated")  # only the old routes


# --- jobs -----------------------------------------------------------------------------------


def test_create_job_with_the_old_body(client: Client, owner: User) -> None:
    response = post(
        client,
        "/jobs",
        {
            "parameters": session(7),
            "job_name": "Keynote",
            "webhook": {
                "url": "https://hooks.example/done",
                "headers": {"Authorization": "Bearer n8n-token"},
                "include_markdown": True,
                "include_metadata": False,
            },
            "an_old_field": "ignored, as the old service ignored it",
        },
        **{"X-Use-Cache": "false"},
    )
    body = ok(response, 201)
    assert set(body) == {"status", "job", "message"}
    job = body["job"]
    assert set(job) == JOB_KEYS
    assert job["job_type"] == "session"
    assert job["status"] == "pending"
    assert job["job_name"] == "Keynote"
    assert job["user_id"] == "owner"
    assert job["parameters"]["session"] == "Talk 7"
    assert job["parameters"]["use_cache"] is False
    assert job["webhook"] == {
        "url": "https://hooks.example/done",
        "headers": {"Authorization": "***"},
        "include_markdown": True,
        "include_metadata": False,
    }
    assert [log["message"] for log in job["logs"]] == ["Created (session)."]
    stored = Job.objects.get(pk=job["job_id"])
    assert stored.user == owner
    assert stored.webhook["headers"] == {"Authorization": "Bearer n8n-token"}
    assert stored.webhook["include_metadata"] is False


def test_old_event_jobs_are_session_jobs_named_as_before(client: Client) -> None:
    job = new_job(client, 2, job_type="event")
    assert job["job_type"] == "session"
    assert job["job_name"] == "FOSDEM 2025 - Main - Talk 2"
    assert job["parameters"]["use_cache"] is True  # the processor's default: no header


def test_x_user_id_is_ignored_for_a_non_admin_key(client: Client, owner: User) -> None:
    other = make_user("mallory")
    theirs = services.enqueue("session", session(9), user=other)
    job = ok(
        post(
            client,
            "/jobs",
            {"parameters": session(), "user_id": "mallory"},
            **{"X-User-ID": "mallory"},
        ),
        201,
    )["job"]
    assert job["user_id"] == "owner"
    assert Job.objects.get(pk=job["job_id"]).user == owner
    listed = ok(client.get(BASE + "/jobs", headers={"X-User-ID": "mallory"}))
    assert [item["job_id"] for item in listed["jobs"]] == [job["job_id"]]
    old_error(
        client.get(f"{BASE}/jobs/{theirs.pk}", headers={"X-User-ID": "mallory"}), 404, "NOT_FOUND"
    )
    old_error(
        client.delete(f"{BASE}/jobs/{theirs.pk}", headers={"X-User-ID": "mallory"}),
        404,
        "NOT_FOUND",
    )
    assert not User.objects.filter(username="nobody").exists()
    post(client, "/jobs", {"parameters": session()}, **{"X-User-ID": "nobody"})
    assert not User.objects.filter(username="nobody").exists()


def test_x_user_id_acts_for_that_user_with_an_admin_key(admin: Client, owner: User) -> None:
    mine = services.enqueue("session", session(1), user=owner)
    created = ok(post(admin, "/jobs", {"parameters": session(2)}, **{"X-User-ID": "alice"}), 201)[
        "job"
    ]
    assert created["user_id"] == "alice"
    alice = User.objects.get(username="alice")
    assert not alice.is_active and not alice.has_usable_password()
    listed = ok(admin.get(BASE + "/jobs", headers={"X-User-ID": "alice"}))
    assert listed["total"] == 1 and listed["jobs"][0]["job_id"] == created["job_id"]
    everyone = ok(admin.get(BASE + "/jobs"))
    assert {item["job_id"] for item in everyone["jobs"]} == {mine.pk, created["job_id"]}
    by_body = ok(post(admin, "/jobs", {"parameters": session(3), "user_id": "owner"}), 201)
    assert by_body["job"]["user_id"] == "owner"


def test_a_staff_key_without_permissions_still_gets_its_creation_back() -> None:
    staff = client_for(User.objects.create_user("helpdesk", is_staff=True))
    body = ok(post(staff, "/jobs", {"parameters": session()}, **{"X-User-ID": "bob"}), 201)
    assert body["job"]["user_id"] == "bob"
    batch = ok(
        post(staff, "/batches", {"jobs": [{"parameters": session()}]}, **{"X-User-ID": "bob"}),
        201,
    )["batch"]
    assert batch["user_id"] == "bob" and batch["total_jobs"] == 1
    # reading others' jobs still needs the permission (or a grant): the admin's rights apply
    old_error(staff.get(f"{BASE}/jobs/{body['job']['job_id']}"), 404, "NOT_FOUND")


def test_list_jobs_filters_and_pages_like_the_old_service(client: Client, owner: User) -> None:
    batch = batch_services.create_batch(
        "b", [{"job_type": "session", "parameters": session(n)} for n in (10, 11)], user=owner
    )
    loose = [services.enqueue("session", session(n), user=owner) for n in (1, 2, 3)]
    drive(loose[0].pk, "failed")
    services.enqueue("session", session(99), user=make_user("stranger"))

    everything = ok(client.get(BASE + "/jobs"))
    assert set(everything) == {"status", "total", "jobs"}
    assert everything["total"] == 5
    assert set(everything["jobs"][0]) == JOB_KEYS - {"logs"}
    created = [item["created_at"] for item in everything["jobs"]]
    assert created == sorted(created, reverse=True)

    failed = ok(client.get(BASE + "/jobs", {"status": "failed"}))
    assert [item["job_id"] for item in failed["jobs"]] == [loose[0].pk]
    services.cancel(loose[1].pk)
    for spelling in ("cancelled", "canceled"):  # the older system wrote both
        cancelled = ok(client.get(BASE + "/jobs", {"status": spelling}))
        assert [item["job_id"] for item in cancelled["jobs"]] == [loose[1].pk]
    assert failed["jobs"][0]["error"]["code"] == "VIDEO_DOWNLOAD_FAILED"
    in_batch = ok(client.get(BASE + "/jobs", {"batch_id": batch.batch.pk}))
    assert in_batch["total"] == 2
    assert {item["job_id"] for item in in_batch["jobs"]} == set(batch.job_ids)
    assert ok(client.get(BASE + "/jobs", {"user_id": "owner"}))["total"] == 5
    assert ok(client.get(BASE + "/jobs", {"user_id": "stranger"}))["total"] == 0

    page = ok(client.get(BASE + "/jobs", {"limit": 2, "skip": 2}))
    assert page["total"] == 5
    assert [item["job_id"] for item in page["jobs"]] == [
        item["job_id"] for item in everything["jobs"][2:4]
    ]


def test_get_job_has_its_logs_and_hides_other_peoples_jobs(client: Client, owner: User) -> None:
    job = services.enqueue("session", session(), user=owner)
    drive(job.pk, "completed")
    JobLog.objects.create(job=job, level="warning", message="slides missing")
    body = ok(client.get(f"{BASE}/jobs/{job.pk}"))
    assert set(body) == {"status", "job"}
    assert body["job"]["status"] == "completed"
    assert body["job"]["results"]["markdown_content"].startswith("# Talk")
    assert body["job"]["processing_started_at"] == body["job"]["started_at"] is not None
    assert [log["level"] for log in body["job"]["logs"]][-1] == "warning"
    old_error(client.get(f"{BASE}/jobs/job-missing"), 404, "NOT_FOUND")
    hidden = services.enqueue("session", session(), user=make_user("stranger"))
    old_error(client.get(f"{BASE}/jobs/{hidden.pk}"), 404, "NOT_FOUND")


def test_delete_job(client: Client, owner: User) -> None:
    job = new_job(client)
    body = ok(client.delete(f"{BASE}/jobs/{job['job_id']}"))
    assert set(body) == {"status", "message"} and job["job_id"] in body["message"]
    assert not Job.objects.filter(pk=job["job_id"]).exists()
    old_error(client.delete(f"{BASE}/jobs/{job['job_id']}"), 404, "NOT_FOUND")
    running = services.enqueue("session", session(), user=owner)
    drive(running.pk, "processing")
    old_error(client.delete(f"{BASE}/jobs/{running.pk}"), 409, "INVALID_TRANSITION")
    assert Job.objects.filter(pk=running.pk).exists()


def test_restart_and_a_refused_transition(client: Client, owner: User) -> None:
    job = services.enqueue("session", session(), user=owner)
    drive(job.pk, "failed")
    body = ok(post(client, f"/{job.pk}/restart", {"batch_id": None}))
    assert set(body) == {"status", "message", "job"}
    assert body["job"]["status"] == "pending"
    assert body["job"]["error"] is None and body["job"]["results"] is None
    assert "Restarted (was failed)." in [log["message"] for log in body["job"]["logs"]]
    refused = old_error(post(client, f"/{job.pk}/restart"), 409, "INVALID_TRANSITION")
    assert "pending" in refused["message"]
    assert refused["details"]["allowed_from"] == ["cancelled", "completed", "failed"]
    assert Job.objects.get(pk=job.pk).status == "pending"
    old_error(post(client, "/job-missing/restart"), 404, "NOT_FOUND")


# --- batches --------------------------------------------------------------------------------


def test_create_batch_with_the_old_body(client: Client, owner: User) -> None:
    response = post(
        client,
        "/batches",
        {
            "batch_name": "FOSDEM 2025",
            "webhook": {"url": "https://hooks.example/batch", "include_markdown": False},
            "jobs": [
                {"parameters": session(1)},
                {
                    "parameters": session(2),
                    "job_name": "Own name",
                    "webhook": {"url": "https://hooks.example/own"},
                },
            ],
        },
        **{"X-Use-Cache": "true"},
    )
    body = ok(response, 201)
    assert set(body) == {"status", "batch", "message"}
    batch = body["batch"]
    assert set(batch) == BATCH_KEYS
    assert batch["batch_name"] == "FOSDEM 2025"
    assert batch["total_jobs"] == batch["pending_jobs"] == 2
    assert batch["isActive"] is True and batch["user_id"] == "owner"
    jobs = {job.job_name: job for job in Job.objects.filter(batch_id=batch["batch_id"])}
    assert set(jobs) == {"FOSDEM 2025 - Main - Talk 1", "Own name"}
    assert jobs["FOSDEM 2025 - Main - Talk 1"].webhook["url"] == "https://hooks.example/batch"
    assert jobs["FOSDEM 2025 - Main - Talk 1"].webhook["include_markdown"] is False
    assert jobs["Own name"].webhook["url"] == "https://hooks.example/own"
    assert all(job.parameters["use_cache"] is True and job.user == owner for job in jobs.values())


def test_create_batch_is_all_or_nothing_and_refuses_a_chosen_id(client: Client) -> None:
    before = Batch.objects.count()
    bad = post(
        client,
        "/batches",
        {"jobs": [{"parameters": session(1)}, {"parameters": {"event": "no session"}}]},
    )
    details = old_error(bad, 422, "VALIDATION_ERROR")["details"]
    assert details[0]["field"].startswith("jobs[1].parameters")
    chosen = post(client, "/batches", {"batch_id": "my-id", "jobs": [{"parameters": session()}]})
    assert old_error(chosen, 422, "VALIDATION_ERROR")["details"][0]["field"] == "batch_id"
    old_error(post(client, "/batches", {"jobs": []}), 422, "VALIDATION_ERROR")
    assert Batch.objects.count() == before
    assert not Job.objects.exists()


def test_a_blank_batch_name_is_no_name_as_the_older_service_took_it(client: Client) -> None:
    """``POST /api/jobs/batch`` refuses an empty or blank name; the older clients' ``""``
    still means a batch without one (null), as it did there."""
    for number, name in enumerate(["", "   ", "\t\n", None]):
        body = {"batch_name": name, "jobs": [{"parameters": session(number)}]}
        assert ok(post(client, "/batches", body), 201)["batch"]["batch_name"] is None
    unnamed = ok(post(client, "/batches", {"jobs": [{"parameters": session(9)}]}), 201)
    assert unnamed["batch"]["batch_name"] is None
    schema = client.get("/api/openapi.json").json()["components"]["schemas"]["LegacyBatchIn"]
    assert "minLength" not in str(schema["properties"]["batch_name"])  # "" is allowed
    assert not Batch.objects.exclude(batch_name="").exists()


def make_batch(user: User, count: int = 2, name: str = "b") -> Batch:
    specs = [{"job_type": "session", "parameters": session(n)} for n in range(count)]
    return batch_services.create_batch(name, specs, user=user).batch


def test_list_and_get_batches(client: Client, owner: User) -> None:
    first, second = make_batch(owner, name="first"), make_batch(owner, name="second")
    archived = make_batch(owner, name="old")
    batch_services.archive_batch(archived.pk)
    make_batch(make_user("stranger"), name="theirs")
    listed = ok(client.get(BASE + "/batches"))
    assert set(listed) == {"status", "total", "batches"}
    assert [b["batch_name"] for b in listed["batches"]] == ["second", "first"]
    assert listed["total"] == 2
    assert ok(client.get(BASE + "/batches", {"archived": "true"}))["batches"][0]["batch_id"] == (
        archived.pk
    )
    paged = ok(client.get(BASE + "/batches", {"limit": 1, "skip": 1}))
    assert paged["total"] == 2 and [b["batch_id"] for b in paged["batches"]] == [first.pk]
    assert ok(client.get(BASE + "/batches", {"status": "completed"}))["total"] == 0
    body = ok(client.get(f"{BASE}/batches/{second.pk}"))
    assert set(body) == {"status", "batch"} and set(body["batch"]) == BATCH_KEYS
    old_error(client.get(f"{BASE}/batches/batch-missing"), 404, "NOT_FOUND")


def test_archive_batch(client: Client, owner: User) -> None:
    batch = make_batch(owner)
    done = Job.objects.filter(batch=batch).first()
    assert done is not None
    drive(done.pk, "completed")
    body = ok(post(client, f"/batches/{batch.pk}/archive"))
    assert set(body) == {"status", "message", "batch"}
    assert body["batch"]["archived"] is True
    assert Job.objects.get(pk=done.pk).archived is True
    old_error(post(client, "/batches/batch-missing/archive"), 404, "NOT_FOUND")


def test_toggle_active(client: Client, owner: User) -> None:
    batch = make_batch(owner)
    first = ok(post(client, f"/batches/{batch.pk}/toggle-active"))
    assert first["batch"]["isActive"] is False and "false" in first["message"]
    assert Batch.objects.get(pk=batch.pk).is_active is False
    assert ok(post(client, f"/batches/{batch.pk}/toggle-active"))["batch"]["isActive"] is True


def test_a_reader_may_not_steer(client: Client, owner: User) -> None:
    stranger = make_user("stranger")
    public = make_batch(stranger)
    Batch.objects.filter(pk=public.pk).update(access_control={"visibility": "public"})
    ok(client.get(f"{BASE}/batches/{public.pk}"))
    old_error(post(client, f"/batches/{public.pk}/toggle-active"), 403, "FORBIDDEN")


def test_fail_all_fails_every_open_batch_the_caller_may_change(client: Client, owner: User) -> None:
    first, second = make_batch(owner), make_batch(owner, 1)
    archived = make_batch(owner)
    batch_services.archive_batch(archived.pk)
    theirs = make_batch(make_user("stranger"))
    running = Job.objects.filter(batch=first).first()
    assert running is not None
    drive(running.pk, "processing")
    body = ok(post(client, "/batches/fail-all"))
    assert body["total"] == 2 and body["failed_jobs"] == 3
    assert set(body["batches"]) == {first.pk, second.pk}
    assert set(Job.objects.filter(batch__in=[first, second]).values_list("status", flat=True)) == {
        "failed"
    }
    for untouched in (archived, theirs):
        assert set(Job.objects.filter(batch=untouched).values_list("status", flat=True)) == {
            "pending"
        }
    assert Batch.objects.get(pk=first.pk).failed_jobs == 2
    again = ok(post(client, "/batches/fail-all"))
    assert again["total"] == 0 and again["failed_jobs"] == 0


def test_delete_batch(client: Client, owner: User, session_type: Path) -> None:
    batch = make_batch(owner)
    job_ids = list(Job.objects.filter(batch=batch).values_list("pk", flat=True))
    (session_type / job_ids[0]).mkdir(parents=True)
    (session_type / job_ids[0] / "talk.md").write_text("# Talk")
    body = ok(client.delete(f"{BASE}/batches/{batch.pk}"))
    assert set(body) == {"status", "message"} and "2 jobs" in body["message"]
    assert not Batch.objects.filter(pk=batch.pk).exists()
    assert not Job.objects.filter(pk__in=job_ids).exists()
    assert not (session_type / job_ids[0]).exists()
    busy = make_batch(owner)
    running = Job.objects.filter(batch=busy).first()
    assert running is not None
    drive(running.pk, "processing")
    old_error(client.delete(f"{BASE}/batches/{busy.pk}"), 409, "INVALID_TRANSITION")
    assert Job.objects.filter(batch=busy).count() == 2
    old_error(client.delete(f"{BASE}/batches/batch-missing"), 404, "NOT_FOUND")


# --- files ----------------------------------------------------------------------------------


def test_files_are_served_per_job(client: Client, owner: User, session_type: Path) -> None:
    job = services.enqueue("session", session(), user=owner)
    folder = session_type / job.pk / "assets"
    folder.mkdir(parents=True)
    (folder / "slide-1.txt").write_text("slide text")
    response = client.get(f"{BASE}/files/{job.pk}/assets/slide-1.txt")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"slide text"
    assert response["Content-Type"].startswith("text/plain")
    old_error(client.get(f"{BASE}/files/{job.pk}/assets/missing.txt"), 404, "NOT_FOUND")
    old_error(client.get(f"{BASE}/files/{job.pk}"), 400, "INVALID_PATH")
    old_error(client.get(f"{BASE}/files/{job.pk}/../x"), 400, "INVALID_PATH")
    hidden = services.enqueue("session", session(), user=make_user("stranger"))
    (session_type / hidden.pk).mkdir(parents=True)
    (session_type / hidden.pk / "a.txt").write_text("secret")
    old_error(client.get(f"{BASE}/files/{hidden.pk}/a.txt"), 404, "NOT_FOUND")


# --- the old webhook, delivered over HTTP -----------------------------------------------------


class Receiver:
    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {key.lower(): value for key, value in self.headers.items()}
                receiver.requests.append((headers, json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.server.shutdown()
    server.server.server_close()


def deliver_all() -> None:
    for delivery in webhooks.claim_due(limit=50):
        assert webhooks.deliver(delivery)


def test_old_webhooks_get_the_old_payload_and_headers(
    client: Client, owner: User, receiver: Receiver
) -> None:
    hook: Callable[..., dict[str, Any]] = lambda **options: {  # noqa: E731
        "url": receiver.url,
        "headers": {"Authorization": "Bearer n8n-token", "Content-Type": "text/evil"},
        **options,
    }
    done = new_job(client, 1, webhook=hook(include_markdown=True, include_metadata=False))
    full = new_job(client, 2, webhook=hook())
    broken = new_job(client, 3, webhook=hook())
    modern = services.enqueue("session", session(4), user=owner, webhook={"url": receiver.url})
    drive(done["job_id"], "completed")
    drive(full["job_id"], "completed")
    drive(broken["job_id"], "failed")
    drive(modern.pk, "completed")
    assert WebhookDelivery.objects.count() == 4
    deliver_all()
    received = {body.get("job_id"): (headers, body) for headers, body in receiver.requests}
    assert len(received) == 4

    headers, body = received[done["job_id"]]
    assert headers["authorization"] == "Bearer n8n-token"
    assert headers["content-type"] == "application/json"
    assert headers["x-jobcenter-event"] == "job.completed"
    assert body["event_id"] == done["job_id"]
    assert body["success"] is True
    assert body["event"] == "FOSDEM 2025" and body["session"] == "Talk 1"
    assert body["track"] == "Main" and body["day"] == "2025-02-01"
    assert body["filename"] == "talk-1.md" and body["file_path"] == "talk.md"
    assert body["markdown_content"] == "# Talk\n\nText."
    assert "metadata" not in body

    _, body = received[full["job_id"]]
    assert body["metadata"]["speakers"] == ["Ada Lovelace"]
    assert body["metadata"]["starttime"] == "10:00"
    assert isinstance(body["metadata"]["processing_time"], int)

    headers, body = received[broken["job_id"]]
    assert headers["x-jobcenter-event"] == "job.failed"
    assert body["success"] is False and body["error"] == "404 from video server"
    assert "markdown_content" not in body

    headers, body = received[modern.pk]
    assert "authorization" not in headers
    assert body["event"] == "job.completed" and "success" not in body


def test_an_imported_job_with_the_old_webhook_gets_the_old_payload(tmp_path: Path) -> None:
    from legacy.importer import ImportOptions, import_legacy
    from legacy.sources import DirectorySource
    from tests.legacy.fixtures import legacy_job, write_jsonl

    folder = tmp_path / "export"
    folder.mkdir()
    write_jsonl(folder / "event_jobs.jsonl", [legacy_job(1, status="processing", batch_id=None)])
    import_legacy(DirectorySource(folder), ImportOptions())
    job = Job.objects.get(pk="job-legacy-000001")
    assert job.status == "pending" and job.webhook["include_markdown"] is True
    drive(job.pk, "completed")
    delivery = WebhookDelivery.objects.get(job=job)
    assert delivery.url == "https://hooks.example/done"
    assert delivery.payload["success"] is True and delivery.payload["event_id"] == job.pk
    assert delivery.payload["markdown_content"] == "# Talk\n\nText."
    assert "metadata" not in delivery.payload  # the old webhook said include_metadata: false
