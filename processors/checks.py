"""System checks: a broken processor registry is a startup error, not a surprise at run time."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, register

from processors.registry import get_registry


@register()
def check_processor_registry(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    return [
        Error(problem, hint="See JOBCENTER_PROCESSORS and docs/processors.md.", id="jobcenter.E001")
        for problem in get_registry().problems
    ]
