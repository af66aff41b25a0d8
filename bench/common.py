"""Shared by the benchmark scripts: a fresh database per run, Django set up against it,
and a small report format. Numbers go to docs/benchmarks.md, never into tests."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
PG_BENCH_DB = "jobcenter_bench"


def database_url(kind: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{REPO / 'var' / 'bench.sqlite3'}"
    if kind == "postgresql":
        return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + PG_BENCH_DB
    raise SystemExit(f"unknown database {kind!r}: sqlite or postgresql")


def fresh_database(kind: str) -> dict[str, str]:
    """Drop and recreate the benchmark database, migrate it, and return the environment
    for processes that use it."""
    url = database_url(kind)
    if kind == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(str(REPO / "var" / "bench.sqlite3") + suffix).unlink(missing_ok=True)
    else:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {PG_BENCH_DB}")
    env = dict(os.environ, DATABASE_URL=url, DJANGO_SETTINGS_MODULE="jobcenter.settings")
    env.setdefault("JOBCENTER_PROCESSORS", "processors.echo.EchoProcessor")
    env.pop("MONGODB_URI", None)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=REPO, env=env, check=True
    )
    return env


def setup_django(env: dict[str, str]) -> None:
    """Point this process's Django at the benchmark database (call once per process)."""
    os.environ.update(env)
    sys.path.insert(0, str(REPO))
    import django

    django.setup()


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def machine() -> str:
    import django

    cpus = os.cpu_count()
    return (
        f"{platform.node()}: {cpus} cores, Python {platform.python_version()}, "
        f"Django {django.get_version()}, {platform.platform()}"
    )
