"""The Job Center in a real browser: Playwright for Python driving Debian's chromium
(/usr/bin/chromium, installed by scripts/test.sh; never ``playwright install``) against a live
server on a committed test database, with a real ``runworker --burst`` process.

Screenshots go to docs/screenshots/ only when JOBCENTER_SCREENSHOTS=1 (so the suite does not
dirty the tree), otherwise to the test's tmp folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, Page, Route, expect

from batches.models import Batch
from jobs import services
from jobs.models import Job
from tests.conftest import REPO, subprocess_env

pytestmark = [pytest.mark.slow]


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    if os.environ.get("JOBCENTER_SCREENSHOTS") == "1":
        folder = REPO / "docs" / "screenshots"
    else:
        folder = tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def run_worker_burst(media: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [
                sys.executable,
                str(REPO / "manage.py"),
                "runworker",
                "--burst",
                *("--poll-interval", "0.2", "--name", "browser-test"),
            ],
            cwd=REPO,
            env=subprocess_env(JOBCENTER_MEDIA_ROOT=str(media), PYTHONUNBUFFERED="1"),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def test_operator_creates_watches_restarts_and_archives_a_batch(
    transactional_db: None,
    live_server: Any,
    browser: Browser,
    shots: Path,
    settings: Any,
    tmp_path: Path,
) -> None:
    User.objects.create_superuser("operator", "op@example.org", "pw-operator-1")
    base = live_server.url
    page: Page = browser.new_page(viewport={"width": 1400, "height": 1000})

    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", "pw-operator-1")
    page.click("input[type=submit]")
    expect(page.locator("#jc-index-link")).to_be_visible()

    # A batch of 3 echo jobs from the form; the third fails on purpose.
    page.goto(f"{base}/admin/jobs/job/new-batch/")
    page.fill("#id_batch_name", "browser batch")
    page.select_option("#id_job_type", "echo")
    page.check("input[name=mode][value=rows]")
    rows = [
        {"job_name": "one", "message": "one", "steps": 4, "sleep_seconds": 1.2},
        {"job_name": "two", "message": "two", "steps": 4, "sleep_seconds": 1.2},
        {"job_name": "three", "message": "three", "steps": 2, "fail_with": "BOOM"},
    ]
    page.fill("#id_rows", json.dumps(rows))
    page.click("#jc-preview-button")
    expect(page.locator("#jc-preview-count")).to_have_text("3")
    page.click("#jc-create-batch")
    expect(page.locator("#jc-batch")).to_be_visible()
    batch = Batch.objects.get(batch_name="browser batch")
    assert batch.total_jobs == 3
    bar = page.locator(f'[data-batch-progress="{batch.pk}"]')
    expect(bar).to_have_attribute("data-percent", "0")
    expect(page.locator("html")).to_have_attribute("data-jc-live", "running")
    page.evaluate("window.__notReloaded = true")

    worker = run_worker_burst(settings.JOBCENTER_MEDIA_ROOT, tmp_path / "worker.log")
    try:
        # The bars fill in place while the worker runs: no reload (the marker survives).
        expect(bar).to_have_attribute("data-percent", "100", timeout=60_000)
        assert worker.wait(60) == 0
    finally:
        # The worker and whatever is left of its child processes (its own session).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(worker.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.wait(10)
    assert page.evaluate("window.__notReloaded") is True
    ended = Batch.objects.get(pk=batch.pk).status
    assert ended in {"completed", "failed"}
    expect(page.locator(f'[data-batch-status="{batch.pk}"]')).to_have_text(ended)
    for job in Job.objects.filter(batch=batch, status="completed"):
        expect(page.locator(f'[data-job-progress="{job.pk}"] .jc-fill')).to_have_attribute(
            "style", re.compile(r"width: ?100(\.0+)?%")
        )
    expect(page.locator(f'[data-batch-counter="{batch.pk}:completed"]')).to_have_text("2")
    expect(page.locator("html")).to_have_attribute("data-jc-live", "stopped")
    page.screenshot(path=str(shots / "batch.png"), full_page=True)

    # Restart the failed job from its page.
    failed = Job.objects.get(batch=batch, status="failed")
    page.click(f'a[href="/admin/jobs/job/{failed.pk}/change/"]')
    expect(page.locator(".jc-error")).to_contain_text("BOOM")
    page.screenshot(path=str(shots / "job.png"), full_page=True)
    page.click("#jc-action-restart")
    expect(page.locator("#jc-job-count")).to_have_text("1")
    page.click("#jc-confirm")
    expect(page.locator(f'#jc-job [data-job-status="{failed.pk}"]').first).to_have_text("pending")
    assert Job.objects.get(pk=failed.pk).status == "pending"

    # Archive the batch from its page.
    page.goto(f"{base}/admin/batches/batch/{batch.pk}/change/")
    page.click("#jc-action-archive")
    page.click("#jc-confirm")
    expect(page.locator("#jc-batch h2")).to_contain_text("archived")
    assert Batch.objects.get(pk=batch.pk).archived

    page.goto(f"{base}/admin/jobs/job/dashboard/")
    expect(page.locator(".jc-chart").first).to_be_visible()
    page.screenshot(path=str(shots / "dashboard.png"), full_page=True)
    page.set_viewport_size({"width": 1800, "height": 700})  # every column of the list
    page.goto(f"{base}/admin/jobs/job/")
    expect(page.locator("#result_list")).to_be_visible()
    page.screenshot(path=str(shots / "jobs.png"), full_page=False)
    page.close()


def test_the_dashboard_keeps_watching_and_redraws_what_ended(
    transactional_db: None, live_server: Any, browser: Browser, settings: Any, tmp_path: Path
) -> None:
    """Other pages stop polling once their work has ended; the dashboard keeps watching for
    new work and draws its 24-hour counters, charts and tables again as jobs end."""
    User.objects.create_superuser("operator", "op@example.org", "pw-operator-1")
    page: Page = browser.new_page()
    page.add_init_script("window.JC_LIVE_INTERVAL = 200; window.JC_DASHBOARD_REFRESH = 1500;")
    page.goto(f"{live_server.url}/admin/login/?next=/admin/jobs/job/dashboard/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", "pw-operator-1")
    page.click("input[type=submit]")
    html = page.locator("html")
    expect(html).to_have_attribute("data-jc-live", "idle")
    expect(page.locator("#jc-day-done")).to_have_text("0")
    page.evaluate("window.__notReloaded = true")

    services.enqueue("echo", {"message": "one"})
    services.enqueue("echo", {"message": "two", "fail_with": "BOOM"})
    expect(page.locator('[data-counter="pending"]')).to_have_text("2", timeout=10_000)
    expect(html).to_have_attribute("data-jc-live", "running")

    worker = run_worker_burst(settings.JOBCENTER_MEDIA_ROOT, tmp_path / "worker.log")
    try:
        assert worker.wait(60) == 0
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(worker.pid, signal.SIGKILL)
    expect(page.locator("#jc-day-done")).to_have_text("1", timeout=15_000)
    expect(page.locator("#jc-day-failed")).to_have_text("1")
    expect(page.locator('[data-counter="pending"]')).to_have_text("0")
    expect(page.locator("[data-jc-refresh=failures]")).to_contain_text("BOOM")
    expect(html).to_have_attribute("data-jc-live", "idle")
    assert page.evaluate("window.__notReloaded") is True

    # A value typed into a type's concurrency field and not yet sent survives a redraw.
    page.fill("#jc-concurrency-echo", "12")
    page.click("h2")  # the field loses the focus
    page.evaluate("document.querySelector('[data-jc-refresh=cards]').dataset.old = '1'")
    services.enqueue("echo", {"message": "three"})
    expect(page.locator("[data-jc-refresh=cards]")).not_to_have_attribute("data-old", "1")
    expect(page.locator("#jc-concurrency-echo")).to_have_value("12")
    page.close()


def test_the_api_docs_render_swagger_ui_without_internet(
    db: None, live_server: Any, browser: Browser
) -> None:
    """/api/docs was a blank page offline: Swagger UI came from a CDN ("SwaggerUIBundle is
    not defined"). Every request off the live server is refused here, as with no network;
    the page must still draw the API's title and its operations from bundled files."""
    base = live_server.url
    page: Page = browser.new_page()
    outside: list[str] = []
    errors: list[str] = []

    def refuse_outside(route: Route) -> None:
        if route.request.url.startswith(base):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort("namenotresolved")

    page.route("**/*", refuse_outside)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{base}/api/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Job Center API")
    operation = page.locator(".swagger-ui .opblock-summary-path[data-path='/api/jobs']")
    expect(operation.first).to_be_visible()
    assert outside == [] and errors == []
    page.close()
