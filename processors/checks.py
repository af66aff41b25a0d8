"""System checks: a broken processor registry is a startup error, not a surprise at run time."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Warning, register

from processors.registry import get_registry, job_types


@register()
def check_processor_registry(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    return [
        Error(problem, hint="See JOBCENTER_PROCESSORS and docs/processors.md.", id="jobcenter.E001")
        for problem in get_registry().problems
    ]


@register()
def check_pdf_helper(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The pdf processor works without its C helper, only slower: worth a word at startup."""
    if "pdf" not in job_types():
        return []
    from processors.pdf import native

    if native.pdfium() is not None:
        return []
    return [
        Warning(
            "The pdf processor's C helper is not built for this source: the pdfium engine "
            "reads text runs and page objects through Python, more slowly.",
            hint="Run `python -m processors.pdf.native` (needs a C compiler); scripts/run.sh does.",
            id="jobcenter.W001",
        )
    ]
