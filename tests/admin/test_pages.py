"""Every admin page of the Job Center renders what an operator needs, with the test client
on a real database."""

from __future__ import annotations

import re
from datetime import timedelta

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from batches import services as batch_services
from batches.models import Batch
from jobs import queue, services
from jobs.admin_ui import COUNT_CAP, CappedPaginator
from jobs.api_keys import authenticate
from jobs.models import ApiKey, Job, JobLog
from tests.admin.conftest import make_batch, make_job

JOBS = "/admin/jobs/job/"
BATCHES = "/admin/batches/batch/"


def text(response) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def rows(html: str) -> list[str]:
    """The job ids of a changelist's rows, in order."""
    return re.findall(
        r'<th class="field-job_link"><a href="[^"]+"><span [^>]*data-job-id="(job-[^"]+)"', html
    )


def test_login_required(db: None) -> None:
    for url in [JOBS, BATCHES, f"{JOBS}dashboard/", f"{JOBS}live/", f"{JOBS}new/"]:
        response = Client().get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url


def test_jobs_list_badges_bars_and_columns(op: Client) -> None:
    running = make_job("processing")
    failed = make_job("failed")
    html = text(op.get(JOBS))
    assert f'data-job-status="{running.pk}">processing</span>' in html
    assert f'class="jc-badge jc-failed" data-job-status="{failed.pk}"' in html
    assert f'data-job-progress="{running.pk}"' in html and "width:40.0%" in html
    assert "40 % · step-a" in html
    assert "1/1" in html  # attempts
    assert "jobcenter/live.js" in html


def test_jobs_list_newest_first(op: Client) -> None:
    old = make_job()
    Job.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    new = make_job()
    assert rows(text(op.get(JOBS))) == [new.pk, old.pk]


def test_jobs_list_never_counts_the_whole_table(op: Client) -> None:
    for _ in range(3):
        make_job()
    with CaptureQueriesContext(connection) as queries:
        html = text(op.get(JOBS))
        text(op.get(JOBS + "?status__exact=pending"))
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts, "the list shows how many rows match"
    for sql in counts:
        assert "LIMIT" in sql.upper(), f"unbounded count: {sql}"
    assert "3 jobs" in html or "3 results" in html or ">3<" in html


def test_count_is_capped(op: Client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("jobs.admin_ui.COUNT_CAP", 2)
    for _ in range(4):
        make_job()
    paginator = CappedPaginator(Job.objects.all(), 50)
    assert paginator.count == 3 and paginator.capped  # counted up to the cap + 1, no further
    with CaptureQueriesContext(connection) as queries:
        html = text(op.get(JOBS + "?status__exact=pending"))
    assert len(rows(html)) == 4  # the page itself still shows every row it holds
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts and all("LIMIT 3" in sql.upper() for sql in counts)
    assert COUNT_CAP == 10_000


def test_jobs_filters(op: Client) -> None:
    pending = make_job()
    failed = make_job("failed")
    batch = make_batch(2, "filtered")
    in_batch = Job.objects.filter(batch=batch).values_list("pk", flat=True)
    done = make_job("completed")
    services.archive(done.pk)
    assert rows(text(op.get(JOBS + "?status__exact=failed"))) == [failed.pk]
    assert rows(text(op.get(JOBS + "?job_type=echo")))
    assert rows(text(op.get(JOBS + "?job_type=pdf"))) == []
    assert sorted(rows(text(op.get(JOBS + f"?batch={batch.pk}")))) == sorted(in_batch)
    assert rows(text(op.get(JOBS + "?archived__exact=1"))) == [done.pk]
    html = text(op.get(JOBS))
    assert "?error_code=BOOM" in html  # the error code filter offers recent codes
    assert rows(text(op.get(JOBS + "?error_code=BOOM"))) == [failed.pk]
    assert rows(text(op.get(JOBS + "?error_code=OTHER"))) == []
    today = timezone.now().date()
    url = f"{JOBS}?created_at__gte={today}&created_at__lt={today + timedelta(days=1)}"
    assert pending.pk in rows(text(op.get(url)))


def test_jobs_search(op: Client) -> None:
    named = make_job(job_name="quarterly report")
    by_param = services.enqueue("pdf", {"source": "https://example.org/needle.pdf"})
    batch = make_batch(1)
    in_batch = Job.objects.get(batch=batch)
    assert rows(text(op.get(JOBS + "?q=quarterly"))) == [named.pk]
    assert rows(text(op.get(JOBS + "?q=needle"))) == [by_param.pk]
    assert rows(text(op.get(JOBS + f"?q={named.pk}"))) == [named.pk]
    assert rows(text(op.get(JOBS + f"?q={batch.pk}"))) == [in_batch.pk]


def test_job_detail(op: Client) -> None:
    batch = make_batch(1, "detail batch")
    failed = make_job("failed")
    Job.objects.filter(pk=failed.pk).update(batch=batch)
    html = text(op.get(f"{JOBS}{failed.pk}/change/"))
    assert "&quot;message&quot;: &quot;hi&quot;" in html  # pretty JSON parameters
    assert "<strong>BOOM</strong>: it broke" in html
    assert "Traceback: line 1" in html
    assert "Failed: BOOM: it broke" in html and "jc-level-error" in html  # log lines
    assert "detail batch" in html
    assert "&quot;visibility&quot;: &quot;private&quot;" in html
    assert f'href="/admin/jobs/job/{failed.pk}/do/restart/"' in html
    assert "/do/cancel/" not in html  # only actions its status allows


def test_job_detail_results_markdown_escaped_and_files(op: Client, settings) -> None:  # type: ignore[no-untyped-def]
    job = make_job()
    services.claim(job.pk, "w")
    services.start(job.pk)
    services.complete(job.pk, {"markdown_content": "# Dossier\n\n- **one**\n- <script>x</script>"})
    folder = settings.JOBCENTER_MEDIA_ROOT / job.pk
    folder.mkdir(parents=True)
    (folder / "out.md").write_text("# Dossier")
    html = text(op.get(f"{JOBS}{job.pk}/change/"))
    assert "<h1>Dossier</h1>" in html and "<strong>one</strong>" in html
    assert "<script>x</script>" not in html and "&lt;script&gt;" in html
    assert f'href="/api/jobs/{job.pk}/files/out.md"' in html
    assert "raw results (JSON)" in html


def test_job_detail_says_a_claimed_job_has_not_started(op: Client) -> None:
    """A job claimed ahead waits in its worker for a free child: processing, not started."""
    job = make_job()
    (claimed,) = queue.claim_jobs("w", limit=1, lease_seconds=60)
    assert claimed.job_id == job.pk
    waiting = "claimed, waiting for a free child of its worker"
    assert waiting in text(op.get(f"{JOBS}{job.pk}/change/"))
    queue.start_jobs("w", [queue.Start(job.pk, 1, timezone.now())])
    assert waiting not in text(op.get(f"{JOBS}{job.pk}/change/"))


def test_job_detail_says_why_a_job_not_processing_names_a_worker(op: Client) -> None:
    """Failed by an operator while it ran: its worker is named as still stopping the
    attempt; once the lease ran out without the worker letting go, as the one that died
    holding it."""
    job = make_job()
    queue.claim_jobs("w-dead", limit=1, lease_seconds=60)
    services.fail(job.pk, "STOP", "stopped by an operator")
    html = text(op.get(f"{JOBS}{job.pk}/change/"))
    assert "w-dead" in html and "still stopping the attempt an operator took" in html
    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    html = text(op.get(f"{JOBS}{job.pk}/change/"))
    assert "w-dead" in html and "was running it and never let go" in html
    assert "still stopping" not in html
    queue.release_holds("w-dead", [job.pk])  # a live worker that let go: nothing to say
    html = text(op.get(f"{JOBS}{job.pk}/change/"))
    assert "never let go" not in html and "still stopping" not in html


def test_job_log_is_paginated(op: Client) -> None:
    job = make_job()
    JobLog.objects.bulk_create([JobLog(job_id=job.pk, message=f"line {i:03d}") for i in range(150)])
    first = text(op.get(f"{JOBS}{job.pk}/change/"))
    second = text(op.get(f"{JOBS}{job.pk}/change/?logs_page=2"))
    assert "page 1 of 2" in first and "page 2 of 2" in second
    assert "line 149" not in first and "line 149" in second


def test_job_detail_missing(op: Client) -> None:
    assert op.get(f"{JOBS}job-nope/change/").status_code == 404


def test_batches_list_and_detail(op: Client) -> None:
    batch = make_batch(3, "three")
    first, second, _third = Job.objects.filter(batch=batch).order_by("pk")
    services.claim(first.pk, "w")
    services.start(first.pk)
    services.complete(first.pk, {})
    services.fail(second.pk, "BOOM", "no")
    html = text(op.get(BATCHES))
    assert f'data-batch-progress="{batch.pk}"' in html
    assert "67 % · 1 done · 1 failed · 1 pending / 3" in html
    assert 'class="jc-seg jc-seg-completed" data-seg="completed" style="width:33.33%"' in html
    detail = text(op.get(f"{BATCHES}{batch.pk}/change/"))
    assert f'data-batch-counter="{batch.pk}:failed">1<' in detail
    assert f'href="/api/batches/{batch.pk}/archive"' in detail
    assert all(job.pk in detail for job in [first, second, _third])
    only_failed = text(op.get(f"{BATCHES}{batch.pk}/change/?status=failed"))
    assert second.pk in only_failed and first.pk not in only_failed
    assert "/do/restart/" in detail and "/do/toggle_active/" in detail
    assert "Pause (start no more of its jobs)" in detail and "Resume" not in detail
    batch_services.toggle_active(batch.pk)
    assert "Resume" in text(op.get(f"{BATCHES}{batch.pk}/change/"))


def test_batch_jobs_paginated_from_counters(op: Client) -> None:
    batch = make_batch(60, "big")
    html = text(op.get(f"{BATCHES}{batch.pk}/change/"))
    assert "page 1 of 2" in html
    assert len(re.findall(r'data-job-progress="', html)) == 50


def test_batch_search_and_filter(op: Client) -> None:
    wanted = make_batch(1, "wanted")
    make_batch(1, "other")
    html = text(op.get(BATCHES + "?q=wanted"))
    assert wanted.pk in html and "other" not in html.split("result-list")[-1]
    assert wanted.pk in text(op.get(BATCHES + f"?q={wanted.pk}"))
    assert wanted.pk in text(op.get(BATCHES + "?status__exact=pending"))


def test_workers_page(op: Client) -> None:
    worker = queue.register_worker(
        "w-1", name="alpha", host="h1", pid=4242, job_types=[], exclude_types=[], concurrency=2
    )
    job = make_job()
    services.claim(job.pk, worker.pk)
    queue.heartbeat(worker.pk, [job.pk], 5, "running")
    html = text(op.get("/admin/jobs/worker/"))
    assert "alpha" in html and "4242" in html and job.pk in html
    assert 'alt="True"' in html  # heartbeat fresh
    queue.stop_worker(worker.pk, 5)
    assert "alpha" not in text(op.get("/admin/jobs/worker/"))  # stopped ones are hidden
    assert "alpha" in text(op.get("/admin/jobs/worker/?all=1"))


def test_api_key_shown_once_then_revoked(op: Client, operator) -> None:  # type: ignore[no-untyped-def]
    html = text(op.post("/admin/jobs/apikey/add/", {"name": "ci", "expires_in_days": "30"}))
    raw = re.search(r'<pre id="jc-raw-key">([^<]+)</pre>', html).group(1)  # type: ignore[union-attr]
    assert authenticate(raw) == operator
    key = ApiKey.objects.get(name="ci")
    assert key.expires_at is not None
    listing = text(op.get("/admin/jobs/apikey/"))
    assert key.prefix in listing and raw not in listing
    assert raw not in text(op.get(f"/admin/jobs/apikey/{key.pk}/change/"))
    response = op.post(
        "/admin/jobs/apikey/", {"action": "revoke", "_selected_action": [str(key.pk)]}
    )
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert "revoked" in text(op.get("/admin/jobs/apikey/"))


def test_api_key_needs_a_name(op: Client) -> None:
    html = text(op.post("/admin/jobs/apikey/add/", {"name": ""}))
    assert "needs a name" in html and not ApiKey.objects.exists()


def test_dashboard(op: Client) -> None:
    make_job()
    make_job("processing")
    make_job("failed")
    make_job("completed")
    batch = make_batch(2, "running batch")
    queue.register_worker(
        "w-2", name="beta", host="h2", pid=7, job_types=[], exclude_types=[], concurrency=1
    )
    html = text(op.get(f"{JOBS}dashboard/"))
    assert 'data-counter="pending">3<' in html and 'data-counter="processing">1<' in html
    assert html.count('<svg class="jc-chart"') == 2 and 'class="jc-done"' in html
    assert "oldest pending" in html
    assert "?error_code=BOOM" in html
    assert "beta" in html
    assert "running batch" in html and f'data-batch-progress="{batch.pk}"' in html
    assert 'id="jc-pause-echo"' in html
    assert "Job Center" in text(op.get("/admin/"))  # linked from the index


def test_dashboard_queries_read_indexes_only(op: Client) -> None:
    make_job("completed")
    with CaptureQueriesContext(connection) as queries:
        text(op.get(f"{JOBS}dashboard/"))
    for query in queries.captured_queries:
        sql = query["sql"]
        if 'FROM "jobs_job"' in sql and "COUNT(" in sql.upper():
            assert "WHERE" in sql.upper(), f"whole-table count: {sql}"


def test_pause_and_resume_a_type(op: Client) -> None:
    job = make_job()
    response = op.post(f"{JOBS}types/echo/pause/", {"paused": "1"})
    assert response.status_code == 302
    assert "echo" in queue.paused_types()
    assert queue.claim_jobs("w", limit=5, lease_seconds=30) == []  # no worker takes it
    html = text(op.get(f"{JOBS}dashboard/"))
    assert 'id="jc-resume-echo"' in html and ">paused<" in html
    op.post(f"{JOBS}types/echo/pause/", {"paused": "0"})
    assert "echo" not in queue.paused_types()
    assert [c.job_id for c in queue.claim_jobs("w", limit=5, lease_seconds=30)] == [job.pk]


def test_set_the_concurrency_of_a_type(op: Client) -> None:
    jobs = [make_job() for _ in range(3)]
    response = op.post(f"{JOBS}types/echo/concurrency/", {"concurrency": "1"})
    assert response.status_code == 302
    assert queue.type_limits(["echo"]) == {"echo": 1}
    assert len(queue.claim_jobs("w", limit=5, lease_seconds=30)) == 1  # one at a time
    html = text(op.get(f"{JOBS}dashboard/"))
    assert 'id="jc-concurrency-echo"' in html and 'name="concurrency" value="1"' in html
    for bad in ("0", "many", "99999999999999999999", "100001", "\u0663", "1_0"):
        op.post(f"{JOBS}types/echo/concurrency/", {"concurrency": bad})
        assert queue.type_limits(["echo"]) == {"echo": 1}  # refused, with a message
    op.post(f"{JOBS}types/echo/concurrency/", {"concurrency": ""})  # back to the default
    assert queue.type_limits(["echo"]) == {}
    assert len(queue.claim_jobs("w", limit=5, lease_seconds=30)) == len(jobs) - 1


def test_pause_unknown_type(op: Client) -> None:
    op.post(f"{JOBS}types/nope/pause/", {"paused": "1"})
    assert not queue.paused_types()


def test_live_endpoint(op: Client) -> None:
    running = make_job("processing")
    done = make_job("completed")
    batch = make_batch(2)
    url = f"{JOBS}live/?jobs={running.pk},{done.pk}&batches={batch.pk}&dashboard=1"
    data = op.get(url).json()
    assert data["jobs"][running.pk]["status"] == "processing"
    assert data["jobs"][running.pk]["progress"]["percent"] == 40
    assert data["jobs"][done.pk]["status"] == "completed"
    assert data["batches"][batch.pk]["counts"]["pending"] == 2
    assert data["counters"] == {"pending": 2, "processing": 1}
    assert data["running"] is True
    finished = op.get(f"{JOBS}live/?jobs={done.pk}").json()
    assert finished["running"] is False
    assert Batch.objects.filter(pk=batch.pk).exists()
