"""Read queries shared by the API, the admin, the worker and the commands."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from jobcenter.errors import NotFound
from jobs.models import Job, JobLog
from jobs.states import UNFINISHED


def get_job(job_id: str) -> Job:
    job = Job.objects.filter(pk=job_id).first()
    if job is None:
        raise NotFound(f"Job {job_id!r} does not exist.", details={"job_id": job_id})
    return job


def job_status(job_id: str) -> str | None:
    return Job.objects.filter(pk=job_id).values_list("status", flat=True).first()


def unfinished_job_with_key(unique_key: str) -> Job | None:
    return Job.objects.filter(unique_key=unique_key, status__in=UNFINISHED).first()


def unfinished_keys(keys: list[str]) -> dict[str, str]:
    """unique_key -> job_id for the keys that an unfinished job holds."""
    found: dict[str, str] = {}
    for start in range(0, len(keys), 1000):
        rows = Job.objects.filter(
            unique_key__in=keys[start : start + 1000], status__in=UNFINISHED
        ).values_list("unique_key", "job_id")
        found.update(rows)
    return found


def job_logs(job_id: str) -> QuerySet[JobLog]:
    return JobLog.objects.filter(job_id=job_id).order_by("timestamp", "id")


def status_counts(jobs: QuerySet[Job]) -> dict[str, int]:
    """Number of jobs per status in ``jobs`` (one GROUP BY)."""
    rows = jobs.order_by().values("status").annotate(n=Count("pk")).values_list("status", "n")
    return dict(rows)
