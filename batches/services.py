"""Every change of a batch: creation (bulk), the batch actions, and counter repair.

Batch actions move their jobs through the job services' transition engine
(``jobs.services.change_jobs``), so the same state rules, counters and log lines apply as
for single jobs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError
from django.db.models import Q
from django.utils import timezone

from batches import selectors
from batches.counters import COUNTER_FIELDS, batch_status, set_counts
from batches.models import Batch
from jobcenter.bulk import bulk_insert
from jobcenter.db import atomic, notify_jobs_pending
from jobcenter.errors import DuplicateUniqueKey, JobCenterError, ValidationError
from jobcenter.ids import uuid7
from jobs.models import Job, JobLog
from jobs.selectors import unfinished_keys
from jobs.services import (
    JobSpec,
    change_jobs,
    error_dict,
    job_fields,
    operator_fields,
    requeue_fields,
    reset_fields,
    set_archived,
)
from jobs.states import JobStatus
from jobs.validation import normalize_access_control, normalize_webhook

MAX_ERRORS_REPORTED = 100


@dataclass
class BatchCreation:
    """The new batch, and per submitted job (in order) the id of its job; ``reused`` lists
    the positions whose unique_key matched an unfinished job that was returned instead."""

    batch: Batch
    job_ids: list[str]
    reused: list[int] = field(default_factory=list)


def _as_spec(item: JobSpec | Mapping[str, Any], position: int) -> JobSpec:
    if isinstance(item, JobSpec):
        return item
    if not isinstance(item, Mapping) or not isinstance(item.get("job_type"), str):
        raise ValidationError(
            f"Job {position} needs a job_type.",
            details=[{"field": f"jobs[{position}].job_type", "message": "field required"}],
        )
    known = set(JobSpec.__dataclass_fields__)
    unknown = sorted(set(item) - known)
    if unknown:
        raise ValidationError(
            f"Job {position} has unknown fields: {', '.join(unknown)}.",
            details=[
                {"field": f"jobs[{position}].{name}", "message": "unknown field"}
                for name in unknown
            ],
        )
    return JobSpec(**item)


def _check_repeated_keys(specs: Sequence[tuple[int, JobSpec]]) -> None:
    """Refuse a submission that gives one unique_key to several of its jobs. Reusing the
    first of them would drop the others' parameters without a word (and a batch would hold
    fewer jobs than were sent); the caller has to say which one is meant."""
    positions: dict[str, list[int]] = defaultdict(list)
    for position, spec in specs:
        if spec.unique_key:
            positions[spec.unique_key].append(position)
    repeated = {key: where for key, where in positions.items() if len(where) > 1}
    if not repeated:
        return
    described = [
        f"{key!r} at {', '.join(f'jobs[{p}]' for p in where)}"
        for key, where in list(repeated.items())[:5]
    ]
    more = f" and {len(repeated) - 5} more" if len(repeated) > 5 else ""
    details = [
        {
            "field": f"jobs[{position}].unique_key",
            "message": f"unique_key {key!r} is also given to jobs[{where[0]}]",
        }
        for key, where in repeated.items()
        for position in where[1:]
    ]
    raise DuplicateUniqueKey(
        f"A unique_key may name only one job of a batch; repeated: {'; '.join(described)}{more}. "
        "Nothing was created.",
        details=details[:MAX_ERRORS_REPORTED],
    )


def create_batch(
    batch_name: str,
    jobs: Iterable[JobSpec | Mapping[str, Any]],
    *,
    user: AbstractBaseUser | None = None,
    access_control: dict[str, Any] | None = None,
    webhook: dict[str, Any] | None = None,
    is_active: bool = True,
) -> BatchCreation:
    """Create a batch and all its jobs in one transaction, bulk inserted.

    All or nothing: every job is validated first, and one invalid job rejects the call with
    a ValidationError whose details name each bad field as ``jobs[i].…``; a unique_key given
    to two of the jobs rejects it with DuplicateUniqueKey.
    """
    items = list(jobs)
    if not items:
        raise ValidationError(
            "A batch needs at least one job.", details=[{"field": "jobs", "message": "empty"}]
        )
    if len(items) > settings.JOBCENTER_MAX_BATCH_SIZE:
        raise ValidationError(
            f"A batch holds at most {settings.JOBCENTER_MAX_BATCH_SIZE} jobs; got {len(items)}.",
            details=[{"field": "jobs", "message": "too many jobs"}],
        )
    access = normalize_access_control(access_control)
    batch_webhook = normalize_webhook(webhook)
    errors: list[dict[str, Any]] = []
    numbered: list[tuple[int, JobSpec]] = []
    for position, item in enumerate(items):
        try:
            numbered.append((position, _as_spec(item, position)))
        except ValidationError as exc:
            errors.extend(exc.details)
    _check_repeated_keys(numbered)
    for attempt in range(3):
        try:
            return _insert_batch(
                batch_name, numbered, errors, user, access, batch_webhook, is_active
            )
        except IntegrityError:
            # A concurrent enqueue took one of our unique keys between look-up and insert.
            if attempt == 2:
                raise
    raise JobCenterError("unreachable")


def _insert_batch(
    batch_name: str,
    numbered: list[tuple[int, JobSpec]],
    errors: list[dict[str, Any]],
    user: AbstractBaseUser | None,
    access: dict[str, Any],
    webhook: dict[str, Any] | None,
    is_active: bool,
) -> BatchCreation:
    """``numbered``: the jobs that are specs at all, with their positions in the submission
    (errors name those, after jobs that were not)."""
    now = timezone.now()
    batch = Batch(
        batch_name=batch_name or "",
        user=user,
        access_control=access,
        webhook=webhook,
        is_active=is_active,
        created_at=now,
        updated_at=now,
    )
    keys = [spec.unique_key for _, spec in numbered if spec.unique_key]
    held = unfinished_keys(keys) if keys else {}
    rows: list[dict[str, Any]] = []
    job_ids: list[str] = []
    reused: list[int] = []
    for position, spec in numbered:
        try:
            row = job_fields(spec, field_prefix=f"jobs[{position}].")
        except ValidationError as exc:
            errors.extend(exc.details)
            continue
        key = row["unique_key"]
        if key in held:
            holder, owner = held[key]
            if user is not None and owner != user.pk:  # as services._check_key_owner
                errors.append(
                    {
                        "field": f"jobs[{position}].unique_key",
                        "message": "held by an unfinished job of another user",
                    }
                )
                continue
            reused.append(position)
            job_ids.append(holder)
            continue
        rows.append(row)
        job_ids.append(row["job_id"])
    if errors:
        raise ValidationError(
            f"{len(errors)} problem(s) in the submitted jobs; nothing was created. "
            f"First: {errors[0]['field']}: {errors[0]['message']}",
            details=errors[:MAX_ERRORS_REPORTED],
        )
    batch.total_jobs = batch.pending_jobs = len(rows)
    shared = {
        "batch_id": batch.pk,
        "user_id": user.pk if user is not None else None,
        "access_control": access,
        "created_at": now,
        "updated_at": now,
    }
    with atomic():
        batch.save(force_insert=True)
        bulk_insert(Job, rows, shared)
        bulk_insert(
            JobLog,
            [{"id": uuid7(), "job_id": row["job_id"]} for row in rows],
            {
                "timestamp": now,
                "level": JobLog.Level.INFO,
                "message": f"Created in batch {batch.pk}.",
            },
        )
        notify_jobs_pending()
    return BatchCreation(batch=batch, job_ids=job_ids, reused=reused)


def _jobs_of(batch_id: str) -> Q:
    selectors.get_batch(batch_id)  # NotFound for a missing batch
    return Q(batch_id=batch_id)


def restart_batch(batch_id: str, *, include_completed: bool = False) -> int:
    """Restart the batch's failed and cancelled jobs (and completed ones if asked)."""
    statuses = [JobStatus.FAILED, JobStatus.CANCELLED]
    if include_completed:
        statuses.append(JobStatus.COMPLETED)
    jobs = _jobs_of(batch_id) & Q(status__in=statuses)
    return len(
        change_jobs(jobs, "restart", "Restarted with its batch (was {old}).", **reset_fields())
    )


def fail_batch(batch_id: str, *, message: str = "Failed by an operator with its batch.") -> int:
    """Fail every unfinished job of the batch."""
    return len(
        change_jobs(
            _jobs_of(batch_id),
            "fail",
            f"Failed: FAILED_BY_OPERATOR: {message}",
            level="error",
            error=error_dict("FAILED_BY_OPERATOR", message),
            completed_at=timezone.now(),
            **operator_fields(),
        )
    )


def set_pending_batch(batch_id: str) -> int:
    """Put the batch's processing, failed and cancelled jobs back in the queue."""
    return len(
        change_jobs(
            _jobs_of(batch_id),
            "set_pending",
            "Set to pending with its batch (was {old}).",
            **requeue_fields(),
        )
    )


def cancel_batch(batch_id: str) -> int:
    """Cancel the batch's pending jobs and ask workers to stop its running ones."""
    jobs = _jobs_of(batch_id)
    cancelled = change_jobs(
        jobs,
        "cancel",
        "Cancelled with its batch.",
        completed_at=timezone.now(),
        **operator_fields(),
    )
    requested = change_jobs(
        jobs & Q(cancel_requested=False),
        "request_cancel",
        "Cancel requested with its batch.",
        cancel_requested=True,
    )
    return len(cancelled) + len(requested)


def set_batch_archived(batch_id: str, archived: bool) -> int:
    """Archive (or unarchive) the batch and its finished jobs. Jobs of an archived batch
    are not claimed. Returns how many jobs changed."""
    jobs = _jobs_of(batch_id)
    with atomic():
        Batch.objects.filter(pk=batch_id).update(archived=archived, updated_at=timezone.now())
        return len(set_archived(jobs, archived))


def archive_batch(batch_id: str) -> int:
    return set_batch_archived(batch_id, True)


def unarchive_batch(batch_id: str) -> int:
    return set_batch_archived(batch_id, False)


def set_active(batch_id: str, active: bool) -> Batch:
    selectors.get_batch(batch_id)
    with atomic():
        Batch.objects.filter(pk=batch_id).update(is_active=active, updated_at=timezone.now())
        if active:
            notify_jobs_pending()
    return selectors.get_batch(batch_id)


def toggle_active(batch_id: str) -> Batch:
    """Flip is_active: an inactive batch's jobs stay pending and are not claimed."""
    return set_active(batch_id, not selectors.get_batch(batch_id).is_active)


def recount_batch(batch_id: str, *, dry_run: bool = False) -> dict[str, tuple[Any, Any]]:
    """Repair the counters, status and completed_at from the jobs; returns
    ``{field: (stored, actual)}`` for each that was wrong."""
    with atomic():
        batch = selectors.get_batch(batch_id)
        actual = selectors.recounted(batch_id)
        stored = selectors.stored_counts(batch)
        wrong = {
            COUNTER_FIELDS[status]: (stored[status], actual[status])
            for status in COUNTER_FIELDS
            if stored[status] != actual[status]
        }
        if batch.total_jobs != sum(actual.values()):
            wrong["total_jobs"] = (batch.total_jobs, sum(actual.values()))
        if batch.status != batch_status(actual):
            wrong["status"] = (batch.status, batch_status(actual))
        ended = sum(actual.values()) > 0 and not (
            actual[JobStatus.PENDING] or actual[JobStatus.PROCESSING]
        )
        if (batch.completed_at is not None) != ended:
            wrong["completed_at"] = (batch.completed_at, "set" if ended else None)
        if wrong and not dry_run:
            set_counts(batch_id, actual)
    return wrong
