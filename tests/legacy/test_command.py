"""``manage.py import_legacy``: options, summary table, progress bar, exit status."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from batches.models import Batch
from jobs.models import Job
from tests.legacy.fixtures import legacy_batch, legacy_job, legacy_session, write_jsonl
from tests.legacy.test_import import export, standard_jobs

pytestmark = pytest.mark.django_db


def command(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_legacy", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_prints_a_summary_table_and_progress(tmp_path: Path) -> None:
    folder = export(tmp_path / "x", standard_jobs(), [legacy_batch()], [legacy_session(1)])
    out, err = command("--from-dir", str(folder))
    lines = out.splitlines()
    header = lines.index(next(line for line in lines if line.startswith("collection")))
    assert lines[header].split() == [
        "collection",
        "read",
        "created",
        "updated",
        "skipped",
        "errors",
    ]
    assert lines[header + 1].split() == ["event_batches", "1", "1", "0", "0", "0"]
    assert lines[header + 2].split() == ["event_jobs", "3", "3", "0", "0", "0"]
    assert lines[header + 3].split() == ["event_sessions", "1", "1", "0", "0", "0"]
    assert lines[header + 4].split() == ["total", "5", "5", "0", "0", "0"]
    assert "Batch counters: all match the imported jobs." in out
    assert "Users created (inactive, no password): 1: alice@example.org" in out
    assert "jobs by status" in out
    progress = [line for line in err.splitlines() if line.startswith("event_jobs")]
    assert progress and "100%" in progress[-1] and "3 read" in progress[-1]
    assert Job.objects.count() == 4

    again, _ = command("--from-dir", str(folder), "--no-progress")
    [row] = [line.split() for line in again.splitlines() if line.startswith("event_jobs")]
    assert row == ["event_jobs", "3", "0", "0", "3", "0"]


def test_dry_run_says_so_and_writes_nothing(tmp_path: Path) -> None:
    folder = export(tmp_path / "x", standard_jobs(), [legacy_batch(completed_jobs=9)])
    out, _ = command("--from-dir", str(folder), "--dry-run", "--no-progress")
    assert out.startswith("DRY RUN: nothing was written")
    assert "would be created" in out
    assert "batch-legacy-1: completed_jobs 9→2" in out
    assert "event_sessions: missing (none of event_sessions.json" in out
    assert Job.objects.count() == Batch.objects.count() == 0


def test_errors_fail_the_command_after_the_rest_is_imported(tmp_path: Path) -> None:
    folder = export(tmp_path / "x", [legacy_job(1), legacy_job(2, status="zombie"), legacy_job(3)])
    errors_file = tmp_path / "errors.jsonl"
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="1 document"):
        call_command(
            "import_legacy",
            "--from-dir",
            str(folder),
            "--errors-file",
            str(errors_file),
            stdout=out,
            stderr=err,
        )
    assert "event_jobs.jsonl line 2 (job-legacy-000002): unknown status 'zombie'" in out.getvalue()
    assert Job.objects.count() == 2
    [problem] = [json.loads(line) for line in errors_file.read_text().splitlines()]
    assert problem["id"] == "job-legacy-000002" and problem["collection"] == "event_jobs"


def test_user_map_file(tmp_path: Path) -> None:
    from django.contrib.auth import get_user_model

    alice = get_user_model().objects.create_user("alice")
    folder = export(tmp_path / "x", [legacy_job(1, batch_id=None)])
    (tmp_path / "users.csv").write_text("# legacy,username\nalice@example.org, alice\n")
    command("--from-dir", str(folder), "--user-map", str(tmp_path / "users.csv"))
    assert Job.objects.get().user_id == alice.pk
    (tmp_path / "bad.json").write_text('{"alice@example.org": ""}')
    with pytest.raises(CommandError, match="non-empty string"):
        command("--from-dir", str(folder), "--user-map", str(tmp_path / "bad.json"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from-dir", "/nonexistent/export"], "no such directory"),
        (["--mongodb-uri", "mongodb://127.0.0.1:1"], "needs --database"),
        (["--from-dir", ".", "--database", "x"], "goes with --mongodb-uri"),
        (["--from-dir", ".", "--user-map", "/nonexistent.json"], "no such file"),
        (["--from-dir", ".", "--chunk-size", "0"], "at least 1"),
    ],
)
def test_bad_options_are_clear_errors(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        command(*args)


def test_an_unreachable_mongodb_is_a_clear_error() -> None:
    with pytest.raises(CommandError, match="cannot read MongoDB database 'legacy'"):
        command("--mongodb-uri", "mongodb://127.0.0.1:1/legacy", "--mongodb-timeout", "0.3")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_real_command_line(
    tmp_path: Path, manage: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    folder = export(tmp_path / "x", [legacy_job(1, batch_id=None)])
    done: Any = manage("import_legacy", "--from-dir", str(folder))
    assert done.returncode == 0, done.stderr
    assert "event_jobs" in done.stdout and "100%" in done.stderr
    write_jsonl(folder / "event_jobs.jsonl", [legacy_job(1, batch_id=None), {"job_id": "j"}])
    failed: Any = manage("import_legacy", "--from-dir", str(folder), "--no-progress")
    assert failed.returncode == 1
    assert "(j): status is missing" in failed.stdout
    assert "1 document(s) could not be imported" in failed.stderr
    assert Job.objects.count() == 1
