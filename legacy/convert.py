"""One legacy document -> the Job Center's field values. Pure functions, no database: the
file and the MongoDB sources share them, and so will the compatibility routes.

The older system's contract (DESIGN.md, issue 9): ``event_jobs`` documents carry ``job_id``,
``job_type`` (missing or ``"event"`` on old session jobs), ``status``, ``parameters``,
``progress``, ``logs[]`` {timestamp, level, message}, ``results``, ``error``
{code, message, details}, ``batch_id``, ``user_id``, ``access_control``, ``archived``,
``webhook`` and ISODate timestamps; ``event_batches`` documents their counters,
``isActive``, ``archived`` and ``completed_at``; ``event_sessions`` documents are scraped
session pages (the parameters of a session job).

Statuses are mapped by table; a status outside it makes the document an error, never a guess.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jobcenter.errors import ValidationError
from jobs.models import JobLog, default_access_control, default_progress
from jobs.states import JobStatus
from jobs.validation import normalize_access_control
from legacy import extjson

CONVERTER_VERSION = "1"
SESSION_JOB_TYPE = "session"
# job_type values of the older system's session jobs (it had one job type, "event").
LEGACY_SESSION_TYPES = frozenset({"", "event"})
STALE_ERROR_CODE = "LEGACY_INTERRUPTED"

# The older system's job statuses. "processing" is decided by --stale-as: its worker is gone.
JOB_STATUSES: dict[str, str | None] = {
    "pending": JobStatus.PENDING,
    "processing": None,
    "completed": JobStatus.COMPLETED,
    "failed": JobStatus.FAILED,
    "cancelled": JobStatus.CANCELLED,
    "canceled": JobStatus.CANCELLED,
}
# Batch statuses are recomputed from the imported jobs; these are the ones it knew.
BATCH_STATUSES = frozenset(
    {"pending", "processing", "running", "completed", "failed", "cancelled", "canceled"}
)
LOG_LEVELS: dict[str, str] = {
    "debug": JobLog.Level.DEBUG,
    "info": JobLog.Level.INFO,
    "warning": JobLog.Level.WARNING,
    "warn": JobLog.Level.WARNING,
    "error": JobLog.Level.ERROR,
    "critical": JobLog.Level.ERROR,
}
# The older system's batch counters, as the Batch model names them.
COUNTERS = (
    "total_jobs",
    "pending_jobs",
    "processing_jobs",
    "completed_jobs",
    "failed_jobs",
    "cancelled_jobs",
)

JOB_FIELDS = frozenset(
    {
        "_id",
        "job_id",
        "job_type",
        "job_name",
        "status",
        "priority",
        "parameters",
        "progress",
        "logs",
        "results",
        "error",
        "batch_id",
        "user_id",
        "access_control",
        "archived",
        "webhook",
        "created_at",
        "updated_at",
        "started_at",
        "processing_started_at",
        "completed_at",
    }
)
BATCH_FIELDS = frozenset(
    {
        "_id",
        "batch_id",
        "batch_name",
        "status",
        *COUNTERS,
        "archived",
        "isActive",
        "is_active",
        "user_id",
        "access_control",
        "webhook",
        "created_at",
        "updated_at",
        "completed_at",
    }
)
# Fields of a session page that describe the record, not the session.
SESSION_BOOKKEEPING = frozenset(
    {"_id", "created_at", "updated_at", "user_id", "access_control", "archived"}
)

# Job columns that an import writes; the others keep their defaults (new rows) or are reset
# to them (updated rows, JOB_RESET_COLUMNS), so a row always matches the status it was given.
JOB_COLUMNS = (
    "job_type",
    "job_name",
    "status",
    "priority",
    "parameters",
    "progress",
    "results",
    "error",
    "batch_id",
    "user_id",
    "access_control",
    "archived",
    "webhook",
    "created_at",
    "updated_at",
    "started_at",
    "completed_at",
)
# Set on update only: a new row has these defaults already.
JOB_RESET_COLUMNS = ("worker_id", "lease_expires_at", "cancel_requested", "run_after")
BATCH_COLUMNS = (
    "batch_name",
    "status",
    *COUNTERS,
    "archived",
    "is_active",
    "user_id",
    "access_control",
    "webhook",
    "created_at",
    "updated_at",
    "completed_at",
)

ACCESS_LISTS = ("read_access", "write_access", "admin_access")
ACCESS_KEYS = frozenset({"visibility", *ACCESS_LISTS})
MAX_ID = 64
MAX_NAME = 255
LEGACY_NAMESPACE = uuid.UUID("6f1e3a52-1d0c-4b8e-9a43-2c5e7f0b9d11")


class ConversionError(Exception):
    """The document breaks the older system's contract: reported with its id, skipped."""


@dataclass(frozen=True)
class ConvertOptions:
    stale_as: str = JobStatus.PENDING
    sessions_as: str = JobStatus.COMPLETED
    user_map_digest: str = ""

    def signature(self, collection: str) -> str:
        """What besides the document decides the result: part of the change digest, so that
        re-running with other options updates what they change."""
        parts = [CONVERTER_VERSION, self.user_map_digest]
        if collection == "event_jobs":
            parts.append(f"stale={self.stale_as}")
        if collection == "event_sessions":
            parts.append(f"sessions={self.sessions_as}")
        return "|".join(parts)


@dataclass
class LogLine:
    id: uuid.UUID
    timestamp: datetime
    level: str
    message: str


@dataclass
class Converted:
    """One document's values for the Job Center. ``values`` uses the model's attnames and
    leaves ``user_id`` to the importer (it resolves ``owner`` to a Django user)."""

    collection: str
    legacy_id: str
    target_id: str
    values: dict[str, Any]
    owner: str | None = None
    logs: list[LogLine] = field(default_factory=list)
    counters: dict[str, int] | None = None
    legacy_status: str | None = None
    notes: list[str] = field(default_factory=list)
    unknown_fields: list[str] = field(default_factory=list)


def digest(document: Mapping[str, Any], signature: str) -> str:
    """A fingerprint of the document's content, the same for the same content wherever it
    was read from (files or MongoDB)."""
    canonical = extjson.canonical_json(document)
    return hashlib.blake2b(
        f"{signature}\n{canonical}".encode(), digest_size=16, usedforsecurity=False
    ).hexdigest()


def log_id(job_id: str, index: int, timestamp: datetime) -> uuid.UUID:
    """The same id for the same legacy log line on every run (so re-runs add only new
    lines), shaped like a UUIDv7 of the line's time so the index stays in time order."""
    millis = int(timestamp.timestamp() * 1000) & ((1 << 48) - 1)
    rest = int.from_bytes(
        hashlib.blake2b(f"{job_id}\n{index}".encode(), digest_size=10).digest(), "big"
    )
    value = millis << 80 | rest
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return uuid.UUID(int=value)


def session_job_id(legacy_id: str) -> str:
    """event_sessions documents have no job id: one derived from theirs, stable across runs."""
    return f"job-{uuid.uuid5(LEGACY_NAMESPACE, f'event_sessions:{legacy_id}')}"


# --- field helpers ------------------------------------------------------------------------


def _text(document: Mapping[str, Any], name: str, *, limit: int, required: bool = False) -> str:
    value = document.get(name)
    if value is None or value == "":
        if required:
            raise ConversionError(f"{name} is missing")
        return ""
    try:
        text = extjson.to_id(value)
    except extjson.ExtJSONError as exc:
        raise ConversionError(f"{name}: {exc}") from None
    if len(text) > limit:
        raise ConversionError(f"{name} is longer than {limit} characters")
    return text


def _name(document: Mapping[str, Any], name: str, notes: list[str]) -> str:
    value = document.get(name)
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(extjson.to_plain(value))
    if len(text) > MAX_NAME:
        notes.append(f"{name} cut to {MAX_NAME} characters")
        text = text[:MAX_NAME]
    return text


def _time(document: Mapping[str, Any], name: str) -> datetime | None:
    try:
        return extjson.to_datetime(document.get(name))
    except extjson.ExtJSONError as exc:
        raise ConversionError(f"{name}: {exc}") from None


def _bool(document: Mapping[str, Any], name: str, default: bool) -> bool:
    value = document.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ConversionError(f"{name}: not true or false: {str(value)[:60]!r}")


def _owner(document: Mapping[str, Any]) -> str | None:
    value = document.get("user_id")
    if value is None or value == "":
        return None
    try:
        return extjson.to_id(value)
    except extjson.ExtJSONError as exc:
        raise ConversionError(f"user_id: {exc}") from None


def _well_formed_access(plain: Any) -> bool:
    """The common case, checked without pydantic (once per job adds up over a million):
    exactly what AccessControl accepts unchanged."""
    if type(plain) is not dict or not plain.keys() <= ACCESS_KEYS:
        return False
    if plain.get("visibility", "private") not in ("private", "public"):
        return False
    return all(
        type(plain.get(key, [])) is list and all(type(item) is str for item in plain.get(key, []))
        for key in ACCESS_LISTS
    )


def _access_control(value: Any, notes: list[str]) -> dict[str, Any]:
    if value is None:
        return default_access_control()
    plain = extjson.to_plain(value)
    if _well_formed_access(plain):
        return {**default_access_control(), **plain}
    try:
        return normalize_access_control(plain)
    except ValidationError:
        pass
    if not isinstance(plain, dict):
        raise ConversionError(f"access_control: not an object: {str(plain)[:60]!r}")
    result = default_access_control()
    if plain.get("visibility") in ("private", "public"):
        result["visibility"] = plain["visibility"]
    elif "visibility" in plain:
        notes.append(f"access_control.visibility {plain['visibility']!r} became 'private'")
    for key in ("read_access", "write_access", "admin_access"):
        items = plain.get(key) or []
        if not isinstance(items, list):
            items = [items]
        result[key] = [str(item) for item in items if item is not None]
    extra = sorted(set(plain) - set(result))
    if extra:
        notes.append(f"access_control fields not kept: {', '.join(extra)}")
    return result


def _json_object(document: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    value = document.get(name)
    if value is None:
        return None
    plain = extjson.to_plain(value)
    if not isinstance(plain, dict):
        raise ConversionError(f"{name}: expected an object, got {type(plain).__name__}")
    return plain


def _progress(value: Any) -> dict[str, Any]:
    if value is None:
        return default_progress()
    plain = extjson.to_plain(value)
    if isinstance(plain, dict):
        return plain
    if isinstance(plain, int | float) and not isinstance(plain, bool):
        return {**default_progress(), "percent": plain}
    raise ConversionError(f"progress: expected an object, got {type(plain).__name__}")


def _error(value: Any) -> dict[str, Any] | None:
    if value is None or value == "":
        return None
    plain = extjson.to_plain(value)
    if isinstance(plain, dict):
        return plain
    return {"code": "ERROR", "message": str(plain), "details": None}


def _logs(job_id: str, value: Any, fallback: datetime, notes: list[str]) -> list[LogLine]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConversionError(f"logs: expected a list, got {type(value).__name__}")
    lines: list[LogLine] = []
    for index, entry in enumerate(value):
        if not isinstance(entry, dict):
            entry = {"message": entry}
        try:
            timestamp = extjson.to_datetime(entry.get("timestamp"))
        except extjson.ExtJSONError as exc:
            raise ConversionError(f"logs[{index}].timestamp: {exc}") from None
        if timestamp is None:
            timestamp = fallback
        raw_level = str(entry.get("level") or "info").strip().lower()
        level = LOG_LEVELS.get(raw_level)
        message = entry.get("message")
        message = message if isinstance(message, str) else json.dumps(extjson.to_plain(message))
        if message == "null":
            message = ""
        if level is None:
            notes.append(f"log level {raw_level!r} kept as info")
            level, message = JobLog.Level.INFO, f"[{raw_level}] {message}"
        lines.append(LogLine(log_id(job_id, index, timestamp), timestamp, level, message))
    return lines


def _unknown(document: Mapping[str, Any], known: frozenset[str]) -> list[str]:
    return sorted(name for name in document if name not in known)


def _times(document: Mapping[str, Any], now: datetime, notes: list[str]) -> dict[str, Any]:
    created = _time(document, "created_at")
    updated = _time(document, "updated_at")
    if created is None:
        created = updated or now
        notes.append("created_at missing: " + ("updated_at used" if updated else "import time"))
    return {
        "created_at": created,
        "updated_at": updated or created,
        "completed_at": _time(document, "completed_at"),
    }


# --- documents ----------------------------------------------------------------------------


def legacy_job_status(document: Mapping[str, Any]) -> str:
    raw = document.get("status")
    if not isinstance(raw, str) or not raw.strip():
        raise ConversionError("status is missing")
    status = raw.strip().lower()
    if status not in JOB_STATUSES:
        raise ConversionError(
            f"unknown status {raw!r} (known: {', '.join(sorted(JOB_STATUSES))}); not imported"
        )
    return status


def convert_job(document: Mapping[str, Any], options: ConvertOptions, now: datetime) -> Converted:
    """An ``event_jobs`` document."""
    notes: list[str] = []
    job_id = _text(document, "job_id", limit=MAX_ID, required=True)
    legacy_status = legacy_job_status(document)
    job_type = document.get("job_type")
    if job_type is None or (isinstance(job_type, str) and job_type.strip() in LEGACY_SESSION_TYPES):
        job_type = SESSION_JOB_TYPE
    elif not isinstance(job_type, str) or len(job_type) > MAX_ID:
        raise ConversionError(f"job_type: not a job type: {str(job_type)[:60]!r}")
    parameters = _json_object(document, "parameters")
    times = _times(document, now, notes)
    started = _time(document, "started_at") or _time(document, "processing_started_at")
    error = _error(document.get("error"))
    status = JOB_STATUSES[legacy_status]
    completed_at = times["completed_at"]
    if status is None:  # processing: its worker is gone
        if options.stale_as == JobStatus.FAILED:
            status = JobStatus.FAILED
            completed_at = completed_at or times["updated_at"]
            error = error or {
                "code": STALE_ERROR_CODE,
                "message": "Was processing in the older system when it was imported.",
                "details": None,
            }
        else:
            status = JobStatus.PENDING
        notes.append(f"was processing: imported as {JobStatus(status).value}")
    if status == JobStatus.PENDING:
        completed_at = None
    try:
        priority = extjson.to_int(document.get("priority") or 0)
    except extjson.ExtJSONError as exc:
        raise ConversionError(f"priority: {exc}") from None
    if not -(2**31) <= priority < 2**31:
        raise ConversionError(f"priority {priority} is out of range")
    batch_id = _text(document, "batch_id", limit=MAX_ID) or None
    values = {
        "job_id": job_id,
        "job_type": job_type,
        "job_name": _name(document, "job_name", notes),
        "status": str(status),
        "priority": priority,
        "parameters": parameters if parameters is not None else {},
        "progress": _progress(document.get("progress")),
        "results": extjson.to_plain(document.get("results")),
        "error": error,
        "batch_id": batch_id,
        "access_control": _access_control(document.get("access_control"), notes),
        "archived": _bool(document, "archived", False),
        "webhook": _json_object(document, "webhook"),
        **times,
        "started_at": started,
        "completed_at": completed_at,
        "worker_id": None,
        "lease_expires_at": None,
        "cancel_requested": False,
        "run_after": None,
    }
    return Converted(
        collection="event_jobs",
        legacy_id=job_id,
        target_id=job_id,
        values=values,
        owner=_owner(document),
        logs=_logs(job_id, document.get("logs"), times["created_at"], notes),
        legacy_status=legacy_status,
        notes=notes,
        unknown_fields=_unknown(document, JOB_FIELDS),
    )


def convert_batch(document: Mapping[str, Any], options: ConvertOptions, now: datetime) -> Converted:
    """An ``event_batches`` document. Its counters come back as stored (``counters``) to be
    compared with the imported jobs; the row's are recounted from them after the import."""
    notes: list[str] = []
    batch_id = _text(document, "batch_id", limit=MAX_ID, required=True)
    raw_status = document.get("status")
    status = raw_status.strip().lower() if isinstance(raw_status, str) else None
    if status not in BATCH_STATUSES:
        notes.append(f"batch status {raw_status!r} unknown: recomputed from its jobs")
    counters: dict[str, int] = {}
    for name in COUNTERS:
        if document.get(name) is None:
            continue
        try:
            counters[name] = extjson.to_int(document[name])
        except extjson.ExtJSONError as exc:
            raise ConversionError(f"{name}: {exc}") from None
    active = "isActive" if "isActive" in document else "is_active"
    times = _times(document, now, notes)
    values = {
        "batch_id": batch_id,
        "batch_name": _name(document, "batch_name", notes),
        "status": JobStatus.PENDING.value,
        **{name: max(counters.get(name, 0), 0) for name in COUNTERS},
        "archived": _bool(document, "archived", False),
        "is_active": _bool(document, active, True),
        "access_control": _access_control(document.get("access_control"), notes),
        "webhook": _json_object(document, "webhook"),
        **times,
    }
    return Converted(
        collection="event_batches",
        legacy_id=batch_id,
        target_id=batch_id,
        values=values,
        owner=_owner(document),
        counters=counters,
        notes=notes,
        unknown_fields=_unknown(document, BATCH_FIELDS),
    )


def convert_session(
    document: Mapping[str, Any], options: ConvertOptions, now: datetime
) -> Converted:
    """An ``event_sessions`` document (a scraped session page) -> a ``session`` job whose
    parameters are the page's fields, pending or completed as ``--sessions-as`` says."""
    notes: list[str] = []
    id_field = "_id" if document.get("_id") not in (None, "") else "session_id"
    legacy_id = _text(document, id_field, limit=200, required=True)
    job_id = session_job_id(legacy_id)
    parameters = {
        name: extjson.to_plain(value)
        for name, value in document.items()
        if name not in SESSION_BOOKKEEPING
    }
    times = _times(document, now, notes)
    status = options.sessions_as
    parts = [parameters.get(key) for key in ("event", "track", "session")]
    name = " - ".join(str(part) for part in parts if part)[:MAX_NAME]
    values = {
        "job_id": job_id,
        "job_type": SESSION_JOB_TYPE,
        "job_name": name,
        "status": str(status),
        "priority": 0,
        "parameters": parameters,
        "progress": default_progress(),
        "results": None,
        "error": None,
        "batch_id": None,
        "access_control": _access_control(document.get("access_control"), notes),
        "archived": _bool(document, "archived", False),
        "webhook": None,
        **times,
        "started_at": None,
        "completed_at": (times["completed_at"] or times["updated_at"])
        if status == JobStatus.COMPLETED
        else None,
        "worker_id": None,
        "lease_expires_at": None,
        "cancel_requested": False,
        "run_after": None,
    }
    return Converted(
        collection="event_sessions",
        legacy_id=legacy_id,
        target_id=job_id,
        values=values,
        owner=_owner(document),
        notes=notes,
    )


CONVERTERS = {
    "event_batches": convert_batch,
    "event_jobs": convert_job,
    "event_sessions": convert_session,
}


def convert(
    collection: str, document: Mapping[str, Any], options: ConvertOptions, now: datetime
) -> Converted:
    """Any legacy document; ConversionError for one that breaks the contract."""
    try:
        return CONVERTERS[collection](document, options, now)
    except ConversionError:
        raise
    except (extjson.ExtJSONError, TypeError, ValueError, AttributeError) as exc:
        raise ConversionError(f"{type(exc).__name__}: {exc}") from None
