"""The processor registry: JOBCENTER_PROCESSORS plus the ``jobcenter.processors`` entry points;
every problem (duplicate job_type, bad dotted path, not a processor) is reported by the
system check jobcenter.E001 instead of crashing at import time."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import EntryPoint
from typing import Any

import pytest
from django.core.checks import Error, run_checks
from django.test import override_settings

from jobcenter.errors import UnknownJobType, ValidationError
from processors import registry
from processors.checks import check_processor_registry
from processors.echo import EchoProcessor
from tests.drivers.processors import SumProcessor

ECHO = "processors.echo.EchoProcessor"
SUM = "tests.drivers.processors.SumProcessor"


@pytest.fixture(autouse=True)
def only_echo(settings: Any) -> None:
    """Start every test from a registry of echo alone, whatever the project's default."""
    settings.JOBCENTER_PROCESSORS = [ECHO]


def registry_errors() -> list[Error]:
    return [message for message in run_checks() if message.id == "jobcenter.E001"]


@pytest.fixture
def fake_entry_points(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[EntryPoint]]:
    """Entry points of the group ``jobcenter.processors`` as if installed packages had them."""
    installed: list[EntryPoint] = []

    def entry_points(*, group: str) -> list[EntryPoint]:
        return [ep for ep in installed if ep.group == group]

    monkeypatch.setattr(registry, "entry_points", entry_points)
    registry.get_registry.cache_clear()
    yield installed
    registry.get_registry.cache_clear()


def plugin(name: str, value: str, group: str = registry.ENTRY_POINT_GROUP) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=group)


def test_echo_is_registered_by_default() -> None:
    from jobcenter import settings as project_settings

    assert ECHO in project_settings.JOBCENTER_PROCESSORS


def test_a_clean_registry_has_no_problems() -> None:
    assert registry.get_processor("echo") is EchoProcessor
    assert list(registry.job_types()) == ["echo"]
    assert registry_errors() == []
    assert check_processor_registry() == []


def test_unknown_job_type_names_the_field_and_the_known_types() -> None:
    with pytest.raises(UnknownJobType) as unknown:
        registry.get_processor("nope")
    assert isinstance(unknown.value, ValidationError)
    assert unknown.value.details == [{"field": "job_type", "message": "unknown job type 'nope'"}]
    assert "echo" in unknown.value.message


def test_setting_adds_job_types_and_the_cache_follows_the_setting() -> None:
    assert list(registry.job_types()) == ["echo"]
    with override_settings(JOBCENTER_PROCESSORS=[ECHO, SUM]):
        assert registry.get_processor("sum") is SumProcessor
        assert list(registry.job_types()) == ["echo", "sum"]
    assert list(registry.job_types()) == ["echo"]


def test_same_class_listed_twice_is_harmless() -> None:
    with override_settings(JOBCENTER_PROCESSORS=[ECHO, ECHO]):
        assert registry_errors() == []


def test_duplicate_job_type_is_a_system_check_error() -> None:
    with override_settings(JOBCENTER_PROCESSORS=[ECHO, "tests.drivers.processors.SecondEcho"]):
        errors = registry_errors()
        assert len(errors) == 1
        assert "'echo' is registered twice" in errors[0].msg
        assert ECHO in errors[0].msg and "SecondEcho" in errors[0].msg
        assert errors[0].hint and "JOBCENTER_PROCESSORS" in errors[0].hint
        assert registry.get_processor("echo") is EchoProcessor  # the first one stays
    assert registry_errors() == []


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("processors.nowhere.Missing", "cannot import processor 'processors.nowhere.Missing'"),
        ("processors.echo.Missing", "cannot import processor 'processors.echo.Missing'"),
        ("not-a-dotted-path", "cannot import processor 'not-a-dotted-path'"),
        ("tests.drivers.processors.NOT_A_PROCESSOR", "is not a Processor subclass"),
        ("jobcenter.errors.NotFound", "is not a Processor subclass"),
        ("tests.drivers.processors.WithoutJobType", "has no job_type"),
        ("tests.drivers.processors.ParamsNotPydantic", "Params is not a pydantic model"),
    ],
)
def test_bad_setting_entries_are_system_check_errors(path: str, problem: str) -> None:
    with override_settings(JOBCENTER_PROCESSORS=[ECHO, path]):
        errors = registry_errors()
        assert [error.id for error in errors] == ["jobcenter.E001"]
        assert problem in errors[0].msg
        # The good entries still work: one broken plug-in does not take the others down.
        assert registry.get_processor("echo") is EchoProcessor


def test_entry_points_add_job_types(fake_entry_points: list[EntryPoint]) -> None:
    fake_entry_points.append(plugin("sum", "tests.drivers.processors:SumProcessor"))
    fake_entry_points.append(plugin("other", "tests.drivers.processors:SumProcessor", "x.y"))
    registry.get_registry.cache_clear()
    assert registry.get_processor("sum") is SumProcessor
    assert list(registry.job_types()) == ["echo", "sum"]
    assert registry.get_registry().sources["sum"] == (
        "entry point 'sum' (tests.drivers.processors:SumProcessor)"
    )
    assert registry_errors() == []


def test_entry_point_clashing_with_the_setting_is_reported(
    fake_entry_points: list[EntryPoint],
) -> None:
    fake_entry_points.append(plugin("echo2", "tests.drivers.processors:SecondEcho"))
    registry.get_registry.cache_clear()
    errors = registry_errors()
    assert len(errors) == 1
    assert "'echo' is registered twice" in errors[0].msg
    assert "entry point 'echo2'" in errors[0].msg


def test_broken_entry_point_is_reported_not_raised(fake_entry_points: list[EntryPoint]) -> None:
    fake_entry_points.append(plugin("gone", "no_such_package.processors:Gone"))
    fake_entry_points.append(plugin("sum", "tests.drivers.processors:SumProcessor"))
    registry.get_registry.cache_clear()
    errors = registry_errors()
    assert len(errors) == 1
    assert "cannot load entry point 'gone'" in errors[0].msg
    assert registry.get_processor("sum") is SumProcessor


def test_limits_come_from_the_processor() -> None:
    assert registry.limits(EchoProcessor) == {
        "timeout": 3600.0,
        "max_attempts": 1,
        "concurrency": None,
    }
    assert registry.limits(SumProcessor) == {
        "timeout": 3600.0,
        "max_attempts": 2,
        "concurrency": 4,
    }


def test_limits_honour_the_overrides_setting(settings: Any) -> None:
    settings.JOBCENTER_PROCESSOR_LIMITS = {
        "echo": {"concurrency": 2, "timeout": 5},
        "sum": {"max_attempts": 7},
    }
    assert registry.limits(EchoProcessor) == {"timeout": 5, "max_attempts": 1, "concurrency": 2}
    assert registry.limits(SumProcessor)["max_attempts"] == 7
    assert registry.limits(SumProcessor)["concurrency"] == 4
