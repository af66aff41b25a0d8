"""The webhook outbox in the admin: a read-only list of deliveries and one action, "Retry now".

Deliveries belong to the worker (jobs/webhooks.py writes and sends them), so nobody adds,
edits or deletes one here; the only change is the retry, through
``webhooks.retry_deliveries`` like every other transition. Without this page a receiver
that keeps failing would be seen by no one but the worker's log.

The signing ``secret`` never leaves the database through the admin: it is in no column, no
field of the detail page, no search, and no filter (``?secret__startswith=…`` is refused,
or the list would answer guesses one character at a time); it is not even read.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.options import ShowFacets
from django.contrib.admin.views.main import ChangeList
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator

from jobs import webhooks
from jobs.admin import ADMIN_MEDIA
from jobs.admin_ui import CappedPaginator, HiddenLookups, short_id, time_tag
from jobs.models import WebhookDelivery

HIDDEN_FIELDS = ("secret",)
ERROR_CHARS = 80

LIST_COLUMNS = (
    "id",
    "job",
    "batch",
    "url",
    "status",
    "attempts",
    "next_attempt_at",
    "last_error",
    "created_at",
    "delivered_at",
    "job__job_type",
    "job__job_name",
    "batch__batch_name",
)
"""What the list reads: not the payload (up to 64 kB a row) nor the secret, nor any
column of the job but its type and name."""

BADGE_CLASSES = {"delivered": "completed", "failed": "failed", "pending": "pending"}
"""Deliveries take the colours of the job statuses they resemble (admin.css)."""


class DeliveryChangeList(ChangeList):
    """Reads only the columns the list shows (see ``LIST_COLUMNS``)."""

    def get_queryset(self, request: HttpRequest, exclude_parameters: Any = None) -> QuerySet:
        return super().get_queryset(request, exclude_parameters).only(*LIST_COLUMNS)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(HiddenLookups, admin.ModelAdmin):
    hidden_lookups = ("secret", "webhook")  # the delivery's, and its job's or batch's
    list_display = [
        "status_badge",
        "owner_link",
        "receiver",
        "attempts",
        "next_attempt",
        "error_short",
        "created",
        "delivered",
    ]
    list_display_links = ["status_badge"]
    list_select_related = ["job", "batch"]
    list_filter = ["status"]
    search_fields = ["url"]  # ids are matched exactly in get_search_results
    search_help_text = "A job id or batch id (exact), or part of the receiver's URL."
    ordering = ["-created_at"]
    show_full_result_count = False
    show_facets = ShowFacets.NEVER
    paginator = CappedPaginator
    list_per_page = 50
    actions = ["retry_now"]
    fields = [
        "status",
        "owner_link",
        "receiver",
        "attempts",
        "next_attempt_at",
        "last_error",
        "created_at",
        "delivered_at",
        "payload_pretty",
    ]
    readonly_fields = fields
    exclude = HIDDEN_FIELDS

    class Media:
        css = ADMIN_MEDIA["css"]

    # --- nobody writes here: the worker owns the outbox --------------------------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """A delivery's payload is its job's or batch's results: seeing the outbox also
        needs seeing jobs and batches (*view job*, *view batch*)."""
        user = request.user
        return (
            super().has_view_permission(request, obj)
            and user.has_perm("jobs.view_job")
            and user.has_perm("batches.view_batch")
        )

    def has_retry_permission(self, request: HttpRequest) -> bool:
        """Whoever may steer jobs (*change job*, as for the job actions) may ask for a
        delivery to be sent again; the deliveries' own change permission is never granted."""
        return request.user.has_perm("jobs.change_job")

    # --- what is read ------------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookDelivery]:
        return super().get_queryset(request).defer(*HIDDEN_FIELDS)

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return DeliveryChangeList

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[WebhookDelivery], search_term: str
    ) -> tuple[QuerySet[WebhookDelivery], bool]:
        """Ids exactly (on the foreign keys' indexes, like the jobs list), anything else in
        the URL."""
        term = search_term.strip()
        if not term:
            return queryset, False
        if term.startswith("job-"):
            return queryset.filter(job_id=term), False
        if term.startswith("batch-"):
            return queryset.filter(batch_id=term), False
        return queryset.filter(url__icontains=term), False

    # --- columns -----------------------------------------------------------------------

    @admin.display(description="status", ordering="status")
    def status_badge(self, delivery: WebhookDelivery) -> str:
        css = BADGE_CLASSES.get(delivery.status, "pending")
        return format_html('<span class="jc-badge jc-{}">{}</span>', css, delivery.status)

    @admin.display(description="for")
    def owner_link(self, delivery: WebhookDelivery) -> str:
        if delivery.job_id:
            job = delivery.job
            url = reverse("admin:jobs_job_change", args=[delivery.job_id])
            title = f"{delivery.job_id} · {job.job_type} {job.job_name}".strip() if job else ""
            return format_html(
                'job <a href="{}" title="{}">{}</a>', url, title, short_id(delivery.job_id)
            )
        if delivery.batch_id:
            batch = delivery.batch
            url = reverse("admin:batches_batch_change", args=[delivery.batch_id])
            title = f"{delivery.batch_id} · {batch.batch_name}".strip(" ·") if batch else ""
            return format_html(
                'batch <a href="{}" title="{}">{}</a>', url, title, short_id(delivery.batch_id)
            )
        return "—"

    @admin.display(description="receiver (URL)", ordering="url")
    def receiver(self, delivery: WebhookDelivery) -> str:
        """Text, not the link Django makes of a URL field: a click would send the receiver
        a GET it does not expect, and the admin's address along as the referrer."""
        return delivery.url

    @admin.display(description="next attempt", ordering="next_attempt_at")
    def next_attempt(self, delivery: WebhookDelivery) -> str:
        if delivery.status != WebhookDelivery.Status.PENDING:
            return "—"  # the worker reads it only for pending rows
        return time_tag(delivery.next_attempt_at)

    @admin.display(description="last error")
    def error_short(self, delivery: WebhookDelivery) -> str:
        if not delivery.last_error:
            return "—"
        return format_html(
            '<span title="{}">{}</span>',
            delivery.last_error,
            Truncator(delivery.last_error).chars(ERROR_CHARS),
        )

    @admin.display(description="created", ordering="created_at")
    def created(self, delivery: WebhookDelivery) -> str:
        return time_tag(delivery.created_at)

    @admin.display(description="delivered", ordering="delivered_at")
    def delivered(self, delivery: WebhookDelivery) -> str:
        return time_tag(delivery.delivered_at)

    @admin.display(description="payload")
    def payload_pretty(self, delivery: WebhookDelivery) -> str:
        text = json.dumps(delivery.payload, indent=2, ensure_ascii=False, sort_keys=True)
        return format_html('<pre class="jc-json">{}</pre>', text)

    # --- the one action ----------------------------------------------------------------

    @admin.action(description="Retry now", permissions=["retry"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        ids = list(queryset.order_by().values_list("pk", flat=True))
        requeued = webhooks.retry_deliveries(ids)
        skipped = len(ids) - requeued
        if requeued:
            messages.success(
                request,
                f"{requeued} webhook deliver{'y' if requeued == 1 else 'ies'} requeued: "
                "a worker sends them within seconds.",
            )
        if skipped:
            messages.warning(
                request,
                f"{skipped} not eligible (already delivered, or pending and due within "
                f"{webhooks.IN_FLIGHT_SECONDS:.0f} seconds anyway).",
            )
