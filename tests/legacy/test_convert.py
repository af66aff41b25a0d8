"""One legacy document -> Job Center field values (no database)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from legacy import extjson
from legacy.convert import (
    STALE_ERROR_CODE,
    ConversionError,
    ConvertOptions,
    convert,
    digest,
    log_id,
    session_job_id,
)
from tests.legacy.fixtures import T0, legacy_batch, legacy_job, legacy_session, to_bson_ready

NOW = datetime(2026, 1, 1, tzinfo=UTC)
OPTIONS = ConvertOptions()


def decoded(document: dict[str, Any]) -> dict[str, Any]:
    """As the file source hands it over."""
    return extjson.loads(json.dumps(document))


def test_every_field_of_a_finished_job() -> None:
    converted = convert("event_jobs", decoded(legacy_job(7)), OPTIONS, NOW)
    values = converted.values
    assert converted.target_id == converted.legacy_id == values["job_id"] == "job-legacy-000007"
    assert values["job_type"] == "session"  # "event" was the old session job type
    assert values["status"] == "completed"
    assert values["job_name"] == "FOSDEM 2025 - Main track - Talk 7"
    assert values["parameters"]["speakers"] == ["Ada Lovelace", "Grace Hopper"]
    assert values["parameters"]["use_cache"] is True
    assert values["progress"] == {"step": "done", "percent": 100, "message": "fertig"}
    assert values["results"]["markdown_content"] == "# Talk 7\n\nÜbersetzt."
    assert values["results"]["context"]["scraped"] == "2025-03-01T09:00:00+00:00"
    assert values["error"] is None
    assert values["batch_id"] == "batch-legacy-1"
    assert converted.owner == "alice@example.org"
    assert values["access_control"]["read_access"] == ["alice@example.org"]
    assert values["archived"] is False
    assert values["webhook"]["include_markdown"] is True
    assert values["created_at"] == T0
    assert values["started_at"] == T0 + timedelta(minutes=1)  # processing_started_at
    assert values["completed_at"] == values["updated_at"] == T0 + timedelta(minutes=5)
    assert [(line.level, line.message) for line in converted.logs] == [
        ("info", "step 0"),
        ("debug", "step 1"),
        ("warning", "step 2"),
    ]
    assert converted.logs[1].timestamp == T0 + timedelta(seconds=1)
    assert converted.unknown_fields == [] and converted.notes == []


def test_a_failed_job_keeps_its_error() -> None:
    values = convert("event_jobs", decoded(legacy_job(1, status="failed")), OPTIONS, NOW).values
    assert values["status"] == "failed"
    assert values["error"] == {
        "code": "VIDEO_DOWNLOAD_FAILED",
        "message": "404 from video server",
        "details": {"url": "https://video.example/talk-1.mp4", "attempt": 3},
    }


@pytest.mark.parametrize(
    ("legacy", "status"),
    [
        ("pending", "pending"),
        ("completed", "completed"),
        ("failed", "failed"),
        ("cancelled", "cancelled"),
        ("canceled", "cancelled"),
        ("Completed", "completed"),
    ],
)
def test_statuses_are_mapped_by_table(legacy: str, status: str) -> None:
    document = decoded(legacy_job(1, status=legacy))
    assert convert("event_jobs", document, OPTIONS, NOW).values["status"] == status


@pytest.mark.parametrize("status", ["queued", "done", 3])
def test_an_unknown_status_is_refused_not_guessed(status: object) -> None:
    document = decoded(legacy_job(1))
    document["status"] = status
    with pytest.raises(ConversionError, match="status"):
        convert("event_jobs", document, OPTIONS, NOW)


def test_processing_jobs_come_in_pending_or_failed() -> None:
    document = decoded(legacy_job(1, status="processing"))
    pending = convert("event_jobs", document, OPTIONS, NOW)
    assert pending.values["status"] == "pending"
    assert pending.values["completed_at"] is None and pending.values["worker_id"] is None
    assert pending.notes == ["was processing: imported as pending"]
    failed = convert("event_jobs", document, ConvertOptions(stale_as="failed"), NOW)
    assert failed.values["status"] == "failed"
    assert failed.values["error"]["code"] == STALE_ERROR_CODE
    assert failed.values["completed_at"] == failed.values["updated_at"]


def test_missing_fields_get_defaults_and_a_note() -> None:
    converted = convert("event_jobs", {"job_id": "job-bare", "status": "pending"}, OPTIONS, NOW)
    values = converted.values
    assert values["job_type"] == "session"  # no job_type: an old session job
    assert values["parameters"] == {} and values["results"] is None
    assert values["progress"] == {"step": "", "percent": 0, "message": ""}
    assert values["access_control"]["visibility"] == "private"
    assert values["batch_id"] is None and converted.owner is None
    assert values["created_at"] == values["updated_at"] == NOW
    assert converted.notes == ["created_at missing: import time"]
    assert converted.logs == []


def test_other_job_types_are_kept() -> None:
    document = decoded(legacy_job(1, job_type="pdf"))
    assert convert("event_jobs", document, OPTIONS, NOW).values["job_type"] == "pdf"


def test_naive_and_aware_dates_are_the_same_instant() -> None:
    naive = to_bson_ready(legacy_job(1))
    naive["created_at"] = datetime(2025, 3, 1, 9, 0)  # pymongo without tz_aware
    aware = decoded(legacy_job(1))
    aware["created_at"] = "2025-03-01T11:00:00+02:00"  # stored as a string, with offset
    for document in (naive, aware):
        created = convert("event_jobs", document, OPTIONS, NOW).values["created_at"]
        assert created == T0 and created.tzinfo is not None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("job_id", None, "job_id is missing"),
        ("job_id", "x" * 65, "longer than 64"),
        ("parameters", ["a"], "parameters: expected an object"),
        ("created_at", 1700000000, "created_at: not a date"),
        ("logs", {"a": 1}, "logs: expected a list"),
        ("archived", "maybe", "archived: not true or false"),
        ("priority", 2**40, "out of range"),
    ],
)
def test_malformed_documents_are_refused_with_the_field(
    field: str, value: object, message: str
) -> None:
    document = decoded(legacy_job(1))
    document[field] = value
    with pytest.raises(ConversionError, match=message):
        convert("event_jobs", document, OPTIONS, NOW)


def test_odd_but_readable_values_are_kept_with_notes() -> None:
    document = decoded(legacy_job(1))
    document["error"] = "Timeout"
    document["access_control"] = {"visibility": "team", "read_access": "bob", "owner": "x"}
    document["logs"].append({"level": "trace", "message": {"a": 1}})
    document["extra_field"] = 1
    document["job_name"] = "n" * 300
    converted = convert("event_jobs", document, OPTIONS, NOW)
    values = converted.values
    assert values["error"] == {"code": "ERROR", "message": "Timeout", "details": None}
    assert values["access_control"] == {
        "visibility": "private",
        "read_access": ["bob"],
        "write_access": [],
        "admin_access": [],
    }
    assert converted.logs[-1].level == "info"
    assert converted.logs[-1].message == '[trace] {"a": 1}'
    assert converted.logs[-1].timestamp == values["created_at"]  # no timestamp: the job's
    assert len(values["job_name"]) == 255
    assert converted.unknown_fields == ["extra_field"]
    assert set(converted.notes) == {
        "access_control.visibility 'team' became 'private'",
        "access_control fields not kept: owner",
        "log level 'trace' kept as info",
        "job_name cut to 255 characters",
    }


def test_batch_counters_in_any_numeric_form() -> None:
    document = decoded(legacy_batch(pending_jobs=-1))  # the old system's "to be recounted"
    document["isActive"] = False
    document["status"] = "running"
    converted = convert("event_batches", document, OPTIONS, NOW)
    assert converted.counters == {
        "total_jobs": 3,
        "pending_jobs": -1,
        "processing_jobs": 0,
        "completed_jobs": 2,
        "failed_jobs": 1,
    }
    values = converted.values
    assert values["pending_jobs"] == 0  # a row never holds a negative counter
    assert values["is_active"] is False and values["archived"] is False
    assert values["batch_name"] == "FOSDEM 2025 import"
    assert values["access_control"]["visibility"] == "public"
    assert values["completed_at"] == T0 + timedelta(hours=1)
    assert converted.notes == []
    document["status"] = "exploded"
    assert convert("event_batches", document, OPTIONS, NOW).notes == [
        "batch status 'exploded' unknown: recomputed from its jobs"
    ]


def test_sessions_become_session_jobs_with_a_stable_id() -> None:
    document = decoded(legacy_session(4))
    completed = convert("event_sessions", document, OPTIONS, NOW)
    assert completed.legacy_id == f"{50_004:024x}"
    assert completed.target_id == session_job_id(completed.legacy_id)
    assert completed.target_id.startswith("job-")
    assert convert("event_sessions", document, OPTIONS, NOW).target_id == completed.target_id
    values = completed.values
    assert values["job_type"] == "session" and values["status"] == "completed"
    assert values["completed_at"] == values["created_at"] == T0 - timedelta(days=3)
    assert values["job_name"] == "FOSDEM 2025 - Lightning - Lightning talk 4"
    assert values["parameters"]["video_url"] == "https://video.example/lt-4.mp4"
    assert "_id" not in values["parameters"] and "created_at" not in values["parameters"]
    pending = convert("event_sessions", document, ConvertOptions(sessions_as="pending"), NOW)
    assert pending.values["status"] == "pending" and pending.values["completed_at"] is None


def test_log_ids_are_stable_and_distinct() -> None:
    first = log_id("job-a", 0, T0)
    assert first == log_id("job-a", 0, T0)
    assert first != log_id("job-a", 1, T0) != log_id("job-b", 0, T0)
    assert first.version == 7


def test_the_digest_is_the_same_from_files_and_from_mongodb() -> None:
    document = legacy_job(1)
    from_file = decoded(document)
    from_mongodb = to_bson_ready(document)
    signature = OPTIONS.signature("event_jobs")
    assert digest(from_file, signature) == digest(from_mongodb, signature)
    changed = decoded(document)
    changed["status"] = "failed"
    assert digest(changed, signature) != digest(from_file, signature)
    other_options = ConvertOptions(stale_as="failed").signature("event_jobs")
    assert digest(from_file, other_options) != digest(from_file, signature)


@pytest.mark.parametrize(
    "access",
    [
        {},
        {"visibility": "public"},
        {"visibility": "private", "read_access": ["a"], "write_access": [], "admin_access": []},
        {"read_access": ["a", "b"], "admin_access": ["c"]},
    ],
)
def test_the_access_control_shortcut_agrees_with_the_validator(access: dict[str, Any]) -> None:
    from jobs.validation import normalize_access_control

    document = decoded(legacy_job(1))
    document["access_control"] = access
    converted = convert("event_jobs", document, OPTIONS, NOW)
    assert converted.values["access_control"] == normalize_access_control(access)
