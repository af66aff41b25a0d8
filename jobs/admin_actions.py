"""Admin actions on jobs and batches: a confirmation page that says how many jobs change,
then one service call per job (or batch) inside one transaction.

The same definitions serve the changelists' action menus (selected rows) and the buttons on
the detail pages. Refused transitions are reported per job; an unexpected error rolls the
whole action back, so nothing changes half-way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from batches import services as batch_services
from batches.models import Batch
from jobcenter.db import atomic
from jobcenter.errors import JobCenterError
from jobs import services
from jobs.models import Job
from jobs.states import FINISHED, TRANSITIONS, UNFINISHED, JobStatus

MAX_REFUSALS_SHOWN = 20


@dataclass(frozen=True)
class JobAction:
    name: str
    verb: str
    """Past tense for the result message: "restarted"."""
    eligible: Q
    """Which of the selected jobs this action changes (for the count on the confirmation)."""
    run: Callable[[str], Any]
    danger: bool = False


def _statuses(name: str) -> Q:
    return Q(status__in=sorted(TRANSITIONS[name].sources))


def _fail(job_id: str) -> Any:
    return services.fail(job_id, "FAILED_BY_OPERATOR", "Failed by an operator in the admin.")


JOB_ACTIONS: dict[str, JobAction] = {
    action.name: action
    for action in [
        JobAction("restart", "restarted", _statuses("restart"), services.restart),
        JobAction(
            "cancel",
            "cancelled (running ones: cancel requested)",
            Q(status=JobStatus.PENDING) | Q(status=JobStatus.PROCESSING, cancel_requested=False),
            services.cancel,
            danger=True,
        ),
        JobAction("set_pending", "set to pending", _statuses("set_pending"), services.set_pending),
        JobAction("fail", "failed", _statuses("fail"), _fail, danger=True),
        JobAction(
            "archive",
            "archived",
            Q(status__in=sorted(FINISHED), archived=False),
            services.archive,
        ),
        JobAction("unarchive", "unarchived", Q(archived=True), services.unarchive),
    ]
}


def run_job_action(request: HttpRequest, action: JobAction, job_ids: list[str]) -> int:
    """Apply ``action`` to each job in one transaction; refusals become messages."""
    changed = 0
    refusals: list[str] = []
    with atomic():
        for job_id in job_ids:
            try:
                action.run(job_id)
            except JobCenterError as exc:
                refusals.append(exc.message)
            else:
                changed += 1
    report(request, changed, f"job(s) {action.verb}", refusals)
    return changed


def report(request: HttpRequest, changed: int, what: str, refusals: list[str]) -> None:
    if changed:
        messages.success(request, f"{changed} {what}.")
    for text in refusals[:MAX_REFUSALS_SHOWN]:
        messages.warning(request, text)
    if len(refusals) > MAX_REFUSALS_SHOWN:
        messages.warning(
            request, f"… and {len(refusals) - MAX_REFUSALS_SHOWN} more jobs refused the same way."
        )
    if not changed and not refusals:
        messages.info(request, "Nothing to change.")


def confirmation(
    request: HttpRequest,
    model_admin: admin.ModelAdmin,
    *,
    title: str,
    action_name: str,
    objects: list[Any],
    object_count: int,
    job_count: int,
    danger: bool,
    selected: list[str] | None,
) -> TemplateResponse:
    """The page that asks before anything changes, naming how many jobs will change."""
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": model_admin.model._meta,
        "action_name": action_name,
        "objects": objects[:20],
        "more_objects": max(0, object_count - 20),
        "object_count": object_count,
        "job_count": job_count,
        "danger": danger,
        "selected": selected,
        "select_across": request.POST.get("select_across", "0"),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "index": request.POST.get("index", "0"),
    }
    return TemplateResponse(request, "jobcenter/admin/confirm_action.html", context)


def job_admin_action(action: JobAction) -> Callable[..., HttpResponse | None]:
    """A changelist action for ``action``: first the confirmation, then the change."""

    def perform(
        model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Job]
    ) -> HttpResponse | None:
        spec = JOB_ACTIONS[action.name]  # looked up per call: one table, patchable in tests
        if request.POST.get("confirm") == "yes":
            ids = list(queryset.order_by().values_list("pk", flat=True))
            run_job_action(request, spec, ids)
            return None
        eligible = queryset.filter(spec.eligible)
        count = eligible.order_by().count()
        return confirmation(
            request,
            model_admin,
            title=f"{action.name.replace('_', ' ').capitalize()} jobs",
            action_name=action.name,
            objects=list(queryset[:20]),
            object_count=queryset.order_by().count(),
            job_count=count,
            danger=spec.danger,
            selected=request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        )

    perform.__name__ = action.name
    perform.short_description = f"{action.name.replace('_', ' ').capitalize()} selected jobs"  # type: ignore[attr-defined]
    perform.allowed_permissions = ("change",)  # type: ignore[attr-defined]
    return perform


# --- batches ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchAction:
    name: str
    label: str
    verb: str
    jobs_changing: Callable[[Batch], int]
    """From the batch's counters: how many of its jobs this action changes."""
    run: Callable[[str], Any]
    danger: bool = False


def _counts(batch: Batch, *statuses: str) -> int:
    fields = {
        JobStatus.PENDING: batch.pending_jobs,
        JobStatus.PROCESSING: batch.processing_jobs,
        JobStatus.COMPLETED: batch.completed_jobs,
        JobStatus.FAILED: batch.failed_jobs,
        JobStatus.CANCELLED: batch.cancelled_jobs,
    }
    return sum(fields[status] for status in statuses)


def _cancellable(batch: Batch) -> int:
    """Pending jobs, and running ones not yet asked to stop."""
    running = Job.objects.filter(
        batch_id=batch.pk, status=JobStatus.PROCESSING, cancel_requested=False
    ).count()
    return batch.pending_jobs + running


def _toggle(batch_id: str) -> int:
    batch_services.toggle_active(batch_id)
    return 0


BATCH_ACTIONS: dict[str, BatchAction] = {
    action.name: action
    for action in [
        BatchAction(
            "restart",
            "Restart failed and cancelled jobs",
            "restarted",
            lambda b: _counts(b, JobStatus.FAILED, JobStatus.CANCELLED),
            batch_services.restart_batch,
        ),
        BatchAction(
            "restart_all",
            "Restart all finished jobs",
            "restarted",
            lambda b: _counts(b, *FINISHED),
            lambda pk: batch_services.restart_batch(pk, include_completed=True),
        ),
        BatchAction(
            "fail",
            "Fail all unfinished jobs",
            "failed",
            lambda b: _counts(b, *UNFINISHED),
            batch_services.fail_batch,
            danger=True,
        ),
        BatchAction(
            "set_pending",
            "Set jobs pending",
            "set to pending",
            lambda b: _counts(b, *TRANSITIONS["set_pending"].sources),
            batch_services.set_pending_batch,
        ),
        BatchAction(
            "cancel",
            "Cancel",
            "cancelled (running ones: cancel requested)",
            _cancellable,
            batch_services.cancel_batch,
            danger=True,
        ),
        BatchAction(
            "archive",
            "Archive",
            "archived",
            lambda b: 0 if b.archived else _counts(b, *FINISHED),
            batch_services.archive_batch,
        ),
        BatchAction(
            "unarchive",
            "Unarchive",
            "unarchived",
            lambda b: _counts(b, *FINISHED) if b.archived else 0,
            batch_services.unarchive_batch,
        ),
        BatchAction("toggle_active", "Pause or resume (toggle)", "", lambda b: 0, _toggle),
    ]
}


def run_batch_action(request: HttpRequest, action: BatchAction, batch_ids: list[str]) -> int:
    changed = 0
    refusals: list[str] = []
    with atomic():
        for batch_id in batch_ids:
            try:
                changed += int(action.run(batch_id) or 0)
            except JobCenterError as exc:
                refusals.append(exc.message)
    if action.name == "toggle_active":
        messages.success(request, f"{len(batch_ids)} batch(es) switched active/inactive.")
        for text in refusals:
            messages.warning(request, text)
    else:
        report(request, changed, f"job(s) {action.verb}", refusals)
    return changed


def batch_admin_action(action: BatchAction) -> Callable[..., HttpResponse | None]:
    def perform(
        model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Batch]
    ) -> HttpResponse | None:
        if request.POST.get("confirm") == "yes":
            run_batch_action(request, action, list(queryset.values_list("pk", flat=True)))
            return None
        batches = list(queryset[:20])
        count = queryset.order_by().count()
        return confirmation(
            request,
            model_admin,
            title=f"{action.label} ({count} batch(es))",
            action_name=action.name,
            objects=batches,
            object_count=count,
            job_count=sum(
                action.jobs_changing(batch) for batch in queryset.order_by().iterator(2000)
            ),
            danger=action.danger,
            selected=request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        )

    perform.__name__ = f"batch_{action.name}"
    perform.short_description = f"{action.label} (selected batches)"  # type: ignore[attr-defined]
    perform.allowed_permissions = ("change",)  # type: ignore[attr-defined]
    return perform
