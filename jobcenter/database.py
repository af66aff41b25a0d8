"""Which database the job center runs on, decided from the environment.

Kept free of Django imports so that settings.py can call it and a unit test can check
all three choices without a database server.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url

SQLITE_BUSY_TIMEOUT_SECONDS = 30
MONGODB_DEFAULT_NAME = "jobcenter"

# Django's contrib apps, and what replaces each one on MongoDB (where every model needs an
# ObjectId primary key, so the contrib apps get app configs and migrations of our own).
CONTRIB_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
MONGODB_CONTRIB_APPS = [
    "jobcenter.mongo_apps.MongoAdminConfig",
    "jobcenter.mongo_apps.MongoAuthConfig",
    "jobcenter.mongo_apps.MongoContentTypesConfig",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
MONGODB_MIGRATION_MODULES = {
    "admin": "mongo_migrations.admin",
    "auth": "mongo_migrations.auth",
    "contenttypes": "mongo_migrations.contenttypes",
}


@dataclass(frozen=True)
class DatabaseChoice:
    """Everything in settings that depends on the database backend."""

    vendor: str
    databases: dict[str, dict[str, Any]]
    contrib_apps: list[str] = field(default_factory=lambda: list(CONTRIB_APPS))
    migration_modules: dict[str, str] = field(default_factory=dict)
    default_auto_field: str = "django.db.models.BigAutoField"


def sqlite_settings(path: Path) -> dict[str, Any]:
    """SQLite tuned for a job queue: WAL so readers never block the worker, a busy timeout
    so concurrent writers wait instead of failing, and IMMEDIATE transactions so that a
    transaction takes the write lock at BEGIN (no lock upgrades, hence no deadlocks)."""
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;",
        },
        "TEST": {"NAME": str(path.with_name("test_" + path.name))},
    }


def mongodb_settings(uri: str) -> dict[str, Any]:
    """The whole connection string goes to HOST (the backend's recommended form); the
    database name comes from the URI's path, or MONGODB_DEFAULT_NAME."""
    name = urlsplit(uri).path.lstrip("/").split("/")[0] or MONGODB_DEFAULT_NAME
    return {"ENGINE": "django_mongodb_backend", "HOST": uri, "NAME": name}


def select_database(env: Mapping[str, str], var_dir: Path) -> DatabaseChoice:
    """MONGODB_URI wins over DATABASE_URL; with neither, an SQLite file under var/."""
    mongodb_uri = env.get("MONGODB_URI", "").strip()
    if mongodb_uri:
        return DatabaseChoice(
            vendor="mongodb",
            databases={"default": mongodb_settings(mongodb_uri)},
            contrib_apps=list(MONGODB_CONTRIB_APPS),
            migration_modules=dict(MONGODB_MIGRATION_MODULES),
            default_auto_field="django_mongodb_backend.fields.ObjectIdAutoField",
        )
    database_url = env.get("DATABASE_URL", "").strip()
    if not database_url:
        return DatabaseChoice(
            vendor="sqlite", databases={"default": sqlite_settings(var_dir / "jobcenter.sqlite3")}
        )
    if database_url.startswith("sqlite:"):
        parsed = dj_database_url.parse(database_url)
        return DatabaseChoice(
            vendor="sqlite", databases={"default": sqlite_settings(Path(parsed["NAME"]))}
        )
    if database_url.startswith(("postgres://", "postgresql://", "pgsql://")):
        config = dj_database_url.parse(database_url, conn_max_age=60, conn_health_checks=True)
        return DatabaseChoice(vendor="postgresql", databases={"default": dict(config)})
    scheme = database_url.split(":", 1)[0]
    raise ValueError(
        f"DATABASE_URL scheme {scheme!r} is not supported: use sqlite:///path or "
        "postgres://user@host:port/name (or MONGODB_URI for MongoDB)."
    )
