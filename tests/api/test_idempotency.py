"""Retries are safe: the same Idempotency-Key returns the first response, never a second
job or batch; the same key with another body is refused."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.utils import timezone

from batches.models import Batch
from jobs.models import IdempotencyRecord, Job
from tests.api.conftest import bearer_client, error_of

pytestmark = pytest.mark.django_db


def post(client: Client, path: str, data: Any, key: str | None) -> Any:
    extra = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(path, data, content_type="application/json", **extra)


def test_same_key_same_body_replays_the_first_response(client: Client) -> None:
    body = {"job_type": "echo", "parameters": {"message": "once"}}
    first = post(client, "/api/jobs", body, "key-1")
    second = post(client, "/api/jobs", body, "key-1")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert Job.objects.count() == 1


def test_replay_is_the_first_response_even_after_the_job_changed(client: Client) -> None:
    first = post(client, "/api/jobs", {"job_type": "echo"}, "k").json()
    client.post(f"/api/jobs/{first['job_id']}/cancel")
    again = post(client, "/api/jobs", {"job_type": "echo"}, "k").json()
    assert again["status"] == "pending" and again["job_id"] == first["job_id"]


def test_replay_keeps_the_first_status_whether_created_or_found_by_unique_key(
    client: Client,
) -> None:
    """A created job replays as 201 even though its unique_key now finds it (which answers
    200 without the Idempotency-Key); a request that found a held key replays as 200."""
    body = {"job_type": "echo", "unique_key": "u-1"}
    first = post(client, "/api/jobs", body, "create-once")
    replayed = post(client, "/api/jobs", body, "create-once")
    assert first.status_code == replayed.status_code == 201
    assert replayed["Idempotent-Replayed"] == "true" and replayed.json() == first.json()
    found = post(client, "/api/jobs", body, "found-it")
    found_again = post(client, "/api/jobs", body, "found-it")
    assert found.status_code == found_again.status_code == 200
    assert not found.has_header("Idempotent-Replayed")
    assert found_again["Idempotent-Replayed"] == "true"
    assert found.json()["job_id"] == found_again.json()["job_id"] == first.json()["job_id"]
    assert post(client, "/api/jobs", body, None).status_code == 200
    assert Job.objects.count() == 1


def test_same_key_other_body_is_refused(client: Client) -> None:
    post(client, "/api/jobs", {"job_type": "echo", "parameters": {"message": "a"}}, "k")
    response = post(client, "/api/jobs", {"job_type": "echo", "parameters": {"message": "b"}}, "k")
    assert response.status_code == 422
    assert error_of(response)["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert Job.objects.count() == 1


def test_same_key_on_another_endpoint_is_refused(client: Client) -> None:
    post(client, "/api/jobs", {"job_type": "echo"}, "k")
    response = post(
        client, "/api/jobs/batch", {"batch_name": "b", "jobs": [{"job_type": "echo"}]}, "k"
    )
    assert response.status_code == 422
    assert not Batch.objects.exists()


def test_keys_are_per_user(client: Client, make_user: Callable[..., User]) -> None:
    post(client, "/api/jobs", {"job_type": "echo"}, "shared")
    other = bearer_client(make_user("other"))
    response = post(other, "/api/jobs", {"job_type": "echo"}, "shared")
    assert response.status_code == 201
    assert Job.objects.count() == 2


def test_batch_idempotency(client: Client) -> None:
    body = {"batch_name": "b", "jobs": [{"job_type": "echo"}] * 3}
    first = post(client, "/api/jobs/batch", body, "batch-key")
    second = post(client, "/api/jobs/batch", body, "batch-key")
    assert first.json()["batch_id"] == second.json()["batch_id"]
    assert first.json()["job_ids"] == second.json()["job_ids"]
    assert Batch.objects.count() == 1 and Job.objects.count() == 3


def test_errors_are_not_stored(client: Client) -> None:
    bad = post(client, "/api/jobs", {"job_type": "echo", "parameters": {"steps": 0}}, "k")
    assert bad.status_code == 422
    assert not IdempotencyRecord.objects.exists()
    good = post(client, "/api/jobs", {"job_type": "echo"}, "k")
    assert good.status_code == 201


def test_keys_expire_after_24_hours(client: Client) -> None:
    first = post(client, "/api/jobs", {"job_type": "echo"}, "k").json()
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))
    second = post(client, "/api/jobs", {"job_type": "echo"}, "k").json()
    assert second["job_id"] != first["job_id"]
    assert IdempotencyRecord.objects.count() == 1


@pytest.mark.parametrize("key", ["", "   ", "x" * 256])
def test_bad_keys_are_422(client: Client, key: str) -> None:
    response = post(client, "/api/jobs", {"job_type": "echo"}, key)
    assert response.status_code == 422
    assert not Job.objects.exists()


@pytest.mark.slow
def test_concurrent_retries_create_one_job(transactional_db: None, owner: User) -> None:
    """Two requests with the same key racing each other: one job, the same response."""
    if connection.vendor == "sqlite":
        connection.close()  # threads open their own connections to the test database file
    clients = [bearer_client(owner) for _ in range(4)]
    results: list[Any] = []
    barrier = threading.Barrier(len(clients))

    def send(client: Client) -> None:
        barrier.wait()
        try:
            results.append(post(client, "/api/jobs", {"job_type": "echo"}, "race"))
        finally:
            from django.db import connections

            connections.close_all()

    threads = [threading.Thread(target=send, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status_code for r in results] == [201] * len(clients), [r.content for r in results]
    assert len({r.json()["job_id"] for r in results}) == 1
    assert Job.objects.count() == 1
