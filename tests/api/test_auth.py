"""Authentication: API keys (service, bearer header, createapikey) and Django sessions with
CSRF on unsafe methods."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from django.utils.crypto import get_random_string

from jobs import api_keys
from jobs.models import ApiKey, Job
from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db


def test_key_is_stored_hashed_with_a_prefix(owner: User) -> None:
    created = api_keys.create_api_key(owner, "monitor")
    stored = ApiKey.objects.get(pk=created.api_key.pk)
    assert created.raw_key.startswith("jc_") and len(created.raw_key) > 40
    assert stored.prefix == created.raw_key[: api_keys.PREFIX_LENGTH]
    assert stored.key_hash == api_keys.hash_key(created.raw_key)
    assert created.raw_key not in {stored.key_hash, stored.prefix, stored.name}
    assert api_keys.authenticate(created.raw_key) == owner


def test_last_used_is_written_at_most_once_a_minute(owner: User) -> None:
    created = api_keys.create_api_key(owner, "k")
    api_keys.authenticate(created.raw_key)
    first = ApiKey.objects.get(pk=created.api_key.pk).last_used_at
    assert first is not None
    api_keys.authenticate(created.raw_key)
    assert ApiKey.objects.get(pk=created.api_key.pk).last_used_at == first
    ApiKey.objects.filter(pk=created.api_key.pk).update(
        last_used_at=timezone.now() - timedelta(minutes=2)
    )
    api_keys.authenticate(created.raw_key)
    assert ApiKey.objects.get(pk=created.api_key.pk).last_used_at > first


def test_bearer_key_works_and_revocation_stops_it_at_once(owner: User) -> None:
    created = api_keys.create_api_key(owner, "k")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {created.raw_key}")
    assert client.get("/api/jobs").status_code == 200
    api_keys.revoke_api_key(created.api_key.pk)
    response = client.get("/api/jobs")
    assert response.status_code == 401
    error = error_of(response)
    assert error["code"] == "UNAUTHENTICATED" and "revoked" in error["message"]


def test_expired_key_is_refused(owner: User) -> None:
    created = api_keys.create_api_key(owner, "k", expires_in=timedelta(days=1))
    client = Client(HTTP_AUTHORIZATION=f"Bearer {created.raw_key}")
    assert client.get("/api/jobs").status_code == 200
    ApiKey.objects.filter(pk=created.api_key.pk).update(expires_at=timezone.now())
    response = client.get("/api/jobs")
    assert response.status_code == 401 and "expired" in error_of(response)["message"]


@pytest.mark.parametrize(
    "header", ["Bearer jc_wrong", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer " + "x" * 5000]
)
def test_wrong_credentials_are_401_and_never_logged(
    owner: User, header: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = Client(HTTP_AUTHORIZATION=header).get("/api/jobs")
    assert response.status_code == 401
    assert error_of(response)["code"] == "UNAUTHENTICATED"
    secret = header.partition(" ")[2]
    if secret:
        assert secret not in caplog.text
        assert secret not in response.content.decode()


def test_session_auth_reads_and_needs_csrf_to_write(owner: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.get("/api/jobs").status_code == 200

    response = client.post("/api/jobs", {"job_type": "echo"}, content_type="application/json")
    assert response.status_code == 403
    assert error_of(response)["code"] == "CSRF_FAILED"
    assert not Job.objects.exists()

    token = get_random_string(32)  # what Django's CSRF cookie holds
    client.cookies["csrftoken"] = token
    response = client.post(
        "/api/jobs",
        {"job_type": "echo"},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 201, response.content
    assert Job.objects.get().user == owner


def test_bearer_requests_need_no_csrf(owner: User) -> None:
    key = api_keys.create_api_key(owner, "k").raw_key
    client = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {key}")
    response = client.post("/api/jobs", {"job_type": "echo"}, content_type="application/json")
    assert response.status_code == 201


def test_createapikey_prints_the_key_once(make_user: Callable[..., User]) -> None:
    user = make_user("alice")
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "createapikey", "monitor", "--user", "alice", "--expires-days", "30", stdout=out, stderr=err
    )
    raw = out.getvalue().strip()
    key = ApiKey.objects.get(user=user)
    assert key.name == "monitor" and key.key_hash == api_keys.hash_key(raw)
    assert key.expires_at is not None
    assert timedelta(days=29) < key.expires_at - timezone.now() <= timedelta(days=30)
    assert key.prefix in err.getvalue() and raw not in err.getvalue()
    assert Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/jobs").status_code == 200


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["k", "--user", "nobody"], "No user"),
        (["k", "--user", "alice", "--expires-days", "0"], "positive"),
        (["", "--user", "alice"], "name"),
    ],
)
def test_createapikey_refuses_bad_input(
    make_user: Callable[..., User], args: list[str], message: str
) -> None:
    make_user("alice")
    with pytest.raises(CommandError, match=message):
        call_command("createapikey", *args, stdout=io.StringIO(), stderr=io.StringIO())
    assert not ApiKey.objects.exists()


def test_createapikey_in_a_subprocess(manage: Callable[..., Any], transactional_db: None) -> None:
    User.objects.create_user("bob")
    result = manage("createapikey", "ci", "--user", "bob")
    assert result.returncode == 0, result.stderr
    raw = result.stdout.strip()
    assert raw.startswith("jc_") and "\n" not in raw
    assert api_keys.authenticate(raw).username == "bob"
