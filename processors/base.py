"""The processor contract: what a job type is, and what it may do while it runs.

A processor declares its ``job_type``, a pydantic ``Params`` model (validated before a job is
stored, and shown in the API schema), its limits, and ``run(params, ctx) -> results``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict


class ProcessorParams(BaseModel):
    """Base for ``Params`` models: unknown fields are refused so typos surface at once."""

    model_config = ConfigDict(extra="forbid")


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
