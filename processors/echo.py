"""``echo``: the diagnostic job type. Operators smoke-test a deployment with it and the
benchmarks use it as the no-op job."""

from __future__ import annotations

import time
from typing import Any

from pydantic import Field

from processors.base import JobContext, Processor, ProcessorError, ProcessorParams


class EchoParams(ProcessorParams):
    message: str = Field("", description="Returned unchanged in results.message.")
    sleep_seconds: float = Field(0, ge=0, le=3600, description="Total time to take.")
    steps: int = Field(1, ge=1, le=10_000, description="Progress reports along the way.")
    fail_with: str | None = Field(
        None, description="An error code to fail with instead of completing."
    )


class EchoProcessor(Processor):
    job_type = "echo"
    description = "Diagnostic job: reports progress in steps, then echoes the message."
    Params = EchoParams
    timeout = 3600.0
    max_attempts = 1

    def run(self, params: EchoParams, ctx: JobContext) -> dict[str, Any]:
        pause = params.sleep_seconds / params.steps
        for step in range(1, params.steps + 1):
            if ctx.cancelled:
                return {"message": params.message, "steps_done": step - 1, "cancelled": True}
            if pause:
                time.sleep(pause)
            ctx.progress(100.0 * step / params.steps, "echo", f"step {step}/{params.steps}")
        if params.fail_with:
            raise ProcessorError(
                params.fail_with, f"echo was asked to fail with {params.fail_with}"
            )
        return {"message": params.message, "steps_done": params.steps}
