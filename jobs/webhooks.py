"""Webhooks: the outbox and its delivery.

When a job or a batch that carries ``webhook = {url, secret?}`` ends, a WebhookDelivery row
is written in the same transaction as the final status, so a delivery is never lost and
never sent for a change that rolled back. Workers deliver due rows (jobs/worker/webhooks.py):
a JSON POST signed with HMAC-SHA256 of the body, retried with exponential backoff until the
receiver answers 2xx or the attempts run out. A delivery given up (attempts run out, or the
address refused) is a warning in the worker's log and, for a job, a warning line in the job's
log: the outbox row alone is seen by no one, so a broken receiver would go unnoticed.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q
from django.utils import timezone

from batches.models import Batch
from jobcenter import net
from jobcenter.db import atomic, lock_rows
from jobs.models import Job, WebhookDelivery

logger = logging.getLogger("jobcenter.worker")

SIGNATURE_HEADER = "X-JobCenter-Signature"
EVENT_HEADER = "X-JobCenter-Event"
DELIVERY_HEADER = "X-JobCenter-Delivery"
MAX_ATTEMPTS = 8
BACKOFF_MAX_SECONDS = 3600.0
IN_FLIGHT_SECONDS = 60.0
"""A claimed delivery is not handed out again for this long (its worker may have died)."""
RESULTS_INLINE_BYTES = 64_000
RETRY_CHUNK = 500
"""Ids per UPDATE of a retry: an admin action over every row of the list may send
thousands, more than SQLite takes as parameters of one statement."""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def results_summary(results: Any) -> Any:
    """The results themselves when small; otherwise their keys, so the receiver knows to
    fetch them from the API."""
    encoded = json.dumps(results, cls=DjangoJSONEncoder)
    if len(encoded) <= RESULTS_INLINE_BYTES:
        return results
    keys = sorted(results) if isinstance(results, dict) else []
    return {"truncated": True, "size_bytes": len(encoded), "keys": keys}


@dataclass(frozen=True)
class PayloadFormat:
    """A webhook shape other than the Job Center's, chosen by ``matches(job.webhook)``: its
    payload, and request headers to add (never replacing ours). Apps register theirs in
    ``AppConfig.ready()`` (legacy: the older service's callback), so this module needs to
    know none of them."""

    matches: Callable[[Any], bool]
    payload: Callable[[Job], dict[str, Any]]
    headers: Callable[[Any, dict[str, Any]], dict[str, str]]


PAYLOAD_FORMATS: list[PayloadFormat] = []


def register_payload_format(payload_format: PayloadFormat) -> None:
    if payload_format not in PAYLOAD_FORMATS:
        PAYLOAD_FORMATS.append(payload_format)


def payload_format(webhook: Any) -> PayloadFormat | None:
    return next((item for item in PAYLOAD_FORMATS if item.matches(webhook)), None)


def job_payload(job: Job) -> dict[str, Any]:
    registered = payload_format(job.webhook)
    if registered is not None:
        return registered.payload(job)
    return {
        "event": f"job.{job.status}",
        "job_id": job.job_id,
        "job_type": job.job_type,
        "job_name": job.job_name,
        "status": job.status,
        "batch_id": job.batch_id,
        "attempts": job.attempts,
        "results": results_summary(job.results) if job.results is not None else None,
        "error": job.error,
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "completed_at": _iso(job.completed_at),
    }


def batch_payload(batch: Batch) -> dict[str, Any]:
    return {
        "event": f"batch.{batch.status}",
        "batch_id": batch.batch_id,
        "batch_name": batch.batch_name,
        "status": batch.status,
        "total_jobs": batch.total_jobs,
        "completed_jobs": batch.completed_jobs,
        "failed_jobs": batch.failed_jobs,
        "cancelled_jobs": batch.cancelled_jobs,
        "created_at": _iso(batch.created_at),
        "completed_at": _iso(batch.completed_at),
    }


def record_job_endings(job_ids: Iterable[str]) -> int:
    """Outbox rows for the jobs among ``job_ids`` that carry a webhook; call in the
    transaction that ended them."""
    ids = list(job_ids)
    if not ids:
        return 0
    deliveries = [
        WebhookDelivery(
            job=job,
            url=job.webhook["url"],
            secret=job.webhook.get("secret") or "",
            payload=job_payload(job),
        )
        for job in Job.objects.filter(pk__in=ids, webhook__isnull=False)
        if isinstance(job.webhook, dict) and job.webhook.get("url")
    ]
    WebhookDelivery.objects.bulk_create(deliveries)
    return len(deliveries)


def record_batch_ending(batch_id: str) -> None:
    batch = Batch.objects.filter(pk=batch_id).first()
    if batch is None or not isinstance(batch.webhook, dict) or not batch.webhook.get("url"):
        return
    WebhookDelivery.objects.create(
        batch=batch,
        url=batch.webhook["url"],
        secret=batch.webhook.get("secret") or "",
        payload=batch_payload(batch),
    )


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def claim_due(limit: int = 10) -> list[WebhookDelivery]:
    """Due deliveries, each taken with a compare-and-set on ``next_attempt_at`` so that two
    workers never send the same one at the same time."""
    now = timezone.now()
    taken = []
    due = WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
    ).order_by("next_attempt_at")[:limit]
    for delivery in due:
        hold = now + timedelta(seconds=IN_FLIGHT_SECONDS)
        if WebhookDelivery.objects.filter(
            pk=delivery.pk, status=delivery.status, next_attempt_at=delivery.next_attempt_at
        ).update(next_attempt_at=hold):
            taken.append(delivery)
    return taken


def deliver(delivery: WebhookDelivery) -> bool:
    """POST one delivery and record the result; True when the receiver took it."""
    body = json.dumps(delivery.payload, cls=DjangoJSONEncoder, sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "JobCenter-Webhook/1",
        EVENT_HEADER: str(delivery.payload.get("event", "")),
        DELIVERY_HEADER: str(delivery.pk),
    }
    if delivery.job_id is not None and PAYLOAD_FORMATS:
        webhook = Job.objects.filter(pk=delivery.job_id).values_list("webhook", flat=True).first()
        registered = payload_format(webhook)
        if registered is not None:
            headers.update(registered.headers(webhook, delivery.payload))
    if delivery.secret:
        headers[SIGNATURE_HEADER] = sign(delivery.secret, body)
    allow_private = settings.JOBCENTER_WEBHOOK_ALLOW_PRIVATE
    try:
        response = net.request(
            "POST", delivery.url, body=body, headers=headers, allow_private=allow_private
        )
    except net.AddressNotAllowed as exc:
        _record_attempt(delivery, ok=False, error=str(exc), final=True)
        return False
    except (OSError, ValueError, http.client.HTTPException) as exc:
        # HTTPException: a receiver answering garbage (BadStatusLine…) is not an OSError, and
        # escaping here would end the worker's webhook thread.
        _record_attempt(delivery, ok=False, error=f"{type(exc).__name__}: {exc}")
        return False
    ok = 200 <= response.status < 300
    _record_attempt(delivery, ok=ok, error="" if ok else f"HTTP {response.status}")
    return ok


def _record_attempt(
    delivery: WebhookDelivery, *, ok: bool, error: str, final: bool = False
) -> None:
    """Store one attempt's outcome. A compare-and-set on the attempts it started from, so
    that a delivery sent twice (its worker outlived ``IN_FLIGHT_SECONDS``) is recorded, and
    given up, once: one warning per delivery given up, never one per try."""
    now = timezone.now()
    attempts = delivery.attempts + 1
    fields: dict[str, Any] = {"attempts": attempts, "last_error": error[:2000]}
    given_up = not ok and (final or attempts >= MAX_ATTEMPTS)
    if ok:
        fields.update(status=WebhookDelivery.Status.DELIVERED, delivered_at=now)
    elif given_up:
        fields.update(status=WebhookDelivery.Status.FAILED)
    else:
        base = settings.JOBCENTER_WEBHOOK_RETRY_SECONDS
        delay = min(BACKOFF_MAX_SECONDS, base * 2 ** (attempts - 1))
        fields.update(next_attempt_at=now + timedelta(seconds=delay))
        logger.info("webhook %s to %s: %s; retry in %.0fs", delivery.pk, delivery.url, error, delay)
    with atomic():
        recorded = WebhookDelivery.objects.filter(
            pk=delivery.pk, status=WebhookDelivery.Status.PENDING, attempts=delivery.attempts
        ).update(**fields)
        if recorded and given_up and delivery.job_id is not None:
            # In the transaction that locks the delivery row: deleting the job (which
            # cascades to the delivery) cannot slip in between and leave a dangling line.
            log_given_up(delivery.job_id, delivery.url, error, attempts, refused=final)
    if recorded and given_up:
        owner = f"job {delivery.job_id}" if delivery.job_id else f"batch {delivery.batch_id}"
        logger.warning(
            "webhook %s to %s for %s given up after %d attempt(s): %s",
            delivery.pk,
            delivery.url,
            owner,
            attempts,
            error,
        )


def given_up_message(url: str, error: str, attempts: int, *, refused: bool) -> str:
    if refused:
        return f"Webhook to {url} failed: {error}; not sent, and not retried."
    return f"Webhook to {url} failed: {error}; given up after {attempts} attempts."


def log_given_up(job_id: str, url: str, error: str, attempts: int, *, refused: bool) -> None:
    """The job's warning line for a webhook given up, written like every other job log line
    (services.log). Imported here, not at the top: jobs.services imports this module."""
    from jobs import services

    services.log(
        job_id, given_up_message(url, error[:500], attempts, refused=refused), level="warning"
    )


def retry_deliveries(ids: Iterable[Any]) -> int:
    """Put the given deliveries back in the outbox, due now; returns how many were requeued.

    For operators whose receiver failed and has been fixed: the worker's webhook thread
    picks a requeued delivery up within a second, like any due one. Which rows qualify:

    - **failed** ones start a new round: ``attempts`` goes back to 0, because
      ``_record_attempt`` gives up once ``attempts`` reaches ``MAX_ATTEMPTS``: kept, a
      delivery that used its eight tries would get one more and be given up at its first
      failure, so a receiver still warming up would lose it again. Like a job's restart,
      then: a fresh set of tries with backoff. ``last_error`` stays until the next try
      replaces it, so the reason it failed is still there to read.
    - **pending** ones waiting out a backoff are only brought forward: their ``attempts``
      are kept (like a job's "set pending", the round goes on as it is). A pending one due
      within ``IN_FLIGHT_SECONDS`` is left alone: it is either due anyway or held by a
      worker sending it now, and making it due again would send it twice at once.
    - **delivered** ones never: the receiver has them.

    The eligible rows are locked (where the backend can) and each UPDATE filters on the
    status it changes from (a compare-and-set, like the claim), so a delivery that a worker
    records meanwhile is not overwritten; the count is what changed, so callers can tell the
    operator how many were not eligible. A job's log says its delivery was requeued: the
    log is where its deliveries' giving up is written too.
    """
    keys = list(ids)
    now = timezone.now()
    status = WebhookDelivery.Status
    waiting = Q(
        status=status.PENDING, next_attempt_at__gt=now + timedelta(seconds=IN_FLIGHT_SECONDS)
    )
    from jobs.queue import save_logs  # jobs.queue imports jobs.services, which imports this

    requeued = 0
    logs: list[tuple[str, str, str]] = []
    with atomic():
        for start in range(0, len(keys), RETRY_CHUNK):
            eligible = lock_rows(
                WebhookDelivery.objects.filter(
                    Q(status=status.FAILED) | waiting, pk__in=keys[start : start + RETRY_CHUNK]
                )
            ).values_list("pk", "status", "job_id", "url")
            failed, pending = [], []
            for pk, was, job_id, url in eligible:
                (failed if was == status.FAILED else pending).append(pk)
                if job_id:
                    logs.append((job_id, "info", requeued_message(url)))
            requeued += WebhookDelivery.objects.filter(pk__in=failed, status=status.FAILED).update(
                status=status.PENDING, attempts=0, next_attempt_at=now
            )
            requeued += WebhookDelivery.objects.filter(waiting, pk__in=pending).update(
                next_attempt_at=now
            )
        save_logs(logs)
    return requeued


def requeued_message(url: str) -> str:
    return f"Webhook to {url} requeued by an operator (Retry now): sent again within seconds."
