"""A job type of the tests with the text parameters that the jobs list's ``search`` reads."""

from __future__ import annotations

from typing import Any

from processors.base import JobContext, Processor, ProcessorParams


class DossierParams(ProcessorParams):
    event: str = ""
    session: str = ""
    url: str = ""
    filename: str = ""


class DossierProcessor(Processor):
    job_type = "dossier"
    description = "Test job type with event/session/url/filename parameters."
    Params = DossierParams

    def run(self, params: DossierParams, ctx: JobContext) -> dict[str, Any]:
        return {"markdown_content": f"# {params.session}"}


WITH_DOSSIER = [
    "processors.echo.EchoProcessor",
    "tests.api.processors.DossierProcessor",
    "tests.drivers.processors.SumProcessor",
]
