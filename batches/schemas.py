"""What the batches API reads and writes, and the filters of its list."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from ninja import Field, FilterSchema, Schema
from pydantic import AfterValidator, field_validator

from jobs.models import Job
from jobs.schemas import (
    AccessControlOut,
    Identifier,
    InputSchema,
    JobSpecIn,
    Page,
    PageParams,
    ShortText,
    WebhookOut,
    _no_nul,
    _split_commas,
    _username,
    _webhook_out,
)
from jobs.states import JobStatus
from jobs.validation import AccessControl, WebhookTarget


class BatchCreateIn(InputSchema):
    """``POST /api/jobs/batch``: all jobs are created, or none."""

    batch_name: ShortText
    jobs: list[JobSpecIn] = Field(..., min_length=1, max_length=settings.JOBCENTER_MAX_BATCH_SIZE)
    webhook: WebhookTarget | None = Field(None, description="Called when the batch ends.")
    access_control: AccessControl | None = None
    is_active: bool = Field(True, description="Inactive batches' jobs are not claimed.")


class BatchOut(Schema):
    batch_id: str
    batch_name: str
    status: str
    total_jobs: int
    pending_jobs: int
    processing_jobs: int
    completed_jobs: int
    failed_jobs: int
    cancelled_jobs: int
    progress_percent: float = Field(..., description="Share of jobs that have ended.")
    archived: bool
    is_active: bool
    isActive: bool = Field(..., description="The older API's spelling of is_active.")  # noqa: N815
    user: str | None
    access_control: AccessControlOut
    webhook: WebhookOut | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None

    @staticmethod
    def resolve_user(obj: Any) -> str | None:
        return _username(obj)

    @staticmethod
    def resolve_webhook(obj: Any) -> dict[str, Any] | None:
        return _webhook_out(obj.webhook)

    @staticmethod
    def resolve_access_control(obj: Any) -> dict[str, Any]:
        return obj.access_control if isinstance(obj.access_control, dict) else {}


class BatchCreatedOut(BatchOut):
    job_ids: list[str] = Field(..., description="Per submitted job, in order, its job id.")
    reused: list[int] = Field(
        ...,
        description="Positions whose unique_key matched an unfinished job, returned instead "
        "of a new one.",
    )


class BatchPage(Page):
    items: list[BatchOut]


class BatchPageParams(PageParams):
    ordering: Literal["-created_at", "created_at"] = "-created_at"


class BatchFilter(FilterSchema):
    status: list[JobStatus] | None = Field(None, description="One or several statuses.")
    is_active: bool | None = None
    isActive: bool | None = Field(None, description="Same as is_active.")  # noqa: N815
    archived: bool | None = None
    job_type: list[Identifier] | None = Field(
        None, description="Batches holding jobs of these types."
    )
    search: Annotated[str, Field(max_length=200), AfterValidator(_no_nul)] | None = Field(
        None, description="Batch name or id (case-insensitive, contains)."
    )

    _split = field_validator("status", "job_type", mode="before")(_split_commas)

    def filter_status(self, value: list[str] | None) -> Q:
        return Q(status__in=value) if value else Q()

    def filter_is_active(self, value: bool | None) -> Q:
        return Q() if value is None else Q(is_active=value)

    def filter_isActive(self, value: bool | None) -> Q:  # noqa: N802
        return self.filter_is_active(value)

    def filter_job_type(self, value: list[str] | None) -> Q:
        if not value:
            return Q()
        return Q(Exists(Job.objects.filter(batch_id=OuterRef("pk"), job_type__in=value)))

    def filter_search(self, value: str | None) -> Q:
        value = (value or "").strip()
        if not value:
            return Q()
        return Q(pk=value) | Q(batch_name__icontains=value)


class RestartIn(InputSchema):
    include_completed: bool = Field(False, description="Restart completed jobs too.")


class BatchFailIn(InputSchema):
    message: Annotated[str, Field(max_length=2000)] = "Failed by an operator with its batch."


class BatchActionOut(Schema):
    batch_id: str
    action: str
    changed: int = Field(..., description="How many jobs the action changed.")
    batch: BatchOut
