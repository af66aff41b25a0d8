"""Shared fixtures. Tests are split as unit (no database), integration (services, commands,
a real database) and acceptance (the running system: processes, HTTP on 127.0.0.1)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

REPO = Path(__file__).resolve().parent.parent


def database_url() -> str:
    """A DATABASE_URL for the test database itself, for subprocesses that must share it
    (use with ``transactional_db`` so the data is committed and visible to them)."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    if connection.vendor == "postgresql":
        user = settings.get("USER") or "postgres"
        password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
        host = settings.get("HOST") or "127.0.0.1"
        port = settings.get("PORT") or 5432
        return f"postgres://{user}{password}@{host}:{port}/{settings['NAME']}"
    raise NotImplementedError(f"subprocess tests do not support {connection.vendor}")


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for a child process that runs against the test database."""
    env = dict(os.environ)
    env.pop("MONGODB_URI", None)
    env.update(DATABASE_URL=database_url(), DJANGO_SETTINGS_MODULE="jobcenter.settings")
    env.update(extra)
    return env


@pytest.fixture
def manage() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``manage.py`` in a subprocess against the test database."""

    def run(*args: str, input: str | None = None, timeout: float = 120) -> Any:
        return subprocess.run(
            [sys.executable, str(REPO / "manage.py"), *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=subprocess_env(),
            cwd=REPO,
        )

    return run
