"""The import service against a real database: every field lands, re-runs write only what
changed, counters are recounted, bad documents are reported and skipped."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import DatabaseError

from batches.models import Batch
from jobcenter.errors import UnknownJobType
from jobs import services
from jobs.models import Job, JobLog
from legacy import importer as importer_module
from legacy.convert import session_job_id
from legacy.importer import PLACEHOLDER_NAME, ImportAborted, ImportOptions, import_legacy
from legacy.models import ImportedDocument
from legacy.sources import DirectorySource, MongoSource
from processors.registry import get_processor
from tests.legacy.fakemongo import FakeClient, fake_database
from tests.legacy.fixtures import (
    T0,
    legacy_batch,
    legacy_job,
    legacy_session,
    to_bson_ready,
    write_array,
    write_jsonl,
)

pytestmark = pytest.mark.django_db
User = get_user_model()


def export(
    folder: Path,
    jobs: list[dict[str, Any]] | None = None,
    batches: list[dict[str, Any]] | None = None,
    sessions: list[dict[str, Any]] | None = None,
) -> Path:
    """mongoexport output: JSON lines for jobs and sessions, an array for batches."""
    folder.mkdir(exist_ok=True)
    if jobs is not None:
        write_jsonl(folder / "event_jobs.jsonl", jobs)
    if batches is not None:
        write_array(folder / "event_batches.json", batches)
    if sessions is not None:
        write_jsonl(folder / "event_sessions.jsonl", sessions)
    return folder


def run(folder: Path, **options: Any) -> importer_module.ImportReport:
    return import_legacy(DirectorySource(folder), ImportOptions(**options))


def standard_jobs() -> list[dict[str, Any]]:
    return [
        legacy_job(1, minutes=0, logs=4),
        legacy_job(2, minutes=1),
        legacy_job(3, status="failed", minutes=2),
    ]


def stats(report: importer_module.ImportReport, name: str) -> tuple[int, ...]:
    s = report.collections[name]
    return (s.read, s.created, s.updated, s.skipped, s.errors)


def test_every_field_is_imported(tmp_path: Path, settings: Any) -> None:
    settings.JOBCENTER_PROCESSORS = ["processors.echo.EchoProcessor"]  # no session processor
    folder = export(tmp_path / "x", standard_jobs(), [legacy_batch()], [legacy_session(1)])
    report = run(folder)

    assert stats(report, "event_batches") == (1, 1, 0, 0, 0)
    assert stats(report, "event_jobs") == (3, 3, 0, 0, 0)
    assert stats(report, "event_sessions") == (1, 1, 0, 0, 0)
    job = Job.objects.get(pk="job-legacy-000001")
    assert job.job_type == "session" and job.status == "completed"
    with pytest.raises(UnknownJobType):
        get_processor("session")  # no processor for it here: history still imports
    assert job.parameters["event"] == "FOSDEM 2025"
    assert job.results["markdown_file"] == "talk-1.md"
    assert job.progress["percent"] == 100
    assert job.created_at == T0 and job.created_at.tzinfo is not None
    assert job.started_at == T0 + timedelta(minutes=1)
    assert job.completed_at == T0 + timedelta(minutes=5)
    assert job.batch_id == "batch-legacy-1"
    assert job.webhook["url"] == "https://hooks.example/done"
    assert job.access_control["write_access"] == ["alice@example.org"]
    logs = list(JobLog.objects.filter(job=job).order_by("timestamp"))
    assert [(log.level, log.message) for log in logs] == [
        ("info", "step 0"),
        ("debug", "step 1"),
        ("warning", "step 2"),
        ("error", "step 3"),  # critical
    ]
    assert logs[0].timestamp == T0
    failed = Job.objects.get(pk="job-legacy-000003")
    assert failed.status == "failed" and failed.error["code"] == "VIDEO_DOWNLOAD_FAILED"

    owner = User.objects.get(username="alice@example.org")
    assert not owner.is_active and not owner.has_usable_password()
    assert job.user_id == owner.pk
    assert report.users_created == ["alice@example.org"]

    batch = Batch.objects.get(pk="batch-legacy-1")
    assert (batch.total_jobs, batch.completed_jobs, batch.failed_jobs) == (3, 2, 1)
    assert batch.status == "completed" and batch.user_id == owner.pk
    assert batch.access_control["visibility"] == "public"
    assert batch.completed_at == T0 + timedelta(hours=1)
    assert batch.updated_at == T0 + timedelta(hours=1)  # the import is no change of the batch
    assert report.counters_compared and report.counter_difference_count == 0

    session = Job.objects.get(pk=session_job_id(f"{50_001:024x}"))
    assert session.job_type == "session" and session.status == "completed"
    assert session.parameters["session"] == "Lightning talk 1"

    assert ImportedDocument.objects.count() == 5
    assert report.status_legacy == {"completed": 2, "failed": 1}
    assert report.status_imported == {"completed": 3, "failed": 1}
    assert report.status_database == {"completed": 3, "failed": 1}
    assert report.errors == 0


def test_rerunning_writes_only_what_is_new_or_changed(tmp_path: Path) -> None:
    jobs = standard_jobs()
    folder = export(tmp_path / "x", jobs, [legacy_batch()])
    run(folder)
    # Meanwhile in the Job Center: a log line, and a job archived.
    services.log("job-legacy-000002", "looked at in the Job Center")
    services.archive("job-legacy-000001")

    again = run(folder)
    assert stats(again, "event_jobs") == (3, 0, 0, 3, 0)
    assert stats(again, "event_batches") == (1, 0, 0, 1, 0)
    assert Job.objects.get(pk="job-legacy-000001").archived  # an unchanged document: kept
    assert Job.objects.count() == 3 and JobLog.objects.count() == 4 + 3 + 3 + 2

    # The older system moves on: job 2 gets a log line and fails, job 4 appears.
    jobs[1]["status"] = "failed"
    jobs[1]["error"] = {"code": "X", "message": "late failure", "details": None}
    jobs[1]["logs"].append({"timestamp": jobs[1]["updated_at"], "level": "error", "message": "!"})
    jobs.append(legacy_job(4, status="pending"))
    export(folder, jobs)
    third = run(folder)
    assert stats(third, "event_jobs") == (4, 1, 1, 2, 0)
    changed = Job.objects.get(pk="job-legacy-000002")
    assert changed.status == "failed" and changed.error["message"] == "late failure"
    messages = list(JobLog.objects.filter(job=changed).values_list("message", flat=True))
    assert sorted(messages) == sorted(
        ["step 0", "step 1", "step 2", "!", "looked at in the Job Center"]
    )  # the new legacy line added once, the Job Center's line kept
    batch = Batch.objects.get(pk="batch-legacy-1")
    assert (batch.total_jobs, batch.completed_jobs, batch.failed_jobs, batch.pending_jobs) == (
        4,
        1,
        2,
        1,
    )
    assert batch.status == "processing"

    fourth = run(folder)
    assert stats(fourth, "event_jobs") == (4, 0, 0, 4, 0)
    assert Job.objects.count() == 4
    assert ImportedDocument.objects.filter(collection="event_jobs").count() == 4


def test_a_changed_option_updates_what_it_decides(tmp_path: Path) -> None:
    folder = export(tmp_path / "x", [legacy_job(1, status="processing", batch_id=None)])
    run(folder)
    assert Job.objects.get().status == "pending"
    report = run(folder, stale_as="failed")
    assert stats(report, "event_jobs") == (1, 0, 1, 0, 0)
    job = Job.objects.get()
    assert job.status == "failed" and job.error["code"] == "LEGACY_INTERRUPTED"
    assert job.completed_at is not None


def test_dry_run_writes_nothing_and_says_what_would_happen(tmp_path: Path) -> None:
    folder = export(
        tmp_path / "x",
        [*standard_jobs(), legacy_job(9, batch_id="batch-gone")],
        [legacy_batch()],
        [legacy_session(1)],
    )
    report = run(folder, dry_run=True)
    assert report.dry_run
    assert stats(report, "event_jobs") == (4, 4, 0, 0, 0)
    assert report.users_created == ["alice@example.org"]
    assert report.placeholder_batches == ["batch-gone"]
    assert report.status_database is None
    assert Job.objects.count() == Batch.objects.count() == User.objects.count() == 0
    assert ImportedDocument.objects.count() == 0 and JobLog.objects.count() == 0


def test_batch_counters_are_recounted_and_differences_reported(tmp_path: Path) -> None:
    batch = legacy_batch(total_jobs=5, completed_jobs=4, pending_jobs=-1)
    folder = export(tmp_path / "x", [*standard_jobs(), legacy_job(4, status="processing")], [batch])
    report = run(folder)
    assert report.counter_differences == [
        (
            "batch-legacy-1",
            {
                "total_jobs": (5, 4),
                "pending_jobs": (-1, 1),
                "completed_jobs": (4, 2),
            },
        )
    ]
    row = Batch.objects.get()
    assert (row.total_jobs, row.pending_jobs, row.completed_jobs, row.failed_jobs) == (4, 1, 2, 1)
    assert row.processing_jobs == 0 and row.status == "processing" and row.completed_at is None


def test_jobs_of_a_batch_missing_from_event_batches_get_an_empty_batch(tmp_path: Path) -> None:
    folder = export(tmp_path / "x", [legacy_job(1, batch_id="batch-orphan")])
    report = run(folder)
    assert report.collections["event_batches"].state == "missing"
    assert "event_batches.json" in report.collections["event_batches"].note
    assert report.placeholder_batches == ["batch-orphan"]
    batch = Batch.objects.get(pk="batch-orphan")
    assert batch.batch_name == PLACEHOLDER_NAME and batch.total_jobs == 1
    assert batch.status == "completed"
    # The real batch document turns up later: it fills the placeholder in.
    export(
        folder,
        batches=[legacy_batch("batch-orphan", total_jobs=1, completed_jobs=1, failed_jobs=0)],
    )
    second = run(folder)
    assert stats(second, "event_batches") == (1, 0, 1, 0, 0)
    assert Batch.objects.get(pk="batch-orphan").batch_name == "FOSDEM 2025 import"
    assert second.counter_difference_count == 0


def test_malformed_documents_are_reported_with_their_id_and_skipped(tmp_path: Path) -> None:
    folder = tmp_path / "x"
    folder.mkdir()
    unknown = legacy_job(2, status="archived-ish")
    bad_date = legacy_job(3)
    bad_date["created_at"] = {"$date": "31.12.2024"}
    lines = [
        json.dumps(legacy_job(1)),
        json.dumps(unknown),
        '{"job_id": "job-cut", "status": ',
        json.dumps(bad_date),
        json.dumps(legacy_job(4)),
    ]
    (folder / "event_jobs.jsonl").write_text("\n".join(lines) + "\n")
    report = run(folder)
    assert stats(report, "event_jobs") == (5, 2, 0, 0, 3)
    assert sorted(Job.objects.values_list("pk", flat=True)) == [
        "job-legacy-000001",
        "job-legacy-000004",
    ]
    problems = {problem.legacy_id: problem for problem in report.problems}
    assert set(problems) == {"job-legacy-000002", "job-cut", "job-legacy-000003"}
    assert "unknown status 'archived-ish'" in problems["job-legacy-000002"].message
    assert problems["job-cut"].where == "event_jobs.jsonl line 3"
    assert "created_at" in problems["job-legacy-000003"].message


def test_a_document_the_database_refuses_is_reported_and_the_chunk_goes_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_insert = importer_module.bulk_insert

    def picky_insert(model: Any, rows: Any, shared: Any, **kwargs: Any) -> None:
        if model is Job and any(row["job_id"] == "job-legacy-000002" for row in rows):
            raise DatabaseError("value too long for type character varying(64)")
        real_insert(model, rows, shared, **kwargs)

    monkeypatch.setattr(importer_module, "bulk_insert", picky_insert)
    report = run(export(tmp_path / "x", standard_jobs(), [legacy_batch()]))
    assert stats(report, "event_jobs") == (3, 2, 0, 0, 1)
    assert report.problems[0].legacy_id == "job-legacy-000002"
    assert "could not be written" in report.problems[0].message
    assert sorted(Job.objects.values_list("pk", flat=True)) == [
        "job-legacy-000001",
        "job-legacy-000003",
    ]
    assert JobLog.objects.count() == 4 + 3  # no orphan lines of the refused job
    assert ImportedDocument.objects.filter(collection="event_jobs").count() == 2


def test_users_by_username_or_user_map(tmp_path: Path) -> None:
    alice = User.objects.create_user("alice")
    bob = User.objects.create_user("bob@example.org")
    jobs = [
        legacy_job(1, user_id="alice@example.org"),
        legacy_job(2, user_id="bob@example.org"),
        legacy_job(3, user_id=None),
    ]
    folder = export(tmp_path / "x", jobs)
    report = run(folder, user_map={"alice@example.org": "alice"})
    owners = dict(Job.objects.values_list("pk", "user_id"))
    assert owners == {
        "job-legacy-000001": alice.pk,
        "job-legacy-000002": bob.pk,
        "job-legacy-000003": None,
    }
    assert report.users_created == []
    assert User.objects.get(pk=bob.pk).is_active  # an existing user is left as is
    # the old grants name users by legacy id too: mapped like the owner
    grants = Job.objects.get(pk="job-legacy-000001").access_control
    assert grants["read_access"] == grants["write_access"] == ["alice"]
    assert Job.objects.get(pk="job-legacy-000002").access_control["read_access"] == [
        "bob@example.org"
    ]
    with pytest.raises(ImportAborted, match="do not exist: carol"):
        run(folder, user_map={"alice@example.org": "carol"})


def test_sessions_pending_completed_or_skipped(tmp_path: Path) -> None:
    folder = export(tmp_path / "x", sessions=[legacy_session(1), legacy_session(2)])
    skipped = run(folder, skip_sessions=True)
    assert skipped.collections["event_sessions"].state == "skipped"
    assert Job.objects.count() == 0
    run(folder, sessions_as="pending")
    assert set(Job.objects.values_list("status", flat=True)) == {"pending"}
    assert set(Job.objects.values_list("completed_at", flat=True)) == {None}


def test_a_duplicate_id_within_the_source_is_imported_once(tmp_path: Path) -> None:
    first = legacy_job(1, status="pending", batch_id=None)
    later = legacy_job(1, status="completed", batch_id=None)
    report = run(export(tmp_path / "x", [first, legacy_job(2, batch_id=None), later]))
    assert stats(report, "event_jobs") == (3, 2, 0, 1, 0)
    assert Job.objects.get(pk="job-legacy-000001").status == "completed"
    assert JobLog.objects.filter(job_id="job-legacy-000001").count() == 3


def test_small_chunks_give_the_same_result(tmp_path: Path) -> None:
    jobs = [legacy_job(n, status=["completed", "failed", "pending"][n % 3]) for n in range(10)]
    folder = export(tmp_path / "x", jobs, [legacy_batch(total_jobs=10)])
    report = run(folder, chunk_size=3)
    assert stats(report, "event_jobs") == (10, 10, 0, 0, 0)
    assert JobLog.objects.count() == 30
    batch = Batch.objects.get()
    assert (batch.completed_jobs, batch.failed_jobs, batch.pending_jobs) == (4, 3, 3)


def test_mongodb_and_files_give_the_same_rows(tmp_path: Path) -> None:
    jobs, batches = standard_jobs(), [legacy_batch()]
    database = fake_database(
        {
            "event_jobs": [to_bson_ready(job) for job in jobs],
            "event_batches": [to_bson_ready(batch) for batch in batches],
        }
    )
    source = MongoSource(
        "mongodb://old/legacy",
        "legacy",
        client_factory=FakeClient.factory({"legacy": database}, []),
    )
    report = import_legacy(source, ImportOptions())
    assert stats(report, "event_jobs") == (3, 3, 0, 0, 0)
    assert report.collections["event_sessions"].state == "missing"
    job = Job.objects.get(pk="job-legacy-000001")
    assert job.created_at == T0 and job.results["context"]["scraped"] == "2025-03-01T09:00:00+00:00"
    assert Batch.objects.get().completed_jobs == 2
    # The same history from mongoexport files: nothing to change.
    from_files = run(export(tmp_path / "x", jobs, batches))
    assert stats(from_files, "event_jobs") == (3, 0, 0, 3, 0)
    assert stats(from_files, "event_batches") == (1, 0, 0, 1, 0)


def test_an_interrupted_import_still_recounts_what_it_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = importer_module.LegacyImporter._write_chunk
    calls: list[str] = []

    def dying_write(self: Any, collection: str, entries: Any) -> Any:
        calls.append(collection)
        if calls.count("event_jobs") == 2:
            raise KeyboardInterrupt
        return real_write(self, collection, entries)

    monkeypatch.setattr(importer_module.LegacyImporter, "_write_chunk", dying_write)
    folder = export(tmp_path / "x", standard_jobs(), [legacy_batch()])
    with pytest.raises(KeyboardInterrupt):
        run(folder, chunk_size=1)
    batch = Batch.objects.get()
    assert (batch.total_jobs, batch.completed_jobs, batch.failed_jobs) == (1, 1, 0)
    monkeypatch.setattr(importer_module.LegacyImporter, "_write_chunk", real_write)
    report = run(folder)  # the re-run finishes the job
    assert stats(report, "event_jobs") == (3, 2, 0, 1, 0)
    batch.refresh_from_db()
    assert (batch.total_jobs, batch.completed_jobs, batch.failed_jobs) == (3, 2, 1)
