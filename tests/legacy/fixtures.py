"""Legacy documents built to the older system's contract, written the way mongoexport writes
them (MongoDB Extended JSON: canonical and relaxed ``$date``, ``$oid``, ``$numberLong``…).

Each builder returns the JSON-ready document (Extended JSON markers included) so a test can
write it to a file, or turn it into BSON for the fake MongoDB client with ``to_bson_ready``.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bson import json_util

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def iso(moment: datetime) -> dict[str, Any]:
    """Relaxed mode: {"$date": "2025-03-01T09:00:00Z"}."""
    return {"$date": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"}


def canonical(moment: datetime) -> dict[str, Any]:
    """Canonical mode: {"$date": {"$numberLong": "<ms>"}}."""
    return {"$date": {"$numberLong": str(int(moment.timestamp() * 1000))}}


def oid(number: int) -> dict[str, str]:
    return {"$oid": f"{number:024x}"}


def long(value: int) -> dict[str, str]:
    return {"$numberLong": str(value)}


def legacy_job(
    number: int,
    *,
    status: str = "completed",
    batch_id: str | None = "batch-legacy-1",
    user_id: str | None = "alice@example.org",
    job_type: str | None = "event",
    minutes: int = 0,
    logs: int = 3,
) -> dict[str, Any]:
    """An event_jobs document with every field the older system wrote."""
    created = T0 + timedelta(minutes=minutes)
    document: dict[str, Any] = {
        "_id": oid(number),
        "job_id": f"job-legacy-{number:06d}",
        "job_type": job_type,
        "job_name": f"FOSDEM 2025 - Main track - Talk {number}",
        "status": status,
        "parameters": {
            "event": "FOSDEM 2025",
            "session": f"Talk {number}",
            "url": f"https://fosdem.example/2025/talk-{number}",
            "filename": f"talk-{number}.md",
            "track": "Main track",
            "day": "2025-02-01",
            "starttime": "10:00",
            "endtime": "10:50",
            "speakers": ["Ada Lovelace", "Grace Hopper"],
            "video_url": f"https://video.example/talk-{number}.mp4",
            "attachments_url": f"https://fosdem.example/2025/talk-{number}/slides.pdf",
            "source_language": "en",
            "target_language": "de",
            "use_cache": True,
        },
        "progress": {"step": "done", "percent": {"$numberInt": "100"}, "message": "fertig"},
        "logs": [
            {
                "timestamp": canonical(created + timedelta(seconds=index)),
                "level": ["info", "debug", "warning", "critical"][index % 4],
                "message": f"step {index}",
            }
            for index in range(logs)
        ],
        "results": {
            "markdown_file": f"talk-{number}.md",
            "markdown_content": f"# Talk {number}\n\nÜbersetzt.",
            "assets": [f"talk-{number}/slide-1.png"],
            "web_text": "web page text",
            "video_transcript": "transcript",
            "attachments_text": "slides text",
            "context": {"event": "FOSDEM 2025", "scraped": iso(created)},
            "attachments_url": f"https://fosdem.example/2025/talk-{number}/slides.pdf",
        },
        "error": None,
        "batch_id": batch_id,
        "user_id": user_id,
        "access_control": {
            "visibility": "private",
            "read_access": [user_id] if user_id else [],
            "write_access": [user_id] if user_id else [],
            "admin_access": [],
        },
        "archived": False,
        "webhook": {
            "url": "https://hooks.example/done",
            "headers": {"X-Token": "t"},
            "include_markdown": True,
            "include_metadata": False,
        },
        "created_at": iso(created),
        "updated_at": canonical(created + timedelta(minutes=5)),
        "processing_started_at": iso(created + timedelta(minutes=1)),
        "completed_at": iso(created + timedelta(minutes=5)),
    }
    if job_type is None:
        del document["job_type"]
    if status == "failed":
        document["error"] = {
            "code": "VIDEO_DOWNLOAD_FAILED",
            "message": "404 from video server",
            "details": {"url": document["parameters"]["video_url"], "attempt": long(3)},
        }
        document["results"] = None
    if status in ("pending", "processing"):
        document["results"] = None
        document["completed_at"] = None
        document["progress"] = {"step": "video", "percent": 40.5, "message": ""}
    return document


def legacy_batch(batch_id: str = "batch-legacy-1", **counters: int) -> dict[str, Any]:
    """An event_batches document; counters as $numberLong, as the old Python worker wrote."""
    values = {
        "total_jobs": 3,
        "pending_jobs": 0,
        "processing_jobs": 0,
        "completed_jobs": 2,
        "failed_jobs": 1,
    }
    values.update(counters)
    return {
        "_id": oid(10_000 + sum(map(ord, batch_id))),
        "batch_id": batch_id,
        "batch_name": "FOSDEM 2025 import",
        "status": "completed",
        **{name: long(value) for name, value in values.items()},
        "isActive": True,
        "archived": False,
        "user_id": "alice@example.org",
        "access_control": {
            "visibility": "public",
            "read_access": [],
            "write_access": [],
            "admin_access": [],
        },
        "created_at": iso(T0),
        "updated_at": iso(T0 + timedelta(hours=1)),
        "completed_at": canonical(T0 + timedelta(hours=1)),
    }


def legacy_session(number: int) -> dict[str, Any]:
    """An event_sessions document: a scraped session page."""
    return {
        "_id": oid(50_000 + number),
        "event": "FOSDEM 2025",
        "session": f"Lightning talk {number}",
        "url": f"https://fosdem.example/2025/lt-{number}",
        "track": "Lightning",
        "day": "2025-02-02",
        "starttime": "12:00",
        "endtime": "12:15",
        "speakers": ["Linus"],
        "video_url": f"https://video.example/lt-{number}.mp4",
        "attachments_url": None,
        "filename": f"lt-{number}.md",
        "source_language": "en",
        "created_at": iso(T0 - timedelta(days=3)),
    }


def write_jsonl(path: Path, documents: list[Any], *, compress: bool = False) -> Path:
    lines = "".join(json.dumps(document) + "\n" for document in documents)
    if compress:
        path.write_bytes(gzip.compress(lines.encode()))
    else:
        path.write_text(lines, encoding="utf-8")
    return path


def write_array(path: Path, documents: list[Any], *, indent: int | None = None) -> Path:
    path.write_text(json.dumps(documents, indent=indent), encoding="utf-8")
    return path


def write_pretty(path: Path, documents: list[Any]) -> Path:
    """``mongoexport --pretty``: documents one after another, each over several lines."""
    path.write_text("".join(json.dumps(d, indent=2) + "\n" for d in documents), encoding="utf-8")
    return path


def to_bson_ready(document: dict[str, Any]) -> dict[str, Any]:
    """The document as pymongo would hand it over (BSON types), from its Extended JSON."""
    return json_util.loads(json.dumps(document))
