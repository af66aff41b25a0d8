from __future__ import annotations

from django.contrib import admin

from batches.models import Batch


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    list_display = [
        "batch_id",
        "batch_name",
        "status",
        "total_jobs",
        "pending_jobs",
        "processing_jobs",
        "completed_jobs",
        "failed_jobs",
        "is_active",
        "created_at",
    ]
    list_filter = ["status", "is_active", "archived"]
    search_fields = ["batch_id", "batch_name"]
    show_full_result_count = False
    readonly_fields = [f.name for f in Batch._meta.fields]

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False
