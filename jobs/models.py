"""Jobs and their log lines. Field names follow the older system so its data imports as is."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from jobcenter.ids import new_job_id, uuid7
from jobs.states import UNFINISHED, JobStatus


def default_access_control() -> dict[str, Any]:
    return {"visibility": "private", "read_access": [], "write_access": [], "admin_access": []}


def default_progress() -> dict[str, Any]:
    return {"step": "", "percent": 0, "message": ""}


class Job(models.Model):
    job_id = models.CharField(primary_key=True, max_length=64, default=new_job_id, editable=False)
    job_type = models.CharField(max_length=64)
    job_name = models.CharField(max_length=255, blank=True, default="")
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.PENDING)
    priority = models.IntegerField(default=0, help_text="Higher runs first.")
    parameters = models.JSONField(default=dict, blank=True)
    progress = models.JSONField(default=default_progress, blank=True)
    results = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True, help_text="{code, message, details}")
    batch = models.ForeignKey(
        "batches.Batch", null=True, blank=True, on_delete=models.CASCADE, related_name="jobs"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="jobs",
    )
    access_control = models.JSONField(default=default_access_control, blank=True)
    archived = models.BooleanField(default=False)
    webhook = models.JSONField(null=True, blank=True, help_text="{url, secret?}")
    # NULL, not "": NULLs never collide in the conditional unique constraint below.
    unique_key = models.CharField(  # noqa: DJ001
        max_length=255,
        null=True,
        blank=True,
        help_text="While a job with this key is unfinished, enqueueing the key again returns it.",
    )
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=3)
    run_after = models.DateTimeField(null=True, blank=True)
    worker_id = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # job_id last, here and below: jobs of one batch share created_at, and a keyset
            # page then reads 51 index entries instead of sorting a 10,000-job tie.
            models.Index(
                fields=["status", "job_type", "created_at", "job_id"],
                name="job_status_type_created",
            ),
            # The claim query: pending jobs, highest priority first, then oldest.
            models.Index(fields=["status", "-priority", "created_at"], name="job_claim_order"),
            models.Index(fields=["created_at", "job_id"], name="job_created"),
            models.Index(fields=["batch", "status"], name="job_batch_status"),
            # A batch's jobs newest (or oldest) first, paged by keyset: the API's
            # GET /api/batches/{id}/jobs and the admin's job list filtered by batch.
            models.Index(fields=["batch", "created_at", "job_id"], name="job_batch_created"),
            # Lists ordered by priority (?ordering=-priority), paged by keyset.
            models.Index(fields=["priority", "created_at", "job_id"], name="job_priority_created"),
            # Reaping: processing jobs whose lease ran out.
            models.Index(fields=["status", "lease_expires_at"], name="job_lease"),
            # The admin dashboard: throughput and failures of the last hour and day.
            models.Index(fields=["completed_at"], name="job_completed"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["unique_key"],
                condition=Q(status__in=sorted(UNFINISHED)),
                name="job_unique_key_unfinished",
            ),
        ]

    def __str__(self) -> str:
        return self.job_name or self.job_id

    @property
    def is_finished(self) -> bool:
        return self.status not in UNFINISHED

    @property
    def held(self) -> bool:
        """Not processing, and its worker has not let go yet: it is still stopping the
        attempt an operator took from it (claims pass the job by until the lease ends)."""
        return bool(
            self.worker_id
            and self.status != JobStatus.PROCESSING
            and self.lease_expires_at is not None
            and self.lease_expires_at > timezone.now()
        )

    @property
    def duration(self) -> float | None:
        """Seconds from start to end (or to now while it runs)."""
        if self.started_at is None:
            return None
        end = self.completed_at or timezone.now()
        return (end - self.started_at).total_seconds()


class JobLog(models.Model):
    """One log line of a job: rows of their own, never an ever-growing array in the job."""

    class Level(models.TextChoices):
        DEBUG = "debug", "Debug"
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        ERROR = "error", "Error"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="logs")
    timestamp = models.DateTimeField(default=timezone.now)
    level = models.CharField(max_length=10, choices=Level.choices, default=Level.INFO)
    message = models.TextField()

    class Meta:
        ordering = ["timestamp", "id"]
        indexes = [models.Index(fields=["job", "timestamp"], name="joblog_job_time")]

    def __str__(self) -> str:
        return f"{self.timestamp:%Y-%m-%d %H:%M:%S} {self.level.upper()} {self.message}"


class JobTypeSetting(models.Model):
    """Per job type switches that hold for every worker on every host."""

    job_type = models.CharField(primary_key=True, max_length=64)
    paused = models.BooleanField(
        default=False, help_text="Paused types are not claimed by any worker."
    )
    concurrency = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Most jobs of this type running at once across all workers (overrides the "
        "processor's limit).",
    )
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.job_type


class Worker(models.Model):
    """One row per live ``runworker`` process, kept fresh by its heartbeat."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        STOPPING = "stopping", "Stopping"
        STOPPED = "stopped", "Stopped"
        GONE = "gone", "Gone (heartbeat lost)"

    worker_id = models.CharField(primary_key=True, max_length=128)
    name = models.CharField(max_length=128, blank=True, default="")
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    job_types = models.JSONField(default=list, blank=True, help_text="[] means every type.")
    exclude_types = models.JSONField(default=list, blank=True)
    concurrency = models.PositiveIntegerField(default=1)
    running_jobs = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    jobs_done = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(default=timezone.now)
    heartbeat_at = models.DateTimeField(default=timezone.now)
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="worker_status_heartbeat")]

    def __str__(self) -> str:
        return self.name or self.worker_id


class ApiKey(models.Model):
    """An API key: only its SHA-256 is stored; the key itself is shown once at creation."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    name = models.CharField(max_length=128)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    prefix = models.CharField(max_length=16, db_index=True, help_text="Shown to tell keys apart.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class WebhookDelivery(models.Model):
    """The webhook outbox: a delivery survives worker restarts and is retried with backoff."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    job = models.ForeignKey(
        Job, null=True, blank=True, on_delete=models.CASCADE, related_name="webhook_deliveries"
    )
    batch = models.ForeignKey(
        "batches.Batch",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhook_deliveries",
    )
    url = models.URLField(max_length=2000)
    secret = models.CharField(max_length=255, blank=True, default="")
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhook_due")]

    def __str__(self) -> str:
        return f"{self.url} ({self.status})"


class IdempotencyRecord(models.Model):
    """The first response to a request with an ``Idempotency-Key`` header, replayed for
    repeats of that key by the same user within its lifetime (24 h)."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    key = models.CharField(max_length=255)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="idempotency_records"
    )
    request_fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_user_key"),
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created")]

    def __str__(self) -> str:
        return self.key


class Upload(models.Model):
    """An input file received through the API or the admin; its bytes live on disk
    (jobcenter/uploads.py). The row says whose it is: a job may name only its submitter's
    own uploads (``upload:<id>`` in its parameters)."""

    id = models.CharField(primary_key=True, max_length=32, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="uploads",
    )
    filename = models.CharField(max_length=255)
    size = models.BigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.reference} ({self.filename})"

    @property
    def reference(self) -> str:
        """How job parameters name it: ``upload:<id>``."""
        return f"upload:{self.id}"
