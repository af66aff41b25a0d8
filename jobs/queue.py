"""The queue's services: what workers do to jobs and to their own rows.

The worker never writes to the database itself; it calls these. They differ from the
per-transition functions in jobs/services.py in one way: each call moves many jobs in one
transaction (claim several, finish several), because a worker draining thousands of short
jobs cannot pay a commit per state change. Every change is still a compare-and-set on the
job's status (and, when finishing, on the worker that holds it), with batch counters and log
lines in the same transaction.
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import reduce
from typing import Any, Literal

from django.db import connections
from django.db.models import (
    Case,
    Count,
    DateTimeField,
    F,
    JSONField,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Greatest
from django.utils import timezone

from jobcenter.db import atomic, lock_rows
from jobs.models import Job, JobLog, JobTypeSetting, Worker, default_progress
from jobs.selectors import due_pending_jobs, paused_types
from jobs.services import ChangeRecorder, error_dict, released_fields
from jobs.states import JobStatus
from processors.registry import get_registry, limits

logger = logging.getLogger("jobcenter.worker")

PENDING, PROCESSING = JobStatus.PENDING, JobStatus.PROCESSING


@dataclass(frozen=True)
class ClaimedJob:
    """What a worker needs to run a job it now holds."""

    job_id: str
    job_type: str
    parameters: dict[str, Any]
    attempt: int
    max_attempts: int
    batch_id: str | None


@dataclass(frozen=True)
class Start:
    """A claimed job handed to a child process, as the worker reports it to
    ``start_jobs``: ``at`` is when the dispatcher handed it over, not when the database
    thread got round to writing it."""

    job_id: str
    attempt: int
    at: datetime


OutcomeKind = Literal["completed", "failed", "retry", "cancelled", "released"]


@dataclass(frozen=True)
class Outcome:
    """How an attempt ended, as the worker reports it to ``finish_jobs``."""

    job_id: str
    kind: OutcomeKind
    results: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    retry_delay: float = 0.0
    attempt: int = field(kw_only=True)
    """The attempt that ended (``ClaimedJob.attempt``): an outcome counts only while the job
    is still in that attempt, not after it was set back to pending and claimed again."""
    reason: str = field(default="", kw_only=True)
    """Why a job was released, for its log line ("not started: its batch is paused")."""


# --- claiming -------------------------------------------------------------------------------


def type_limits(job_types: Iterable[str]) -> dict[str, int]:
    """The cross-worker concurrency limit of each type that has one (settings override the
    processor's own; JobTypeSetting.concurrency, set by operators, overrides both)."""
    registry = get_registry().processors
    result: dict[str, int] = {}
    for job_type in job_types:
        processor = registry.get(job_type)
        limit = limits(processor)["concurrency"] if processor else None
        if limit:
            result[job_type] = int(limit)
    overrides = JobTypeSetting.objects.filter(concurrency__isnull=False)
    for job_type, limit in overrides.values_list("job_type", "concurrency"):
        result[job_type] = limit
    return result


def claimable(
    now: datetime, job_types: Sequence[str] | None = None, exclude_types: Sequence[str] = ()
) -> QuerySet[Job]:
    """Pending jobs a worker may take now: due and not held by an operator
    (``selectors.due_pending_jobs``: batch active and not archived, type not paused), not
    held by a worker that may still be running an earlier attempt
    (``services.operator_fields``) unless that lease ran out, and of a type the worker
    serves. Ordered by priority, then age (index job_claim_order)."""
    jobs = due_pending_jobs(now).filter(Q(worker_id__isnull=True) | Q(lease_expires_at__lt=now))
    if job_types:
        jobs = jobs.filter(job_type__in=list(job_types))
    if exclude_types:
        jobs = jobs.exclude(job_type__in=sorted(set(exclude_types)))
    return jobs.order_by("-priority", "created_at")


def claim_jobs(
    worker_id: str,
    *,
    limit: int,
    lease_seconds: float,
    job_types: Sequence[str] | None = None,
    exclude_types: Sequence[str] = (),
    exclude_ids: Sequence[str] = (),
    skip_locked: bool | None = None,
) -> list[ClaimedJob]:
    """Claim up to ``limit`` jobs for ``worker_id`` in one transaction.

    Candidates are read in claim order, per-type limits applied, and the chosen jobs moved
    to processing with a compare-and-set ``UPDATE … WHERE status = 'pending'``; what the
    update did not get (another worker was faster) is simply not ours. On PostgreSQL the
    candidates are read ``FOR UPDATE SKIP LOCKED`` so concurrent workers take different jobs
    instead of queueing on the same rows (``skip_locked=False`` forces the portable path).
    The attempt is counted here, and the error of the attempt before it is cleared, so a
    retry that runs does not read as broken (that error stays in the job's log, in the
    retry's line). ``started_at`` is cleared: a claimed job may wait in the worker's
    prefetch before a child takes it, and ``start_jobs`` stamps when one did. A job whose
    worker dies before that gets its attempt back (``reap_expired_leases``).
    ``exclude_ids``: the jobs the worker still runs or holds; one of them set back to pending
    waits until its current attempt has stopped instead of running twice side by side.
    """
    if limit <= 0:
        return []
    connection = connections[Job.objects.db]
    if skip_locked is None:
        skip_locked = connection.features.has_select_for_update_skip_locked
    now = timezone.now()
    lease = now + timedelta(seconds=lease_seconds)
    with atomic():
        candidates = claimable(now, job_types, [*exclude_types, *_types_at_limit()])
        if exclude_ids:
            candidates = candidates.exclude(pk__in=list(exclude_ids))
        if skip_locked:
            candidates = candidates.select_for_update(skip_locked=True, of=("self",))
        rows = list(candidates.values_list("pk", "job_type")[: limit * 2])
        if not rows:
            return []
        chosen = _within_type_limits(rows, limit)
        if not chosen:
            return []
        Job.objects.filter(pk__in=chosen, status=PENDING).update(
            status=PROCESSING,
            worker_id=worker_id,
            lease_expires_at=lease,
            cancel_requested=False,
            attempts=F("attempts") + 1,
            started_at=None,
            progress=default_progress(),
            error=None,
            updated_at=now,
        )
        # The compare-and-set may have lost some jobs to another worker: keep what is ours.
        got = list(
            Job.objects.filter(
                pk__in=chosen, status=PROCESSING, worker_id=worker_id, updated_at=now
            ).values_list("pk", "job_type", "parameters", "attempts", "max_attempts", "batch_id")
        )
        changes = ChangeRecorder(now)
        claimed = []
        for pk, job_type, parameters, attempts, max_attempts, batch_id in got:
            changes.moved(pk, batch_id, PENDING, PROCESSING)
            changes.log(pk, f"Claimed by worker {worker_id} (attempt {attempts}/{max_attempts}).")
            claimed.append(
                ClaimedJob(pk, job_type, parameters or {}, attempts, max_attempts, batch_id)
            )
        changes.save()
    order = {pk: index for index, pk in enumerate(chosen)}
    claimed.sort(key=lambda job: order[job.job_id])
    return claimed


def _running(job_types: Iterable[str]) -> dict[str, int]:
    """Jobs of these types taking a slot: processing, or held by the worker still stopping
    an attempt an operator took from it (``services.operator_fields``)."""
    now = timezone.now()
    held = Q(worker_id__isnull=False, lease_expires_at__gte=now) & ~Q(status=PROCESSING)
    return dict(
        Job.objects.filter(Q(status=PROCESSING) | held, job_type__in=list(job_types))
        .order_by()
        .values("job_type")
        .annotate(n=Count("pk"))
        .values_list("job_type", "n")
    )


def _types_at_limit() -> list[str]:
    """Limited types without a free slot now. Left out of a claim's candidates, so that a
    long queue of one limited type cannot hide the other types' jobs queued behind it (the
    candidates are read ``limit * 2`` at a time). A read without locks: the locked count in
    _within_type_limits still decides."""
    limited = type_limits(get_registry().processors)
    if not limited:
        return []
    running = _running(limited)
    return sorted(job_type for job_type, cap in limited.items() if running.get(job_type, 0) >= cap)


def _within_type_limits(rows: list[tuple[str, str]], limit: int) -> list[str]:
    """Pick candidates in order, at most ``limit``, without exceeding any type's limit
    across all workers. The limited types' JobTypeSetting rows are written first: that
    takes their row locks (PostgreSQL), or makes concurrent MongoDB transactions conflict,
    so two workers never both count the same free slot (SQLite's IMMEDIATE transactions
    are serial anyway)."""
    limited = type_limits({job_type for _, job_type in rows})
    free: dict[str, int] = {}
    if limited:
        now = timezone.now()
        for job_type in limited:
            JobTypeSetting.objects.get_or_create(job_type=job_type)
        JobTypeSetting.objects.filter(job_type__in=list(limited)).update(updated_at=now)
        running = _running(limited)
        free = {job_type: cap - running.get(job_type, 0) for job_type, cap in limited.items()}
    chosen = []
    for pk, job_type in rows:
        if job_type in free:
            if free[job_type] <= 0:
                continue
            free[job_type] -= 1
        chosen.append(pk)
        if len(chosen) == limit:
            break
    return chosen


# --- starting -------------------------------------------------------------------------------


def start_jobs(worker_id: str, starts: Sequence[Start]) -> int:
    """Stamp ``started_at`` on jobs a child of this worker began to run, in one UPDATE (a
    worker draining tiny jobs starts hundreds a second). A compare-and-set on the status,
    the worker and the attempt: a job taken from this worker meanwhile (an operator, an
    expired lease) is left alone, and a start already written is not moved. No log line:
    the claim's line and the outcome's frame it, and a line per start would double the
    log rows of short jobs. Returns how many jobs were stamped."""
    stamped = 0
    for offset in range(0, len(starts), 200):
        chunk = starts[offset : offset + 200]
        ours = reduce(operator.or_, (Q(pk=s.job_id, attempts=s.attempt) for s in chunk))
        stamped += Job.objects.filter(
            ours, status=PROCESSING, worker_id=worker_id, started_at__isnull=True
        ).update(
            started_at=Case(
                *[When(pk=s.job_id, then=Value(s.at, output_field=DateTimeField())) for s in chunk],
                output_field=DateTimeField(),
            )
        )
    return stamped


# --- finishing ------------------------------------------------------------------------------


def finish_jobs(worker_id: str, outcomes: Sequence[Outcome]) -> list[str]:
    """Record how several attempts ended, in one transaction. Each is a compare-and-set on
    ``status = processing AND worker_id = <this worker>`` and on the attempt: a job an
    operator failed, cancelled or set back to pending meanwhile (even if this worker has
    claimed it again since), or one reclaimed after its lease ran out, is left alone.
    Returns the ids whose outcome was recorded."""
    if not outcomes:
        return []
    now = timezone.now()
    recorded: list[str] = []
    attempts = {outcome.job_id: outcome.attempt for outcome in outcomes}
    with atomic():
        rows = lock_rows(
            Job.objects.filter(pk__in=list(attempts), status=PROCESSING, worker_id=worker_id)
        ).values_list("pk", "batch_id", "attempts")
        held = {pk: batch_id for pk, batch_id, attempt in rows if attempt == attempts[pk]}
        changes = ChangeRecorder(now)
        completed = [o for o in outcomes if o.kind == "completed" and o.job_id in held]
        for chunk in _chunks(completed, 200):
            recorded += _complete_many(worker_id, chunk, now)
        dropped = [outcome.job_id for outcome in outcomes if outcome.job_id not in held]
        for job_id in dropped:
            logger.info("job %s: outcome dropped (no longer ours)", job_id)
        # An operator took these while they ran, and the attempt has ended here: let go.
        release_holds(worker_id, dropped)
        for outcome in outcomes:
            if outcome.job_id not in held:
                continue
            if outcome.kind == "completed":
                continue
            target, fields, _, _ = _outcome_fields(outcome, now)
            if Job.objects.filter(pk=outcome.job_id, status=PROCESSING, worker_id=worker_id).update(
                status=target, updated_at=now, **fields
            ):
                recorded.append(outcome.job_id)
        by_id = {outcome.job_id: outcome for outcome in outcomes}
        for job_id in recorded:
            target, _, message, level = _outcome_fields(by_id[job_id], now)
            changes.moved(job_id, held[job_id], PROCESSING, target)
            changes.log(job_id, message, level)
        changes.save()
    return recorded


def _chunks(items: Sequence[Outcome], size: int) -> Iterable[Sequence[Outcome]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _complete_many(worker_id: str, outcomes: Sequence[Outcome], now: datetime) -> list[str]:
    """One UPDATE for many completions: each job's results picked by a CASE on its id. The
    rows are locked (or, on SQLite, the database is) so the count is exact; without locks
    (MongoDB) the jobs this update moved are found by its timestamp."""
    ids = [outcome.job_id for outcome in outcomes]
    _, fields, _, _ = _outcome_fields(outcomes[0], now)
    fields["results"] = Case(
        *[
            When(pk=outcome.job_id, then=Value(outcome.results or {}, output_field=JSONField()))
            for outcome in outcomes
        ],
        output_field=JSONField(),
    )
    count = Job.objects.filter(pk__in=ids, status=PROCESSING, worker_id=worker_id).update(
        status=JobStatus.COMPLETED, updated_at=now, **fields
    )
    if count == len(ids):
        return ids
    moved = set(
        Job.objects.filter(pk__in=ids, status=JobStatus.COMPLETED, updated_at=now).values_list(
            "pk", flat=True
        )
    )
    return [job_id for job_id in ids if job_id in moved]


def _outcome_fields(outcome: Outcome, now: datetime) -> tuple[str, dict[str, Any], str, str]:
    """Target status, fields, log message and level of an outcome; the same fields as the
    per-transition services in jobs/services.py (complete, fail, retry, confirm_cancel,
    release) write."""
    error = outcome.error or error_dict("ERROR", "unknown error")
    if outcome.kind == "completed":
        fields = {
            "results": outcome.results or {},
            "error": None,
            "progress": {"step": "done", "percent": 100.0, "message": ""},
            "completed_at": now,
            **released_fields(),
        }
        return JobStatus.COMPLETED, fields, "Completed.", "info"
    if outcome.kind == "failed":
        fields = {"error": error, "completed_at": now, **released_fields()}
        message = f"Failed: {error['code']}: {error['message']}"
        return JobStatus.FAILED, fields, message, "error"
    if outcome.kind == "retry":
        fields = {
            "error": error,
            "run_after": now + timedelta(seconds=outcome.retry_delay),
            **released_fields(),
        }
        message = (
            f"Attempt failed ({error['code']}: {error['message']}); "
            f"retrying in {outcome.retry_delay:.1f}s."
        )
        return PENDING, fields, message, "warning"
    if outcome.kind == "cancelled":
        fields = {"completed_at": now, **released_fields()}
        return JobStatus.CANCELLED, fields, "Cancelled while running.", "info"
    if outcome.kind == "released":
        fields = {
            "attempts": Greatest(F("attempts") - 1, 0),
            "progress": default_progress(),
            **released_fields(),
        }
        why = f" ({outcome.reason})" if outcome.reason else ""
        return PENDING, fields, f"Released by its worker{why}; back to pending.", "info"
    raise ValueError(f"unknown outcome kind {outcome.kind!r}")


# --- progress, logs and leases --------------------------------------------------------------


def save_progress(worker_id: str, progress: dict[str, dict[str, Any]]) -> None:
    """Store the latest progress of several running jobs (throttled by the worker)."""
    if not progress:
        return
    now = timezone.now()
    with atomic():
        for job_id, value in progress.items():
            Job.objects.filter(pk=job_id, status=PROCESSING, worker_id=worker_id).update(
                progress=value, updated_at=now
            )


def save_logs(lines: Sequence[tuple[str, str, str]]) -> None:
    """Log lines ``(job_id, level, message)`` that processors wrote with ``ctx.log``."""
    if lines:
        JobLog.objects.bulk_create(
            [
                JobLog(job_id=job_id, level=level, message=message)
                for job_id, level, message in lines
            ],
            batch_size=1000,
        )


@dataclass(frozen=True)
class LeaseState:
    """What renewing a worker's leases found: jobs to stop and jobs no longer ours."""

    cancel_requested: set[str]
    lost: set[str]


def renew_leases(worker_id: str, job_ids: Sequence[str], lease_seconds: float) -> LeaseState:
    """Extend the leases of the jobs this worker runs; report cancel requests and jobs that
    are no longer ours (failed by an operator, or reclaimed after an expired lease)."""
    if not job_ids:
        return LeaseState(set(), set())
    now = timezone.now()
    ours = Job.objects.filter(pk__in=list(job_ids), status=PROCESSING, worker_id=worker_id)
    ours.update(lease_expires_at=now + timedelta(seconds=lease_seconds))
    held = dict(ours.values_list("pk", "cancel_requested"))
    return LeaseState(
        cancel_requested={pk for pk, requested in held.items() if requested},
        lost=set(job_ids) - set(held),
    )


def held_back(worker_id: str, job_ids: Sequence[str]) -> dict[str, str]:
    """Of the jobs this worker claimed ahead and no child has started, those an operator
    has held since: batch paused or archived, job type paused. Claims would not take them
    now, so the worker hands them back (a job a child started runs to its end). Returns
    job id -> why."""
    if not job_ids:
        return {}
    paused = paused_types()
    held = Q(batch__is_active=False) | Q(batch__archived=True)
    if paused:
        held |= Q(job_type__in=sorted(paused))
    rows = Job.objects.filter(
        held, pk__in=list(job_ids), status=PROCESSING, worker_id=worker_id, started_at__isnull=True
    ).values_list("pk", "job_type", "batch__archived")
    reasons = {}
    for pk, job_type, archived in rows:
        if job_type in paused:
            reasons[pk] = f"not started: job type {job_type} is paused"
        elif archived:
            reasons[pk] = "not started: its batch is archived"
        else:
            reasons[pk] = "not started: its batch is paused"
    return reasons


def release_holds(worker_id: str, job_ids: Sequence[str]) -> int:
    """This worker has stopped the attempts of jobs an operator took from it (failed,
    cancelled, set pending or restarted them): they are no longer held, and may be
    claimed again at once."""
    if not job_ids:
        return 0
    held = Job.objects.filter(pk__in=list(job_ids), worker_id=worker_id).exclude(status=PROCESSING)
    released = list(held.values_list("pk", flat=True))
    if not released:
        return 0
    with atomic():
        count = held.filter(pk__in=released).update(worker_id=None, lease_expires_at=None)
        # the operator's change has its line; this one says when the attempt really ended
        save_logs([(pk, "info", f"Worker {worker_id} stopped the attempt.") for pk in released])
    return count


def reap_expired_leases(max_reaped: int = 500) -> tuple[list[str], list[str]]:
    """Jobs whose lease ran out (their worker died) go back to pending, or fail with
    WORKER_LOST when that was their last attempt. A job no child had started yet (it
    waited in the dead worker's prefetch, ``started_at`` empty) goes back to pending with
    its attempt given back, whatever attempt it was on: it never ran, so nothing about it
    can have killed the worker. Any worker may run this. Returns (requeued, failed)."""
    now = timezone.now()
    expired = list(
        Job.objects.filter(status=PROCESSING, lease_expires_at__lt=now).values_list(
            "pk", "worker_id", "attempts", "max_attempts", "batch_id", "started_at"
        )[:max_reaped]
    )
    requeued: list[str] = []
    failed: list[str] = []
    if not expired:
        return requeued, failed
    with atomic():
        changes = ChangeRecorder(now)
        for pk, worker_id, attempts, max_attempts, batch_id, started_at in expired:
            still = Job.objects.filter(
                pk=pk, status=PROCESSING, worker_id=worker_id, lease_expires_at__lt=now
            )
            message = f"Lease of worker {worker_id} expired (attempt {attempts}/{max_attempts})"
            if started_at is None:
                # The compare-and-set includes the empty started_at: a start written since
                # the read (a worker that was only cut off) means the attempt did run.
                if still.filter(started_at__isnull=True).update(
                    status=PENDING,
                    attempts=Greatest(F("attempts") - 1, 0),
                    progress=default_progress(),
                    updated_at=now,
                    **released_fields(),
                ):
                    changes.moved(pk, batch_id, PROCESSING, PENDING)
                    changes.log(
                        pk,
                        f"Lease of worker {worker_id} expired before the job started; back to "
                        f"pending, attempt {attempts}/{max_attempts} not spent.",
                        "warning",
                    )
                    requeued.append(pk)
                continue
            if attempts >= max_attempts:
                error = error_dict("WORKER_LOST", f"{message}; no attempts left.")
                if still.update(
                    status=JobStatus.FAILED,
                    error=error,
                    completed_at=now,
                    updated_at=now,
                    **released_fields(),
                ):
                    changes.moved(pk, batch_id, PROCESSING, JobStatus.FAILED)
                    changes.log(pk, f"Failed: WORKER_LOST: {message}.", "error")
                    failed.append(pk)
            elif still.update(status=PENDING, updated_at=now, **released_fields()):
                changes.moved(pk, batch_id, PROCESSING, PENDING)
                changes.log(pk, f"{message}; back to pending.", "warning")
                requeued.append(pk)
        changes.save()
    return requeued, failed


# --- worker rows ----------------------------------------------------------------------------


def register_worker(
    worker_id: str,
    *,
    name: str,
    host: str,
    pid: int,
    job_types: Sequence[str],
    exclude_types: Sequence[str],
    concurrency: int,
) -> Worker:
    now = timezone.now()
    return Worker.objects.create(
        worker_id=worker_id,
        name=name,
        host=host,
        pid=pid,
        job_types=list(job_types),
        exclude_types=list(exclude_types),
        concurrency=concurrency,
        started_at=now,
        heartbeat_at=now,
    )


def heartbeat(worker_id: str, running_jobs: Sequence[str], jobs_done: int, status: str) -> None:
    Worker.objects.filter(pk=worker_id).update(
        heartbeat_at=timezone.now(),
        running_jobs=list(running_jobs),
        jobs_done=jobs_done,
        status=status,
    )


def stop_worker(worker_id: str, jobs_done: int) -> None:
    now = timezone.now()
    Worker.objects.filter(pk=worker_id).update(
        status=Worker.Status.STOPPED,
        running_jobs=[],
        jobs_done=jobs_done,
        heartbeat_at=now,
        stopped_at=now,
    )


def mark_gone_workers(stale_after_seconds: float) -> int:
    """Workers whose heartbeat stopped (killed, host lost) are marked gone."""
    cutoff = timezone.now() - timedelta(seconds=stale_after_seconds)
    return Worker.objects.filter(
        status__in=[Worker.Status.RUNNING, Worker.Status.STOPPING], heartbeat_at__lt=cutoff
    ).update(status=Worker.Status.GONE, running_jobs=[])
