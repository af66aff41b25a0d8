"""Processors that exist only for the worker tests, registered in the worker subprocesses
through the JOBCENTER_PROCESSORS environment variable (tests/acceptance/workers.py).

Most of them append a line per execution to a file named in their parameters, so that the
tests count executions outside the job table: a job the worker ran twice shows two lines
even when the database says it completed once. Each line is one ``os.write`` on a file
opened with O_APPEND, so lines from concurrent processes never interleave.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from pydantic import Field

from processors.base import (
    JobContext,
    Processor,
    ProcessorError,
    ProcessorParams,
    RetryableError,
)


def record(path: str, event: str, ctx: JobContext) -> None:
    """Append ``event job_id attempt pid time`` to ``path``."""
    if not path:
        return
    line = f"{event} {ctx.job_id} {ctx.attempt} {os.getpid()} {time.time():.6f}\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


class Execution:
    """One parsed line of a record file."""

    def __init__(self, line: str) -> None:
        event, job_id, attempt, pid, at = line.split()
        self.event = event
        self.job_id = job_id
        self.attempt = int(attempt)
        self.pid = int(pid)
        self.at = float(at)

    def __repr__(self) -> str:
        return f"Execution({self.event} {self.job_id} #{self.attempt} pid {self.pid} @{self.at})"


def read_records(path: Path, event: str | None = None) -> list[Execution]:
    if not path.exists():
        return []
    lines = [Execution(line) for line in path.read_text().splitlines() if line.strip()]
    return [item for item in lines if event is None or item.event == event]


class RecordParams(ProcessorParams):
    path: str = ""
    seconds: float = Field(0, ge=0)
    save_file: bool = False
    """Save a file named after the run (a new name every run) in the job's folder."""


class RecordProcessor(Processor):
    """Records that it ran (and in which child process), optionally taking some time."""

    job_type = "record"
    Params = RecordParams
    max_attempts = 3

    def run(self, params: RecordParams, ctx: JobContext) -> dict[str, Any]:
        record(params.path, "run", ctx)
        if params.save_file:
            ctx.save_file(f"run-{time.time_ns()}.txt", "a run's output")
        if params.seconds:
            time.sleep(params.seconds)
        return {"pid": os.getpid(), "attempt": ctx.attempt}


class HangProcessor(Processor):
    """Never returns and never looks at ctx.cancelled; its timeout is one second."""

    job_type = "hang"
    Params = RecordParams
    timeout = 1.0
    max_attempts = 1

    def run(self, params: RecordParams, ctx: JobContext) -> dict[str, Any]:
        record(params.path, "run", ctx)
        while True:
            time.sleep(3600)


class SegfaultProcessor(Processor):
    job_type = "segfault"
    Params = RecordParams
    max_attempts = 1

    def run(self, params: RecordParams, ctx: JobContext) -> dict[str, Any]:
        record(params.path, "run", ctx)
        os.kill(os.getpid(), signal.SIGSEGV)
        time.sleep(60)
        return {}


class ExitProcessor(Processor):
    job_type = "exit"
    Params = RecordParams
    max_attempts = 1

    def run(self, params: RecordParams, ctx: JobContext) -> dict[str, Any]:
        record(params.path, "run", ctx)
        sys.exit(3)


class FlakyParams(ProcessorParams):
    path: str = ""
    succeed_on: int = Field(3, ge=1)


class FlakyProcessor(Processor):
    """Fails with a retryable error until attempt ``succeed_on``."""

    job_type = "flaky"
    Params = FlakyParams
    max_attempts = 3

    def run(self, params: FlakyParams, ctx: JobContext) -> dict[str, Any]:
        record(params.path, "run", ctx)
        if ctx.attempt < params.succeed_on:
            raise RetryableError("FLAKY", f"attempt {ctx.attempt} fails", {"attempt": ctx.attempt})
        return {"succeeded_on": ctx.attempt}


class FailsParams(ProcessorParams):
    path: str = ""
    how: str = Field("permanent", pattern="^(permanent|exception|bad_results|not_json)$")


class FailsProcessor(Processor):
    """Each way a processor can fail without crashing its process."""

    job_type = "fails"
    Params = FailsParams
    max_attempts = 2

    def run(self, params: FailsParams, ctx: JobContext) -> Any:
        record(params.path, "run", ctx)
        if params.how == "permanent":
            raise ProcessorError("BAD_INPUT", "the input cannot be processed", {"why": "test"})
        if params.how == "exception":
            return {"ratio": 1 / 0}
        if params.how == "bad_results":
            return ["not", "a", "dict"]
        return {"value": {1, 2, 3}}


class LimitedParams(ProcessorParams):
    path: str
    seconds: float = Field(0.3, ge=0)


class LimitedProcessor(Processor):
    """At most two at once across all workers; records its start and end so that the test
    measures the real concurrency."""

    job_type = "limited"
    Params = LimitedParams
    concurrency = 2

    def run(self, params: LimitedParams, ctx: JobContext) -> dict[str, Any]:
        record(params.path, "start", ctx)
        time.sleep(params.seconds)
        record(params.path, "end", ctx)
        return {}


class SlowParams(ProcessorParams):
    path: str = ""
    seconds: float = Field(5, ge=0)
    steps: int = Field(50, ge=1)
    log_every: int = Field(0, ge=0)


class SlowProcessor(Processor):
    """Works in steps, reporting progress, and stops as soon as it is cancelled."""

    job_type = "slow"
    Params = SlowParams

    def run(self, params: SlowParams, ctx: JobContext) -> dict[str, Any]:
        record(params.path, "run", ctx)
        pause = params.seconds / params.steps
        for step in range(1, params.steps + 1):
            if ctx.cancelled:
                record(params.path, "saw_cancel", ctx)
                return {"stopped_at_step": step}
            time.sleep(pause)
            ctx.progress(100.0 * step / params.steps, "working", f"step {step}/{params.steps}")
            if params.log_every and step % params.log_every == 0:
                level = "warning" if step == params.steps else "info"
                ctx.log(f"reached step {step}", level)
        return {"steps": params.steps}


class IgnoresCancelProcessor(Processor):
    """Sleeps without ever looking at ctx.cancelled."""

    job_type = "ignores_cancel"
    Params = SlowParams

    def run(self, params: SlowParams, ctx: JobContext) -> dict[str, Any]:
        record(params.path, "run", ctx)
        time.sleep(params.seconds)
        record(params.path, "end", ctx)
        return {}


class LeakyParams(ProcessorParams):
    path: str = ""
    megabytes: int = Field(200, ge=1)


_LEAKED: list[bytearray] = []


class LeakyProcessor(Processor):
    """Keeps what it allocates, as a leaking library would."""

    job_type = "leaky"
    Params = LeakyParams

    def run(self, params: LeakyParams, ctx: JobContext) -> dict[str, Any]:
        record(params.path, "run", ctx)
        block = bytearray(params.megabytes * 1024 * 1024)
        for offset in range(0, len(block), 4096):  # touch every page: resident, not virtual
            block[offset] = 1
        _LEAKED.append(block)
        return {"leaked_mb": params.megabytes * len(_LEAKED)}


ALL = [
    "processors.echo.EchoProcessor",
    *(
        f"{__name__}.{cls.__name__}"
        for cls in (
            RecordProcessor,
            HangProcessor,
            SegfaultProcessor,
            ExitProcessor,
            FlakyProcessor,
            FailsProcessor,
            LimitedProcessor,
            SlowProcessor,
            IgnoresCancelProcessor,
            LeakyProcessor,
        )
    ),
]
"""Dotted paths of every processor the worker tests use, for JOBCENTER_PROCESSORS."""
