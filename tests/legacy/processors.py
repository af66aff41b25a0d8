"""A ``session`` job type for the compatibility-route tests: the older service's session
parameters, so the tests do not depend on the real session processor being installed."""

from __future__ import annotations

from typing import Any

from processors.base import JobContext, Processor, ProcessorParams


class SessionParams(ProcessorParams):
    event: str
    session: str
    url: str
    filename: str
    track: str = ""
    day: str = ""
    starttime: str = ""
    endtime: str = ""
    speakers: list[str] = []
    video_url: str = ""
    attachments_url: str = ""
    source_language: str = "en"
    target_language: str = "de"
    use_cache: bool = True


class SessionStub(Processor):
    job_type = "session"
    description = "Test stand-in for the session processor."
    Params = SessionParams

    def run(self, params: SessionParams, ctx: JobContext) -> dict[str, Any]:
        return {"markdown_file": params.filename, "markdown_content": f"# {params.session}"}


WITH_SESSION = ["processors.echo.EchoProcessor", "tests.legacy.processors.SessionStub"]
