"""Processors that exist only for tests: a second job type (for batches of mixed types and
entry-point registration) and broken ones (for the registry's system check)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from processors.base import JobContext, Processor, ProcessorParams


class SumParams(ProcessorParams):
    numbers: list[int] = Field(min_length=1)
    label: str = "sum"


class SumProcessor(Processor):
    job_type = "sum"
    Params = SumParams
    max_attempts = 2
    concurrency = 4

    def run(self, params: SumParams, ctx: JobContext) -> dict[str, Any]:
        return {params.label: sum(params.numbers)}


class SecondEcho(Processor):
    """Claims the job type ``echo`` that the built-in EchoProcessor already has."""

    job_type = "echo"


class WithoutJobType(Processor):
    pass


class ParamsNotPydantic(Processor):
    job_type = "not-pydantic"
    Params = dict  # type: ignore[assignment]


NOT_A_PROCESSOR = object()
