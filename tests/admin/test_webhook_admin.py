"""The webhook outbox in the admin (jobs/admin_webhooks.py) and its one transition,
``webhooks.retry_deliveries``: with the test client on a real database, deliveries written
and sent the way the worker does it (a job or batch that ends, ``webhooks.deliver``)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from batches.services import create_batch
from jobs import services, webhooks
from jobs.admin_ui import short_id
from jobs.models import Job, JobLog, WebhookDelivery

DELIVERIES = "/admin/jobs/webhookdelivery/"
SECRET = "s3cr3t-NEEDLE-4242"
REFUSED_URL = "http://127.0.0.1:1/refused"
"""Refused as a non-public address (one try, failed), or, with private addresses allowed,
a connection refused (a try that is retried)."""


def text(response: Any) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def rows(html: str) -> list[str]:
    """The delivery ids of a changelist's rows, in order."""
    return re.findall(
        r'<th class="field-status_badge"><a href="/admin/jobs/webhookdelivery/([0-9a-f-]{36})/',
        html,
    )


def hooked_job(url: str = "https://hooks.example.org/jc", **kwargs: Any) -> Job:
    """A job that completed the way a worker completes one, so its outbox row exists."""
    job = services.enqueue(
        "echo", {"message": "hi"}, webhook={"url": url, "secret": SECRET}, **kwargs
    )
    services.claim(job.pk, "worker-t", lease_seconds=60)
    services.start(job.pk)
    return services.complete(job.pk, {"message": "hi"})


def job_delivery(url: str = "https://hooks.example.org/jc") -> WebhookDelivery:
    return WebhookDelivery.objects.get(job=hooked_job(url))


def batch_delivery(url: str = "https://batches.example.org/hook") -> WebhookDelivery:
    created = create_batch(
        "hooked batch",
        [{"job_type": "echo", "parameters": {"message": "x"}}],
        webhook={"url": url, "secret": SECRET},
    )
    webhooks.record_batch_ending(created.batch.pk)
    return WebhookDelivery.objects.get(batch=created.batch)


def send(delivery: WebhookDelivery) -> WebhookDelivery:
    """One try, as the worker's webhook thread makes it."""
    webhooks.deliver(WebhookDelivery.objects.get(pk=delivery.pk))
    return WebhookDelivery.objects.get(pk=delivery.pk)


def used_up(delivery: WebhookDelivery, settings: Any) -> WebhookDelivery:
    """Failed after every try (the receiver refused each connection)."""
    settings.JOBCENTER_WEBHOOK_ALLOW_PRIVATE = True
    for _ in range(webhooks.MAX_ATTEMPTS):
        delivery = send(delivery)
    assert (delivery.status, delivery.attempts) == ("failed", webhooks.MAX_ATTEMPTS)
    return delivery


@pytest.fixture
def receiver(settings: Any) -> Iterator[str]:
    """An HTTP receiver on 127.0.0.1 that takes every webhook (204)."""
    settings.JOBCENTER_WEBHOOK_ALLOW_PRIVATE = True

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()
    thread.join(5)


def delivered(receiver: str) -> WebhookDelivery:
    delivery = send(job_delivery(receiver))
    assert delivery.status == "delivered"
    return delivery


def retry_action(client: Client, *deliveries: WebhookDelivery) -> Any:
    return client.post(
        DELIVERIES,
        {"action": "retry_now", "_selected_action": [str(d.pk) for d in deliveries]},
        follow=True,
    )


# --- the list ------------------------------------------------------------------------------


def test_list_shows_deliveries_for_a_job_and_a_batch(op: Client) -> None:
    for_job = send(job_delivery(REFUSED_URL))  # refused: failed at its first try
    for_batch = batch_delivery()
    html = text(op.get(DELIVERIES))

    assert rows(html) == [str(for_batch.pk), str(for_job.pk)]  # newest first
    assert f'href="/admin/jobs/job/{for_job.job_id}/change/"' in html
    assert f'href="/admin/batches/batch/{for_batch.batch_id}/change/"' in html
    assert f">{short_id(for_job.job_id)}</a>" in html
    assert f">{short_id(for_batch.batch_id)}</a>" in html
    assert short_id(for_job.job_id) != for_job.job_id  # shortened like the jobs list
    assert 'class="jc-badge jc-failed">failed</span>' in html
    assert 'class="jc-badge jc-pending">pending</span>' in html
    assert f'<td class="field-receiver">{REFUSED_URL}</td>' in html
    assert "https://batches.example.org/hook" in html
    assert f'href="{REFUSED_URL}"' not in html  # text: a click would GET the receiver
    assert "non-public address" in html  # the last error


def test_short_ids_match_the_jobs_list() -> None:
    job_id = "job-0192f0c4-1a2b-7c3d-8e4f-0123456789ab"
    assert short_id(job_id) == f"job-…{job_id[-12:]}"
    assert short_id("batch-0192f0c4-1a2b-7c3d-8e4f-0123456789ab") == "batch-…0123456789ab"
    assert short_id("job-legacy7") == "job-legacy7"  # short already


def test_a_long_error_is_shortened_in_the_list(op: Client) -> None:
    delivery = job_delivery()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(last_error="E" * 300 + "TAIL")
    html = text(op.get(DELIVERIES))
    assert "E" * 79 + "…<" in html  # shortened in the cell
    assert f'title="{"E" * 300}TAIL"' in html  # all of it on hover
    assert html.count("TAIL") == 1


def test_list_queries_do_not_grow_with_rows(op: Client) -> None:
    job_delivery()
    batch_delivery()
    with CaptureQueriesContext(connection) as few:
        assert len(rows(text(op.get(DELIVERIES)))) == 2
    for _ in range(3):
        job_delivery()
        batch_delivery()
    with CaptureQueriesContext(connection) as more:
        assert len(rows(text(op.get(DELIVERIES)))) == 8
    assert len(more.captured_queries) == len(few.captured_queries)
    [select] = [
        q["sql"]
        for q in more.captured_queries
        if 'FROM "jobs_webhookdelivery"' in q["sql"] and "COUNT(" not in q["sql"].upper()
    ]
    assert '"payload"' not in select and '"secret"' not in select  # read neither


def test_filter_by_status(op: Client, receiver: str, settings: Any) -> None:
    done = delivered(receiver)
    settings.JOBCENTER_WEBHOOK_ALLOW_PRIVATE = False
    failed = send(job_delivery(REFUSED_URL))  # refused: failed at its first try
    pending = batch_delivery()
    assert failed.status == "failed"
    assert 'class="jc-badge jc-completed">delivered</span>' in text(op.get(DELIVERIES))
    assert rows(text(op.get(DELIVERIES + "?status__exact=delivered"))) == [str(done.pk)]
    assert rows(text(op.get(DELIVERIES + "?status__exact=failed"))) == [str(failed.pk)]
    assert rows(text(op.get(DELIVERIES + "?status__exact=pending"))) == [str(pending.pk)]


def test_search_by_job_id_batch_id_and_url(op: Client) -> None:
    first = job_delivery("https://one.example.org/hook")
    second = job_delivery("https://two.example.org/hook")
    for_batch = batch_delivery("https://three.example.org/hook")
    assert rows(text(op.get(DELIVERIES, {"q": first.job_id}))) == [str(first.pk)]
    assert rows(text(op.get(DELIVERIES, {"q": for_batch.batch_id}))) == [str(for_batch.pk)]
    assert rows(text(op.get(DELIVERIES, {"q": "two.example"}))) == [str(second.pk)]
    assert rows(text(op.get(DELIVERIES, {"q": "nowhere.example"}))) == []
    # The links the docs give: one job's or one batch's deliveries.
    assert rows(text(op.get(DELIVERIES, {"job": second.job_id}))) == [str(second.pk)]
    assert rows(text(op.get(DELIVERIES, {"batch": for_batch.batch_id}))) == [str(for_batch.pk)]


def test_a_jobs_page_links_to_its_deliveries(op: Client, viewer: Client) -> None:
    job = hooked_job()
    other = hooked_job()
    mine = WebhookDelivery.objects.get(job=job)
    html = text(op.get(f"/admin/jobs/job/{job.pk}/change/"))
    link = f'href="{DELIVERIES}?job={job.pk}">Webhook deliveries (1)</a>'
    assert link in html
    assert rows(text(op.get(f"{DELIVERIES}?job={job.pk}"))) == [str(mine.pk)]
    assert other.pk != job.pk
    # Not for staff who may not see deliveries.
    assert 'id="jc-webhook-deliveries"' in html
    assert 'id="jc-webhook-deliveries"' not in text(viewer.get(f"/admin/jobs/job/{job.pk}/change/"))


# --- read only, and the secret nowhere -----------------------------------------------------


def test_the_secret_appears_on_no_page(op: Client) -> None:
    for_job = send(job_delivery(REFUSED_URL))
    for_batch = batch_delivery()
    assert WebhookDelivery.objects.filter(secret=SECRET).count() == 2  # it is stored
    pages = [
        DELIVERIES,
        f"{DELIVERIES}?status__exact=failed",
        f"{DELIVERIES}?q=example",
        f"{DELIVERIES}{for_job.pk}/change/",
        f"{DELIVERIES}{for_batch.pk}/change/",
        f"{DELIVERIES}{for_job.pk}/history/",
        f"/admin/jobs/job/{for_job.job_id}/change/",
    ]
    for page in pages:
        html = text(op.get(page))
        assert SECRET not in html and "secret" not in html.lower(), page
    detail = text(op.get(f"{DELIVERIES}{for_job.pk}/change/"))
    assert '<pre class="jc-json">{\n  &quot;attempts&quot;: 1,' in detail  # pretty payload
    assert f"&quot;job_id&quot;: &quot;{for_job.job_id}&quot;" in detail
    assert REFUSED_URL in detail


def test_the_secret_cannot_be_searched_or_filtered_on(op: Client) -> None:
    delivery = job_delivery()
    assert rows(text(op.get(DELIVERIES, {"q": SECRET}))) == []
    assert rows(text(op.get(DELIVERIES, {"q": delivery.job_id}))) == [str(delivery.pk)]
    for lookup in [
        "secret",
        "secret__startswith",
        "secret__exact",
        "job__webhook_deliveries__secret",
    ]:
        response = op.get(DELIVERIES, {lookup: SECRET[:1] if "start" in lookup else SECRET})
        assert response.status_code == 400, lookup  # not an oracle for guessing it


def test_no_list_answers_guesses_of_a_webhook_secret_or_header(viewer: Client) -> None:
    """From an exploratory run: any lookup on a model's own fields passes the admin's query
    string, JSON keys too, so the jobs and batches lists counted the rows whose webhook
    secret (or an older client's Authorization header) started with a guess."""
    User.objects.get(username="viewer").user_permissions.add(
        Permission.objects.get(codename="view_webhookdelivery")
    )
    job_delivery()
    batch_delivery()
    older = services.enqueue("echo", {"message": "from an older client"})
    headers = {"url": "https://hooks.example.org/l", "headers": {"Authorization": "Bearer T"}}
    Job.objects.filter(pk=older.pk).update(webhook=headers)  # as legacy/services.py stores it
    for url, lookup, value in [
        ("/admin/jobs/job/", "webhook__secret__startswith", SECRET[:1]),
        ("/admin/jobs/job/", "webhook__headers__Authorization__startswith", "Bearer"),
        ("/admin/jobs/job/", "batch__webhook__secret", SECRET),
        ("/admin/batches/batch/", "webhook__secret__startswith", SECRET[:1]),
        ("/admin/batches/batch/", "jobs__webhook__secret", SECRET),
        (DELIVERIES, "job__webhook__secret", SECRET),
        ("/admin/jobs/apikey/", "key_hash__startswith", "a"),
    ]:
        assert viewer.get(url, {lookup: value}).status_code == 400, (url, lookup)
    assert viewer.get("/admin/jobs/job/", {"job_type": "echo"}).status_code == 200


def test_the_outbox_needs_the_view_permissions_of_jobs_and_batches(db: None) -> None:
    """From an exploratory run: *view webhook delivery* alone showed payloads (results)
    of jobs the user could not open."""
    job_delivery()
    user = User.objects.create_user("outbox", "o@example.org", "pw-outbox-1", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_webhookdelivery"))
    client = Client()
    client.force_login(user)
    assert client.get(DELIVERIES).status_code == 403
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_job", "view_batch"]))
    client.force_login(User.objects.get(pk=user.pk))  # permissions are cached per object
    assert client.get(DELIVERIES).status_code == 200


def test_nobody_may_add_change_or_delete(op: Client) -> None:
    delivery = job_delivery()
    before = WebhookDelivery.objects.values().get(pk=delivery.pk)
    html = text(op.get(DELIVERIES))
    assert f"{DELIVERIES}add/" not in html
    assert op.get(f"{DELIVERIES}add/").status_code == 403
    assert op.post(f"{DELIVERIES}add/", {"url": "https://x.example.org"}).status_code == 403
    detail = text(op.get(f"{DELIVERIES}{delivery.pk}/change/"))
    assert 'name="_save"' not in detail and f"{delivery.pk}/delete/" not in detail
    change = op.post(f"{DELIVERIES}{delivery.pk}/change/", {"url": "https://evil.example.org"})
    assert change.status_code == 403
    assert op.get(f"{DELIVERIES}{delivery.pk}/delete/").status_code == 403
    assert op.post(f"{DELIVERIES}{delivery.pk}/delete/", {"post": "yes"}).status_code == 403
    bulk = op.post(
        DELIVERIES,
        {"action": "delete_selected", "_selected_action": [str(delivery.pk)], "post": "yes"},
    )
    assert bulk.status_code in (200, 302)
    assert WebhookDelivery.objects.values().get(pk=delivery.pk) == before  # untouched


# --- Retry now ---------------------------------------------------------------------------


def test_retry_now_requeues_failed_and_skips_delivered(
    op: Client, receiver: str, settings: Any
) -> None:
    done = delivered(receiver)
    failed = used_up(job_delivery(REFUSED_URL), settings)
    waiting = send(batch_delivery(REFUSED_URL))  # connection refused: retried later
    assert (waiting.status, waiting.attempts) == ("pending", 1)
    later = timezone.now() + timedelta(hours=1)
    WebhookDelivery.objects.filter(pk=waiting.pk).update(next_attempt_at=later)  # a backoff
    due = job_delivery()
    done_before = WebhookDelivery.objects.values().get(pk=done.pk)
    due_before = WebhookDelivery.objects.values().get(pk=due.pk)
    assert done_before["status"] == "delivered"
    before = timezone.now()

    response = retry_action(op, done, failed, waiting, due)

    html = text(response)
    assert "2 webhook deliveries requeued" in html
    assert "2 not eligible" in html
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == ("pending", 0)  # a new round of tries
    assert failed.next_attempt_at <= timezone.now() and failed.next_attempt_at >= before
    assert "ConnectionRefusedError" in failed.last_error  # still there to read
    waiting.refresh_from_db()
    assert (waiting.status, waiting.attempts) == ("pending", 1)  # brought forward only
    assert waiting.next_attempt_at <= timezone.now()
    assert WebhookDelivery.objects.values().get(pk=done.pk) == done_before  # left alone
    assert WebhookDelivery.objects.values().get(pk=due.pk) == due_before  # due anyway


def test_retry_now_needs_change_job(viewer: Client, settings: Any) -> None:
    User.objects.get(username="viewer").user_permissions.add(
        Permission.objects.get(codename="view_webhookdelivery")
    )
    failed = send(job_delivery(REFUSED_URL))
    html = text(viewer.get(DELIVERIES))
    assert rows(html) == [str(failed.pk)]  # may look
    assert "retry_now" not in html
    retry_action(viewer, failed)
    assert WebhookDelivery.objects.get(pk=failed.pk).status == "failed"  # may not act


def test_retry_message_when_nothing_is_eligible(op: Client, receiver: str) -> None:
    done = delivered(receiver)
    html = text(retry_action(op, done))
    assert "1 not eligible" in html and "requeued" not in html
    assert WebhookDelivery.objects.get(pk=done.pk).status == "delivered"


# --- the service ---------------------------------------------------------------------------


def test_retry_deliveries_sends_a_failed_delivery_again(
    db: None, receiver: str, settings: Any
) -> None:
    delivery = used_up(job_delivery(REFUSED_URL), settings)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(url=receiver)  # the receiver is fixed
    assert webhooks.claim_due(limit=10) == []  # given up: the worker leaves it alone

    assert webhooks.retry_deliveries([delivery.pk]) == 1
    assert JobLog.objects.filter(job_id=delivery.job_id).latest("timestamp").message == (
        f"Webhook to {receiver} requeued by an operator (Retry now): sent again within seconds."
    )

    [claimed] = webhooks.claim_due(limit=10)  # what the webhook thread does next
    assert claimed.pk == delivery.pk
    assert webhooks.deliver(claimed) is True
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 1)
    assert delivery.delivered_at is not None and delivery.last_error == ""
    assert webhooks.retry_deliveries([delivery.pk]) == 0  # delivered stays delivered
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == "delivered"


def test_a_retried_delivery_gets_a_new_round_of_tries(db: None, settings: Any) -> None:
    """Not given up at its first failure after the retry: attempts start again from 0."""
    delivery = used_up(job_delivery(REFUSED_URL), settings)
    assert webhooks.retry_deliveries([delivery.pk]) == 1
    again = send(delivery)
    assert (again.status, again.attempts) == ("pending", 1)
    assert again.next_attempt_at > timezone.now()  # backoff, as for a new delivery


def test_retry_deliveries_counts_only_what_it_changed(db: None) -> None:
    waiting = job_delivery()
    due_soon = job_delivery()
    later = timezone.now() + timedelta(seconds=webhooks.IN_FLIGHT_SECONDS + 120)
    soon = timezone.now() + timedelta(seconds=webhooks.IN_FLIGHT_SECONDS / 2)  # held
    WebhookDelivery.objects.filter(pk=waiting.pk).update(next_attempt_at=later)
    WebhookDelivery.objects.filter(pk=due_soon.pk).update(next_attempt_at=soon)

    assert webhooks.retry_deliveries([]) == 0
    assert webhooks.retry_deliveries([waiting.pk, due_soon.pk]) == 1
    assert WebhookDelivery.objects.get(pk=waiting.pk).next_attempt_at <= timezone.now()
    assert WebhookDelivery.objects.get(pk=due_soon.pk).next_attempt_at == soon  # not sent twice
    assert webhooks.retry_deliveries([waiting.pk]) == 0  # due now: nothing to bring forward


def test_retry_deliveries_over_many_ids(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ids go in chunks (SQLite's parameter limit); every chunk counts."""
    monkeypatch.setattr(webhooks, "RETRY_CHUNK", 2)
    failed = [send(job_delivery(REFUSED_URL)) for _ in range(5)]
    assert {d.status for d in failed} == {"failed"}
    ids = [d.pk for d in failed]
    assert webhooks.retry_deliveries([*ids, ids[0]]) == 5  # a repeated id counts once
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"pending"}
