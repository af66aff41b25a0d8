"""Read queries shared by the API, the admin, the worker and the commands."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.models import Count, F, Q, QuerySet, TextField, Value
from django.db.models.expressions import Combinable
from django.db.models.fields.json import KT
from django.db.models.functions import Concat
from django.db.models.lookups import IContains
from django.utils import timezone

from jobcenter.errors import NotFound
from jobs.models import Job, JobLog, JobTypeSetting, Worker
from jobs.states import UNFINISHED, JobStatus
from processors.registry import job_types, limits


def get_job(job_id: str) -> Job:
    job = Job.objects.filter(pk=job_id).first()
    if job is None:
        raise NotFound(f"Job {job_id!r} does not exist.", details={"job_id": job_id})
    return job


def job_status(job_id: str) -> str | None:
    return Job.objects.filter(pk=job_id).values_list("status", flat=True).first()


def unfinished_job_with_key(unique_key: str) -> Job | None:
    return Job.objects.filter(unique_key=unique_key, status__in=UNFINISHED).first()


def unfinished_keys(keys: list[str]) -> dict[str, tuple[str, int | None]]:
    """unique_key -> (job_id, owner's user id) for the keys that an unfinished job holds."""
    found: dict[str, tuple[str, int | None]] = {}
    for start in range(0, len(keys), 1000):
        rows = Job.objects.filter(
            unique_key__in=keys[start : start + 1000], status__in=UNFINISHED
        ).values_list("unique_key", "job_id", "user_id")
        found.update((key, (job_id, user_id)) for key, job_id, user_id in rows)
    return found


def due_pending_jobs(now: datetime | None = None) -> QuerySet[Job]:
    """Pending jobs a worker may take now: not those scheduled for later (``run_after``),
    which are not late however long ago they were submitted, nor those an operator holds
    (batch paused or archived, type paused), which are not a queue falling behind: the
    age of the oldest (health check, dashboard) would grow for as long as they are held."""
    due = Q(run_after__isnull=True) | Q(run_after__lte=now or timezone.now())
    jobs = Job.objects.filter(due, status=JobStatus.PENDING).filter(
        Q(batch__isnull=True) | Q(batch__is_active=True, batch__archived=False)
    )
    return jobs.exclude(job_type__in=sorted(paused_types()))


def paused_types() -> set[str]:
    """The job types an operator paused (the claim, the hand-back of jobs claimed ahead
    and the oldest pending job leave their jobs out)."""
    return set(JobTypeSetting.objects.filter(paused=True).values_list("job_type", flat=True))


def job_logs(job_id: str) -> QuerySet[JobLog]:
    return JobLog.objects.filter(job_id=job_id).order_by("timestamp", "id")


def status_counts(jobs: QuerySet[Job]) -> dict[str, int]:
    """Number of jobs per status in ``jobs`` (one GROUP BY)."""
    rows = jobs.order_by().values("status").annotate(n=Count("pk")).values_list("status", "n")
    return dict(rows)


def worker_alive_since() -> datetime:
    """The oldest heartbeat that still counts as alive (JOBCENTER_WORKER_ALIVE_SECONDS)."""
    return timezone.now() - timedelta(seconds=float(settings.JOBCENTER_WORKER_ALIVE_SECONDS))


def alive_workers() -> QuerySet[Worker]:
    """Workers that are running and whose heartbeat is fresh: a stopping, stopped or gone
    worker claims nothing, however recent its last heartbeat."""
    return Worker.objects.filter(
        status=Worker.Status.RUNNING, heartbeat_at__gte=worker_alive_since()
    )


SEARCH_PARAMETER_KEYS = ("event", "session", "url", "filename", "title", "source")
"""Text parameters that a job search looks into, besides the job's name and id."""
SEARCH_SEPARATOR = "\n"


def job_search_text() -> Combinable:
    """The job's name and common text parameters as one text: on PostgreSQL a trigram index
    covers exactly this expression (jobs/migrations/0005; keep the two identical)."""
    parts: list[Combinable] = [F("job_name")]
    for key in SEARCH_PARAMETER_KEYS:
        parts += [Value(SEARCH_SEPARATOR), KT(f"parameters__{key}")]
    return Concat(*parts, output_field=TextField())


def job_search(value: str) -> Q:
    """Jobs whose id is ``value`` or whose name or common text parameters contain it
    (case-insensitive); a job's or a batch's id (``job-…``, ``batch-…``) finds exactly
    that job or that batch's jobs. On PostgreSQL one condition on the indexed text, so a
    rare word is an index lookup; elsewhere one condition per field, the same matches."""
    if value.startswith("job-"):
        return Q(pk=value)
    if value.startswith("batch-"):
        return Q(batch_id=value)
    condition = Q(pk=value)
    if connections[Job.objects.db].vendor == "postgresql" and SEARCH_SEPARATOR not in value:
        return condition | Q(IContains(job_search_text(), value))
    condition |= Q(job_name__icontains=value)
    for key in SEARCH_PARAMETER_KEYS:
        condition |= Q(**{f"parameters__{key}__icontains": value})
    return condition


def job_type_states() -> list[dict[str, Any]]:
    """Every registered type with its limits as they hold (the operator's concurrency
    setting over the processor's and settings' own) and its switches, for the API's
    ``/job-types`` and the dashboard."""
    stored = {setting.job_type: setting for setting in JobTypeSetting.objects.all()}
    states = []
    for job_type, processor in job_types().items():
        setting = stored.get(job_type)
        own = limits(processor)
        override = setting.concurrency if setting else None
        states.append(
            {
                "job_type": job_type,
                "processor": processor,
                "limits": {**own, "concurrency": override or own["concurrency"]},
                "default_concurrency": own["concurrency"],
                "concurrency_setting": override,
                "paused": bool(setting and setting.paused),
            }
        )
    return states
