"""What the jobs API reads and writes (ninja schemas), and the filters of its lists.

Request bodies are parsed loosely (``parameters`` is any JSON object) and validated by the
services (``jobs.validation.validate_parameters``), so that errors name the field the same
way for the API, the admin and the commands, and so that job types registered after import
(tests, plug-ins) are accepted. The OpenAPI schema nevertheless documents a discriminated
union keyed by ``job_type``, one member per registered processor with its real ``Params``,
so that client generators get real types: see ``JobCreateIn.__get_pydantic_json_schema__``.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Union

from django.conf import settings
from django.db.models import Q
from ninja import Field, FilterLookup, FilterSchema, Schema
from pydantic import (
    AfterValidator,
    ConfigDict,
    GetJsonSchemaHandler,
    TypeAdapter,
    create_model,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError

from jobs.selectors import SEARCH_PARAMETER_KEYS, job_search
from jobs.states import JobStatus
from jobs.validation import INT32, AccessControl, WebhookTarget
from processors.base import no_boolean_numbers
from processors.registry import job_types

MAX_JSON_DEPTH = 64


# --- input hygiene --------------------------------------------------------------------------


def find_unstorable(value: Any, path: str = "", depth: int = 0) -> tuple[str, str] | None:
    """The first value no database can store (NUL characters, lone surrogates, NaN and
    infinities, absurd nesting) as ``(field, problem)``, else None. PostgreSQL refuses NUL in
    text and JSON; refusing such input everywhere keeps the backends alike and avoids 500s."""
    if depth > MAX_JSON_DEPTH:
        return path or "body", f"nested deeper than {MAX_JSON_DEPTH} levels"
    if isinstance(value, str):
        if "\x00" in value:
            return path or "body", "must not contain NUL characters"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "body", "must be valid Unicode (no lone surrogates)"
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return path or "body", "must be a finite number"
    if isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            problem = find_unstorable(str(key), child, depth + 1) or find_unstorable(
                item, child, depth + 1
            )
            if problem:
                return problem
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            problem = find_unstorable(item, f"{path}[{index}]", depth + 1)
            if problem:
                return problem
    return None


class StrictSchema(Schema):
    model_config = ConfigDict(extra="forbid")


class InputSchema(StrictSchema):
    """Base of request bodies: refuses unknown fields (a typo must not be silently dropped)
    and values that cannot be stored, naming the field."""

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        problem = find_unstorable(data)
        if problem:
            raise PydanticCustomError(
                "unstorable_value",
                "{field}: {problem}",
                {"field": problem[0], "problem": problem[1]},
            )
        return data


def _utc(value: datetime) -> datetime:
    """Naive datetimes are UTC; anything is converted to UTC (out-of-range years fail here,
    as a validation error, not later in the database driver)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        value = value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError("datetime out of range") from None
    if not 1900 <= value.year <= 9000:
        raise ValueError("year must be between 1900 and 9000")
    return value


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
Text = Annotated[str, AfterValidator(_no_nul)]
ShortText = Annotated[str, Field(max_length=255), AfterValidator(_no_nul)]
Identifier = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_no_nul)]


def _split_commas(value: Any) -> Any:
    """``?status=a,b`` and ``?status=a&status=b`` mean the same (an empty part is kept, and
    refused by the item's validation, rather than silently widening the filter)."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        return [part.strip() for item in value for part in str(item).split(",")]
    return value


# --- errors ---------------------------------------------------------------------------------


class ErrorBody(Schema):
    code: str = Field(..., examples=["VALIDATION_ERROR"])
    message: str
    details: Any = None


class ErrorOut(Schema):
    """The one error shape of every endpoint."""

    error: ErrorBody


READ_ERRORS = frozenset({400, 401, 403, 404, 422})
WRITE_ERRORS = READ_ERRORS | {409, 413}


def errors(codes: frozenset[int] = READ_ERRORS) -> dict[frozenset[int], type[ErrorOut]]:
    """The ``response=`` entry documenting ``codes`` with the error shape."""
    return {codes: ErrorOut}


# --- creating jobs --------------------------------------------------------------------------


class JobSpecIn(StrictSchema):
    """One job of a batch (also the common part of ``POST /api/jobs``)."""

    job_type: Identifier = Field(..., description="A registered job type (GET /api/job-types).")
    parameters: dict[str, Any] | None = Field(
        None, description="Validated against the job type's parameter schema."
    )
    job_name: ShortText = ""
    priority: int = Field(0, ge=-INT32, le=INT32, description="Higher runs first.")
    run_after: UtcDatetime | None = Field(None, description="Not claimed before this time.")
    unique_key: ShortText | None = Field(
        None,
        description="While an unfinished job holds this key, submitting it again returns that "
        "job instead of creating another. Empty or only whitespace: no key.",
    )
    max_attempts: int | None = Field(None, ge=1, le=100)
    webhook: WebhookTarget | None = None

    _no_boolean_numbers = field_validator("priority", "max_attempts", mode="before")(
        classmethod(no_boolean_numbers)
    )

    @field_validator("unique_key")
    @classmethod
    def _blank_key_is_none(cls, value: str | None) -> str | None:
        """``""`` always meant no key; ``"  "`` was a key of its own, which a client that
        sends a blank variable did not mean (and two such jobs in one batch were refused
        as sharing a key)."""
        return value if value is None or value.strip() else None

    def spec_dict(self) -> dict[str, Any]:
        """The keyword arguments of ``jobs.services.JobSpec``."""
        return {
            "job_type": self.job_type,
            "parameters": self.parameters,
            "job_name": self.job_name,
            "priority": self.priority,
            "run_after": self.run_after,
            "unique_key": self.unique_key,
            "max_attempts": self.max_attempts,
            "webhook": self.webhook.model_dump(mode="json") if self.webhook else None,
        }

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return handler(TypeAdapter(job_union(cls, "BatchJob")).core_schema)


class JobCreateIn(InputSchema, JobSpecIn):
    """``POST /api/jobs``."""

    batch_id: Identifier | None = None
    access_control: AccessControl | None = None

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return handler(TypeAdapter(job_union(cls, "JobCreate")).core_schema)


def _model_name(job_type: str, suffix: str) -> str:
    words = re.split(r"[^0-9A-Za-z]+", job_type)
    return "".join(word[:1].upper() + word[1:] for word in words if word) + suffix


def job_union(base: type[Schema], suffix: str) -> Any:
    """``Annotated[Union[<one model per registered type>], discriminator=job_type]`` with
    the fields of ``base`` and each type's ``Params`` as ``parameters``; built from the
    registry each time the OpenAPI schema is generated."""
    members = []
    for job_type, processor in job_types().items():
        fields: dict[str, Any] = {
            name: (info.annotation, info)
            for name, info in base.model_fields.items()
            if name not in {"job_type", "parameters"}
        }
        members.append(
            create_model(  # type: ignore[call-overload]
                _model_name(job_type, suffix),
                __base__=StrictSchema,
                __doc__=processor.description or f"A {job_type} job.",
                job_type=(Literal[job_type], ...),
                parameters=(processor.Params, None),
                **fields,
            )
        )
    if not members:  # nothing registered: document the loose shape
        return dict[str, Any]
    if len(members) == 1:
        return Annotated[members[0], Field(discriminator="job_type")]
    return Annotated[Union[tuple(members)], Field(discriminator="job_type")]  # noqa: UP007


# --- reading jobs ---------------------------------------------------------------------------


class ProgressOut(Schema):
    step: str = ""
    percent: float = 0
    message: str = ""


class JobErrorOut(Schema):
    code: str
    message: str = ""
    details: Any = None


class WebhookOut(Schema):
    """Where outcomes are posted; the signing secret is never shown."""

    url: str
    signed: bool


def _webhook_out(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict) or not value.get("url"):
        return None
    return {"url": str(value["url"]), "signed": bool(value.get("secret"))}


def _progress_out(value: Any) -> dict[str, Any]:
    value = value if isinstance(value, dict) else {}
    percent = value.get("percent")
    return {
        "step": str(value.get("step") or ""),
        "percent": float(percent) if isinstance(percent, int | float) else 0.0,
        "message": str(value.get("message") or ""),
    }


def _error_out(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict) or not value:
        return None
    return {
        "code": str(value.get("code") or "ERROR"),
        "message": str(value.get("message") or ""),
        "details": value.get("details"),
    }


class AccessControlOut(Schema):
    visibility: str = "private"
    read_access: list[str] = []
    write_access: list[str] = []
    admin_access: list[str] = []


def _username(obj: Any) -> str | None:
    user = obj.user if obj.user_id is not None else None
    return user.get_username() if user is not None else None


class JobListItem(Schema):
    """A job as lists show it (everything but ``results``; read those per job)."""

    job_id: str
    job_type: str
    job_name: str
    status: JobStatus
    priority: int
    parameters: dict[str, Any]
    progress: ProgressOut
    error: JobErrorOut | None = Field(
        ...,
        description="What ended a failed job; on a pending job waiting for its retry "
        "(run_after), what failed its last attempt. A running attempt has none.",
    )
    batch_id: str | None
    user: str | None
    access_control: AccessControlOut
    archived: bool
    webhook: WebhookOut | None
    unique_key: str | None
    attempts: int
    max_attempts: int
    run_after: datetime | None
    cancel_requested: bool
    worker_id: str | None = Field(
        ...,
        description="The worker running the job; on a job that is not processing, the worker "
        "still stopping the attempt an operator took from it (see held), or, once "
        "lease_expires_at has passed, the one that died holding it (kept to tell which; it "
        "holds nothing back). Cleared when an attempt ends in its worker's hands, and when "
        "another worker recovers the job from an expired lease.",
    )
    held: bool = Field(
        False,
        description="Not processing, but its worker has not yet stopped the attempt an "
        "operator took from it (failed, cancelled, set pending or restarted while it ran): "
        "no worker claims it until then, or until lease_expires_at.",
    )
    lease_expires_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = Field(
        ...,
        description="When the current (or last) attempt began to run in a worker's child "
        "process; null while a claimed job still waits for a free child, and for a job that "
        "never ran.",
    )
    completed_at: datetime | None
    duration: float | None = Field(
        None,
        description="Seconds from started_at to completed_at (or now): the time the last "
        "attempt ran, not the time the job waited.",
    )

    @staticmethod
    def resolve_user(obj: Any) -> str | None:
        return _username(obj)

    @staticmethod
    def resolve_held(obj: Any) -> bool:
        return bool(obj.held)

    @staticmethod
    def resolve_progress(obj: Any) -> dict[str, Any]:
        return _progress_out(obj.progress)

    @staticmethod
    def resolve_error(obj: Any) -> dict[str, Any] | None:
        return _error_out(obj.error)

    @staticmethod
    def resolve_webhook(obj: Any) -> dict[str, Any] | None:
        return _webhook_out(obj.webhook)

    @staticmethod
    def resolve_parameters(obj: Any) -> dict[str, Any]:
        return obj.parameters if isinstance(obj.parameters, dict) else {}

    @staticmethod
    def resolve_access_control(obj: Any) -> dict[str, Any]:
        return obj.access_control if isinstance(obj.access_control, dict) else {}


class JobOut(JobListItem):
    """One job with everything, its results included."""

    results: dict[str, Any] | None

    @staticmethod
    def resolve_results(obj: Any) -> dict[str, Any] | None:
        if obj.results is None or isinstance(obj.results, dict):
            return obj.results
        return {"value": obj.results}


class Page(Schema):
    next_cursor: str | None = Field(
        None, description="Pass as `cursor` for the next page; null on the last page."
    )
    total: int | None = Field(None, description="Only with include_total=true.")
    limit: int


class JobPage(Page):
    items: list[JobListItem]


Ordering = Literal["-created_at", "created_at", "-priority", "priority"]


class PageParams(Schema):
    cursor: Annotated[str, Field(max_length=512)] | None = Field(
        None, description="The next_cursor of the previous page (opaque)."
    )
    limit: int = Field(50, ge=1, le=1000)
    include_total: bool = Field(False, description="Count all matches (slower on big sets).")


class JobPageParams(PageParams):
    ordering: Ordering = "-created_at"


class BatchJobFilter(FilterSchema):
    """The filters of a batch's jobs; ``JobFilter`` adds the batch."""

    # Plain list annotations (no Annotated around the list): ninja recognises them as
    # repeatable query parameters; commas are split by the validator below.
    status: list[JobStatus] | None = Field(
        None, description="One or several statuses (repeat the parameter or separate by commas)."
    )
    job_type: list[Identifier] | None = Field(None, description="One or several job types.")
    search: Annotated[str, Field(max_length=200), AfterValidator(_no_nul)] | None = Field(
        None,
        description="Job name, job id, or the text parameters "
        + ", ".join(SEARCH_PARAMETER_KEYS)
        + " (case-insensitive, contains).",
    )
    created_after: Annotated[UtcDatetime | None, FilterLookup("created_at__gte")] = None
    created_before: Annotated[UtcDatetime | None, FilterLookup("created_at__lt")] = None
    archived: bool | None = None

    _split = field_validator("status", "job_type", mode="before")(_split_commas)

    def filter_status(self, value: list[str] | None) -> Q:
        return Q(status__in=value) if value else Q()

    def filter_job_type(self, value: list[str] | None) -> Q:
        return Q(job_type__in=value) if value else Q()

    def filter_search(self, value: str | None) -> Q:
        value = (value or "").strip()
        if not value:
            return Q()
        return job_search(value)


class JobFilter(BatchJobFilter):
    batch_id: Annotated[Identifier | None, FilterLookup("batch_id")] = None


class LogOut(Schema):
    id: str
    timestamp: datetime
    level: str
    message: str

    @staticmethod
    def resolve_id(obj: Any) -> str:
        return str(obj.id)


class LogPage(Page):
    items: list[LogOut]


class LogFilter(FilterSchema):
    level: Annotated[Literal["debug", "info", "warning", "error"] | None, FilterLookup("level")] = (
        None
    )


# --- actions --------------------------------------------------------------------------------


class FailIn(InputSchema):
    code: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Z0-9_]+$")] = (
        "FAILED_BY_OPERATOR"
    )
    message: Annotated[str, Field(max_length=2000)] = "Failed by an operator."


class AccessControlIn(InputSchema, AccessControl):
    """Replaces the whole access control of a job or batch."""


# --- files ----------------------------------------------------------------------------------


class FileOut(Schema):
    path: str = Field(..., description="Relative to the job's folder; use it in the URL.")
    size: int
    content_type: str
    modified_at: datetime


class UploadOut(Schema):
    reference: str = Field(..., description="Use as a parameter value, e.g. `source`.")
    filename: str
    size: int


# --- job types, workers ---------------------------------------------------------------------


class LimitsOut(Schema):
    timeout: float | None
    max_attempts: int | None
    concurrency: int | None = Field(
        ...,
        description="Most jobs of the type running at once across all workers, as it holds: "
        "an operator's setting (admin dashboard) over the processor's own; null: no limit.",
    )


class JobTypeOut(Schema):
    job_type: str
    description: str
    limits: LimitsOut
    default_concurrency: int | None = Field(
        ..., description="The processor's own concurrency limit (with settings overrides)."
    )
    paused: bool
    parameters_schema: dict[str, Any] = Field(
        ..., description="JSON schema of `parameters` (build forms from it)."
    )


class WorkerOut(Schema):
    worker_id: str
    name: str
    host: str
    pid: int
    status: str
    alive: bool = Field(
        ...,
        description="Status running and a heartbeat within JOBCENTER_WORKER_ALIVE_SECONDS "
        "(default 60).",
    )
    job_types: list[str]
    exclude_types: list[str]
    concurrency: int
    running_jobs: list[str]
    jobs_done: int
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None


def worker_alive_seconds() -> float:
    """JOBCENTER_WORKER_ALIVE_SECONDS (see ``jobs.selectors.alive_workers``)."""
    return float(settings.JOBCENTER_WORKER_ALIVE_SECONDS)
