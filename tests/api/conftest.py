"""Fixtures of the REST API tests: users with API keys, clients that authenticate with them,
jobs owned by someone, a media root of their own, and a live ASGI server for the tests where
HTTP itself matters (Server-Sent Events, Schemathesis)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client

from jobs import services
from jobs.api_keys import create_api_key
from jobs.models import Job
from tests.conftest import REPO, database_url, subprocess_env


@pytest.fixture(autouse=True)
def media_root(tmp_path: Path, settings: Any) -> Path:
    root = tmp_path / "media"
    root.mkdir()
    settings.JOBCENTER_MEDIA_ROOT = root
    return root


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    def make(
        name: str, *, groups: tuple[str, ...] = (), staff: bool = False, perms: tuple[str, ...] = ()
    ) -> User:
        user = User.objects.create_user(name, is_staff=staff)  # no password: hashing is slow
        for group in groups:
            user.groups.add(Group.objects.get_or_create(name=group)[0])
        for perm in perms:
            app_label, codename = perm.split(".")
            user.user_permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        return user

    return make


def bearer_client(user: User) -> Client:
    key = create_api_key(user, "tests").raw_key
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}")


@pytest.fixture
def owner(make_user: Callable[..., User]) -> User:
    return make_user("owner")


@pytest.fixture
def client(owner: User) -> Client:
    """A client authenticated as ``owner`` by API key."""
    return bearer_client(owner)


@pytest.fixture
def make_job(owner: User) -> Callable[..., Job]:
    def make(user: User | None = None, **kwargs: Any) -> Job:
        kwargs.setdefault("parameters", {"message": "hi"})
        return services.enqueue("echo", user=user or owner, **kwargs)

    return make


def drive(job_id: str, to: str) -> Job:
    """Move a pending job to ``to`` through the services, as a worker would."""
    if to == "pending":
        return Job.objects.get(pk=job_id)
    services.claim(job_id, "worker-test")
    if to == "processing":
        return services.start(job_id)
    services.start(job_id)
    if to == "completed":
        return services.complete(job_id, {"message": "done"})
    if to == "failed":
        return services.fail(job_id, "BOOM", "it broke")
    if to == "cancelled":
        services.cancel(job_id)
        return services.confirm_cancel(job_id)
    raise ValueError(to)


def error_of(response: Any) -> dict[str, Any]:
    """The error object of a response in the one error shape (asserting that shape)."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    return body["error"]


# --- a live ASGI server ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def live_server_url(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: Any
) -> Iterator[str]:
    """uvicorn serving jobcenter.asgi on 127.0.0.1 against the test database (tests that
    use it need ``transactional_db`` so that what they create is visible to it)."""
    with django_db_blocker.unblock():
        if not database_url().rsplit("/", 1)[-1].startswith("test_"):
            raise RuntimeError(
                "No test database was set up: mark at least one collected test django_db."
            )
        env = subprocess_env(
            JOBCENTER_MEDIA_ROOT=str(tmp_path_factory.mktemp("live-media")),
            JOBCENTER_SSE_POLL_SECONDS="0.2",
            JOBCENTER_SSE_HEARTBEAT_SECONDS="1",
            JOBCENTER_PROCESSORS="processors.echo.EchoProcessor",
        )
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "jobcenter.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=REPO,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("the uvicorn server did not start")
        time.sleep(0.2)
    try:
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
