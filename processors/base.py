"""The processor contract: what a job type is, and what it may do while it runs.

A processor declares its ``job_type``, a pydantic ``Params`` model (validated before a job is
stored, and shown in the API schema), its limits, and ``run(params, ctx) -> results``.
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any, ClassVar, Protocol, Union, get_args, get_origin, runtime_checkable

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator


def _numbers_only(annotation: Any) -> bool:
    """``int``, ``float`` or an optional or union of those (not ``bool``, not ``Any``)."""
    if get_origin(annotation) in (Union, types.UnionType):
        kinds = [kind for kind in get_args(annotation) if kind is not type(None)]
        return bool(kinds) and all(kind in (int, float) for kind in kinds)
    return annotation in (int, float)


def no_boolean_numbers(cls: type[BaseModel], value: Any, info: ValidationInfo) -> Any:
    """pydantic's lax mode takes ``true`` for 1 where a number is declared; a JSON client
    sending ``true`` where the schema says integer has made a mistake worth naming. Use as a
    ``mode="before"`` field validator (not on a union's discriminator field: pydantic
    refuses validators there)."""
    field = cls.model_fields.get(info.field_name or "")
    if isinstance(value, bool) and field is not None and _numbers_only(field.annotation):
        raise ValueError("must be a number, not true or false")
    return value


class ProcessorParams(BaseModel):
    """Base for ``Params`` models: unknown fields are refused so typos surface at once, and
    ``true`` is not taken for 1."""

    model_config = ConfigDict(extra="forbid")

    _no_boolean_numbers = field_validator("*", mode="before")(classmethod(no_boolean_numbers))


@runtime_checkable
class JobContext(Protocol):
    """What a running processor can do; the worker supplies the implementation."""

    job_id: str
    attempt: int

    @property
    def workdir(self) -> Path:
        """The job's own folder (JOBCENTER_MEDIA_ROOT/<job_id>/), created on first use."""
        ...

    @property
    def cancelled(self) -> bool:
        """True once someone asked to cancel the job: stop soon and return."""
        ...

    def progress(self, percent: float, step: str = "", message: str = "") -> None: ...

    def log(self, message: str, level: str = "info") -> None: ...

    def save_file(self, name: str, data: bytes | str) -> Path:
        """Write an output file (an asset) under the job's folder and return its path."""
        ...


class ProcessorError(Exception):
    """A failure the processor understands, with a stable error code.

    Permanent by default: the job fails at once. Raise ``RetryableError`` for failures that
    may pass (a remote service down) so the worker retries with backoff.
    """

    retryable = False

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


class RetryableError(ProcessorError):
    retryable = True


class Processor:
    """Subclass, set the class attributes, implement ``run``."""

    job_type: ClassVar[str]
    description: ClassVar[str] = ""
    Params: ClassVar[type[BaseModel]] = ProcessorParams
    timeout: ClassVar[float] = 3600.0
    """Seconds one attempt may take before the worker kills it."""
    max_attempts: ClassVar[int] = 3
    concurrency: ClassVar[int | None] = None
    """Most jobs of this type running at once across all workers; None means no limit."""

    def run(self, params: Any, ctx: JobContext) -> dict[str, Any]:
        raise NotImplementedError
