"""Delivering a webhook from the outbox (jobs/webhooks.py), on a real database and real
sockets on 127.0.0.1: a delivery given up, whether refused (a non-public address) or out of
attempts, says so once in its job's log and in the worker's log; tries that will be retried
write nothing to the job's log; a receiver answering garbage is a failed try, not a crash
of the worker's webhook thread."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from batches.services import create_batch
from jobs import services, webhooks
from jobs.models import Job, JobLog, WebhookDelivery
from jobs.worker.webhooks import DeliveryThread

pytestmark = pytest.mark.django_db

REFUSED_URL = "http://127.0.0.1:1/x"


def ended_job_with_webhook(url: str) -> Job:
    """A job that completed the way a worker completes one, so its outbox row exists."""
    job = services.enqueue("echo", {"message": "hi"}, webhook={"url": url, "secret": "s"})
    services.claim(job.pk, "worker-t", lease_seconds=60)
    services.start(job.pk)
    return services.complete(job.pk, {"message": "hi"})


def webhook_lines(job_id: str) -> list[JobLog]:
    return list(JobLog.objects.filter(job_id=job_id, message__startswith="Webhook"))


def deliver_due() -> list[bool]:
    """What one pass of a worker's webhook thread does, after making every pending delivery
    due at once (instead of waiting for its backoff)."""
    WebhookDelivery.objects.filter(status="pending").update(next_attempt_at=timezone.now())
    return [webhooks.deliver(delivery) for delivery in webhooks.claim_due(limit=50)]


def worker_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "jobcenter.worker" and record.levelno == logging.WARNING
    ]


def test_a_refused_address_is_a_warning_in_the_job_log_and_the_worker_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="jobcenter.worker")
    job = ended_job_with_webhook(REFUSED_URL)

    assert deliver_due() == [False]

    delivery = WebhookDelivery.objects.get(job=job)
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    [line] = webhook_lines(job.pk)
    assert line.level == "warning"
    assert line.message.startswith(f"Webhook to {REFUSED_URL} failed: ")
    assert "non-public address" in line.message and "not retried" in line.message
    [warning] = worker_warnings(caplog)
    assert REFUSED_URL in warning and job.pk in warning and "non-public" in warning
    # Given up is given up: nothing is due, nothing more is written.
    assert deliver_due() == []
    assert len(webhook_lines(job.pk)) == 1


def test_retries_stay_out_of_the_job_log_until_the_last_one_fails(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.JOBCENTER_WEBHOOK_ALLOW_PRIVATE = True
    caplog.set_level(logging.INFO, logger="jobcenter.worker")
    job = ended_job_with_webhook(REFUSED_URL)  # allowed now: the connection is refused

    for attempt in range(1, webhooks.MAX_ATTEMPTS):
        assert deliver_due() == [False]
        delivery = WebhookDelivery.objects.get(job=job)
        assert (delivery.status, delivery.attempts) == ("pending", attempt)
        assert webhook_lines(job.pk) == []
    assert worker_warnings(caplog) == []

    stale = WebhookDelivery.objects.get(job=job)
    assert deliver_due() == [False]
    delivery = WebhookDelivery.objects.get(job=job)
    assert (delivery.status, delivery.attempts) == ("failed", webhooks.MAX_ATTEMPTS)
    [line] = webhook_lines(job.pk)
    assert line.level == "warning"
    assert line.message == (
        f"Webhook to {REFUSED_URL} failed: {delivery.last_error}; "
        f"given up after {webhooks.MAX_ATTEMPTS} attempts."
    )
    assert "ConnectionRefusedError" in line.message
    assert len(worker_warnings(caplog)) == 1

    # A second worker that sent the same try (its claim ran out meanwhile) records nothing
    # more: no second line, no second warning, the row unchanged.
    assert webhooks.deliver(stale) is False
    assert len(webhook_lines(job.pk)) == 1
    assert len(worker_warnings(caplog)) == 1
    assert WebhookDelivery.objects.get(job=job).attempts == webhooks.MAX_ATTEMPTS


def test_a_batch_webhook_given_up_is_a_worker_warning_naming_the_batch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="jobcenter.worker")
    created = create_batch(
        "hooked",
        [{"job_type": "echo", "parameters": {"message": "x"}}],
        webhook={"url": REFUSED_URL},
    )
    webhooks.record_batch_ending(created.batch.pk)

    assert deliver_due() == [False]

    assert WebhookDelivery.objects.get(batch=created.batch).status == "failed"
    [warning] = worker_warnings(caplog)
    assert f"batch {created.batch.pk}" in warning and REFUSED_URL in warning
    # The batch has no log of its own, and its jobs' logs are not the place.
    assert not JobLog.objects.filter(message__startswith="Webhook").exists()


@pytest.fixture
def garbage_receiver() -> Iterator[str]:
    """A TCP server on 127.0.0.1 that answers every request with a line that is not HTTP."""
    server = socket.create_server(("127.0.0.1", 0))
    stopping = threading.Event()

    def serve() -> None:
        while not stopping.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                return
            with connection:
                connection.recv(65536)
                connection.sendall(b"garbage\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/hook"
    stopping.set()
    server.close()
    thread.join(5)


def test_a_receiver_answering_garbage_is_a_failed_try(settings: Any, garbage_receiver: str) -> None:
    settings.JOBCENTER_WEBHOOK_ALLOW_PRIVATE = True
    job = ended_job_with_webhook(garbage_receiver)

    assert deliver_due() == [False]

    delivery = WebhookDelivery.objects.get(job=job)
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.last_error.startswith("BadStatusLine")
    assert delivery.next_attempt_at > timezone.now() - timedelta(seconds=1)


def test_the_webhook_thread_survives_a_delivery_that_raises(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="jobcenter.worker")
    job = ended_job_with_webhook("https://hooks.example.org/jc")
    delivery = WebhookDelivery.objects.get(job=job)

    def broken(_: WebhookDelivery) -> bool:
        raise RuntimeError("a bug in a payload format")

    monkeypatch.setattr(webhooks, "deliver", broken)
    DeliveryThread.deliver(delivery)  # logged, not raised

    [record] = [r for r in caplog.records if r.name == "jobcenter.worker"]
    assert record.levelno == logging.ERROR and str(delivery.pk) in record.getMessage()
    assert record.exc_info is not None
