"""What the batches API reads and writes, and the filters of its list."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from ninja import Field, FilterSchema, Schema
from pydantic import AfterValidator, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from jobs.models import Job
from jobs.schemas import (
    AccessControlOut,
    Identifier,
    InputSchema,
    JobSpecIn,
    Page,
    PageParams,
    WebhookOut,
    _no_nul,
    _split_commas,
    _username,
    _webhook_out,
)
from jobs.states import JobStatus
from jobs.validation import AccessControl, WebhookTarget


def _not_blank(value: str) -> str:
    """A batch is found again by its name (admin, lists, ``submit --batch``): an empty or
    whitespace-only one cannot be told from no name, so it is refused like a missing one
    rather than stored."""
    if not value.strip():
        raise PydanticCustomError(
            "blank_batch_name", "must not be empty or only whitespace: give the batch a name"
        )
    return value


BatchName = Annotated[
    str,
    Field(
        max_length=255,
        # the schema says what _not_blank checks (for client generators and Schemathesis)
        json_schema_extra={"minLength": 1, "pattern": r"\S"},
    ),
    AfterValidator(_no_nul),
    AfterValidator(_not_blank),
]


class BatchCreateIn(InputSchema):
    """``POST /api/jobs/batch``: all jobs are created, or none."""

    batch_name: BatchName
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
    isActive: bool | None = Field(  # noqa: N815
        None, description="Same as is_active (given both, they must agree: else 422)."
    )
    archived: bool | None = None
    job_type: list[Identifier] | None = Field(
        None, description="Batches holding jobs of these types."
    )
    search: Annotated[str, Field(max_length=200), AfterValidator(_no_nul)] | None = Field(
        None, description="Batch name or id (case-insensitive, contains)."
    )

    _split = field_validator("status", "job_type", mode="before")(_split_commas)

    @field_validator("isActive")
    @classmethod
    def _same_as_is_active(cls, value: bool | None, info: ValidationInfo) -> bool | None:
        """Both spellings given with different values would filter on both and list nothing,
        which reads as "no such batches"; which one was meant cannot be told, so neither is
        guessed. Agreeing values (a client that sends both out of caution) are fine."""
        other = info.data.get("is_active")  # declared first, so already validated here
        if value is not None and other is not None and value != other:
            raise PydanticCustomError(
                "conflicting_parameters",
                "isActive={value} contradicts is_active={other}: they are one filter in two "
                "spellings (isActive is the older one); give one of them, or the same value",
                {"value": str(value).lower(), "other": str(other).lower()},
            )
        return value

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
