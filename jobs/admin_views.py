"""The Job Center's own admin pages: the dashboard, the live-refresh JSON endpoint, the
"New job" and "New batch" forms, the per-type pause switch and API key creation.

Mounted under the jobs admin (``/admin/jobs/job/dashboard/`` …) by JobAdmin.get_urls, so
the admin site's login and staff checks apply. Every query on jobs reads an index: unfinished
jobs by (status, job_type), finished ones by completed_at in a time window, never a whole-table
count.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.db.models.fields.json import KT
from django.db.models.functions import TruncHour, TruncMinute
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from batches import services as batch_services
from batches.models import Batch
from jobcenter.errors import JobCenterError
from jobs import services
from jobs.admin_forms import NewBatchForm, NewJobForm, preview_errors
from jobs.admin_ui import batch_bar, batch_counts, batch_label, throughput_svg
from jobs.models import Job
from jobs.selectors import alive_workers, due_pending_jobs, job_type_states
from jobs.states import UNFINISHED, JobStatus

LIVE_MAX_IDS = 500


def _context(request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
    return {**admin.site.each_context(request), "title": title, **extra}


def _require(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


# --- dashboard ----------------------------------------------------------------------------


def _buckets(
    since: datetime, step: timedelta, count: int, rows: list[dict[str, Any]]
) -> list[tuple[datetime, int, int]]:
    start = since
    table: dict[datetime, list[int]] = {}
    for index in range(count):
        table[start + index * step] = [0, 0]
    for row in rows:
        key = row["bucket"]
        if key is None:
            continue
        if timezone.is_naive(key):
            key = timezone.make_aware(key, timezone.get_current_timezone())
        slot = table.get(key)
        if slot is None:
            continue
        if row["status"] == JobStatus.COMPLETED:
            slot[0] += row["n"]
        elif row["status"] == JobStatus.FAILED:
            slot[1] += row["n"]
    return [(key, done, failed) for key, (done, failed) in table.items()]


def unfinished_counts() -> dict[tuple[str, str], int]:
    """(status, job_type) -> jobs, for pending and processing (index job_status_type_created)."""
    rows = (
        Job.objects.filter(status__in=sorted(UNFINISHED))
        .order_by()
        .values_list("status", "job_type")
        .annotate(n=Count("pk"))
    )
    return {(status, job_type): n for status, job_type, n in rows}


def oldest_pending(pending_types: list[str]) -> dict[str, Any] | None:
    """The oldest pending job that is due (not scheduled for later): per type with pending
    jobs, the first entry of the index (status, job_type, created_at); a MIN over all
    pending jobs would read every one of them."""
    due = due_pending_jobs()  # one look-up of the paused types, not one per type
    candidates = [
        due.filter(job_type=job_type)
        .order_by("created_at")
        .values("job_id", "job_type", "job_name", "created_at")
        .first()
        for job_type in sorted(pending_types)
    ]
    found = [row for row in candidates if row is not None]
    return min(found, key=lambda row: row["created_at"]) if found else None


def dashboard_data() -> dict[str, Any]:
    now = timezone.now()
    day_ago = now - timedelta(days=1)
    unfinished = unfinished_counts()
    finished = dict(
        ((status, job_type), n)
        for status, job_type, n in Job.objects.filter(completed_at__gte=day_ago)
        .order_by()
        .values_list("status", "job_type")
        .annotate(n=Count("pk"))
    )
    states = {state["job_type"]: state for state in job_type_states()}
    types = sorted({t for _, t in unfinished} | {t for _, t in finished} | set(states))
    statuses = [s.value for s in JobStatus]
    by_type = []
    for job_type in types:
        row = [unfinished.get((s, job_type), 0) or finished.get((s, job_type), 0) for s in statuses]
        by_type.append((job_type, row, states.get(job_type)))
    totals = {s: sum(row[i] for _, row, _ in by_type) for i, s in enumerate(statuses)}

    hour_start = (now - timedelta(minutes=59)).replace(second=0, microsecond=0)
    hour_rows = list(
        Job.objects.filter(completed_at__gte=hour_start)
        .order_by()
        .annotate(bucket=TruncMinute("completed_at"))
        .values("bucket", "status")
        .annotate(n=Count("pk"))
    )
    day_start = (now - timedelta(hours=23)).replace(minute=0, second=0, microsecond=0)
    day_rows = list(
        Job.objects.filter(completed_at__gte=day_start)
        .order_by()
        .annotate(bucket=TruncHour("completed_at"))
        .values("bucket", "status")
        .annotate(n=Count("pk"))
    )
    hour = _buckets(hour_start, timedelta(minutes=1), 60, hour_rows)
    day = _buckets(day_start, timedelta(hours=1), 24, day_rows)

    oldest_job = oldest_pending([t for s, t in unfinished if s == JobStatus.PENDING])
    oldest = oldest_job["created_at"] if oldest_job else None
    failures = list(
        Job.objects.filter(completed_at__gte=day_ago, status=JobStatus.FAILED)
        .order_by()
        .annotate(code=KT("error__code"))
        .values("code")
        .annotate(n=Count("pk"))
        .order_by("-n")[:15]
    )
    workers = list(alive_workers().order_by("host", "pid")[:100])
    batches = list(
        Batch.objects.filter(archived=False, status__in=sorted(UNFINISHED)).order_by("-created_at")[
            :20
        ]
    )
    return {
        "statuses": statuses,
        "by_type": by_type,
        "totals": totals,
        "hour_chart": throughput_svg(
            hour, title="Jobs ended per minute, last hour", label_every=10, fmt="%H:%M"
        ),
        "day_chart": throughput_svg(
            day, title="Jobs ended per hour, last day", label_every=4, fmt="%H:00"
        ),
        "hour_done": sum(b[1] for b in hour),
        "hour_failed": sum(b[2] for b in hour),
        "day_done": sum(b[1] for b in day),
        "day_failed": sum(b[2] for b in day),
        "oldest_job": oldest_job,
        "oldest_age": (now - oldest).total_seconds() if oldest else None,
        "failures": failures,
        "workers": workers,
        "batches": [(batch, batch_bar(batch)) for batch in batches],
        "running": bool(totals.get("pending") or totals.get("processing")),
    }


def dashboard(request: HttpRequest) -> HttpResponse:
    _require(request, "jobs.view_job")
    data = dashboard_data()
    return TemplateResponse(
        request,
        "jobcenter/admin/dashboard.html",
        _context(
            request,
            "Job Center",
            can_change=request.user.has_perm("jobs.change_job"),
            **data,
        ),
    )


@require_POST
def pause_type(request: HttpRequest, job_type: str) -> HttpResponse:
    """The per-type switch: paused types are not claimed by any worker."""
    _require(request, "jobs.change_job")
    paused = request.POST.get("paused") == "1"
    try:
        services.set_type_paused(job_type, paused)
    except JobCenterError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Job type {job_type} {'paused' if paused else 'resumed'}.")
    return HttpResponseRedirect(reverse("admin:jobcenter_dashboard"))


@require_POST
def set_type_concurrency(request: HttpRequest, job_type: str) -> HttpResponse:
    """The per-type limit across all workers; an empty field goes back to the default."""
    _require(request, "jobs.change_job")
    raw = request.POST.get("concurrency", "").strip()
    if raw and not (raw.isascii() and raw.isdigit() and len(raw) <= 12):
        messages.error(request, f"{raw[:20]!r} is not a number of jobs.")
    else:
        concurrency = int(raw) if raw else None
        try:
            services.set_type_concurrency(job_type, concurrency)
        except JobCenterError as exc:
            messages.error(request, exc.message)
        else:
            limit = "its default" if concurrency is None else f"{concurrency} at once"
            messages.success(request, f"Job type {job_type} now runs {limit}.")
    return HttpResponseRedirect(reverse("admin:jobcenter_dashboard"))


# --- live refresh -------------------------------------------------------------------------


def _ids(request: HttpRequest, name: str) -> list[str]:
    raw = request.GET.get(name, "")
    return [part for part in raw.split(",") if part][:LIVE_MAX_IDS]


def live(request: HttpRequest) -> JsonResponse:
    """What the live script needs to update the page in place: the jobs' status and
    progress, a failed job's error code (the jobs list shows it under the badge), the
    batches' counters, the dashboard's counts. ``running`` is false once none of them can
    change any more, and the script stops polling."""
    _require(request, "jobs.view_job")
    jobs = {
        job_id: {
            "status": status,
            "progress": progress if isinstance(progress, dict) else {},
            # Only a failed job's: a job waiting for a retry keeps its last attempt's error.
            "error_code": (code or "") if status == JobStatus.FAILED else "",
            "error_message": (message or "") if status == JobStatus.FAILED else "",
        }
        for job_id, status, progress, code, message in Job.objects.filter(
            pk__in=_ids(request, "jobs")
        )
        .order_by()
        # The code and message alone, not the details (a traceback) of every job polled.
        .annotate(code=KT("error__code"), message=KT("error__message"))
        .values_list("pk", "status", "progress", "code", "message")
    }
    batches = {}
    for batch in Batch.objects.filter(pk__in=_ids(request, "batches")).order_by():
        counts = batch_counts(batch)
        batches[batch.pk] = {
            "status": batch.status,
            "counts": counts,
            "label": batch_label(counts),
            "is_active": batch.is_active,
        }
    running = any(job["status"] in UNFINISHED for job in jobs.values()) or any(
        batch["status"] in UNFINISHED for batch in batches.values()
    )
    payload: dict[str, Any] = {"jobs": jobs, "batches": batches}
    if request.GET.get("dashboard"):
        counts = unfinished_counts()
        counters = {status: 0 for status in UNFINISHED}
        for (status, _type), n in counts.items():
            counters[status] += n
        payload["counters"] = counters
        running = running or any(counters.values())
    payload["running"] = running
    return JsonResponse(payload)


# --- creating work ------------------------------------------------------------------------


def new_job(request: HttpRequest) -> HttpResponse:
    _require(request, "jobs.change_job")
    job_type = request.POST.get("job_type") or request.GET.get("job_type") or ""
    if request.method == "POST" and request.POST.get("create"):
        form = NewJobForm(request.POST, request.FILES, job_type=job_type)
        if form.is_valid() and form.processor is not None:
            try:
                job = services.enqueue(
                    job_type,
                    form.parameters(request.user),
                    job_name=form.cleaned_data["job_name"],
                    priority=form.cleaned_data["priority"] or 0,
                    user=request.user,
                )
            except JobCenterError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, f"Job {job.pk} created.")
                return HttpResponseRedirect(reverse("admin:jobs_job_change", args=[job.pk]))
    else:
        form = NewJobForm(initial={"job_type": job_type}, job_type=job_type)
    return TemplateResponse(
        request,
        "jobcenter/admin/new_job.html",
        _context(request, "New job", form=form, job_type=job_type, has_type=form.processor),
    )


def new_batch(request: HttpRequest) -> HttpResponse:
    _require(request, "jobs.change_job")
    preview: dict[str, Any] | None = None
    if request.method == "POST":
        form = NewBatchForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                items = form.job_items(request.FILES.getlist("files"), request.user)
            except JobCenterError as exc:
                form.add_error(None, exc.message)
                items = []
            job_type = form.cleaned_data["job_type"]
            problems = preview_errors(job_type, items) if items else []
            if not items and not form.errors:
                form.add_error(None, "No jobs: give at least one line, file or row.")
            elif request.POST.get("create") and not problems and not form.errors:
                try:
                    created = batch_services.create_batch(
                        form.cleaned_data["batch_name"],
                        [
                            {
                                "job_type": job_type,
                                "job_name": item["job_name"],
                                "parameters": item["parameters"],
                            }
                            for item in items
                        ],
                        user=request.user,
                    )
                except JobCenterError as exc:
                    form.add_error(None, exc.message)
                else:
                    messages.success(
                        request,
                        f"Batch {created.batch.pk} created with {len(created.job_ids)} jobs.",
                    )
                    return HttpResponseRedirect(
                        reverse("admin:batches_batch_change", args=[created.batch.pk])
                    )
            if items and not form.errors:
                data = form.data.copy()
                data["upload_refs"] = form.cleaned_data.get("upload_refs", "")
                form = NewBatchForm(data)
                form.is_valid()
                preview = {"count": len(items), "items": items[:10], "problems": problems[:50]}
    else:
        form = NewBatchForm()
    return TemplateResponse(
        request,
        "jobcenter/admin/new_batch.html",
        _context(request, "New batch", form=form, preview=preview),
    )


# --- API keys -----------------------------------------------------------------------------


def create_api_key(request: HttpRequest) -> HttpResponse:
    """Create a key for the signed-in user; the key is in this one response, never again."""
    _require(request, "jobs.add_apikey")
    from jobs.api_keys import create_api_key as create

    created = None
    error = None
    if request.method == "POST":
        days = request.POST.get("expires_in_days", "").strip()
        try:
            expires = timedelta(days=int(days)) if days else None
            created = create(request.user, request.POST.get("name", ""), expires_in=expires)
        except ValueError:
            error = "Expiry: a whole number of days."
        except JobCenterError as exc:
            error = exc.message
    return TemplateResponse(
        request,
        "jobcenter/admin/api_key_new.html",
        _context(request, "New API key", created=created, error=error, post=request.POST),
    )
