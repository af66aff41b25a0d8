"""The documentation states facts the code decides; these tests keep the two from drifting.

* docs/architecture.md: the transition table and the state diagram equal
  ``jobs.states.TRANSITIONS`` (names, source statuses, target status).
* docs/configuration.md: every environment variable the settings read (and run.sh's
  HOST/PORT) is documented, nothing documented is missing from the code, every setting it
  names exists, every ``JOBCENTER_*`` setting is documented, and documented numeric defaults
  are the code's defaults.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from jobcenter import settings as project_settings
from jobs.states import TRANSITIONS

REPO = Path(__file__).resolve().parents[2]
ARCHITECTURE = REPO / "docs" / "architecture.md"
CONFIGURATION = REPO / "docs" / "configuration.md"
ENV_SOURCES = [REPO / "jobcenter" / "settings.py", REPO / "jobcenter" / "database.py"]
RUN_SCRIPT = REPO / "scripts" / "run.sh"

Row = list[str]


def tables(markdown: str, header: list[str]) -> list[list[Row]]:
    """The body rows of every Markdown table whose header cells are ``header``."""
    found: list[list[Row]] = []
    lines = markdown.splitlines()
    index = 0
    while index < len(lines):
        if cells(lines[index]) == header and index + 1 < len(lines):
            separator = cells(lines[index + 1])
            assert all(set(cell) <= set("-: ") for cell in separator), lines[index + 1]
            rows: list[Row] = []
            index += 2
            while index < len(lines) and lines[index].lstrip().startswith("|"):
                row = cells(lines[index])
                assert len(row) == len(header), f"row has {len(row)} cells: {lines[index]}"
                rows.append(row)
                index += 1
            found.append(rows)
        else:
            index += 1
    return found


def cells(line: str) -> list[str]:
    line = line.strip()
    if not line.startswith("|"):
        return []
    return [cell.strip() for cell in line.strip("|").replace("\\|", "\0").split("|")]


def code_names(cell: str) -> list[str]:
    """The names written as inline code in a table cell, in order."""
    return re.findall(r"`([^`]+)`", cell)


# --- docs/architecture.md: the state machine ---------------------------------------------------


def expected_edges() -> set[tuple[str, str, str]]:
    return {
        (name, source, transition.target)
        for name, transition in TRANSITIONS.items()
        for source in transition.sources
    }


def test_transition_table_equals_the_code() -> None:
    found = tables(
        ARCHITECTURE.read_text(encoding="utf-8"), ["transition", "from", "to", "meaning"]
    )
    assert len(found) == 1, "docs/architecture.md needs exactly one transition table"
    documented: dict[str, tuple[set[str], str]] = {}
    for name_cell, sources, target, meaning in found[0]:
        names = code_names(name_cell)
        assert len(names) == 1, f"one transition per row: {name_cell!r}"
        assert names[0] not in documented, f"{names[0]} is documented twice"
        assert meaning, f"{names[0]} has no meaning"
        documented[names[0]] = ({s.strip() for s in sources.split(",")}, target.strip())
    actual = {name: (set(t.sources), str(t.target)) for name, t in TRANSITIONS.items()}
    assert documented == actual


def test_state_diagram_equals_the_code() -> None:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    blocks = re.findall(r"```mermaid\n(stateDiagram-v2\n.*?)```", text, flags=re.DOTALL)
    assert len(blocks) == 1, "docs/architecture.md needs exactly one stateDiagram-v2"
    edges: set[tuple[str, str, str]] = set()
    edge = re.compile(r"^\s*(\[\*\]|\w+)\s*-->\s*(\[\*\]|\w+)\s*:\s*(.+?)\s*$")
    for line in blocks[0].splitlines()[1:]:
        match = edge.match(line)
        if not match:
            assert not line.strip() or line.strip().startswith("%%"), f"unparsed: {line!r}"
            continue
        source, target, labels = match.groups()
        if "[*]" in (source, target):
            continue  # entry (enqueue) and exit arrows are not transitions
        for label in labels.split("/"):
            edges.add((label.strip(), source, target))
    assert edges == expected_edges()


# --- docs/configuration.md: settings and environment ---------------------------------------------

CONFIG_HEADER = ["environment variable", "setting", "default", "meaning"]
NOT_APPLICABLE = "—"


def configuration_rows() -> list[Row]:
    found = tables(CONFIGURATION.read_text(encoding="utf-8"), CONFIG_HEADER)
    assert found, "docs/configuration.md has no settings table"
    return [row for table in found for row in table]


def read_by_code() -> set[str]:
    """Environment variables that settings.py and database.py read."""
    pattern = re.compile(
        r"""(?:os\.environ\.get|os\.environ\[|env_bool|env_list|env\.get)\(?\s*["']([A-Z][A-Z0-9_]*)["']"""
    )
    names: set[str] = set()
    for source in ENV_SOURCES:
        names.update(pattern.findall(source.read_text(encoding="utf-8")))
    return names


def read_by_run_script() -> set[str]:
    return set(re.findall(r"\$\{([A-Z][A-Z0-9_]*):-", RUN_SCRIPT.read_text(encoding="utf-8")))


def documented_variables() -> set[str]:
    names: set[str] = set()
    for row in configuration_rows():
        if row[0] != NOT_APPLICABLE:
            names.update(code_names(row[0]))
    return names


def documented_settings() -> set[str]:
    return {name for row in configuration_rows() for name in code_names(row[1])}


def test_the_parsers_see_the_code() -> None:
    """Guards the tests below against passing because a regex found nothing."""
    assert {"DATABASE_URL", "MONGODB_URI", "SECRET_KEY", "JOBCENTER_MEDIA_ROOT"} <= read_by_code()
    assert {"HOST", "PORT"} <= read_by_run_script()


def test_every_environment_variable_is_documented() -> None:
    missing = (read_by_code() | read_by_run_script()) - documented_variables()
    assert not missing, f"not in docs/configuration.md: {sorted(missing)}"


def test_every_documented_environment_variable_is_read() -> None:
    unknown = documented_variables() - read_by_code() - read_by_run_script()
    assert not unknown, f"documented but never read: {sorted(unknown)}"


def test_every_documented_setting_exists() -> None:
    unknown = {name for name in documented_settings() if not hasattr(django_settings, name)}
    assert not unknown, f"documented settings that do not exist: {sorted(unknown)}"


def test_every_jobcenter_setting_is_documented() -> None:
    ours = {name for name in vars(project_settings) if name.startswith("JOBCENTER_")}
    assert ours, "no JOBCENTER_* settings found"
    missing = ours - documented_settings()
    assert not missing, f"not in docs/configuration.md: {sorted(missing)}"


def numeric_defaults() -> list[tuple[str, str, float]]:
    """(variable, setting, default) for rows of one JOBCENTER_* setting whose documented
    default is a number."""
    found = []
    for variable, setting, default, _ in configuration_rows():
        settings_named = code_names(setting)
        defaults = code_names(default)
        if len(settings_named) != 1 or not settings_named[0].startswith("JOBCENTER_"):
            continue
        if not defaults or not re.fullmatch(r"-?[0-9][0-9_]*(\.[0-9]+)?", defaults[0]):
            continue
        found.append((variable.strip("` "), settings_named[0], float(defaults[0])))
    return found


def test_documented_numeric_defaults_are_the_code_defaults() -> None:
    rows = numeric_defaults()
    assert len(rows) >= 5, "expected numeric defaults in docs/configuration.md"
    for variable, setting, default in rows:
        if variable in os.environ:
            continue  # this run overrides it; the default is not observable
        value = getattr(project_settings, setting)
        assert float(value) == pytest.approx(default), f"{setting}: code {value}, docs {default}"
