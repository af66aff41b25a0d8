"""Read queries on batches, shared by the API, the admin and the commands."""

from __future__ import annotations

from django.db.models import QuerySet

from batches.counters import COUNTER_FIELDS
from batches.models import Batch
from jobcenter.errors import NotFound
from jobs.models import Job
from jobs.selectors import status_counts


def get_batch(batch_id: str) -> Batch:
    batch = Batch.objects.filter(pk=batch_id).first()
    if batch is None:
        raise NotFound(f"Batch {batch_id!r} does not exist.", details={"batch_id": batch_id})
    return batch


def open_batch_named(batch_name: str) -> Batch | None:
    """The newest batch of that name that is not archived, if any."""
    return (
        Batch.objects.filter(batch_name=batch_name, archived=False).order_by("-created_at").first()
    )


def recounted(batch_id: str) -> dict[str, int]:
    """The batch's counters as the jobs say they should be."""
    counts = status_counts(Job.objects.filter(batch_id=batch_id))
    return {status: counts.get(status, 0) for status in COUNTER_FIELDS}


def stored_counts(batch: Batch) -> dict[str, int]:
    return {status: getattr(batch, field) for status, field in COUNTER_FIELDS.items()}


def batches() -> QuerySet[Batch]:
    return Batch.objects.all()
