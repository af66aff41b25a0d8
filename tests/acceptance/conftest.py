"""Fixtures of the acceptance tests: real ``runworker`` processes on the test database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.workers import Workers, running_workers


@pytest.fixture
def workers(transactional_db: None, tmp_path: Path, settings: Any) -> Iterator[Workers]:
    """Starts workers on demand; the data must be committed for them to see it."""
    yield from running_workers(tmp_path, settings)
