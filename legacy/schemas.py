"""The older service's request and answer shapes, for the compatibility routes under
``/api/legacy/event-job/`` (legacy/api.py).

Requests are parsed as leniently as the old Flask service parsed them (unknown fields are
ignored, not refused: old clients send what they always sent), but every value the services
store still goes through their validation. Answers are the old envelopes:
``{"status": "success", "job"|"jobs"|"batch"|"batches": …, "total": N, "message": …}`` and
``{"status": "error", "message": …, "error_type": …}``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Field, Schema
from pydantic import ConfigDict, field_validator

from jobs.schemas import AccessControlOut, InputSchema, ShortText


class LenientInput(InputSchema):
    """Unknown fields are ignored (the old service ignored them); unstorable values (NUL,
    NaN…) are still refused, naming the field."""

    model_config = ConfigDict(extra="ignore")


class LegacyWebhookIn(LenientInput):
    """The old webhook: where to POST, extra request headers, and what to include."""

    url: str = Field(..., max_length=2000, description="Called when the job ends.")
    headers: dict[str, str] | None = Field(
        None, description="Sent with the webhook request (e.g. an Authorization header)."
    )
    include_markdown: bool = Field(True, description="Include `markdown_content`.")
    include_metadata: bool = Field(True, description="Include the session's `metadata`.")

    @field_validator("headers")
    @classmethod
    def _header_names(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for name, text in (value or {}).items():
            if not name or any(ch in name for ch in ":\r\n ") or any(c in text for c in "\r\n"):
                raise ValueError(f"invalid header {name!r}")
        return value


class LegacyJobIn(LenientInput):
    """``POST /jobs``, and each item of ``POST /batches``'s ``jobs``."""

    parameters: dict[str, Any] = Field(
        ..., description="The session: event, session, url, filename, track, day, …"
    )
    job_type: ShortText | None = Field(
        None, description='Defaults to "session" (the old "event" jobs are session jobs).'
    )
    job_name: ShortText | None = None
    webhook: LegacyWebhookIn | None = None
    user_id: ShortText | None = Field(
        None, description="Honoured only for an admin (staff) API key, like X-User-ID."
    )
    batch_id: ShortText | None = Field(None, description="Add the job to this batch.")


class LegacyBatchIn(LenientInput):
    """``POST /batches``."""

    jobs: list[LegacyJobIn] = Field(..., min_length=1)
    webhook: LegacyWebhookIn | None = Field(
        None, description="Given to every job that has no webhook of its own."
    )
    batch_name: ShortText | None = Field(
        None, description="Optional, as before: empty or only whitespace is no name."
    )
    batch_id: ShortText | None = Field(
        None, description="Not supported: the Job Center assigns batch ids (refused if set)."
    )
    user_id: ShortText | None = Field(
        None, description="Honoured only for an admin (staff) API key, like X-User-ID."
    )

    @field_validator("batch_name", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        """The older service took ``""`` for a batch without a name, and its clients may
        still send it: here it is what it was there (``POST /api/jobs/batch`` refuses it)."""
        return None if isinstance(value, str) and not value.strip() else value


class LegacyRestartIn(LenientInput):
    """``POST /{job_id}/restart``: the old body's ``batch_id`` is accepted and ignored."""

    batch_id: ShortText | None = None


# --- answers --------------------------------------------------------------------------------


class LegacyLogOut(Schema):
    timestamp: datetime
    level: str
    message: str


class LegacyWebhookOut(Schema):
    url: str
    headers: dict[str, str] | None = None
    include_markdown: bool = True
    include_metadata: bool = True


class LegacyJobListItem(Schema):
    """A job as the older service's ``Job.to_dict()`` gave it (lists: without log lines)."""

    job_id: str
    job_type: str
    job_name: str | None
    status: str
    parameters: dict[str, Any]
    progress: dict[str, Any]
    results: dict[str, Any] | None
    error: dict[str, Any] | None
    batch_id: str | None
    user_id: str | None
    access_control: AccessControlOut
    archived: bool
    webhook: LegacyWebhookOut | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    processing_started_at: datetime | None
    completed_at: datetime | None


class LegacyJobOut(LegacyJobListItem):
    """One job, with its log lines."""

    logs: list[LegacyLogOut]


class LegacyBatchOut(Schema):
    batch_id: str
    batch_name: str | None
    status: str
    total_jobs: int
    pending_jobs: int
    processing_jobs: int
    completed_jobs: int
    failed_jobs: int
    cancelled_jobs: int
    archived: bool
    isActive: bool  # noqa: N815  (the older service's spelling)
    user_id: str | None
    access_control: AccessControlOut
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


class LegacyJobRead(Schema):
    status: Literal["success"] = "success"
    job: LegacyJobOut


class LegacyJobResponse(LegacyJobRead):
    message: str


class LegacyJobsResponse(Schema):
    status: Literal["success"] = "success"
    total: int
    jobs: list[LegacyJobListItem]


class LegacyBatchRead(Schema):
    status: Literal["success"] = "success"
    batch: LegacyBatchOut


class LegacyBatchResponse(LegacyBatchRead):
    message: str


class LegacyBatchesResponse(Schema):
    status: Literal["success"] = "success"
    total: int
    batches: list[LegacyBatchOut]


class LegacyMessageResponse(Schema):
    status: Literal["success"] = "success"
    message: str


class LegacyFailAllResponse(Schema):
    status: Literal["success"] = "success"
    message: str
    total: int = Field(..., description="Batches that were failed.")
    failed_jobs: int = Field(..., description="Jobs that were failed with them.")
    batches: list[str] = Field(..., description="Their ids.")


class LegacyErrorOut(Schema):
    """The older service's error shape; ``error_type`` is the Job Center's error code
    (``NOT_FOUND``, ``INVALID_TRANSITION``, ``VALIDATION_ERROR``, ``UNAUTHENTICATED``…)."""

    status: Literal["error"] = "error"
    message: str
    error_type: str
    details: Any = None
