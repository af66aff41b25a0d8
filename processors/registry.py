"""The registry of job types: the JOBCENTER_PROCESSORS setting plus the entry-point group
``jobcenter.processors``, so other packages add job types without touching this one.

Loading never raises: problems (an import error, a duplicate job_type) are collected and
reported by the system check in processors/checks.py, so `manage.py check` names them all.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib.metadata import entry_points

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string
from pydantic import BaseModel

from jobcenter.errors import UnknownJobType
from processors.base import Processor

ENTRY_POINT_GROUP = "jobcenter.processors"


@dataclass
class Registry:
    processors: dict[str, type[Processor]] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def add(self, cls: object, source: str) -> None:
        if not (isinstance(cls, type) and issubclass(cls, Processor)):
            self.problems.append(f"{source} is not a Processor subclass")
            return
        job_type = getattr(cls, "job_type", None)
        if not isinstance(job_type, str) or not job_type:
            self.problems.append(f"{source} has no job_type")
            return
        if not (isinstance(cls.Params, type) and issubclass(cls.Params, BaseModel)):
            self.problems.append(f"{source}.Params is not a pydantic model")
            return
        if job_type in self.processors:
            if self.processors[job_type] is cls:
                return
            self.problems.append(
                f"job_type {job_type!r} is registered twice: by {self.sources[job_type]} "
                f"and by {source}"
            )
            return
        self.processors[job_type] = cls
        self.sources[job_type] = source


@functools.cache
def get_registry() -> Registry:
    registry = Registry()
    for path in settings.JOBCENTER_PROCESSORS:
        try:
            registry.add(import_string(path), path)
        except ImportError as exc:
            registry.problems.append(f"cannot import processor {path!r}: {exc}")
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        source = f"entry point {entry_point.name!r} ({entry_point.value})"
        try:
            registry.add(entry_point.load(), source)
        except Exception as exc:  # a broken plug-in must not take the job center down
            registry.problems.append(f"cannot load {source}: {exc}")
    return registry


@receiver(setting_changed)
def _reset_registry(*, setting: str, **kwargs: object) -> None:
    if setting == "JOBCENTER_PROCESSORS":
        get_registry.cache_clear()


def get_processor(job_type: str) -> type[Processor]:
    try:
        return get_registry().processors[job_type]
    except KeyError:
        known = ", ".join(sorted(get_registry().processors)) or "none"
        raise UnknownJobType(
            f"Unknown job_type {job_type!r} (registered: {known}).",
            details=[{"field": "job_type", "message": f"unknown job type {job_type!r}"}],
        ) from None


def job_types() -> dict[str, type[Processor]]:
    return dict(sorted(get_registry().processors.items()))


def limits(processor: type[Processor]) -> dict[str, float | int | None]:
    """The processor's limits with JOBCENTER_PROCESSOR_LIMITS overrides applied."""
    values: dict[str, float | int | None] = {
        "timeout": processor.timeout,
        "max_attempts": processor.max_attempts,
        "concurrency": processor.concurrency,
    }
    values.update(settings.JOBCENTER_PROCESSOR_LIMITS.get(processor.job_type, {}))
    return values
