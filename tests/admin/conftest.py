"""Fixtures for the admin's tests: an operator (superuser), a staff user who may only view,
and jobs in every status made through the services (never by writing statuses directly)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connections
from django.test import Client
from playwright.sync_api import Browser, sync_playwright

from batches import services as batch_services
from jobs import services
from jobs.models import Job
from tests.chromium import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture(autouse=True)
def _plain_static_files(settings: Any, tmp_path: Any) -> None:
    """The manifest storage needs collectstatic; the tests serve files as they are."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.JOBCENTER_MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def operator(db: None) -> User:
    return User.objects.create_superuser("operator", "op@example.org", "pw-operator-1")


@pytest.fixture
def op(operator: User) -> Client:
    client = Client()
    client.force_login(operator)
    return client


@pytest.fixture
def viewer(db: None) -> Client:
    """Staff with the view permissions only: may look, may not act."""
    user = User.objects.create_user("viewer", "v@example.org", "pw-viewer-1", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            codename__in=["view_job", "view_batch", "view_worker", "view_apikey"]
        )
    )
    client = Client()
    client.force_login(user)
    return client


def make_job(status: str = "pending", **kwargs: Any) -> Job:
    """A job brought to ``status`` through the services, as a worker would."""
    job = services.enqueue("echo", kwargs.pop("parameters", {"message": "hi"}), **kwargs)
    if status == "pending":
        return job
    services.claim(job.pk, "worker-test")
    services.start(job.pk)
    if status == "processing":
        services.report_progress(job.pk, 40, "step-a", "working")
    elif status == "completed":
        services.complete(job.pk, {"message": "hi", "markdown_content": "# Title\n\n*done*"})
    elif status == "failed":
        services.fail(job.pk, "BOOM", "it broke", {"traceback": "Traceback: line 1"})
    elif status == "cancelled":
        services.cancel(job.pk)
        services.confirm_cancel(job.pk)
    return Job.objects.get(pk=job.pk)


def make_batch(n: int = 3, name: str = "b") -> Any:
    return batch_services.create_batch(
        name, [{"job_type": "echo", "parameters": {"message": str(i)}} for i in range(n)]
    ).batch


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Browser]:
    # Playwright's sync API runs an event loop in this thread; the ORM calls of the test
    # itself are plain synchronous code all the same.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: run scripts/test.sh"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
            # ORM calls made while Playwright's loop runs get connections of their own
            # context; close them, or PostgreSQL refuses to drop the test database.
            connections.close_all()
