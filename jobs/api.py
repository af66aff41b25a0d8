"""The jobs REST API: create (one, or a batch), list, read, steer, files, live events; and
the small endpoints around jobs (uploads, job types, workers).

Views check access (jobs/access.py), then call the services; they never change a job
themselves. Errors are JobCenterErrors, rendered in the one error shape by jobcenter/api.py.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import mimetypes
import os
import time
import zipfile
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Annotated, Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.uploadhandler import FileUploadHandler
from django.db import IntegrityError
from django.db.models import DateTimeField, Min, Model, Q, QuerySet
from django.http import (
    FileResponse,
    HttpRequest,
    JsonResponse,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.utils import timezone
from ninja import File, Header, Query, Router, Schema, Status, UploadedFile
from ninja.decorators import decorate_view
from ninja.responses import NinjaJSONEncoder
from pydantic import BaseModel

from batches import services as batch_services
from batches.schemas import BatchCreatedOut, BatchCreateIn, BatchOut
from jobcenter.body_limit import MULTIPART_ENVELOPE_BYTES
from jobcenter.db import atomic
from jobcenter.errors import JobCenterError, NotFound, ValidationError
from jobs import access, selectors, services
from jobs.models import IdempotencyRecord, Job, JobLog, Worker
from jobs.schemas import (
    WRITE_ERRORS,
    AccessControlIn,
    BatchJobFilter,
    FailIn,
    FileOut,
    Identifier,
    JobCreateIn,
    JobFilter,
    JobOut,
    JobPage,
    JobPageParams,
    JobTypeOut,
    LogFilter,
    LogPage,
    PageParams,
    UploadOut,
    WorkerOut,
    errors,
)
from jobs.states import FINISHED
from processors.files import job_dir

router = Router(tags=["jobs"])
files_router = Router(tags=["files"])
job_types_router = Router(tags=["job types"])
workers_router = Router(tags=["workers"])


class InvalidCursor(JobCenterError):
    code = "INVALID_CURSOR"
    status_code = 400


class InvalidPath(JobCenterError):
    code = "INVALID_PATH"
    status_code = 400


class IdempotencyKeyReused(JobCenterError):
    code = "IDEMPOTENCY_KEY_REUSED"
    status_code = 422


class PayloadTooLarge(JobCenterError):
    code = "PAYLOAD_TOO_LARGE"
    status_code = 413


# --- keyset pagination ----------------------------------------------------------------------


@dataclass(frozen=True)
class Keyset:
    """An ordering that pages by the last row's values: ``fields`` end with the primary key,
    so the order is total and a page never repeats or skips a row, however deep."""

    fields: tuple[str, ...]
    descending: bool

    def order_by(self) -> list[str]:
        sign = "-" if self.descending else ""
        return [sign + field for field in self.fields]

    def after(self, values: list[Any]) -> Q:
        """Rows strictly after ``values`` in this order. The leading ``<=`` (or ``>=``) is
        implied by the rest; it is spelled out so the planner bounds the index range."""
        op = "lt" if self.descending else "gt"
        condition = Q()
        for index, field in enumerate(self.fields):
            equal = {self.fields[i]: values[i] for i in range(index)}
            condition |= Q(**equal, **{f"{field}__{op}": values[index]})
        first = self.fields[0]
        return Q(**{f"{first}__{op}e": values[0]}) & condition


JOB_ORDERINGS: dict[str, Keyset] = {
    "-created_at": Keyset(("created_at", "pk"), True),
    "created_at": Keyset(("created_at", "pk"), False),
    "-priority": Keyset(("priority", "created_at", "pk"), True),
    "priority": Keyset(("priority", "created_at", "pk"), False),
}
LOG_ORDERING = Keyset(("timestamp", "pk"), False)


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, int | str):
        return value
    return str(value)


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict) and isinstance(value.get("t"), str):
        parsed = datetime.fromisoformat(value["t"])
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed
    if isinstance(value, int | str) and not isinstance(value, bool):
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("NUL in cursor")
        return value
    raise ValueError("unexpected cursor value")


def encode_cursor(name: str, values: list[Any]) -> str:
    raw = json.dumps([name, [_encode_value(v) for v in values]], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, name: str, keyset: Keyset) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        cursor_name, values = json.loads(raw)
        decoded = [_decode_value(value) for value in values]
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise InvalidCursor(
            "The cursor is not one this API returned.", details={"field": "cursor"}
        ) from None
    if cursor_name != name or len(decoded) != len(keyset.fields):
        raise InvalidCursor(
            "The cursor belongs to another list or ordering; start again without it.",
            details={"field": "cursor"},
        )
    return decoded


def paginate(
    queryset: QuerySet[Any], name: str, keyset: Keyset, params: PageParams
) -> dict[str, Any]:
    """One page: ``{items, next_cursor, total, limit}``; ``total`` is counted only when
    asked, since COUNT(*) over a million rows costs more than the page itself. ``name``
    (the list and its ordering) goes into the cursor, so a cursor is refused by any other
    list."""
    total = queryset.count() if params.include_total else None
    page = queryset.order_by(*keyset.order_by())
    if params.cursor:
        values = _typed(queryset.model, keyset, decode_cursor(params.cursor, name, keyset))
        page = page.filter(keyset.after(values))
    rows = list(page[: params.limit + 1])
    next_cursor = None
    if len(rows) > params.limit:
        rows = rows[: params.limit]
        last = rows[-1]
        next_cursor = encode_cursor(name, [_field_value(last, f) for f in keyset.fields])
    return {"items": rows, "next_cursor": next_cursor, "total": total, "limit": params.limit}


def _typed(model: type[Model], keyset: Keyset, values: list[Any]) -> list[Any]:
    """A cursor's values as the types of their fields: a cursor whose values were altered
    (a word for a priority, a number for a date) is refused, not sent to the database."""
    typed = []
    for field, value in zip(keyset.fields, values, strict=True):
        model_field = model._meta.pk if field == "pk" else model._meta.get_field(field)
        try:
            converted = model_field.to_python(value)
            model_field.run_validators(converted)  # an integer's range, for one
        except (DjangoValidationError, TypeError, ValueError, OverflowError):
            converted = None
        if converted is None or (
            isinstance(model_field, DateTimeField) and not isinstance(value, datetime)
        ):
            raise InvalidCursor(
                "The cursor is not one this API returned.", details={"field": "cursor"}
            )
        typed.append(converted)
    return typed


def _field_value(obj: Model, field: str) -> Any:
    return obj.pk if field == "pk" else getattr(obj, field)


# --- idempotency ----------------------------------------------------------------------------

IDEMPOTENCY_LIFETIME = timedelta(hours=24)
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Retries with the same key within 24 h return the first response.",
        max_length=255,
    ),
]


def fingerprint(request: HttpRequest, payload: Any) -> str:
    text = json.dumps(
        [request.method, request.path, payload], sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _json(status: int, body: dict[str, Any]) -> JsonResponse:
    """The response as is: ``body`` was already produced by the operation's schema."""
    return JsonResponse(body, status=status, encoder=NinjaJSONEncoder)


def _replay(record: IdempotencyRecord, digest: str) -> JsonResponse:
    if record.request_fingerprint != digest:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request; use a new key "
            "for a new request.",
            details={"idempotency_key": record.key},
        )
    response = _json(record.status_code, record.response)
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent(
    request: HttpRequest,
    key: str | None,
    payload: Any,
    create: Callable[[], tuple[int, dict[str, Any]]],
) -> JsonResponse:
    """Run ``create`` once per (user, Idempotency-Key): a repeat of the same request within
    24 h gets the stored first response; the same key with another body is refused.

    The record is written in the same transaction as what ``create`` creates, so two racing
    requests cannot both create: the loser's insert of the record fails, its transaction
    (its job or batch included) rolls back, and it answers with the winner's response."""
    if key is None:
        return _json(*create())
    if not key.strip() or "\x00" in key:
        raise ValidationError(
            "The Idempotency-Key header must not be blank.",
            details=[{"field": "Idempotency-Key", "message": "blank"}],
        )
    user = request.auth  # type: ignore[attr-defined]
    digest = fingerprint(request, payload)
    now = timezone.now()
    cutoff = now - IDEMPOTENCY_LIFETIME
    record = IdempotencyRecord.objects.filter(user=user, key=key).first()
    if record is not None and record.created_at < cutoff:
        record.delete()
        record = None
    if record is not None:
        return _replay(record, digest)
    try:
        with atomic():
            status, body = create()
            IdempotencyRecord.objects.create(
                key=key,
                user=user,
                request_fingerprint=digest,
                status_code=status,
                response=body,
                created_at=now,
            )
    except IntegrityError:
        record = IdempotencyRecord.objects.filter(user=user, key=key).first()
        if record is None:
            raise
        return _replay(record, digest)
    IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return _json(status, body)


# --- jobs -----------------------------------------------------------------------------------


def rendered(schema: Schema) -> dict[str, Any]:
    """A response schema as JSON values, rendered as ninja renders responses (datetimes to
    the millisecond): a job created by POST reads the same as by GET."""
    return json.loads(json.dumps(schema.model_dump(), cls=NinjaJSONEncoder))


def job_body(job: Job) -> dict[str, Any]:
    return rendered(JobOut.from_orm(job))


@router.post(
    "",
    response={201: JobOut, 200: JobOut, **errors(WRITE_ERRORS)},
    openapi_extra={
        "responses": {
            201: {"description": "The job was created."},
            200: {
                "description": "An unfinished job of yours already holds the `unique_key`: "
                "that job, unchanged; nothing was created."
            },
        }
    },
)
def create_job(
    request: HttpRequest,
    payload: JobCreateIn,
    idempotency_key: IdempotencyKey = None,
) -> JsonResponse:
    """Submit one job. `parameters` are validated for the `job_type` (see the request schema,
    one variant per type, or GET /api/job-types). 201: created; 200: the unfinished job that
    already holds the `unique_key` (yours), unchanged."""
    user = request.auth  # type: ignore[attr-defined]

    def create() -> tuple[int, dict[str, Any]]:
        if payload.batch_id is not None:
            access.get_batch(user, payload.batch_id, "write")
        access.check_uploads(user, [("", payload.parameters)])
        enqueued = services.enqueue_job(
            **payload.spec_dict(),
            batch=payload.batch_id,
            user=user,
            access_control=(
                payload.access_control.model_dump() if payload.access_control else None
            ),
        )
        status = 201 if enqueued.created else 200
        return status, job_body(access.get_job(user, enqueued.job.pk))

    return idempotent(request, idempotency_key, payload.model_dump(mode="json"), create)


@router.post("/batch", response={201: BatchCreatedOut, **errors(WRITE_ERRORS)})
def create_batch(
    request: HttpRequest,
    payload: BatchCreateIn,
    idempotency_key: IdempotencyKey = None,
) -> JsonResponse:
    """Submit a batch of jobs of any types: all are created, or none (the error lists each
    bad job as `jobs[i].field`)."""
    user = request.auth  # type: ignore[attr-defined]

    def create() -> tuple[int, dict[str, Any]]:
        access.check_uploads(
            user, [(f"jobs[{i}].", job.parameters) for i, job in enumerate(payload.jobs)]
        )
        created = batch_services.create_batch(
            payload.batch_name,
            [job.spec_dict() for job in payload.jobs],
            user=user,
            access_control=(
                payload.access_control.model_dump() if payload.access_control else None
            ),
            webhook=payload.webhook.model_dump(mode="json") if payload.webhook else None,
            is_active=payload.is_active,
        )
        batch = access.get_batch(user, created.batch.pk)
        body = rendered(BatchOut.from_orm(batch))
        body.update(job_ids=created.job_ids, reused=created.reused)
        return 201, body

    return idempotent(request, idempotency_key, payload.model_dump(mode="json"), create)


def refuse_unknown_query(
    request: HttpRequest, *schemas: type[BaseModel], also: Iterable[str] = ()
) -> None:
    """A query parameter no schema of the endpoint knows is refused, not ignored: a typo
    (``statuses=failed``) would otherwise list everything. ``_`` (a cache buster) and
    ``also`` pass."""
    known = {
        name
        for schema in schemas
        for field_name, field in schema.model_fields.items()
        for name in (field_name, field.alias)
        if name
    } | {"_", *also}
    unknown = sorted(set(request.GET) - known)
    if unknown:
        raise ValidationError(
            f"Unknown query parameter(s): {', '.join(unknown)}. Known: {', '.join(sorted(known))}.",
            details=[{"field": name, "message": "unknown query parameter"} for name in unknown],
        )


def list_jobs_page(
    queryset: QuerySet[Job], user: Any, filters: BatchJobFilter, page: JobPageParams
) -> dict[str, Any]:
    jobs = access.readable(queryset.select_related("user").defer("results"), user)
    jobs = filters.filter(jobs)
    return paginate(jobs, f"jobs:{page.ordering}", JOB_ORDERINGS[page.ordering], page)


@router.get("", response={200: JobPage, **errors()})
def list_jobs(
    request: HttpRequest, filters: Query[JobFilter], page: Query[JobPageParams]
) -> dict[str, Any]:
    """The jobs you may read, newest first; page on with `cursor=<next_cursor>`."""
    refuse_unknown_query(request, JobFilter, JobPageParams)
    return list_jobs_page(Job.objects.all(), request.auth, filters, page)  # type: ignore[attr-defined]


@router.get("/{job_id}", response={200: JobOut, **errors()})
def get_job(request: HttpRequest, job_id: Identifier) -> Job:
    return access.get_job(request.auth, job_id)  # type: ignore[attr-defined]


@router.delete("/{job_id}", response={204: None, **errors(WRITE_ERRORS)})
def delete_job(request: HttpRequest, job_id: Identifier) -> Status[None]:
    """Delete a job (not while it is processing: cancel it first), its logs and files."""
    access.get_job(request.auth, job_id, "write")  # type: ignore[attr-defined]
    services.delete_job(job_id)
    return Status(204, None)


@router.get("/{job_id}/logs", response={200: LogPage, **errors()})
def job_logs(
    request: HttpRequest, job_id: Identifier, filters: Query[LogFilter], page: Query[PageParams]
) -> dict[str, Any]:
    """The job's log lines, oldest first; `level` is one level (not that level and up)."""
    refuse_unknown_query(request, LogFilter, PageParams)
    access.get_job(request.auth, job_id)  # type: ignore[attr-defined]
    return paginate(
        filters.filter(selectors.job_logs(job_id)), f"logs:{job_id}", LOG_ORDERING, page
    )


def refuse_body(request: HttpRequest) -> None:
    """An action without options takes no body: one sent anyway (``{"is_active": false}``
    to a toggle) would otherwise be ignored without a word."""
    if request.content_type in {"multipart/form-data", "application/x-www-form-urlencoded"}:
        sent = bool(request.POST or request.FILES)  # an empty form is no body
    else:
        sent = request.body.strip() not in {b"", b"{}", b"null"}
    if sent:
        raise ValidationError(
            "This action takes no body; send none (or {}).",
            details=[{"field": "body", "message": "this action takes no body"}],
        )


def _act(
    request: HttpRequest, job_id: str, action: Callable[[str], Any], *, options: bool = False
) -> Job:
    """``options``: the endpoint has a body schema of its own (ninja validated it)."""
    if not options:
        refuse_body(request)
    access.get_job(request.auth, job_id, "write")  # type: ignore[attr-defined]
    action(job_id)
    return access.get_job(request.auth, job_id)  # type: ignore[attr-defined]


@router.post("/{job_id}/restart", response={200: JobOut, **errors(WRITE_ERRORS)})
def restart_job(request: HttpRequest, job_id: Identifier) -> Job:
    """Run a completed, failed or cancelled job again from scratch."""
    return _act(request, job_id, services.restart)


@router.post("/{job_id}/cancel", response={200: JobOut, **errors(WRITE_ERRORS)})
def cancel_job(request: HttpRequest, job_id: Identifier) -> Job:
    """Cancel a pending job; a processing one is asked to stop (cancel_requested)."""
    return _act(request, job_id, services.cancel)


@router.post("/{job_id}/fail", response={200: JobOut, **errors(WRITE_ERRORS)})
def fail_job(request: HttpRequest, job_id: Identifier, payload: FailIn | None = None) -> Job:
    """Mark a pending or processing job failed, with an error code and message."""
    options = payload or FailIn()
    return _act(
        request,
        job_id,
        lambda pk: services.fail(pk, options.code, options.message, None),
        options=True,
    )


@router.post("/{job_id}/pending", response={200: JobOut, **errors(WRITE_ERRORS)})
def set_job_pending(request: HttpRequest, job_id: Identifier) -> Job:
    """Put a processing, failed or cancelled job back in the queue as it is."""
    return _act(request, job_id, services.set_pending)


@router.post("/{job_id}/archive", response={200: JobOut, **errors(WRITE_ERRORS)})
def archive_job(request: HttpRequest, job_id: Identifier) -> Job:
    """Archive a finished job (hidden with archived=false)."""
    return _act(request, job_id, services.archive)


@router.post("/{job_id}/unarchive", response={200: JobOut, **errors(WRITE_ERRORS)})
def unarchive_job(request: HttpRequest, job_id: Identifier) -> Job:
    return _act(request, job_id, services.unarchive)


@router.put("/{job_id}/access", response={200: JobOut, **errors(WRITE_ERRORS)})
def set_job_access(request: HttpRequest, job_id: Identifier, payload: AccessControlIn) -> Job:
    """Replace the job's access control (owner or an admin grant)."""
    job = access.get_job(request.auth, job_id, "admin")  # type: ignore[attr-defined]
    access.set_job_access(job, payload.model_dump())
    return access.get_job(request.auth, job_id)  # type: ignore[attr-defined]


# --- files ----------------------------------------------------------------------------------

BINARY = {"*/*": {"schema": {"type": "string", "format": "binary"}}}
ZIP = {"application/zip": {"schema": {"type": "string", "format": "binary"}}}
COMPRESSED_TYPES = ("video/", "audio/", "image/jpeg", "image/png", "image/webp", "application/zip")
STREAM_CHUNK = 256 * 1024


def content_type(path: Path) -> str:
    guessed, encoding = mimetypes.guess_type(path.name)
    if encoding or not guessed:
        return "application/octet-stream"
    return guessed


def _inside(root: Path, path: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root)
    except (OSError, RuntimeError):  # a symlink loop
        return False


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a name longer than the file system allows, for one
        return False


def job_files(job_id: str) -> list[tuple[str, Path]]:
    """``(relative path, path)`` of every file in the job's folder, sorted; symlinks that
    lead out of the folder are left out."""
    folder = job_dir(job_id)
    if not folder.is_dir():
        return []
    root = folder.resolve()
    found = []
    for directory, _dirs, names in os.walk(folder):
        for name in names:
            path = Path(directory) / name
            if path.is_file() and _inside(root, path):
                found.append((path.relative_to(folder).as_posix(), path))
    return sorted(found)


def job_file(job_id: str, relative: str) -> Path:
    """The file ``relative`` in the job's folder: ``..``, absolute paths and symlinks that
    lead out of the folder are refused."""
    parts = relative.replace("\\", "/").split("/")
    if (
        not relative
        or "\x00" in relative
        or relative.startswith(("/", "\\"))
        or (len(relative) > 1 and relative[1] == ":")
        or any(part in {"", ".", ".."} for part in parts)
    ):
        raise InvalidPath(
            "File paths are relative to the job's folder, without '.', '..' or empty parts.",
            details={"path": relative},
        )
    folder = job_dir(job_id)
    path = folder.joinpath(*parts)
    if not folder.is_dir() or not _inside(folder.resolve(), path) or not _is_file(path):
        raise NotFound(
            f"Job {job_id} has no file {relative!r}.", details={"job_id": job_id, "path": relative}
        )
    return path


@router.get("/{job_id}/files", response={200: list[FileOut], **errors()})
def list_job_files(request: HttpRequest, job_id: Identifier) -> list[dict[str, Any]]:
    """The files the job produced (its folder, sub-folders included)."""
    access.get_job(request.auth, job_id)  # type: ignore[attr-defined]
    result = []
    for relative, path in job_files(job_id):
        stat = path.stat()
        result.append(
            {
                "path": relative,
                "size": stat.st_size,
                "content_type": content_type(path),
                "modified_at": datetime.fromtimestamp(stat.st_mtime, tz=UTC),
            }
        )
    return result


@router.get(
    "/{job_id}/files/{path:path}",
    response=errors(),
    openapi_extra={"responses": {200: {"description": "The file", "content": BINARY}}},
)
def download_job_file(request: HttpRequest, job_id: Identifier, path: str) -> FileResponse:
    """Download one file (streamed, with its content type)."""
    access.get_job(request.auth, job_id)  # type: ignore[attr-defined]
    found = job_file(job_id, path)
    return FileResponse(found.open("rb"), content_type=content_type(found), filename=found.name)


class _ZipSink:
    """A write-only, non-seekable file for ZipFile: what is written is handed out in
    chunks, so an archive streams without being built in memory or on disk first."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._position = 0

    def write(self, data: bytes) -> int:
        self._chunks.append(bytes(data))
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self._chunks = b"".join(self._chunks), []
        return data


ZipEntry = tuple[str, bytes | Path]


def zip_stream(entries: Iterable[ZipEntry]) -> Iterator[bytes]:
    sink = _ZipSink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:  # type: ignore[arg-type]
        for name, source in entries:
            if isinstance(source, bytes):
                archive.writestr(name, source)
                yield sink.take()
                continue
            stat = source.stat()
            info = zipfile.ZipInfo(name, time.localtime(max(stat.st_mtime, 315_532_800))[:6])
            stored = content_type(source).startswith(COMPRESSED_TYPES)
            info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            with source.open("rb") as data, archive.open(info, "w", force_zip64=True) as out:
                while chunk := data.read(STREAM_CHUNK):
                    out.write(chunk)
                    yield sink.take()
            yield sink.take()
    yield sink.take()


def job_archive_entries(job: Job, prefix: str = "") -> Iterator[ZipEntry]:
    yield f"{prefix}job.json", json.dumps(job_body(job), indent=2).encode()
    for relative, path in job_files(job.pk):
        yield f"{prefix}files/{relative}", path


def zip_response(entries: Iterable[ZipEntry], filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(zip_stream(entries), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@router.get(
    "/{job_id}/archive",
    response=errors(),
    openapi_extra={"responses": {200: {"description": "ZIP archive", "content": ZIP}}},
)
def download_job_archive(request: HttpRequest, job_id: Identifier) -> StreamingHttpResponse:
    """A ZIP of the job (job.json: status, results, error…) and its files (streamed)."""
    job = access.get_job(request.auth, job_id)  # type: ignore[attr-defined]
    return zip_response(job_archive_entries(job), f"{job.pk}.zip")


class LimitedUploadHandler(FileUploadHandler):
    """Aborts a multipart upload as soon as it passes the size limit, so the server never
    stores more than that (placed first among the request's upload handlers)."""

    def __init__(self, request: HttpRequest, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.limit:
            raise upload_too_large(self.limit)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler (Django's own) builds the file


def upload_too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The upload is larger than the limit of {limit} bytes (JOBCENTER_MAX_UPLOAD_BYTES).",
        details={"limit_bytes": limit},
    )


def guard_upload(run: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Wraps the upload operation (before authentication reads anything): refuses an upload
    that announces more than the limit without reading it, and caps the reading of one that
    does not announce its size."""

    @wraps(run)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        limit = int(settings.JOBCENTER_MAX_UPLOAD_BYTES)
        try:
            announced = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            announced = 0
        if announced > limit + MULTIPART_ENVELOPE_BYTES:
            error = upload_too_large(limit)
            return JsonResponse({"error": error.as_dict()}, status=error.status_code)
        if not hasattr(request, "_files"):
            request.upload_handlers.insert(0, LimitedUploadHandler(request, limit))
        return run(request, *args, **kwargs)

    return guarded


def refuse_several_files(request: HttpRequest) -> None:
    """Ninja hands the operation only the last of several ``file`` parts: the others would
    be dropped without a word, and the caller would get one reference for several files.
    Refused before anything is stored (the parts read so far are Django's temporary files,
    removed with the request)."""
    count = len(request.FILES.getlist("file"))
    if count > 1:
        raise ValidationError(
            f"One file per upload: the request has {count} 'file' parts. Upload each file "
            "with a request of its own (each gets its own reference); nothing was stored.",
            details=[{"field": "file", "message": f"one file per upload; got {count}"}],
        )


@files_router.post("", response={201: UploadOut, **errors(WRITE_ERRORS)})
@decorate_view(guard_upload)
def upload_file(request: HttpRequest, file: File[UploadedFile]) -> Status[dict[str, Any]]:
    """Upload an input file (multipart field `file`, once); use the returned `upload:<id>`
    reference as a parameter value (e.g. a pdf job's `source`)."""
    refuse_several_files(request)
    limit = int(settings.JOBCENTER_MAX_UPLOAD_BYTES)
    if file.size is not None and file.size > limit:
        raise upload_too_large(limit)
    upload = services.add_upload(file, file.name or "upload", request.auth)  # type: ignore[attr-defined]
    return Status(
        201,
        {"reference": upload.reference, "filename": upload.filename, "size": upload.size},
    )


# --- live events ----------------------------------------------------------------------------


def sse(event: str, data: Any, event_id: str | None = None) -> str:
    lines = [f"event: {event}"]
    if event_id:
        lines.append(f"id: {event_id}")
    lines.append("data: " + json.dumps(data, default=str, separators=(",", ":")))
    return "\n".join(lines) + "\n\n"


def _log_event_id(log: JobLog) -> str:
    return f"{log.timestamp.isoformat()}_{log.pk}"


class InvalidEventId(JobCenterError):
    code = "INVALID_EVENT_ID"
    status_code = 400


def _parse_log_event_id(value: str | None) -> tuple[datetime, str] | None:
    """``Last-Event-ID`` as (timestamp, log id); refused when it is not an id this API sent,
    before the stream starts (a bad id found inside the stream would end it, and the client
    would reconnect with the same id forever)."""
    if not value:
        return None
    stamp, _, pk = value.rpartition("_")
    try:
        parsed = datetime.fromisoformat(stamp)
        pk = str(JobLog._meta.pk.to_python(pk))  # type: ignore[union-attr]
    except (ValueError, DjangoValidationError):
        raise InvalidEventId(
            "Last-Event-ID is not an event id this stream sent; reconnect without it.",
            details={"field": "Last-Event-ID"},
        ) from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)), pk


@dataclass
class Snapshot:
    status: str | None
    progress: dict[str, Any]
    cancel_requested: bool
    error: Any
    logs: list[JobLog]


def take_snapshot(job_id: str, after: tuple[datetime, str] | None) -> Snapshot:
    row = (
        Job.objects.filter(pk=job_id)
        .values("status", "progress", "cancel_requested", "error")
        .first()
    )
    if row is None:
        return Snapshot(None, {}, False, None, [])
    logs = selectors.job_logs(job_id)
    if after is not None:
        logs = logs.filter(LOG_ORDERING.after(list(after)))
    return Snapshot(
        row["status"], row["progress"], row["cancel_requested"], row["error"], list(logs[:500])
    )


async def job_event_stream(job_id: str, after: tuple[datetime, str] | None) -> AsyncIterator[str]:
    """Poll the job (through the selectors, in Django's sync thread) and send what changed;
    a comment line now and then keeps proxies from closing a quiet stream; the stream ends
    with an ``end`` event when the job does."""
    poll = float(getattr(settings, "JOBCENTER_SSE_POLL_SECONDS", 1.0))
    heartbeat = float(getattr(settings, "JOBCENTER_SSE_HEARTBEAT_SECONDS", 15.0))
    yield f"retry: {int(max(poll, 1) * 3000)}\n\n"
    last_status: str | None = None
    last_progress: Any = None
    last_sent = time.monotonic()
    snapshot_of = sync_to_async(take_snapshot)
    while True:
        snapshot = await snapshot_of(job_id, after)
        sent = False
        if snapshot.status is None:
            yield sse("end", {"job_id": job_id, "status": None, "deleted": True})
            return
        for log in snapshot.logs:
            after = (log.timestamp, str(log.pk))
            yield sse(
                "log",
                {
                    "timestamp": log.timestamp.isoformat(),
                    "level": log.level,
                    "message": log.message,
                },
                _log_event_id(log),
            )
            sent = True
        if snapshot.status != last_status:
            last_status = snapshot.status
            data = {"job_id": job_id, "status": snapshot.status}
            data.update(cancel_requested=snapshot.cancel_requested, error=snapshot.error)
            yield sse("status", data)
            sent = True
        if snapshot.progress != last_progress:
            last_progress = snapshot.progress
            yield sse("progress", {"job_id": job_id, **(snapshot.progress or {})})
            sent = True
        if snapshot.status in FINISHED and len(snapshot.logs) < 500:
            yield sse("end", {"job_id": job_id, "status": snapshot.status})
            return
        now = time.monotonic()
        if sent:
            last_sent = now
        elif now - last_sent >= heartbeat:
            last_sent = now
            yield ": heartbeat\n\n"
        await asyncio.sleep(poll)


@router.get(
    "/{job_id}/events",
    response=errors(),
    openapi_extra={
        "responses": {
            200: {
                "description": "Server-Sent Events: `status`, `progress`, `log`, then `end`.",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            }
        }
    },
)
async def job_events(
    request: HttpRequest,
    job_id: Identifier,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=200)] = None,
) -> StreamingHttpResponse:
    """A Server-Sent Events stream of the job's status, progress and log lines until it
    ends (reconnecting with Last-Event-ID resumes the log lines after that event)."""
    job = await sync_to_async(access.get_job)(request.auth, job_id)  # type: ignore[attr-defined]
    response = StreamingHttpResponse(
        job_event_stream(job.pk, _parse_log_event_id(last_event_id)),
        content_type="text/event-stream",
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


# --- job types, workers ---------------------------------------------------------------------


@job_types_router.get("", response={200: list[JobTypeOut], **errors()})
def list_job_types(request: HttpRequest) -> list[dict[str, Any]]:
    """Every registered job type: description, limits and the JSON schema of its parameters
    (what forms are built from)."""
    return [
        {
            "job_type": state["job_type"],
            "description": state["processor"].description,
            "limits": state["limits"],
            "default_concurrency": state["default_concurrency"],
            "paused": state["paused"],
            "parameters_schema": state["processor"].Params.model_json_schema(),
        }
        for state in selectors.job_type_states()
    ]


@workers_router.get("", response={200: list[WorkerOut], **errors()})
def list_workers(
    request: HttpRequest,
    include_stopped: Annotated[bool, Query(description="Also workers that stopped.")] = False,
) -> list[dict[str, Any]]:
    """The workers (one per `runworker` process) and whether their heartbeat is recent."""
    refuse_unknown_query(request, also=["include_stopped"])
    workers = Worker.objects.order_by("-started_at")
    if not include_stopped:
        workers = workers.exclude(status=Worker.Status.STOPPED)
    fresh = selectors.worker_alive_since()
    return [
        {
            **{
                field: getattr(worker, field)
                for field in WorkerOut.model_fields
                if field != "alive"
            },
            "job_types": list(worker.job_types or []),
            "exclude_types": list(worker.exclude_types or []),
            "running_jobs": [str(job) for job in worker.running_jobs or []],
            "alive": worker.status == Worker.Status.RUNNING and worker.heartbeat_at >= fresh,
        }
        for worker in workers[:1000]
    ]


def health_summary() -> dict[str, Any]:
    """Live workers and the age of the oldest pending job that is due, for GET /api/health."""
    alive = selectors.alive_workers().count()
    oldest = selectors.due_pending_jobs().aggregate(oldest=Min("created_at"))
    age = (timezone.now() - oldest["oldest"]).total_seconds() if oldest["oldest"] else None
    return {"workers_alive": alive, "oldest_pending_age_seconds": age}
