"""The jobs in the admin (a first, read-mostly view; the full Job Center admin is its own
issue). Changes go through the services, never through the form."""

from __future__ import annotations

from django.contrib import admin

from jobs.models import Job, JobLog


class JobLogInline(admin.TabularInline):
    model = JobLog
    fields = ["timestamp", "level", "message"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["timestamp", "id"]

    def has_add_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["job_id", "job_type", "job_name", "status", "batch", "attempts", "created_at"]
    list_filter = ["status", "job_type", "archived"]
    search_fields = ["job_id", "job_name"]
    list_select_related = ["batch"]
    show_full_result_count = False
    readonly_fields = [f.name for f in Job._meta.fields]
    inlines = [JobLogInline]

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False
