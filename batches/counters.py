"""Batch counters and status, kept exact under any number of concurrent workers.

Job services call ``apply_status_changes`` in the same transaction as the jobs' own update.
The counters move by database-side arithmetic (``SET pending_jobs = pending_jobs - 1``),
never read-modify-write in Python. That UPDATE also takes the batch row's write lock
(PostgreSQL row lock, SQLite's database write lock, a MongoDB write conflict for any
concurrent transaction), so the counters read back right after it are exact until commit:
the status and ``completed_at`` derived from them in Python are written in the same
transaction, and only when they change.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db.models import F
from django.utils import timezone

from batches.models import Batch
from jobs.states import JobStatus
from jobs.webhooks import record_batch_ending

COUNTER_FIELDS: dict[str, str] = {
    JobStatus.PENDING: "pending_jobs",
    JobStatus.PROCESSING: "processing_jobs",
    JobStatus.COMPLETED: "completed_jobs",
    JobStatus.FAILED: "failed_jobs",
    JobStatus.CANCELLED: "cancelled_jobs",
}


def batch_status(counts: Mapping[str, int]) -> str:
    """A batch is processing while any job runs or while some have ended and others wait;
    pending when nothing has started; once every job has ended it is completed if any job
    completed, else failed if any failed, else cancelled. An empty batch is pending."""
    pending = counts.get(JobStatus.PENDING, 0)
    processing = counts.get(JobStatus.PROCESSING, 0)
    completed = counts.get(JobStatus.COMPLETED, 0)
    failed = counts.get(JobStatus.FAILED, 0)
    cancelled = counts.get(JobStatus.CANCELLED, 0)
    if processing or (pending and completed + failed + cancelled):
        return JobStatus.PROCESSING
    if pending:
        return JobStatus.PENDING
    if completed:
        return JobStatus.COMPLETED
    if failed:
        return JobStatus.FAILED
    if cancelled:
        return JobStatus.CANCELLED
    return JobStatus.PENDING


def _derive_status(batch_id: str, now: datetime) -> bool:
    """Write status and completed_at from the (locked) counters, when they change. Returns
    whether the batch is archived (read in the same query, for the jobs ending in it)."""
    row = (
        Batch.objects.filter(pk=batch_id)
        .values("status", "completed_at", "total_jobs", "archived", *COUNTER_FIELDS.values())
        .first()
    )
    if row is None:
        return False
    counts = {status: row[field] for status, field in COUNTER_FIELDS.items()}
    status = batch_status(counts)
    ended = row["total_jobs"] > 0 and not (
        counts[JobStatus.PENDING] or counts[JobStatus.PROCESSING]
    )
    completed_at = (row["completed_at"] or now) if ended else None
    if status != row["status"] or completed_at != row["completed_at"]:
        Batch.objects.filter(pk=batch_id).update(status=status, completed_at=completed_at)
        if ended and row["completed_at"] is None:
            record_batch_ending(batch_id)
    return bool(row["archived"])


def apply_status_changes(
    batch_id: str, changes: Mapping[str, int], *, added: int = 0, now: datetime | None = None
) -> bool:
    """Move counts between statuses: ``changes`` maps a status to the change in its number of
    jobs (e.g. ``{"pending": -1, "processing": +1}``); ``added`` changes ``total_jobs``.
    Call inside the transaction that changes the jobs. Returns whether the batch is archived,
    as read under the batch row's lock (so no archiving of the batch can slip in between)."""
    now = now or timezone.now()
    updates: dict[str, Any] = {"updated_at": now}
    for status, delta in changes.items():
        if delta:
            field = COUNTER_FIELDS[status]
            updates[field] = F(field) + delta
    if added:
        updates["total_jobs"] = F("total_jobs") + added
    Batch.objects.filter(pk=batch_id).update(**updates)
    return _derive_status(batch_id, now)


def set_counts(batch_id: str, counts: Mapping[str, int], *, now: datetime | None = None) -> None:
    """Write absolute counters (a recount); call inside a transaction."""
    now = now or timezone.now()
    updates: dict[str, Any] = {
        field: counts.get(status, 0) for status, field in COUNTER_FIELDS.items()
    }
    updates.update(total_jobs=sum(counts.get(status, 0) for status in COUNTER_FIELDS))
    Batch.objects.filter(pk=batch_id).update(updated_at=now, **updates)
    _derive_status(batch_id, now)
