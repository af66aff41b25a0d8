"""Migrations: our own apps' migrations serve every backend (explicit string/UUID primary
keys, so MongoDB's ObjectId default changes nothing in them), the contrib apps' MongoDB
migrations in mongo_migrations/ are complete, and the SQL path's migrations are complete.
No MongoDB server is needed: jobcenter.settings_mongodb_offline uses the dummy engine."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from django.db.migrations import Migration

from jobcenter.database import MONGODB_MIGRATION_MODULES
from tests.conftest import REPO, subprocess_env

OUR_APPS = ["jobs", "batches", "processors", "legacy"]


def makemigrations_check(settings_module: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    # Only echo: the migrations must not depend on which processors are installed.
    env = subprocess_env(
        DJANGO_SETTINGS_MODULE=settings_module, JOBCENTER_PROCESSORS="processors.echo.EchoProcessor"
    )
    # Never the real database: a throw-away file (only SQLite settings open it at all).
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'migrations-check.sqlite3'}"
    return subprocess.run(
        [sys.executable, "manage.py", "makemigrations", "--check", "--dry-run", "--verbosity", "2"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_mongodb_settings_need_no_new_migrations(tmp_path: Path) -> None:
    result = makemigrations_check("jobcenter.settings_mongodb_offline", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No changes detected" in result.stdout


def test_sql_settings_need_no_new_migrations(tmp_path: Path) -> None:
    result = makemigrations_check("jobcenter.settings", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No changes detected" in result.stdout


def test_offline_mongodb_settings_select_the_mongodb_app_configs() -> None:
    """The check above is only meaningful if those settings really are MongoDB's."""
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DEFAULT_AUTO_FIELD); print(sorted(s.MIGRATION_MODULES)); "
        "print('django_mongodb_backend' in s.INSTALLED_APPS)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=subprocess_env(DJANGO_SETTINGS_MODULE="jobcenter.settings_mongodb_offline"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "django_mongodb_backend.fields.ObjectIdAutoField",
        "['admin', 'auth', 'contenttypes']",
        "True",
    ]


@pytest.mark.parametrize("app_label", sorted(MONGODB_MIGRATION_MODULES))
def test_mongo_migration_modules_import_and_use_object_ids(app_label: str) -> None:
    package = MONGODB_MIGRATION_MODULES[app_label]
    initial = importlib.import_module(f"{package}.0001_initial")
    assert issubclass(initial.Migration, Migration)
    source = Path(initial.__file__).read_text(encoding="utf-8")
    assert "ObjectIdAutoField" in source


@pytest.mark.parametrize("app_label", OUR_APPS)
def test_our_models_declare_portable_primary_keys(app_label: str) -> None:
    """An implicit AutoField would differ per backend (BigAutoField vs ObjectIdAutoField)."""
    from django.apps import apps

    for model in apps.get_app_config(app_label).get_models():
        pk = model._meta.pk
        assert not pk.auto_created, f"{model.__name__} relies on DEFAULT_AUTO_FIELD"
        assert pk.get_internal_type() in {"CharField", "UUIDField"}, model.__name__
