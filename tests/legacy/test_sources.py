"""Streaming readers: export files in every shape mongoexport writes, and the pymongo path
against a stand-in client holding real BSON (no database)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bson.objectid import ObjectId

from legacy.sources import DirectorySource, MissingCollection, MongoSource, SourceError
from tests.legacy.fakemongo import FakeClient, broken_bson, fake_database
from tests.legacy.fixtures import (
    legacy_job,
    to_bson_ready,
    write_array,
    write_jsonl,
    write_pretty,
)


def _ids(items: list) -> list[str | None]:
    return [item.document["job_id"] if item.document else None for item in items]


@pytest.mark.parametrize(
    ("filename", "writer"),
    [
        ("event_jobs.jsonl", write_jsonl),
        ("event_jobs.json", write_array),
        ("event_jobs.json", lambda path, docs: write_array(path, docs, indent=2)),
        ("event_jobs.json", write_pretty),
        ("event_jobs.jsonl.gz", lambda path, docs: write_jsonl(path, docs, compress=True)),
    ],
    ids=["jsonl", "array", "indented-array", "pretty", "gzip"],
)
def test_every_export_shape_yields_the_same_decoded_documents(
    tmp_path: Path, filename: str, writer: object
) -> None:
    writer(tmp_path / filename, [legacy_job(1), legacy_job(2, status="failed")])  # type: ignore[operator]
    stream = DirectorySource(tmp_path).open("event_jobs")
    items = list(stream)
    assert [item.error for item in items] == [None, None]
    assert _ids(items) == ["job-legacy-000001", "job-legacy-000002"]
    first = items[0].document
    assert first["_id"] == ObjectId(f"{1:024x}")
    assert first["created_at"] == datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    assert items[1].document["error"]["details"]["attempt"] == 3  # $numberLong
    assert stream.unit == "bytes" and stream.done == stream.total


def test_a_json_array_is_streamed_not_loaded_whole(tmp_path: Path) -> None:
    path = write_array(tmp_path / "event_jobs.json", [legacy_job(n, logs=20) for n in range(400)])
    stream = DirectorySource(tmp_path).open("event_jobs")
    iterator = iter(stream)
    first = next(iterator)
    assert first.document is not None and first.document["job_id"] == "job-legacy-000000"
    # ijson reads in 64 KiB buffers: far less than the file's size is read so far.
    assert stream.done < path.stat().st_size / 4
    assert sum(1 for _ in iterator) == 399


def test_a_broken_line_is_reported_with_its_id_and_the_rest_goes_on(tmp_path: Path) -> None:
    good = [json.dumps(legacy_job(n)) for n in range(3)]
    lines = [
        good[0],
        '{"job_id": "job-truncated", "status": "comp',  # cut off mid-document
        "",
        good[1],
        json.dumps({"job_id": "job-bad-date", "created_at": {"$date": "soon"}}),
        "[1, 2]",
        good[2],
    ]
    (tmp_path / "event_jobs.jsonl").write_text("\n".join(lines) + "\n")
    items = list(DirectorySource(tmp_path).open("event_jobs"))
    assert _ids(items) == [
        "job-legacy-000000",
        None,
        "job-legacy-000001",
        None,
        None,
        "job-legacy-000002",
    ]
    broken, bad_date, not_object = items[1], items[3], items[4]
    assert broken.where == "event_jobs.jsonl line 2"
    assert broken.legacy_id == "job-truncated" and "not valid JSON" in (broken.error or "")
    assert bad_date.where == "event_jobs.jsonl line 5" and bad_date.legacy_id == "job-bad-date"
    assert "created_at" in (bad_date.error or "")
    assert "expected a JSON object" in (not_object.error or "")
    assert items[-1].document is not None


def test_a_syntax_error_inside_an_array_reports_the_unread_rest(tmp_path: Path) -> None:
    text = json.dumps([legacy_job(1), legacy_job(2)])
    (tmp_path / "event_jobs.json").write_text(text[: len(text) - 40])  # truncated file
    items = list(DirectorySource(tmp_path).open("event_jobs"))
    assert _ids(items) == ["job-legacy-000001", None]
    assert items[1].where == "event_jobs.json after item 1"
    assert "the rest of the file was not read" in (items[1].error or "")


def test_missing_ambiguous_and_empty_files(tmp_path: Path) -> None:
    source = DirectorySource(tmp_path)
    with pytest.raises(MissingCollection, match=r"event_jobs\.json, event_jobs\.jsonl"):
        source.open("event_jobs")
    (tmp_path / "event_batches.json").write_text("")
    assert list(source.open("event_batches")) == []
    (tmp_path / "event_jobs.json").write_text("[]")
    (tmp_path / "event_jobs.jsonl").write_text("")
    with pytest.raises(SourceError, match="more than one file"):
        source.open("event_jobs")
    with pytest.raises(SourceError, match="no such directory"):
        DirectorySource(tmp_path / "nope")


# --- pymongo ------------------------------------------------------------------------------


def _mongo(collections: dict, created: list | None = None, **kwargs: object) -> MongoSource:
    created = created if created is not None else []
    factory = FakeClient.factory({"legacy": fake_database(collections)}, created)
    return MongoSource("mongodb://old-host/legacy", "legacy", client_factory=factory, **kwargs)


def test_mongodb_documents_are_read_in_id_order_in_batches() -> None:
    created: list[FakeClient] = []
    documents = [to_bson_ready(legacy_job(n)) for n in (3, 1, 2)]
    source = _mongo({"event_jobs": documents}, created, batch_size=2, timeout_seconds=1.5)
    stream = source.open("event_jobs")
    assert stream.total == 3 and stream.unit == "documents"
    items = list(stream)
    assert _ids(items) == ["job-legacy-000001", "job-legacy-000002", "job-legacy-000003"]
    assert items[0].document["created_at"] == datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    assert items[0].document["created_at"].tzinfo is not None
    collection = source.database.collections["event_jobs"]
    assert collection.finds == [{"query": {}, "batch_size": 2}]
    assert collection.cursors[0].closed
    assert created[0].kwargs["serverSelectionTimeoutMS"] == 1500
    source.close()
    assert created[0].closed


def test_a_corrupt_bson_document_is_reported_alone_with_its_id() -> None:
    corrupt = to_bson_ready(legacy_job(2))
    raw = broken_bson(corrupt, "job_name")
    documents = [to_bson_ready(legacy_job(1)), raw, to_bson_ready(legacy_job(3))]
    items = list(_mongo({"event_jobs": documents}).open("event_jobs"))
    assert _ids(items) == ["job-legacy-000001", None, "job-legacy-000003"]
    assert items[1].legacy_id == "job-legacy-000002"
    assert "not valid BSON" in (items[1].error or "")


def test_a_lost_cursor_is_reopened_after_the_last_id_read() -> None:
    documents = [to_bson_ready(legacy_job(n)) for n in range(1, 6)]
    source = _mongo({"event_jobs": documents})
    collection = source.database.collections["event_jobs"]
    collection.fail_at = [2, 1]  # lost after 2 documents, then after 1 more
    items = list(source.open("event_jobs"))
    assert _ids(items) == [f"job-legacy-{n:06d}" for n in range(1, 6)]  # none twice, none lost
    assert [find["query"] for find in collection.finds] == [
        {},
        {"_id": {"$gt": ObjectId(f"{2:024x}")}},
        {"_id": {"$gt": ObjectId(f"{3:024x}")}},
    ]


def test_missing_collection_and_unreachable_server() -> None:
    source = _mongo({"event_jobs": []})
    with pytest.raises(MissingCollection, match="event_sessions"):
        source.open("event_sessions")
    factory = FakeClient.factory({}, [])
    with pytest.raises(SourceError, match="cannot read MongoDB database 'gone'"):
        MongoSource("mongodb://old-host", "gone", client_factory=factory)
