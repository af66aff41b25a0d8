"""Batches in the Job Center admin: list with stacked progress bars, the detail page with
its jobs, and the batch actions (through batches/services.py, see jobs/admin_actions.py)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.options import ShowFacets
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from batches.models import Batch
from jobs.admin import ADMIN_MEDIA
from jobs.admin_actions import BATCH_ACTIONS, batch_admin_action, confirmation, run_batch_action
from jobs.admin_ui import (
    CappedPaginator,
    HiddenLookups,
    batch_bar,
    duration_text,
    progress_bar,
    status_badge,
)
from jobs.models import Job
from jobs.states import UNFINISHED, JobStatus

JOBS_PER_PAGE = 50


@admin.register(Batch)
class BatchAdmin(HiddenLookups, admin.ModelAdmin):
    hidden_lookups = ("webhook",)  # its secret, or an older client's Authorization header
    list_display = [
        "batch_id",
        "batch_name",
        "status_badge",
        "progress",
        "total_jobs",
        "is_active",
        "archived",
        "created_at",
        "completed_at",
    ]
    list_display_links = ["batch_id", "batch_name"]
    list_filter = ["status", "is_active", "archived", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["=batch_id", "batch_name"]
    ordering = ["-created_at"]
    show_full_result_count = False
    show_facets = ShowFacets.NEVER
    paginator = CappedPaginator
    list_per_page = 50
    actions = [batch_admin_action(action) for action in BATCH_ACTIONS.values()]
    readonly_fields = [f.name for f in Batch._meta.fields]

    class Media:
        css = ADMIN_MEDIA["css"]
        js = ADMIN_MEDIA["js"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # batches come from the "New batch" form or the API

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="status", ordering="status")
    def status_badge(self, batch: Batch) -> str:
        return status_badge(batch.status, batch_id=batch.pk)

    @admin.display(description="progress")
    def progress(self, batch: Batch) -> str:
        return batch_bar(batch)

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<path:object_id>/do/<str:action>/",
                self.admin_site.admin_view(self.action_view),
                name="batches_batch_action",
            ),
            *super().get_urls(),
        ]

    def action_view(self, request: HttpRequest, object_id: str, action: str) -> HttpResponse:
        batch = Batch.objects.filter(pk=object_id).first()
        if batch is None or action not in BATCH_ACTIONS:
            raise Http404("No such batch or action.")
        if not self.has_change_permission(request, batch):
            raise PermissionDenied
        spec = BATCH_ACTIONS[action]
        detail = reverse("admin:batches_batch_change", args=[batch.pk])
        if request.method == "POST" and request.POST.get("confirm") == "yes":
            run_batch_action(request, spec, [batch.pk])
            return HttpResponseRedirect(detail)
        response = confirmation(
            request,
            self,
            title=f"{spec.label}: batch {batch}",
            action_name=action,
            objects=[batch],
            object_count=1,
            job_count=spec.jobs_changing(batch),
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
        batch = Batch.objects.select_related("user").filter(pk=object_id).first()
        if batch is None:
            raise Http404(f"Batch {object_id!r} does not exist.")
        if not self.has_view_or_change_permission(request, batch):
            raise PermissionDenied
        status = request.GET.get("status", "")
        jobs = Job.objects.filter(batch_id=batch.pk).order_by("-created_at", "-job_id")
        counters = {
            "": batch.total_jobs,
            JobStatus.PENDING: batch.pending_jobs,
            JobStatus.PROCESSING: batch.processing_jobs,
            JobStatus.COMPLETED: batch.completed_jobs,
            JobStatus.FAILED: batch.failed_jobs,
            JobStatus.CANCELLED: batch.cancelled_jobs,
        }
        if status in JobStatus.values:
            jobs = jobs.filter(status=status)
        else:
            status = ""
        paginator = Paginator(jobs, JOBS_PER_PAGE)
        paginator.__dict__["count"] = counters[status]  # the batch's counters, not a COUNT(*)
        page = paginator.get_page(request.GET.get("page"))
        rows = [
            (
                job,
                status_badge(job.status, job_id=job.pk),
                progress_bar(job.progress, job.status, job.pk),
                duration_text(job.duration),
            )
            for job in page
        ]
        can_change = self.has_change_permission(request, batch)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Batch {batch}",
            "batch": batch,
            "badge": status_badge(batch.status, batch_id=batch.pk),
            "bar": batch_bar(batch),
            "rows": rows,
            "page": page,
            "status": status,
            "status_choices": [(s, counters[s]) for s in JobStatus.values],
            "can_change": can_change,
            "actions": [
                (name, _label(batch, name, spec.label), spec.danger, spec.jobs_changing(batch))
                for name, spec in BATCH_ACTIONS.items()
                if spec.jobs_changing(batch)
                or name == "toggle_active"
                or (name == "archive" and not batch.archived)
                or (name == "unarchive" and batch.archived)
            ],
            "live": batch.status in UNFINISHED,
            "jobs_url": reverse("admin:jobs_job_changelist") + f"?batch={batch.pk}",
        }
        return TemplateResponse(request, "jobcenter/admin/batch_detail.html", context)


def _label(batch: Batch, name: str, label: str) -> str:
    """On a batch's own page the switch says what it will do."""
    if name != "toggle_active":
        return label
    return "Pause (start no more of its jobs)" if batch.is_active else "Resume"
