"""The access matrix: who may read, act on and change the access of a job or a batch.

Readers get 200, everyone else a 404 that does not reveal the job exists; readers who may
not act get a 403 on actions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from batches.services import create_batch
from jobs import access, services
from jobs.models import Job
from tests.api.conftest import bearer_client, error_of

pytestmark = pytest.mark.django_db

# who -> (may read, may act, may change access)
MATRIX: dict[str, tuple[bool, bool, bool]] = {
    "owner": (True, True, True),
    "stranger": (False, False, False),
    "reader_by_name": (True, False, False),
    "writer_by_name": (True, True, False),
    "admin_by_name": (True, True, True),
    "reader_by_group": (True, False, False),
    "writer_by_group": (True, True, False),
    "admin_by_group": (True, True, True),
    "staff_view_perm": (True, False, False),
    "staff_change_perm": (True, True, True),
    "staff_without_perm": (False, False, False),
    "perm_without_staff": (False, False, False),
    "superuser": (True, True, True),
}

ACCESS = {
    "visibility": "private",
    "read_access": ["reader_by_name", "readers"],
    "write_access": ["writer_by_name", "writers"],
    "admin_access": ["admin_by_name", "admins"],
}


@pytest.fixture
def people(make_user: Callable[..., User], owner: User) -> dict[str, User]:
    users = {
        "owner": owner,
        "stranger": make_user("stranger", groups=("others",)),
        "reader_by_name": make_user("reader_by_name"),
        "writer_by_name": make_user("writer_by_name"),
        "admin_by_name": make_user("admin_by_name"),
        "reader_by_group": make_user("r1", groups=("readers",)),
        "writer_by_group": make_user("w1", groups=("writers", "others")),
        "admin_by_group": make_user("a1", groups=("admins",)),
        "staff_view_perm": make_user(
            "staff_view", staff=True, perms=("jobs.view_job", "batches.view_batch")
        ),
        "staff_change_perm": make_user(
            "staff_change",
            staff=True,
            perms=(
                "jobs.view_job",
                "jobs.change_job",
                "batches.view_batch",
                "batches.change_batch",
            ),
        ),
        "staff_without_perm": make_user("staff_plain", staff=True),
        "perm_without_staff": make_user("not_staff", perms=("jobs.view_job", "batches.view_batch")),
    }
    users["superuser"] = User.objects.create_superuser("root")
    return users


def job_of(owner: User) -> Job:
    job = services.enqueue("echo", {"message": "m"}, user=owner, access_control=ACCESS)
    services.claim(job.pk, "w")
    services.start(job.pk)
    return services.fail(job.pk, "BOOM", "broke")


@pytest.mark.parametrize("who", sorted(MATRIX))
def test_job_matrix(people: dict[str, User], owner: User, who: str) -> None:
    may_read, may_act, may_admin = MATRIX[who]
    job = job_of(owner)
    client = bearer_client(people[who])

    response = client.get(f"/api/jobs/{job.pk}")
    assert response.status_code == (200 if may_read else 404)
    listed = [item["job_id"] for item in client.get("/api/jobs").json()["items"]]
    assert (job.pk in listed) is may_read
    for path in ["logs", "files", "archive"]:
        assert client.get(f"/api/jobs/{job.pk}/{path}").status_code == (200 if may_read else 404)

    response = client.post(f"/api/jobs/{job.pk}/restart")
    expected = 200 if may_act else (403 if may_read else 404)
    assert response.status_code == expected, response.content
    assert Job.objects.get(pk=job.pk).status == ("pending" if may_act else "failed")
    if expected == 403:
        assert error_of(response)["code"] == "FORBIDDEN"
    if expected == 404:
        assert error_of(response)["message"] == f"Job '{job.pk}' does not exist."

    response = client.put(
        f"/api/jobs/{job.pk}/access",
        {**ACCESS, "visibility": "public"},
        content_type="application/json",
    )
    assert response.status_code == (200 if may_admin else 403 if may_read else 404)
    visibility = Job.objects.get(pk=job.pk).access_control["visibility"]
    assert visibility == ("public" if may_admin else "private")


@pytest.mark.parametrize("who", sorted(MATRIX))
def test_batch_matrix(people: dict[str, User], owner: User, who: str) -> None:
    may_read, may_act, may_admin = MATRIX[who]
    batch = create_batch("b", [{"job_type": "echo"}], user=owner, access_control=ACCESS).batch
    client = bearer_client(people[who])

    assert client.get(f"/api/batches/{batch.pk}").status_code == (200 if may_read else 404)
    assert client.get(f"/api/batches/{batch.pk}/jobs").status_code == (200 if may_read else 404)
    listed = [item["batch_id"] for item in client.get("/api/batches").json()["items"]]
    assert (batch.pk in listed) is may_read

    response = client.post(f"/api/batches/{batch.pk}/cancel")
    assert response.status_code == (200 if may_act else 403 if may_read else 404)
    assert Job.objects.get(batch=batch).status == ("cancelled" if may_act else "pending")

    response = client.put(
        f"/api/batches/{batch.pk}/access", {"visibility": "public"}, content_type="application/json"
    )
    assert response.status_code == (200 if may_admin else 403 if may_read else 404)


def test_public_visibility_lets_anyone_read_but_not_act(
    make_user: Callable[..., User], owner: User
) -> None:
    job = services.enqueue("echo", user=owner, access_control={"visibility": "public"})
    client = bearer_client(make_user("someone"))
    assert client.get(f"/api/jobs/{job.pk}").status_code == 200
    assert job.pk in [item["job_id"] for item in client.get("/api/jobs").json()["items"]]
    assert client.post(f"/api/jobs/{job.pk}/cancel").status_code == 403
    assert Job.objects.get(pk=job.pk).status == "pending"


def test_grants_match_whole_names_case_sensitively(
    make_user: Callable[..., User], owner: User
) -> None:
    """'ann' is not 'anne' nor 'Ann'; a group name with non-ASCII letters works."""
    services.enqueue("echo", user=owner, access_control={"read_access": ["anne", "Ann"]})
    granted = services.enqueue("echo", user=owner, access_control={"read_access": ["équipe"]})
    ann = make_user("ann")
    assert bearer_client(ann).get("/api/jobs").json()["items"] == []
    member = make_user("zoe", groups=("équipe",))
    items = bearer_client(member).get("/api/jobs").json()["items"]
    assert [item["job_id"] for item in items] == [granted.pk]


def test_readable_queryset_agrees_with_the_object_check(
    people: dict[str, User], owner: User
) -> None:
    """The SQL filter of the lists and the Python check of one object are two spellings of
    the same rules: they must agree for every user and every kind of grant."""
    variants = [
        {},
        {"visibility": "public"},
        {"read_access": ["readers"]},
        {"write_access": ["writer_by_name"]},
        {"admin_access": ["admins"]},
        {"read_access": ["nobody"], "write_access": ["others"]},
    ]
    jobs = [services.enqueue("echo", user=owner, access_control=v) for v in variants]
    jobs.append(services.enqueue("echo", user=people["stranger"]))
    jobs.append(services.enqueue("echo", user=None))
    for user in people.values():
        listed = set(access.readable(Job.objects.all(), user).values_list("pk", flat=True))
        checked = {job.pk for job in jobs if access.can_read(user, Job.objects.get(pk=job.pk))}
        assert listed == checked, user.username


def test_no_credentials_is_401_everywhere_but_health(owner: User) -> None:
    job = services.enqueue("echo", user=owner)
    anonymous = Client()
    for method, path in [
        ("get", "/api/jobs"),
        ("get", f"/api/jobs/{job.pk}"),
        ("post", "/api/jobs"),
        ("post", f"/api/jobs/{job.pk}/cancel"),
        ("get", "/api/batches"),
        ("get", "/api/job-types"),
        ("get", "/api/workers"),
        ("post", "/api/files"),
    ]:
        response = getattr(anonymous, method)(path)
        assert response.status_code == 401, path
        assert error_of(response)["code"] == "UNAUTHENTICATED"
    assert anonymous.get("/api/health").status_code == 200
    assert anonymous.get("/api/openapi.json").status_code == 200
    assert Job.objects.get(pk=job.pk).status == "pending"


def test_inactive_user_is_refused(make_user: Callable[..., User]) -> None:
    user = make_user("leaver")
    client = bearer_client(user)
    user.is_active = False
    user.save()
    assert client.get("/api/jobs").status_code == 401


def test_job_created_by_api_belongs_to_the_caller(
    client: Client, owner: User, make_user: Callable[..., User]
) -> None:
    job_id = client.post("/api/jobs", {"job_type": "echo"}, content_type="application/json").json()[
        "job_id"
    ]
    assert Job.objects.get(pk=job_id).user == owner
    assert bearer_client(make_user("x")).get(f"/api/jobs/{job_id}").status_code == 404


def test_batch_access_change_carries_to_its_jobs(
    make_user: Callable[..., User], owner: Any
) -> None:
    batch = create_batch("b", [{"job_type": "echo"}], user=owner).batch
    job = Job.objects.get(batch=batch)
    reader = make_user("reader")
    client = bearer_client(reader)
    assert client.get(f"/api/jobs/{job.pk}").status_code == 404
    response = bearer_client(owner).put(
        f"/api/batches/{batch.pk}/access",
        {"read_access": ["reader"]},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert client.get(f"/api/batches/{batch.pk}").status_code == 200
    assert client.get(f"/api/jobs/{job.pk}").status_code == 200


def test_a_unique_key_of_another_users_job_is_taken_and_its_job_not_shown(
    make_user: Callable[..., User], owner: User
) -> None:
    held = services.enqueue("echo", {"message": "m"}, user=owner, unique_key="invoice-7")
    stranger = bearer_client(make_user("stranger"))
    body = {"job_type": "echo", "parameters": {"message": "m"}, "unique_key": "invoice-7"}
    response = stranger.post("/api/jobs", body, content_type="application/json")
    assert response.status_code == 409
    assert error_of(response)["code"] == "UNIQUE_KEY_TAKEN"
    assert held.pk not in response.content.decode()
    batch = {"batch_name": "b", "jobs": [body]}
    response = stranger.post("/api/jobs/batch", batch, content_type="application/json")
    assert response.status_code == 422
    assert error_of(response)["details"][0]["field"] == "jobs[0].unique_key"
    assert held.pk not in response.content.decode()
    assert Job.objects.filter(unique_key="invoice-7").count() == 1
    # its owner gets the job that holds the key, as before (200: nothing was created)
    again = bearer_client(owner).post("/api/jobs", body, content_type="application/json")
    assert again.status_code == 200 and again.json()["job_id"] == held.pk
