"""Which settings each of the three database choices produces (no server needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobcenter.database import (
    MONGODB_CONTRIB_APPS,
    MONGODB_MIGRATION_MODULES,
    select_database,
)

VAR = Path("/srv/jobcenter/var")


def test_default_is_sqlite_file_in_var_with_wal_timeout_and_immediate() -> None:
    choice = select_database({}, VAR)
    db = choice.databases["default"]
    assert choice.vendor == "sqlite"
    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert db["NAME"] == str(VAR / "jobcenter.sqlite3")
    assert db["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert db["OPTIONS"]["timeout"] >= 5
    assert "journal_mode=WAL" in db["OPTIONS"]["init_command"]
    assert choice.contrib_apps[0] == "django.contrib.admin"
    assert choice.migration_modules == {}


def test_sqlite_url_names_the_file() -> None:
    choice = select_database({"DATABASE_URL": "sqlite:////tmp/other.sqlite3"}, VAR)
    assert choice.vendor == "sqlite"
    assert choice.databases["default"]["NAME"] == "/tmp/other.sqlite3"
    assert choice.databases["default"]["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_postgres_url(scheme: str) -> None:
    url = f"{scheme}://jc:secret@db.internal:5433/jobs"
    choice = select_database({"DATABASE_URL": url}, VAR)
    db = choice.databases["default"]
    assert choice.vendor == "postgresql"
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == (
        "jobs",
        "jc",
        "secret",
        "db.internal",
        5433,
    )
    assert db["CONN_HEALTH_CHECKS"] is True


def test_mongodb_uri_selects_the_backend_with_its_app_configs_and_migrations() -> None:
    uri = "mongodb://u:p@mongo1:27017,mongo2:27017/jobs?replicaSet=rs0"
    choice = select_database({"MONGODB_URI": uri, "DATABASE_URL": "postgres://x@y/z"}, VAR)
    db = choice.databases["default"]
    assert choice.vendor == "mongodb"
    assert db == {"ENGINE": "django_mongodb_backend", "HOST": uri, "NAME": "jobs"}
    assert choice.default_auto_field == "django_mongodb_backend.fields.ObjectIdAutoField"
    assert choice.contrib_apps == MONGODB_CONTRIB_APPS
    assert "django.contrib.admin" not in choice.contrib_apps
    assert choice.migration_modules == MONGODB_MIGRATION_MODULES


def test_mongodb_uri_without_database_uses_default_name() -> None:
    choice = select_database({"MONGODB_URI": "mongodb://localhost:27017"}, VAR)
    assert choice.databases["default"]["NAME"] == "jobcenter"


def test_unknown_scheme_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="mysql"):
        select_database({"DATABASE_URL": "mysql://root@localhost/db"}, VAR)
