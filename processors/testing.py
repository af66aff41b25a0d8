"""Run a processor in-process, without a worker or a database: for processor tests (ours and
those of packages that register their own job types)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from processors.base import Processor
from processors.files import save_job_file


@dataclass
class RecordingContext:
    """A JobContext that keeps what the processor reported, for assertions."""

    root: Path
    job_id: str = "job-test"
    attempt: int = 1
    cancel_after_progress: int | None = None
    """Turn ``cancelled`` true after this many progress reports (to test cancellation)."""
    progress_reports: list[tuple[float, str, str]] = field(default_factory=list)
    logs: list[tuple[str, str]] = field(default_factory=list)

    @property
    def workdir(self) -> Path:
        path = self.root / self.job_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def cancelled(self) -> bool:
        limit = self.cancel_after_progress
        return limit is not None and len(self.progress_reports) >= limit

    def progress(self, percent: float, step: str = "", message: str = "") -> None:
        self.progress_reports.append((percent, step, message))

    def log(self, message: str, level: str = "info") -> None:
        self.logs.append((level, message))

    def save_file(self, name: str, data: bytes | str) -> Path:
        return save_job_file(self.workdir, name, data)


def run_processor(
    processor: type[Processor], parameters: dict[str, Any], ctx: RecordingContext
) -> dict[str, Any]:
    """Validate ``parameters`` with the processor's Params, as enqueue would, and run it."""
    params = processor.Params.model_validate(parameters)
    return processor().run(params, ctx)
