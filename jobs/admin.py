"""The Job Center in the Django admin: jobs (list, detail, actions), workers and API keys.

Nothing here changes a job by itself: actions and buttons call the services
(jobs/services.py) through jobs/admin_actions.py. Lists are built for a table with millions
of jobs: newest first on an index, a count capped at 10,000 rows, no facet counts.
The dashboard, the live-refresh endpoint and the creation forms are in jobs/admin_views.py.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.options import ShowFacets
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.db.models.fields.json import KT
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from jobs import admin_views, selectors
from jobs.admin_actions import JOB_ACTIONS, confirmation, job_admin_action, run_job_action
from jobs.admin_ui import (
    CappedPaginator,
    HiddenLookups,
    cut_text,
    duration_text,
    error_code_tag,
    progress_bar,
    render_markdown,
    short_id,
    status_badge,
    time_tag,
)
from jobs.models import ApiKey, Job, JobLog, Worker
from jobs.schemas import worker_alive_seconds
from jobs.states import JobStatus
from processors.registry import job_types

LOG_PAGE_SIZE = 100


ADMIN_MEDIA = {"css": {"all": ["jobcenter/admin.css"]}, "js": ["jobcenter/live.js"]}


class JobTypeFilter(admin.SimpleListFilter):
    title = "type"
    parameter_name = "job_type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(name, name) for name in job_types()]  # the registry: no query

    def queryset(self, request: HttpRequest, queryset: QuerySet[Job]) -> QuerySet[Job]:
        return queryset.filter(job_type=self.value()) if self.value() else queryset


class BatchFilter(admin.SimpleListFilter):
    """The newest batches as choices; any batch id works through the URL (?batch=…)."""

    title = "batch"
    parameter_name = "batch"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        from batches.models import Batch

        rows = Batch.objects.order_by("-created_at").values_list("pk", "batch_name")[:15]
        return [(pk, name or pk) for pk, name in rows]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Job]) -> QuerySet[Job]:
        return queryset.filter(batch_id=self.value()) if self.value() else queryset


class ErrorCodeFilter(admin.SimpleListFilter):
    """Error codes of the failures of the last week (read on the completed_at index)."""

    title = "error code"
    parameter_name = "error_code"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        since = timezone.now() - timedelta(days=7)
        codes = (
            Job.objects.filter(completed_at__gte=since, status=JobStatus.FAILED)
            .annotate(code=KT("error__code"))
            .order_by()
            .values_list("code", flat=True)
            .distinct()[:30]
        )
        return [(code, code) for code in sorted(c for c in codes if c)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Job]) -> QuerySet[Job]:
        if not self.value():
            return queryset
        return queryset.filter(status=JobStatus.FAILED, error__code=self.value())


def worker_note(job: Job) -> str:
    """Why a job that is not processing still names a worker: an operator took it while it
    ran, and that worker has not let go. Said, so that the name is not read as the worker
    running the job now."""
    if not job.worker_id or job.status == JobStatus.PROCESSING:
        return ""
    if job.held:
        return "still stopping the attempt an operator took from it; no worker claims the job"
    return "was running it and never let go (it died or lost the database); holds nothing back"


@admin.register(Job)
class JobAdmin(HiddenLookups, admin.ModelAdmin):
    hidden_lookups = ("webhook",)  # its secret, or an older client's Authorization header
    # The list fits a 1400 px window beside the admin's two sidebars: the name is the link
    # (the id in its tooltip), names are cut to their column, the error code sits under the
    # status, and narrow windows drop "started" and "attempts" first (jobcenter/admin.css).
    list_display = [
        "job_link",
        "status_badge",
        "job_type",
        "batch_link",
        "progress_bar",
        "attempts_text",
        "created",
        "started",
        "ended",
        "duration_text",
    ]
    list_display_links = ["job_link"]
    list_select_related = ["batch"]
    list_filter = [
        "status",
        JobTypeFilter,
        BatchFilter,
        "archived",
        ErrorCodeFilter,
        ("created_at", admin.DateFieldListFilter),
    ]
    search_fields = ["job_id", "job_name"]
    search_help_text = (
        "A job id or batch id (exact), or text in the name or the common text parameters "
        "(source, url, title, filename, event, session)."
    )
    ordering = ["-created_at"]
    show_full_result_count = False
    show_facets = ShowFacets.NEVER
    paginator = CappedPaginator
    list_per_page = 50
    actions = [job_admin_action(action) for action in JOB_ACTIONS.values()]
    readonly_fields = [f.name for f in Job._meta.fields]

    class Media:
        css = ADMIN_MEDIA["css"]
        js = ADMIN_MEDIA["js"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # new jobs come from the "New job" form (validated like the API)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a job is deleted through the API's service (files, counters)

    # --- columns -----------------------------------------------------------------------

    @admin.display(description="job", ordering="job_name")
    def job_link(self, job: Job) -> str:
        """The name, cut to the column; a job without one shows the end of its id (the
        start of a time-ordered id is the same for every job of the same minute). The id
        and the type ride in the tooltip: narrow windows hide the "type" column."""
        label = job.job_name or short_id(job.pk)
        title = "\n".join(part for part in (job.job_name, job.pk, job.job_type) if part)
        return format_html(
            '<span class="jc-cut" title="{}" data-job-id="{}">{}</span>', title, job.pk, label
        )

    @admin.display(description="status", ordering="status")
    def status_badge(self, job: Job) -> str:
        """The badge, and under it a failed job's error code: triage goes by code."""
        return format_html(
            '<div title="attempts {}/{}">{}{}</div>',
            job.attempts,
            job.max_attempts,
            status_badge(job.status, job_id=job.pk),
            error_code_tag(job.status, job.error, job.pk),
        )

    @admin.display(description="batch")
    def batch_link(self, job: Job) -> str:
        if not job.batch_id:
            return "—"
        url = reverse("admin:batches_batch_change", args=[job.batch_id])
        name = job.batch.batch_name if job.batch else ""
        title = f"{name}\n{job.batch_id}" if name else job.batch_id
        return format_html('<a href="{}">{}</a>', url, cut_text(name or job.batch_id, title))

    @admin.display(description="progress")
    def progress_bar(self, job: Job) -> str:
        return progress_bar(job.progress, job.status, job.pk)

    @admin.display(description="attempts")
    def attempts_text(self, job: Job) -> str:
        return f"{job.attempts}/{job.max_attempts}"

    @admin.display(description="created", ordering="created_at")
    def created(self, job: Job) -> str:
        return time_tag(job.created_at)

    @admin.display(description="started")
    def started(self, job: Job) -> str:
        return time_tag(job.started_at)

    @admin.display(description="ended")
    def ended(self, job: Job) -> str:
        return time_tag(job.completed_at)

    @admin.display(description="duration")
    def duration_text(self, job: Job) -> str:
        """The start and end times ride in the tooltip: narrow windows hide the "started"
        and "ended" columns."""
        times = [
            f"{label} {timezone.localtime(moment):%Y-%m-%d %H:%M:%S}"
            for label, moment in (("started", job.started_at), ("ended", job.completed_at))
            if moment is not None
        ]
        text = duration_text(job.duration)
        return format_html('<span title="{}">{}</span>', "\n".join(times), text) if times else text

    # --- search: the API's, ids first, then text --------------------------------------------

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Job], search_term: str
    ) -> tuple[QuerySet[Job], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(selectors.job_search(term)), False  # the API's search

    # --- the detail page and its buttons -----------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("dashboard/", wrap(admin_views.dashboard), name="jobcenter_dashboard"),
            path("live/", wrap(admin_views.live), name="jobcenter_live"),
            path("new/", wrap(admin_views.new_job), name="jobcenter_new_job"),
            path("new-batch/", wrap(admin_views.new_batch), name="jobcenter_new_batch"),
            path(
                "types/<str:job_type>/pause/",
                wrap(admin_views.pause_type),
                name="jobcenter_pause_type",
            ),
            path(
                "types/<str:job_type>/concurrency/",
                wrap(admin_views.set_type_concurrency),
                name="jobcenter_type_concurrency",
            ),
            path(
                "<path:object_id>/do/<str:action>/",
                wrap(self.action_view),
                name="jobs_job_action",
            ),
            *super().get_urls(),
        ]

    def action_view(self, request: HttpRequest, object_id: str, action: str) -> HttpResponse:
        job = Job.objects.filter(pk=object_id).first()
        if job is None or action not in JOB_ACTIONS:
            raise Http404("No such job or action.")
        if not self.has_change_permission(request, job):
            raise PermissionDenied
        spec = JOB_ACTIONS[action]
        detail = reverse("admin:jobs_job_change", args=[job.pk])
        if request.method == "POST" and request.POST.get("confirm") == "yes":
            run_job_action(request, spec, [job.pk])
            return HttpResponseRedirect(detail)
        count = Job.objects.filter(spec.eligible, pk=job.pk).count()
        response = confirmation(
            request,
            self,
            title=f"{action.replace('_', ' ').capitalize()} job {job.pk}",
            action_name=action,
            objects=[job],
            object_count=1,
            job_count=count,
            danger=spec.danger,
            selected=None,
        )
        response.context_data["cancel_url"] = detail  # type: ignore[index]
        return response

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        job = Job.objects.select_related("batch", "user").filter(pk=object_id).first()
        if job is None:
            raise Http404(f"Job {object_id!r} does not exist.")
        if not self.has_view_or_change_permission(request, job):
            raise PermissionDenied
        logs = Paginator(JobLog.objects.filter(job_id=job.pk).order_by("timestamp", "id"), 100)
        log_page = logs.get_page(request.GET.get("logs_page"))
        results = job.results if isinstance(job.results, dict) else None
        markdown = results.get("markdown_content") if results else None
        worker = Worker.objects.filter(pk=job.worker_id).first() if job.worker_id else None
        from jobs.api import job_files

        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Job {job.pk}",
            "job": job,
            "badge": status_badge(job.status, job_id=job.pk),
            "bar": progress_bar(job.progress, job.status, job.pk),
            "duration": duration_text(job.duration),
            "parameters_json": json.dumps(job.parameters, indent=2, ensure_ascii=False),
            "results_json": json.dumps(job.results, indent=2, ensure_ascii=False)
            if job.results is not None
            else None,
            "markdown_html": render_markdown(markdown) if isinstance(markdown, str) else None,
            "error": job.error if isinstance(job.error, dict) else None,
            "error_details": json.dumps(
                (job.error or {}).get("details"), indent=2, ensure_ascii=False
            )
            if isinstance(job.error, dict) and job.error.get("details") is not None
            else None,
            "access_json": json.dumps(job.access_control, indent=2),
            "files": [name for name, _ in job_files(job.pk)][:500],
            "log_page": log_page,
            "worker": worker,
            "worker_note": worker_note(job),
            "can_change": self.has_change_permission(request, job),
            "actions": [
                (name, name.replace("_", " ").capitalize(), spec.danger)
                for name, spec in JOB_ACTIONS.items()
                if Job.objects.filter(spec.eligible, pk=job.pk).exists()
            ],
            "live": job.status in (JobStatus.PENDING, JobStatus.PROCESSING),
        }
        return TemplateResponse(request, "jobcenter/admin/job_detail.html", context)


@admin.register(Worker)
class WorkerAdmin(admin.ModelAdmin):
    list_display = [
        "worker_id",
        "name",
        "host",
        "pid",
        "status",
        "alive",
        "heartbeat_at",
        "concurrency",
        "running",
        "jobs_done",
        "started_at",
    ]
    list_filter = ["status", "host"]
    search_fields = ["worker_id", "name", "host"]
    show_full_result_count = False
    readonly_fields = [f.name for f in Worker._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # workers register themselves

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Worker]:
        queryset = super().get_queryset(request)
        if request.GET.get("status__exact") or request.GET.get("all"):
            return queryset
        return queryset.exclude(status=Worker.Status.STOPPED)

    @admin.display(boolean=True, description="heartbeat fresh")
    def alive(self, worker: Worker) -> bool:
        fresh = timezone.now() - timedelta(seconds=worker_alive_seconds())
        return worker.status != Worker.Status.STOPPED and worker.heartbeat_at >= fresh

    @admin.display(description="running jobs")
    def running(self, worker: Worker) -> str:
        links = [
            format_html(
                '<a href="{}">{}</a>', reverse("admin:jobs_job_change", args=[job_id]), job_id
            )
            for job_id in (worker.running_jobs or [])[:20]
        ]
        return format_html("{}", ", ".join(links)) if links else "—"


@admin.register(ApiKey)
class ApiKeyAdmin(HiddenLookups, admin.ModelAdmin):
    hidden_lookups = ("key_hash",)
    """Create (the key is shown once, on the page after saving) and revoke; keys are never
    edited, and the hash never leaves the database."""

    list_display = ["name", "prefix", "user", "created_at", "last_used_at", "expires_at", "state"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix", "user__username"]
    actions = ["revoke"]
    readonly_fields = ["name", "prefix", "user", "created_at", "last_used_at", "expires_at"]
    fields = [*readonly_fields, "revoked_at"]

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "add/",
                self.admin_site.admin_view(admin_views.create_api_key),
                name="jobs_apikey_add",
            ),
            *super().get_urls(),
        ]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    @admin.display(description="state")
    def state(self, key: ApiKey) -> str:
        if key.revoked_at:
            return "revoked"
        if key.expires_at and key.expires_at <= timezone.now():
            return "expired"
        return "active"

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        from jobs.api_keys import revoke_api_key

        keys = list(queryset.filter(revoked_at__isnull=True).values_list("pk", flat=True))
        for key_id in keys:
            revoke_api_key(key_id)
        messages.success(request, f"{len(keys)} API key(s) revoked; they stop working at once.")


from jobs import admin_webhooks  # noqa: E402, F401  (registers WebhookDeliveryAdmin)
