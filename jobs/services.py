"""Every change of a job's state, one function per transition.

Views, the admin, commands and the worker call these and nothing else to change jobs, so
that the state rules (jobs/states.py), the batch counters, the log lines and later the
webhooks live in one place. Each call is one transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, BinaryIO

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from batches.counters import apply_status_changes
from batches.models import Batch
from jobcenter import uploads
from jobcenter.db import atomic, lock_rows, notify_jobs_pending
from jobcenter.errors import (
    InvalidTransition,
    JobCenterError,
    KeyTaken,
    NotFound,
    ValidationError,
)
from jobcenter.ids import new_job_id
from jobs import selectors
from jobs.models import Job, JobLog, JobTypeSetting, Upload, default_progress
from jobs.states import FINISHED, TRANSITIONS, UNFINISHED, JobStatus
from jobs.validation import (
    check_priority,
    normalize_access_control,
    normalize_webhook,
    validate_parameters,
)
from jobs.webhooks import record_job_endings
from processors.registry import get_processor, limits

CHUNK = 1000


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def error_dict(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"code": code, "message": message, "details": details}


# --- creating jobs ------------------------------------------------------------------------


@dataclass(frozen=True)
class JobSpec:
    """One job to create, as enqueue and create_batch take it."""

    job_type: str
    parameters: dict[str, Any] | None = None
    job_name: str = ""
    priority: int = 0
    run_after: datetime | None = None
    unique_key: str | None = None
    max_attempts: int | None = None
    webhook: dict[str, Any] | None = None


def job_fields(spec: JobSpec, *, field_prefix: str = "") -> dict[str, Any]:
    """The validated per-job column values of a new job (raises ValidationError naming the
    field); the caller adds what jobs share: batch, owner, access control, timestamps."""
    processor, parameters = validate_parameters(
        spec.job_type, spec.parameters, field_prefix=field_prefix
    )
    return {
        "job_id": new_job_id(),
        "job_type": spec.job_type,
        "job_name": spec.job_name or "",
        "parameters": parameters,
        "priority": check_priority(spec.priority, field=f"{field_prefix}priority"),
        "run_after": spec.run_after,
        "unique_key": spec.unique_key or None,
        "max_attempts": spec.max_attempts or int(limits(processor)["max_attempts"] or 1),
        "webhook": normalize_webhook(spec.webhook, field=f"{field_prefix}webhook"),
    }


@dataclass(frozen=True)
class Enqueued:
    """What ``enqueue_job`` did: ``created`` is False when ``job`` is the unfinished job that
    already held the unique_key (returned as it is), so that a caller can tell a new job from
    a repeat (the API answers 201 for one, 200 for the other)."""

    job: Job
    created: bool


def enqueue(job_type: str, parameters: dict[str, Any] | None = None, **options: Any) -> Job:
    """``enqueue_job`` for the callers that only need the job (admin, legacy routes,
    ``manage.py submit``): the new one, or the unfinished one holding ``unique_key``."""
    return enqueue_job(job_type, parameters, **options).job


def enqueue_job(
    job_type: str,
    parameters: dict[str, Any] | None = None,
    *,
    job_name: str = "",
    batch: Batch | str | None = None,
    priority: int = 0,
    run_after: datetime | None = None,
    user: AbstractBaseUser | None = None,
    access_control: dict[str, Any] | None = None,
    webhook: dict[str, Any] | None = None,
    unique_key: str | None = None,
    max_attempts: int | None = None,
) -> Enqueued:
    """Validate and store one pending job; with ``unique_key``, return the unfinished job
    that already holds the key instead of creating a second one (the database's conditional
    unique constraint decides, so concurrent callers cannot both insert). Says which of the
    two happened, since only the constraint knows it."""
    batch_id = batch.pk if isinstance(batch, Batch) else batch
    if batch_id is not None and not Batch.objects.filter(pk=batch_id).exists():
        raise NotFound(f"Batch {batch_id!r} does not exist.", details={"batch_id": batch_id})
    spec = JobSpec(
        job_type=job_type,
        parameters=parameters,
        job_name=job_name,
        priority=priority,
        run_after=run_after,
        unique_key=unique_key,
        max_attempts=max_attempts,
        webhook=webhook,
    )
    access = normalize_access_control(access_control)
    for _ in range(3):
        now = timezone.now()
        job = Job(
            **job_fields(spec),
            batch_id=batch_id,
            user=user,
            access_control=access,
            created_at=now,
            updated_at=now,
        )
        try:
            with atomic():
                job.save(force_insert=True)
                if batch_id is not None:
                    apply_status_changes(batch_id, {JobStatus.PENDING: 1}, added=1, now=now)
                    _back_in_use([batch_id], now)
                JobLog.objects.create(job=job, timestamp=now, message=f"Created ({job_type}).")
                notify_jobs_pending()
            return Enqueued(job, created=True)
        except IntegrityError:
            if not unique_key:
                raise
            existing = selectors.unfinished_job_with_key(unique_key)
            if existing is not None:
                _check_key_owner(existing, user, "unique_key")
                return Enqueued(existing, created=False)
            # The holder finished between our insert and our look-up: try again.
    raise JobCenterError(f"Could not enqueue job with unique_key {unique_key!r}: keeps changing.")


def _check_key_owner(holder: Job, user: AbstractBaseUser | None, field: str) -> None:
    """A unique_key is answered with the job holding it only for that job's owner: for
    anyone else it is taken, and which job holds it is not theirs to learn. Without a user
    (``manage.py submit``, run by whoever runs the server) any holder is answered."""
    if user is not None and holder.user_id != user.pk:
        raise KeyTaken(
            "This unique_key is held by an unfinished job of another user; choose another key.",
            details=[{"field": field, "message": "held by an unfinished job of another user"}],
        )


# --- the transition engine ------------------------------------------------------------------


ARCHIVED = "archived with its batch."
BACK_IN_USE = "its archived batch is unarchived, so that the job runs."


class ChangeRecorder:
    """What a transaction that moves jobs between statuses must also write: the batch
    counters (one UPDATE per batch, whatever the number of jobs), a log line per job, a
    wake-up for idle workers when jobs became pending, the webhook outbox rows of jobs
    that ended, and the archiving of jobs that ended in an archived batch (archiving a
    batch archives the jobs that have ended; those still running, or pending and later
    cancelled, follow when they end). A job that goes back to the queue in an archived
    batch (a retry, a restart, a lost worker's job) brings its batch back instead: claims
    skip archived batches, so the job would wait forever. Used by every service that
    changes job statuses, here and in jobs/queue.py.
    """

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.deltas: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.logs: list[JobLog] = []
        self.ended: list[str] = []
        self.ended_in: dict[str, list[str]] = defaultdict(list)
        self.requeued_in: dict[str, list[str]] = defaultdict(list)
        self.requeued = False

    def moved(self, job_id: str, batch_id: str | None, old: str, new: str) -> None:
        if new in FINISHED:
            self.ended.append(job_id)
            if batch_id is not None:
                self.ended_in[batch_id].append(job_id)
        if new == JobStatus.PENDING:
            self.requeued = True
            if batch_id is not None:
                self.requeued_in[batch_id].append(job_id)
        if batch_id is not None and old != new:
            self.deltas[batch_id][old] -= 1
            self.deltas[batch_id][new] += 1

    def log(self, job_id: str, message: str, level: str = "info") -> None:
        self.logs.append(JobLog(job_id=job_id, timestamp=self.now, level=level, message=message))

    def save(self) -> None:
        archive: list[str] = []
        back: list[str] = []
        for batch_id, changes in self.deltas.items():
            archived = apply_status_changes(batch_id, changes, now=self.now)
            if archived and batch_id in self.ended_in:
                archive += self.ended_in[batch_id]
            if archived and batch_id in self.requeued_in:
                back.append(batch_id)
        for chunk in _chunks(archive):
            Job.objects.filter(pk__in=chunk).update(archived=True)
        if back:
            _back_in_use(back, self.now)
        # said in the change's own line: lines of one instant have no order
        notes = dict.fromkeys(archive, ARCHIVED)
        notes.update((pk, BACK_IN_USE) for batch_id in back for pk in self.requeued_in[batch_id])
        if notes:
            for line in self.logs:
                if line.job_id in notes:
                    line.message = f"{line.message.rstrip('.')}; {notes[line.job_id]}"
        JobLog.objects.bulk_create(self.logs, batch_size=CHUNK)
        if self.requeued:
            notify_jobs_pending()
        record_job_endings(self.ended)


def change_jobs(
    jobs: Q, name: str, message: str, *, level: str = "info", **fields: Any
) -> list[str]:
    """Apply transition ``name`` to every job matching ``jobs`` whose status allows it, in
    one transaction: the jobs' rows, their batches' counters and a log line per job.
    Returns the ids of the jobs that changed; ``message`` may use ``{old}`` (old status).
    A job going back to the queue is no longer archived, nor is its batch (the jobs of an
    archived batch are not claimed)."""
    transition = TRANSITIONS[name]
    now = timezone.now()
    changed: list[str] = []
    requeued = transition.target == JobStatus.PENDING
    if requeued:
        fields = {"archived": False, **fields}
    with atomic():
        rows = list(
            lock_rows(Job.objects.filter(jobs, status__in=transition.sources))
            .order_by()
            .values_list("pk", "status", "batch_id", "unique_key")
        )
        if transition.target in UNFINISHED:
            rows = _without_taken_keys(rows)
        by_status: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
        for pk, status, batch_id, _ in rows:
            by_status[status].append((pk, batch_id))
        recorder = ChangeRecorder(now)
        for old, items in by_status.items():
            for chunk in _chunks(items):
                ids = [pk for pk, _ in chunk]
                count = Job.objects.filter(pk__in=ids, status=old).update(
                    status=transition.target, updated_at=now, **fields
                )
                if count != len(ids):
                    # Only without row locks (MongoDB): keep the jobs this update moved.
                    moved = set(
                        Job.objects.filter(
                            pk__in=ids, status=transition.target, updated_at=now
                        ).values_list("pk", flat=True)
                    )
                    chunk = [(pk, batch_id) for pk, batch_id in chunk if pk in moved]
                text = message.format(old=old)
                for pk, batch_id in chunk:
                    changed.append(pk)
                    recorder.moved(pk, batch_id, old, transition.target)
                    recorder.log(pk, text, level)
        recorder.save()
    return changed


def _without_taken_keys(
    rows: list[tuple[str, str, str | None, str | None]],
) -> list[tuple[str, str, str | None, str | None]]:
    """Finished jobs going back to the queue must not take a unique_key that an unfinished
    job holds (the conditional unique constraint would refuse the whole statement): such
    jobs are left as they are, as is the second of two finished jobs sharing a key."""
    keys = [key for _, status, _, key in rows if key and status in FINISHED]
    if not keys:
        return rows
    taken = set(selectors.unfinished_keys(keys))
    kept = []
    for row in rows:
        key = row[3]
        if key and row[1] in FINISHED:
            if key in taken:
                continue
            taken.add(key)
        kept.append(row)
    return kept


def _change_job(job_id: str, name: str, message: str, *, level: str = "info", **fields: Any) -> Job:
    """One job through ``change_jobs``; a refused transition raises and changes nothing."""
    try:
        changed = change_jobs(Q(pk=job_id), name, message, level=level, **fields)
    except IntegrityError:  # a concurrent job took the key between our check and update
        raise key_taken(job_id, name) from None
    if not changed:
        status = selectors.job_status(job_id)
        if status is None:
            raise NotFound(f"Job {job_id!r} does not exist.", details={"job_id": job_id})
        if status in TRANSITIONS[name].sources:
            raise key_taken(job_id, name)
        raise refused(job_id, name, status)
    return selectors.get_job(job_id)


def key_taken(job_id: str, name: str) -> InvalidTransition:
    """Back to the queue is refused while another unfinished job holds the job's unique_key
    (the only constraint a transition can break)."""
    key = Job.objects.filter(pk=job_id).values_list("unique_key", flat=True).first()
    holder = selectors.unfinished_job_with_key(key) if key else None
    if holder is None:  # it was a race after all, and the other side has moved on
        return InvalidTransition(
            f"Job {job_id} changed while it was being changed; try again.",
            details={"job_id": job_id, "transition": name},
        )
    return InvalidTransition(
        f"Cannot {name.replace('_', ' ')} job {job_id}: unfinished job {holder.pk} holds its "
        f"unique_key {key!r}.",
        details={"job_id": job_id, "transition": name, "unique_key": key, "held_by": holder.pk},
    )


def refused(
    job_id: str, name: str, status: str, allowed: list[str] | None = None
) -> InvalidTransition:
    allowed = allowed or sorted(TRANSITIONS[name].sources)
    return InvalidTransition(
        f"Cannot {name.replace('_', ' ')} job {job_id}: it is {status} "
        f"(allowed from: {', '.join(allowed)}).",
        details={"job_id": job_id, "status": status, "transition": name, "allowed_from": allowed},
    )


def released_fields() -> dict[str, Any]:
    """Fields that tie a job to a worker, cleared when its attempt has ended in that
    worker's hands."""
    return {"worker_id": None, "lease_expires_at": None, "cancel_requested": False}


def operator_fields() -> dict[str, Any]:
    """What an operator's change (fail, cancel, set pending, restart) clears of that tie.
    The worker and its lease stay on the job: the worker may still be running the attempt.
    It learns at its next heartbeat, stops the attempt and then lets go
    (``queue.release_holds``); until then, or until the lease runs out, claims leave the
    job alone (``queue.claimable``), so that it never runs twice side by side."""
    return {"cancel_requested": False}


def reset_fields() -> dict[str, Any]:
    """Fields cleared when a job is run again from scratch."""
    return {
        **operator_fields(),
        "attempts": 0,
        "results": None,
        "error": None,
        "progress": default_progress(),
        "run_after": None,
        "started_at": None,
        "completed_at": None,
    }


def _back_in_use(batch_ids: Iterable[str], now: datetime) -> None:
    """Unarchive the batches a job was added to or sent back to the queue in: claims skip
    archived batches, so their pending jobs would wait forever."""
    Batch.objects.filter(pk__in=sorted(batch_ids), archived=True).update(
        archived=False, updated_at=now
    )


# --- uploads --------------------------------------------------------------------------------


def add_upload(stream: BinaryIO, filename: str, owner: AbstractBaseUser | None) -> Upload:
    """Store an uploaded input file and record whose it is (jobs may only name their
    submitter's own uploads: jobs.access.check_uploads)."""
    path = uploads.write_upload(stream, filename)
    return Upload.objects.create(
        id=path.parent.name,
        owner=owner if owner is not None and owner.pk is not None else None,
        filename=path.name,
        size=path.stat().st_size,
    )


# --- one function per transition ------------------------------------------------------------


def claim(job_id: str, worker_id: str, *, lease_seconds: float = 60.0) -> Job:
    """Take a pending job for ``worker_id``: a compare-and-set on the status, so of several
    workers claiming the same job exactly one succeeds (the others get InvalidTransition)."""
    lease = timezone.now() + timedelta(seconds=lease_seconds)
    return _change_job(
        job_id,
        "claim",
        f"Claimed by worker {worker_id}.",
        worker_id=worker_id,
        lease_expires_at=lease,
        cancel_requested=False,
    )


def start(job_id: str) -> Job:
    """An attempt begins: counts it and stamps started_at. The previous attempt's error is
    cleared: a running retry is not failing, and that error stays in the job's log."""
    return _change_job(
        job_id,
        "start",
        "Attempt started.",
        attempts=F("attempts") + 1,
        started_at=timezone.now(),
        progress=default_progress(),
        error=None,
    )


def report_progress(job_id: str, percent: float, step: str = "", message: str = "") -> bool:
    """Store progress of a running job (no log line: progress is not a state change).
    Returns False when the job is no longer processing."""
    progress = {"step": step, "percent": max(0.0, min(100.0, float(percent))), "message": message}
    return bool(
        Job.objects.filter(pk=job_id, status=JobStatus.PROCESSING).update(
            progress=progress, updated_at=timezone.now()
        )
    )


def log(job_id: str, message: str, level: str = "info") -> None:
    JobLog.objects.create(job_id=job_id, level=level, message=message)


def complete(job_id: str, results: dict[str, Any] | None = None) -> Job:
    return _change_job(
        job_id,
        "complete",
        "Completed.",
        results=results or {},
        error=None,
        progress={"step": "done", "percent": 100.0, "message": ""},
        completed_at=timezone.now(),
        **released_fields(),
    )


def fail(job_id: str, code: str, message: str, details: Any = None) -> Job:
    """End a pending or processing job as failed with ``error = {code, message, details}``."""
    return _change_job(
        job_id,
        "fail",
        f"Failed: {code}: {message}",
        level="error",
        error=error_dict(code, message, details),
        completed_at=timezone.now(),
        **operator_fields(),
    )


def retry(
    job_id: str, code: str, message: str, *, delay_seconds: float, details: Any = None
) -> Job:
    """A failed attempt with attempts left: back to pending, not before ``delay_seconds``."""
    return _change_job(
        job_id,
        "retry",
        f"Attempt failed ({code}: {message}); retrying in {delay_seconds:.1f}s.",
        level="warning",
        error=error_dict(code, message, details),
        run_after=timezone.now() + timedelta(seconds=delay_seconds),
        **released_fields(),
    )


def release(job_id: str) -> Job:
    """The worker hands a running job back (shutdown) without spending an attempt; what
    it had shown of its progress goes with the attempt."""
    return _change_job(
        job_id,
        "release",
        "Released by its worker; back to pending.",
        attempts=Greatest(F("attempts") - 1, 0),
        progress=default_progress(),
        **released_fields(),
    )


def cancel(job_id: str) -> Job:
    """Cancel a pending job at once; for a processing job, ask its worker to stop it."""
    status = selectors.job_status(job_id)
    if status == JobStatus.PROCESSING:
        job = selectors.get_job(job_id)
        if job.cancel_requested:  # asked before: nothing more to do, nor to log
            return job
        return _change_job(job_id, "request_cancel", "Cancel requested.", cancel_requested=True)
    if status is not None and status != JobStatus.PENDING:
        # two transitions behind one action: name both sources, not only "cancel"'s
        raise refused(job_id, "cancel", status, [JobStatus.PENDING, JobStatus.PROCESSING])
    return _change_job(
        job_id, "cancel", "Cancelled.", completed_at=timezone.now(), **operator_fields()
    )


def confirm_cancel(job_id: str) -> Job:
    """The worker stopped a job whose cancel was requested."""
    return _change_job(
        job_id,
        "confirm_cancel",
        "Cancelled while running.",
        completed_at=timezone.now(),
        **released_fields(),
    )


def restart(job_id: str) -> Job:
    """Run a finished job again from scratch (attempts, results, error and progress reset)."""
    return _change_job(job_id, "restart", "Restarted (was {old}).", **reset_fields())


def set_pending(job_id: str) -> Job:
    """Put a job back in the queue as it is, e.g. one stuck in processing; a job that has
    used all its attempts gets one more (restart starts again from nothing)."""
    return _change_job(job_id, "set_pending", "Set to pending (was {old}).", **requeue_fields())


def requeue_fields() -> dict[str, Any]:
    """Fields of set pending (of a job or a whole batch): attempts are kept, and raised to
    allow one more when they are used up, so a job is never on attempt 2 of 1."""
    return {
        "error": None,
        "completed_at": None,
        "run_after": None,
        "max_attempts": Greatest(F("max_attempts"), F("attempts") + 1),
        **operator_fields(),
    }


def set_archived(jobs: Q, archived: bool) -> list[str]:
    """Archive (only finished jobs) or unarchive the matching jobs; returns the changed ids."""
    now = timezone.now()
    eligible = Job.objects.filter(jobs, archived=not archived)
    if archived:
        eligible = eligible.filter(status__in=FINISHED)
    with atomic():
        ids = list(lock_rows(eligible).values_list("pk", flat=True))
        for chunk in _chunks(ids):
            Job.objects.filter(pk__in=chunk).update(archived=archived, updated_at=now)
        text = "Archived." if archived else "Unarchived."
        JobLog.objects.bulk_create(
            [JobLog(job_id=pk, timestamp=now, message=text) for pk in ids], batch_size=CHUNK
        )
    return ids


def archive(job_id: str) -> Job:
    job = selectors.get_job(job_id)
    if job.status not in FINISHED:
        raise InvalidTransition(
            f"Cannot archive job {job_id}: it is {job.status}; only finished jobs are archived.",
            details={"job_id": job_id, "status": job.status, "transition": "archive"},
        )
    set_archived(Q(pk=job_id), True)
    return selectors.get_job(job_id)


def unarchive(job_id: str) -> Job:
    selectors.get_job(job_id)
    set_archived(Q(pk=job_id), False)
    return selectors.get_job(job_id)


def delete_job(job_id: str) -> None:
    """Delete a job that is not running, with its log lines, its batch's counters adjusted
    and its folder of files removed. A processing job must be cancelled first (its worker
    still writes to it)."""
    import shutil

    from processors.files import job_dir

    with atomic():
        row = lock_rows(Job.objects.filter(pk=job_id)).values_list("status", "batch_id").first()
        if row is None:
            raise NotFound(f"Job {job_id!r} does not exist.", details={"job_id": job_id})
        status, batch_id = row
        if status == JobStatus.PROCESSING:
            raise InvalidTransition(
                f"Cannot delete job {job_id}: it is processing; cancel it first.",
                details={"job_id": job_id, "status": status, "transition": "delete"},
            )
        deleted = Job.objects.filter(pk=job_id, status=status).delete()[1].get(Job._meta.label, 0)
        if not deleted:  # changed under us (MongoDB has no row locks): report it as a conflict
            raise InvalidTransition(
                f"Job {job_id} changed while it was being deleted; try again.",
                details={"job_id": job_id, "transition": "delete"},
            )
        if batch_id is not None:
            apply_status_changes(batch_id, {status: -1}, added=-1)
    shutil.rmtree(job_dir(job_id), ignore_errors=True)


# --- per job type switches -----------------------------------------------------------------


MAX_TYPE_CONCURRENCY = 100_000


def set_type_concurrency(job_type: str, concurrency: int | None) -> JobTypeSetting:
    """Most jobs of a type running at once across all workers, set by an operator over the
    processor's own limit (None: the processor's limit again). Workers read it at each
    claim."""
    get_processor(job_type)
    if concurrency is not None and not 1 <= concurrency <= MAX_TYPE_CONCURRENCY:
        raise ValidationError(
            f"The concurrency must be between 1 and {MAX_TYPE_CONCURRENCY} (or empty for the "
            "job type's default).",
            details=[{"field": "concurrency", "message": f"between 1 and {MAX_TYPE_CONCURRENCY}"}],
        )
    now = timezone.now()
    with atomic():
        setting, created = JobTypeSetting.objects.get_or_create(
            job_type=job_type, defaults={"concurrency": concurrency, "updated_at": now}
        )
        if not created and setting.concurrency != concurrency:
            JobTypeSetting.objects.filter(pk=job_type).update(
                concurrency=concurrency, updated_at=now
            )
            setting.concurrency, setting.updated_at = concurrency, now
        notify_jobs_pending()  # a higher limit lets waiting jobs start
    return setting


def set_type_paused(job_type: str, paused: bool) -> JobTypeSetting:
    """Pause or resume a job type for every worker: the claim query skips paused types
    (jobs/queue.py), so their pending jobs wait; running ones finish normally."""
    get_processor(job_type)  # UnknownJobType for a type nobody registered
    now = timezone.now()
    with atomic():
        setting, created = JobTypeSetting.objects.get_or_create(
            job_type=job_type, defaults={"paused": paused, "updated_at": now}
        )
        if not created and setting.paused != paused:
            JobTypeSetting.objects.filter(pk=job_type).update(paused=paused, updated_at=now)
            setting.paused, setting.updated_at = paused, now
        if not paused:
            notify_jobs_pending()
    return setting
