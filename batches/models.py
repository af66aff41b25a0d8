"""Batches: many jobs submitted together, with counters kept exact by the job services."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from jobcenter.ids import new_batch_id
from jobs.models import default_access_control
from jobs.states import JobStatus


class Batch(models.Model):
    batch_id = models.CharField(
        primary_key=True, max_length=64, default=new_batch_id, editable=False
    )
    batch_name = models.CharField(max_length=255, blank=True, default="")
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.PENDING)
    total_jobs = models.PositiveIntegerField(default=0)
    pending_jobs = models.PositiveIntegerField(default=0)
    processing_jobs = models.PositiveIntegerField(default=0)
    completed_jobs = models.PositiveIntegerField(default=0)
    failed_jobs = models.PositiveIntegerField(default=0)
    cancelled_jobs = models.PositiveIntegerField(default=0)
    archived = models.BooleanField(default=False)
    is_active = models.BooleanField(
        default=True, help_text="Jobs of an inactive batch are not claimed by workers."
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="batches",
    )
    access_control = models.JSONField(default=default_access_control, blank=True)
    webhook = models.JSONField(null=True, blank=True, help_text="{url, secret?}")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "batches"
        indexes = [
            models.Index(fields=["status", "created_at"], name="batch_status_created"),
            models.Index(fields=["is_active"], name="batch_is_active"),
            models.Index(fields=["created_at"], name="batch_created"),
        ]

    def __str__(self) -> str:
        return self.batch_name or self.batch_id

    @property
    def isActive(self) -> bool:  # noqa: N802  (the older API's spelling)
        return self.is_active

    @property
    def finished_jobs(self) -> int:
        return self.completed_jobs + self.failed_jobs + self.cancelled_jobs

    @property
    def progress_percent(self) -> float:
        """Share of jobs that have ended, in percent."""
        if not self.total_jobs:
            return 0.0
        return round(100.0 * self.finished_jobs / self.total_jobs, 1)
