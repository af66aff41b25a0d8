"""What the compatibility routes change that the Job Center's own services do not cover: jobs
and batches created with the older service's webhook (headers, include_markdown,
include_metadata), placeholder owners for ``X-User-ID``, and deleting a whole batch (the
older service had DELETE /batches/{id}; the new API has no such route).

Everything else goes through ``jobs.services`` and ``batches.services`` unchanged.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import AbstractBaseUser

from batches import services as batch_services
from batches.models import Batch
from jobcenter.db import atomic, lock_rows
from jobcenter.errors import InvalidTransition, NotFound, ValidationError
from jobs import services
from jobs.models import Job
from jobs.services import JobSpec
from jobs.states import JobStatus
from jobs.validation import normalize_webhook
from processors.files import job_dir


@dataclass(frozen=True)
class LegacyJob:
    """One job as the older service took it: the spec, and its old-style webhook."""

    spec: JobSpec
    webhook: dict[str, Any] | None


def legacy_webhook(
    value: dict[str, Any] | None, *, field: str = "webhook"
) -> dict[str, Any] | None:
    """The old webhook as stored on the job: the URL checked like every webhook target, the
    old options kept (jobs/webhooks.py sends the old payload for such a webhook)."""
    if not value:
        return None
    target = normalize_webhook({"url": value.get("url")}, field=field)
    assert target is not None
    return {
        "url": target["url"],
        "secret": None,
        "headers": dict(value.get("headers") or {}),
        "include_markdown": bool(value.get("include_markdown", True)),
        "include_metadata": bool(value.get("include_metadata", True)),
    }


def owner_named(username: str) -> AbstractBaseUser:
    """The user an admin key acts for: the existing one, else created inactive without a
    usable password, as ``import_legacy`` creates the owners of imported history."""
    model = get_user_model()
    field = model.USERNAME_FIELD
    max_length = model._meta.get_field(field).max_length or 150
    if not username or len(username) > max_length:
        raise ValidationError(
            f"X-User-ID must be 1 to {max_length} characters.",
            details=[{"field": "X-User-ID", "message": "bad length"}],
        )
    user, _ = model._default_manager.get_or_create(
        **{field: username}, defaults={"is_active": False, "password": make_password(None)}
    )
    return user


def _set_webhooks(webhooks: dict[str, dict[str, Any] | None]) -> None:
    """The old-style webhooks, which the services' webhook validation refuses (extra keys),
    written after the jobs: one UPDATE per 500 jobs."""
    jobs = [Job(pk=job_id, webhook=hook) for job_id, hook in webhooks.items() if hook is not None]
    Job.objects.bulk_update(jobs, ["webhook"], batch_size=500)


def create_job(item: LegacyJob, *, batch_id: str | None, user: AbstractBaseUser) -> Job:
    """Enqueue one job and give it its old-style webhook, in one transaction."""
    with atomic():
        job = services.enqueue(
            item.spec.job_type,
            item.spec.parameters,
            job_name=item.spec.job_name,
            batch=batch_id,
            user=user,
        )
        _set_webhooks({job.pk: item.webhook})
    return job


def create_batch(
    batch_name: str, items: Sequence[LegacyJob], *, user: AbstractBaseUser
) -> batch_services.BatchCreation:
    """Create the batch and its jobs (all or nothing, bulk inserted by batches.services) and
    give each job its old-style webhook."""
    with atomic():
        created = batch_services.create_batch(batch_name, [item.spec for item in items], user=user)
        _set_webhooks(dict(zip(created.job_ids, (item.webhook for item in items), strict=True)))
    return created


def delete_batch(batch_id: str) -> int:
    """Delete a batch with its jobs, their log lines and files; refused while one of its jobs
    is processing (its worker still writes to it), like deleting a single job. Returns the
    number of jobs deleted."""
    with atomic():
        batch = lock_rows(Batch.objects.filter(pk=batch_id)).first()
        if batch is None:
            raise NotFound(f"Batch {batch_id!r} does not exist.", details={"batch_id": batch_id})
        jobs = Job.objects.filter(batch_id=batch_id)
        running = list(
            lock_rows(jobs.filter(status=JobStatus.PROCESSING)).values_list("pk", flat=True)[:10]
        )
        if running:
            raise InvalidTransition(
                f"Cannot delete batch {batch_id}: {len(running)} of its jobs are processing; "
                "cancel them first.",
                details={"batch_id": batch_id, "processing": running, "transition": "delete"},
            )
        job_ids = list(jobs.values_list("pk", flat=True))
        jobs.delete()
        Batch.objects.filter(pk=batch_id).delete()
    for job_id in job_ids:
        shutil.rmtree(job_dir(job_id), ignore_errors=True)
    return len(job_ids)


def fail_batches(batch_ids: Sequence[str], message: str) -> dict[str, int]:
    """Fail the unfinished jobs of each batch (batches.services.fail_batch); returns the jobs
    failed per batch."""
    return {
        batch_id: batch_services.fail_batch(batch_id, message=message) for batch_id in batch_ids
    }
