"""The older service's webhook: ``{url, headers, include_markdown, include_metadata}`` on the
job, and its payload when the job ends, for clients that moved to ``/api/legacy/event-job/``
and for imported jobs that carry such a webhook.

Registered with jobs/webhooks.py as a ``PayloadFormat`` (legacy/apps.py) for jobs whose
webhook has the old options; the delivery itself (outbox, retries, signing when a secret is
set) is the Job Center's.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from jobs.models import Job
from jobs.states import JobStatus

LEGACY_KEYS = frozenset({"headers", "include_markdown", "include_metadata"})
SESSION_FIELDS = ("event", "session", "track", "day", "filename")
METADATA_FIELDS = (
    "event",
    "session",
    "track",
    "day",
    "starttime",
    "endtime",
    "speakers",
    "video_url",
    "attachments_url",
)


def is_legacy_webhook(webhook: Any) -> bool:
    return isinstance(webhook, dict) and bool(LEGACY_KEYS & set(webhook))


def legacy_job_payload(job: Job) -> dict[str, Any]:
    """The old callback body: ``success``, the session's identifying fields, and on success
    ``file_path`` plus ``markdown_content`` and ``metadata`` as the webhook asked; on failure
    ``error`` as a message. ``job_id``, ``batch_id`` and ``status`` are added for clients
    that want them (the old receivers ignore unknown fields)."""
    webhook = job.webhook if isinstance(job.webhook, dict) else {}
    parameters = job.parameters if isinstance(job.parameters, dict) else {}
    results = job.results if isinstance(job.results, dict) else {}
    success = job.status == JobStatus.COMPLETED
    ended = job.completed_at or timezone.now()
    payload: dict[str, Any] = {
        "event_id": job.job_id,
        "job_id": job.job_id,
        "batch_id": job.batch_id,
        "status": job.status,
        "timestamp": ended.isoformat(),
        "success": success,
    }
    payload.update({name: parameters.get(name) for name in SESSION_FIELDS})
    if success:
        payload["file_path"] = results.get("markdown_file")
        if webhook.get("include_markdown", True):
            payload["markdown_content"] = results.get("markdown_content")
        if webhook.get("include_metadata", True):
            metadata = {name: parameters.get(name) for name in METADATA_FIELDS}
            if job.started_at is not None:
                metadata["processing_time"] = int((ended - job.started_at).total_seconds() * 1000)
            payload["metadata"] = metadata
    else:
        error = job.error if isinstance(job.error, dict) else {}
        payload["error"] = str(error.get("message") or error.get("code") or job.status)
    return payload


def legacy_headers(webhook: Any, payload: dict[str, Any]) -> dict[str, str]:
    """The webhook's own request headers, added to the delivery's (never replacing its
    content type, signature or delivery id), and the event header, which for the old payload
    cannot be its ``event`` field: that is the conference's name there."""
    from jobs.webhooks import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER

    protected = {"content-type", "content-length", "host"}
    protected |= {name.lower() for name in (DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER)}
    headers = webhook.get("headers") if isinstance(webhook.get("headers"), dict) else {}
    result = {
        str(name): str(value)
        for name, value in headers.items()
        if name
        and str(name).lower() not in protected
        and not any(ch in f"{name}{value}" for ch in "\r\n")
    }
    result[EVENT_HEADER] = f"job.{payload.get('status', '')}"
    return result
