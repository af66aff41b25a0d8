"""The jobs list as operators triage it: a failed job's error code in its row, and a table
that fits a 1400 px wide window with the long job and batch names real work brings (an
exploratory run found the list scrolling sideways there).

The browser test drives Debian's chromium through Playwright exactly as test_browser.py
does (tests/chromium.py; never ``playwright install``). With JOBCENTER_SCREENSHOTS=1 it
also draws docs/screenshots/jobs-1400.png."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from batches import services as batch_services
from jobs import services
from jobs.admin_ui import time_tag
from jobs.models import Job, WebhookDelivery
from tests.admin.conftest import make_job
from tests.conftest import REPO

JOBS = "/admin/jobs/job/"

LONG_JOB_NAMES = [
    "2024-06-12 Keynote - The Future of Distributed Document Processing at Planetary Scale "
    "(Hall B, livestream recording, full length).mp4",
    "Proceedings_of_the_International_Conference_on_Very_Large_Data_Bases_2023_Volume_16_"
    "Number_12_camera_ready_final_v3.pdf",
    "https://events.example.org/2024/sessions/advanced-workshop-on-multilingual-speech-"
    "recognition-for-low-resource-languages",
    "Panel discussion: open questions in retrieval-augmented generation, evaluation and "
    "provenance — moderated Q&A transcript",
]
LONG_BATCH_NAME = (
    "Annual Developer Conference 2024 - all sessions, workshops and lightning talks "
    "(re-run after the transcription outage)"
)
ERROR_CODES = ["PDF_INVALID", "TRANSCRIPTION_UNAVAILABLE", "OCR_LANGUAGE_UNAVAILABLE"]


def row_of(html: str, job_id: str) -> str:
    """The HTML of one changelist row, found by the job id its first cell carries."""
    match = re.search(rf'<tr>(?:(?!</tr>).)*data-job-id="{job_id}"(?:(?!</tr>).)*</tr>', html, re.S)
    assert match, f"no row for {job_id}"
    return match.group(0)


def shown_code(row: str) -> tuple[str, str]:
    """The error code a row shows under its status badge (as text, without the ``<wbr>``
    it may break at) and its tooltip."""
    cell = re.search(r'<td class="field-status_badge">(.*?)</td>', row, re.S)
    assert cell, "the row has no status column"
    tag = re.search(
        r'<span class="jc-code" data-job-error="[^"]+" title="([^"]*)">(.*?)</span>',
        cell.group(1),
        re.S,
    )
    assert tag, f"no error code element in the status cell: {cell.group(1)}"
    return re.sub(r"<[^>]+>", "", tag.group(2)).strip(), tag.group(1)


def test_a_failed_jobs_error_code_is_in_its_row(op: Client) -> None:
    failed = make_job("failed")  # error code BOOM
    invalid = make_job("processing")
    services.fail(invalid.pk, "PDF_INVALID", "not a PDF: no %PDF header")
    long_code = make_job("processing")
    services.fail(long_code.pk, "OCR_LANGUAGE_UNAVAILABLE", "no traineddata for 'xyz'")
    completed = make_job("completed")
    pending = make_job("pending")
    cancelled = make_job("cancelled")
    # A retried attempt leaves its error on a job that is back in the queue: not failed.
    retrying = make_job("processing")
    services.retry(retrying.pk, "LLM_UNAVAILABLE", "engine down", delay_seconds=60)
    assert Job.objects.get(pk=retrying.pk).error["code"] == "LLM_UNAVAILABLE"

    html = op.get(JOBS).content.decode()
    assert shown_code(row_of(html, failed.pk))[0] == "BOOM"
    assert shown_code(row_of(html, invalid.pk)) == ("PDF_INVALID", "not a PDF: no %PDF header")
    row = row_of(html, long_code.pk)
    assert shown_code(row)[0] == "OCR_LANGUAGE_UNAVAILABLE"
    assert "OCR_<wbr>LANGUAGE_<wbr>UNAVAILABLE" in row  # may wrap, never widens the list
    for quiet in (completed, pending, cancelled, retrying):
        assert shown_code(row_of(html, quiet.pk)) == ("", ""), quiet.status


def test_the_error_code_costs_no_query_per_row(op: Client) -> None:
    make_job("failed")
    with CaptureQueriesContext(connection) as few:
        op.get(JOBS)
    ids = [make_job("failed").pk for _ in range(5)]
    with CaptureQueriesContext(connection) as more:
        html = op.get(JOBS).content.decode()
    assert all(shown_code(row_of(html, job_id))[0] == "BOOM" for job_id in ids)
    assert len(more.captured_queries) == len(few.captured_queries)


def test_the_live_endpoint_reports_a_failed_jobs_code(op: Client) -> None:
    """A job that fails while the list is open gets its code in place, as its badge does."""
    failed = make_job("failed")
    running = make_job("processing")
    retrying = make_job("processing")
    services.retry(retrying.pk, "LLM_UNAVAILABLE", "engine down", delay_seconds=60)
    data = op.get(f"{JOBS}live/?jobs={failed.pk},{running.pk},{retrying.pk}").json()["jobs"]
    assert (data[failed.pk]["error_code"], data[failed.pk]["error_message"]) == ("BOOM", "it broke")
    assert data[running.pk]["error_code"] == data[retrying.pk]["error_code"] == ""


def test_times_are_short_with_the_full_time_in_the_tooltip() -> None:
    now = timezone.localtime()
    today = now.date()
    other_day = (
        today.replace(month=1, day=1)
        if (today.month, today.day) != (1, 1)
        else today.replace(day=2)
    )
    same_year = now.replace(month=other_day.month, day=other_day.day, hour=9, minute=5)
    older = now.replace(year=now.year - 2, month=6, day=12, hour=14, minute=3, second=5)
    assert time_tag(None) == "—"
    assert f">{now:%H:%M:%S}</span>" in time_tag(now)
    assert f">{same_year.day} {same_year:%b} 09:05</span>" in time_tag(same_year)
    assert f'title="{older.year}-06-12 14:03:05' in time_tag(older)
    assert f">{older.year}-06-12</span>" in time_tag(older)


def test_what_narrow_windows_hide_stays_in_tooltips(op: Client) -> None:
    """At 1400 px the list drops started, ended, attempts and type: each is in a tooltip."""
    job = make_job("completed", job_name="report.pdf")
    row = row_of(op.get(JOBS).content.decode(), job.pk)
    duration = re.search(r'<td class="field-duration_text"><span title="([^"]*)"', row)
    assert duration and "started " in duration.group(1) and "\nended " in duration.group(1)
    assert f'title="report.pdf\n{job.pk}\necho"' in row
    assert 'title="attempts 1/1"' in row


# --- the layout, in a real browser ----------------------------------------------------------


def realistic_jobs() -> list[Job]:
    """A page of the jobs an operator sees: long file, URL and session names in a
    long-named batch, every status, failures with long codes, dates of other days and
    durations in hours, so that every column is as wide as it gets in real use. Returns the
    jobs still processing."""
    specs = [
        {
            "job_type": "echo",  # runs nowhere here; the type's name is as short as any
            "job_name": f"{LONG_JOB_NAMES[i % len(LONG_JOB_NAMES)]} #{i}",
            "parameters": {"message": str(i)},
        }
        for i in range(40)
    ]
    batch = batch_services.create_batch(LONG_BATCH_NAME, specs).batch
    jobs = list(Job.objects.filter(batch=batch).order_by("pk"))
    for index, job in enumerate(jobs):
        kind = index % 5
        if kind == 0:
            continue  # pending
        services.claim(job.pk, "worker-layout")
        services.start(job.pk)
        if kind == 1:
            services.report_progress(job.pk, 37, "transcribing-chunk-12-of-31", "working")
        elif kind == 2:
            services.complete(job.pk, {"message": "done"})
        elif kind == 3:
            services.report_progress(job.pk, 62, "ocr-page-31", "reading page 31 of 50")
            services.fail(job.pk, ERROR_CODES[index % len(ERROR_CODES)], "it broke")
        else:
            services.cancel(job.pk)
            services.confirm_cancel(job.pk)
    before = timezone.now() - timedelta(days=40)
    Job.objects.filter(batch=batch).update(created_at=before)
    finished = Job.objects.filter(batch=batch, completed_at__isnull=False)
    finished.update(started_at=before)
    Job.objects.filter(batch=batch, status="processing").update(
        started_at=timezone.now() - timedelta(minutes=17, seconds=12)
    )
    finished.update(completed_at=before + timedelta(hours=13, minutes=7))
    for name in LONG_JOB_NAMES:
        services.enqueue("echo", {"message": "x"}, job_name=name)
    return list(Job.objects.filter(status="processing").order_by("pk"))


def widths(page: Page) -> dict[str, int]:
    """How wide the page, the list's box and its table are, in CSS pixels."""
    return page.evaluate(
        """() => {
          const results = document.querySelector('#changelist-form .results');
          const table = document.querySelector('#result_list');
          return {
            viewport: window.innerWidth,
            page: document.scrollingElement.scrollWidth,
            box: results.clientWidth,
            boxContent: results.scrollWidth,
            table: Math.ceil(table.getBoundingClientRect().width),
          };
        }"""
    )


@pytest.mark.slow
def test_the_jobs_list_fits_a_1400_px_window(
    transactional_db: None, live_server: Any, browser: Browser
) -> None:
    """No sideways scrolling at 1400 px, nor at 1920 px; at 1024 px the page itself still
    does not scroll (the list's box would, as a last resort). Long names are cut, with the
    whole name in the tooltip, and a failed job's code shows, also when it fails while the
    list is open."""
    User.objects.create_superuser("operator", "op@example.org", "pw-operator-1")
    running = realistic_jobs()
    page: Page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.add_init_script("window.JC_LIVE_INTERVAL = 200;")
    page.goto(f"{live_server.url}/admin/login/?next={JOBS}")
    page.fill("#id_username", "operator")
    page.fill("#id_password", "pw-operator-1")
    page.click("input[type=submit]")
    expect(page.locator("#result_list")).to_be_visible()
    assert page.locator("#result_list tbody tr").count() == 44

    measured = widths(page)
    assert measured["page"] <= measured["viewport"], measured
    assert measured["boxContent"] <= measured["box"], measured  # the list does not scroll
    assert measured["table"] <= measured["box"], measured
    if os.environ.get("JOBCENTER_SCREENSHOTS") == "1":
        page.screenshot(path=str(REPO / "docs" / "screenshots" / "jobs-1400.png"))

    name = page.locator(f"[data-job-id] >> text={LONG_JOB_NAMES[0][:30]}").first
    assert name.get_attribute("title", timeout=5_000).startswith(LONG_JOB_NAMES[0])
    assert name.evaluate("el => el.scrollWidth > el.clientWidth")  # cut, with an ellipsis
    assert name.evaluate("el => el.clientWidth") > 120  # but still readable
    batch = page.locator(".field-batch_link .jc-cut").first
    assert batch.get_attribute("title", timeout=5_000).startswith(LONG_BATCH_NAME)
    expect(page.locator(".jc-code", has_text="PDF_INVALID").first).to_be_visible()

    # A job that fails while the list is open shows its code in place, like its badge.
    services.fail(running[0].pk, "PDF_INVALID", "not a PDF")
    expect(page.locator(f'[data-job-status="{running[0].pk}"]')).to_have_text("failed")
    expect(page.locator(f'[data-job-error="{running[0].pk}"]')).to_have_text("PDF_INVALID")
    expect(page.locator(f'[data-job-error="{running[1].pk}"]')).to_be_empty()

    page.set_viewport_size({"width": 1920, "height": 900})
    measured = widths(page)
    assert measured["boxContent"] <= measured["box"], measured
    assert measured["page"] <= measured["viewport"], measured
    expect(page.locator("#result_list th.column-started")).to_be_visible()  # every column

    page.set_viewport_size({"width": 1024, "height": 900})
    measured = widths(page)
    assert measured["page"] <= measured["viewport"], measured
    expect(page.locator("#result_list th.column-progress_bar")).to_be_visible()
    # Other lists keep their columns: the jobs list's rules hid the deliveries' "created".
    WebhookDelivery.objects.create(url="https://hooks.example.org/jc", payload={"a": 1})
    page.goto(f"{live_server.url}/admin/jobs/webhookdelivery/")
    expect(page.locator("#result_list th.column-created")).to_be_visible()
    page.close()
