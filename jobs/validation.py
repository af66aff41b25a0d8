"""Validation of what callers hand to the services: parameters per job type, access control,
webhook targets. Every refusal is a jobcenter ValidationError whose details name the field."""

from __future__ import annotations

from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from jobcenter.errors import UnknownJobType, ValidationError
from processors.base import Processor
from processors.registry import get_processor


def _details(exc: pydantic.ValidationError, prefix: str) -> list[dict[str, str]]:
    details = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"])
        details.append(
            {"field": f"{prefix}.{location}" if location else prefix, "message": error["msg"]}
        )
    return details


def validate_parameters(
    job_type: str, parameters: Any, *, field_prefix: str = ""
) -> tuple[type[Processor], dict[str, Any]]:
    """The processor for ``job_type`` and the parameters as its ``Params`` model normalises
    them (defaults filled in, aliases resolved), ready to store as JSON."""
    try:
        processor = get_processor(job_type)
    except UnknownJobType as exc:
        exc.details = [{"field": f"{field_prefix}job_type", "message": exc.message}]
        raise
    try:
        params = processor.Params.model_validate(parameters if parameters is not None else {})
    except pydantic.ValidationError as exc:
        details = _details(exc, f"{field_prefix}parameters")
        first = details[0]
        raise ValidationError(
            f"Invalid parameters for job type {job_type!r}: {first['field']}: {first['message']}",
            details=details,
        ) from None
    return processor, params.model_dump(mode="json")


class AccessControl(BaseModel):
    """Who may see and steer a job or batch besides its owner (user or group names)."""

    model_config = ConfigDict(extra="forbid")

    visibility: Literal["private", "public"] = "private"
    read_access: list[str] = Field(default_factory=list)
    write_access: list[str] = Field(default_factory=list)
    admin_access: list[str] = Field(default_factory=list)


class WebhookTarget(BaseModel):
    """Where the worker POSTs the outcome of a job or batch, optionally HMAC-signed."""

    model_config = ConfigDict(extra="forbid")

    url: pydantic.HttpUrl
    secret: str | None = None


INT32 = 2**31 - 1
"""Priorities are 32-bit integer columns on every database (SQLite alone would store more)."""


def check_priority(value: Any, *, field: str = "priority") -> int:
    """Every entry point (API, admin, ``submit``) passes through here: out of range, the
    database driver would raise or SQLite keep a value PostgreSQL and MongoDB cannot hold."""
    if isinstance(value, bool) or not isinstance(value, int) or not -INT32 <= value <= INT32:
        message = f"must be an integer from {-INT32} to {INT32}"
        raise ValidationError(
            f"Invalid priority {value!r}: {message}.",
            details=[{"field": field, "message": message}],
        )
    return value


def normalize_access_control(value: Any, *, field: str = "access_control") -> dict[str, Any]:
    try:
        return AccessControl.model_validate(value or {}).model_dump()
    except pydantic.ValidationError as exc:
        raise ValidationError("Invalid access_control.", details=_details(exc, field)) from None


def normalize_webhook(value: Any, *, field: str = "webhook") -> dict[str, Any] | None:
    if not value:
        return None
    try:
        return WebhookTarget.model_validate(value).model_dump(mode="json")
    except pydantic.ValidationError as exc:
        raise ValidationError("Invalid webhook.", details=_details(exc, field)) from None
