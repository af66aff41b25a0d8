"""The older service's routes under ``/api/legacy/event-job/``: the same paths, request bodies
and answer envelopes as its Flask API under ``/api/event-job/``, so that a client moves by
changing its base URL and then migrates endpoint by endpoint to the Job Center's own API
(docs/migration.md has the table). Every operation is marked deprecated in the OpenAPI
schema.

They are authenticated like the rest of the API (an API key or a session). ``X-User-ID`` (or
a body's ``user_id``) is not trusted: it is only honoured for an active staff caller, as the
user that admin acts for (owner of what is created, default ``user_id`` filter of lists);
the admin's own rights decide what may be read and changed.

The views translate to the same access checks (jobs/access.py), selectors and services as
the new API. Errors, including authentication and validation errors, are re-shaped by this
router's own decorator into the old ``{"status": "error", "message", "error_type"}``; the
project-wide handlers stay as they are.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Annotated, Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from ninja import Field, Header, Query, Router, Schema, Status
from pydantic import BeforeValidator

from batches import selectors as batch_selectors
from batches import services as batch_services
from batches.models import Batch
from jobcenter.errors import NotFound, ValidationError
from jobs import access, services
from jobs import selectors as job_selectors
from jobs.api import InvalidPath, content_type, job_file
from jobs.models import Job, JobLog
from jobs.schemas import Identifier
from jobs.services import JobSpec
from jobs.states import JobStatus
from legacy import services as legacy_services
from legacy.convert import LEGACY_SESSION_TYPES, SESSION_JOB_TYPE
from legacy.schemas import (
    LegacyBatchesResponse,
    LegacyBatchIn,
    LegacyBatchRead,
    LegacyBatchResponse,
    LegacyErrorOut,
    LegacyFailAllResponse,
    LegacyJobIn,
    LegacyJobRead,
    LegacyJobResponse,
    LegacyJobsResponse,
    LegacyMessageResponse,
    LegacyRestartIn,
)
from legacy.webhooks import is_legacy_webhook

PREFIX = "/legacy/event-job"
"""Where jobcenter/api.py mounts this router (under /api)."""
MAX_LIMIT = 1000
# Beyond any real table, and within what every database accepts as an OFFSET.
MAX_SKIP = 1_000_000_000
REDACTED = "***"
ERRORS = frozenset({400, 401, 403, 404, 409, 413, 422})
ERROR_RESPONSES: dict[frozenset[int], type[Schema]] = {ERRORS: LegacyErrorOut}


def old_error_shape(run: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Every error answer of these routes in the old shape: the project-wide handlers have
    already turned the exception (JobCenterError, failed authentication, validation…) into
    ``{"error": {code, message, details}}``, with its status; this re-wraps that body."""

    @wraps(run)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = run(request, *args, **kwargs)
        if response.status_code < 400 or "json" not in response.get("Content-Type", ""):
            return response
        try:
            error = json.loads(response.content)["error"]
        except (ValueError, KeyError, TypeError):
            return response
        return JsonResponse(
            {
                "status": "error",
                "message": error.get("message", ""),
                "error_type": error.get("code", "ERROR"),
                "details": error.get("details"),
            },
            status=response.status_code,
        )

    return wrapper


router = Router(tags=["legacy event-job (deprecated)"])
router.add_decorator(old_error_shape, mode="view")

UserHeader = Annotated[
    str | None,
    Header(
        alias="X-User-ID",
        max_length=150,
        description="The user an admin (staff) key acts for; ignored for other callers.",
    ),
]
CacheHeader = Annotated[
    str | None,
    Header(
        alias="X-Use-Cache",
        max_length=10,
        description="`true`/`false`: sets the jobs' `use_cache` parameter unless given.",
    ),
]
TRUE = frozenset({"true", "1", "yes", "on"})
FALSE = frozenset({"false", "0", "no", "off"})


# --- who, and what --------------------------------------------------------------------------


def _caller(request: HttpRequest) -> AbstractBaseUser:
    return request.auth  # type: ignore[attr-defined,no-any-return]


def is_admin(user: AbstractBaseUser | AnonymousUser) -> bool:
    return bool(user.is_authenticated and user.is_active and getattr(user, "is_staff", False))


def claimed_user_id(
    request: HttpRequest, header: str | None, body: str | None = None
) -> str | None:
    """The user id an admin caller names (body ``user_id`` first, as the old service read
    it, then ``X-User-ID``); None for everyone else, whose claim is ignored."""
    if not is_admin(_caller(request)):
        return None
    return (body or header or "").strip() or None


def acting_owner(request: HttpRequest, header: str | None, body: str | None) -> AbstractBaseUser:
    """The owner of what an admin creates for a user; the caller for anyone else."""
    claimed = claimed_user_id(request, header, body)
    return legacy_services.owner_named(claimed) if claimed else _caller(request)


def use_cache(header: str | None) -> bool | None:
    if header is None or not header.strip():
        return None
    value = header.strip().lower()
    if value in TRUE | FALSE:
        return value in TRUE
    raise ValidationError(
        "X-Use-Cache must be true or false.",
        details=[{"field": "X-Use-Cache", "message": f"not a boolean: {header!r}"}],
    )


def _job_name(item: LegacyJobIn) -> str:
    """The old service's default name: "event - track - session"."""
    if item.job_name:
        return item.job_name
    parts = [item.parameters.get(key) for key in ("event", "track", "session")]
    return " - ".join(str(part) for part in parts if part)[:255]


def _legacy_job(
    item: LegacyJobIn, cache: bool | None, fallback_webhook: Any, position: int | None
) -> legacy_services.LegacyJob:
    prefix = "" if position is None else f"jobs[{position}]."
    job_type = item.job_type or SESSION_JOB_TYPE
    if job_type in LEGACY_SESSION_TYPES:
        job_type = SESSION_JOB_TYPE
    parameters = dict(item.parameters)
    if cache is not None:
        parameters.setdefault("use_cache", cache)
    webhook = item.webhook or fallback_webhook
    return legacy_services.LegacyJob(
        spec=JobSpec(job_type=job_type, parameters=parameters, job_name=_job_name(item)),
        webhook=legacy_services.legacy_webhook(
            webhook.model_dump() if webhook else None, field=f"{prefix}webhook"
        ),
    )


# --- the old answer shapes ------------------------------------------------------------------


def _owner_name(obj: Job | Batch) -> str | None:
    return obj.user.get_username() if obj.user_id is not None and obj.user else None


def _webhook_out(value: Any) -> dict[str, Any] | None:
    """The old webhook; header values are not shown back (they tend to hold tokens)."""
    if not isinstance(value, dict) or not value.get("url"):
        return None
    headers = value.get("headers") if is_legacy_webhook(value) else None
    return {
        "url": str(value["url"]),
        "headers": {str(k): REDACTED for k in headers} if isinstance(headers, dict) else None,
        "include_markdown": bool(value.get("include_markdown", True)),
        "include_metadata": bool(value.get("include_metadata", True)),
    }


def job_dict(job: Job, *, with_logs: bool = False) -> dict[str, Any]:
    """A job as the older service's ``Job.to_dict()``: its field names, the owner as
    ``user_id``, ``processing_started_at`` beside ``started_at``, log lines on request."""
    body = {
        "job_id": job.job_id,
        "job_type": job.job_type,
        "job_name": job.job_name or None,
        "status": job.status,
        "parameters": job.parameters if isinstance(job.parameters, dict) else {},
        "progress": job.progress if isinstance(job.progress, dict) else {},
        "results": job.results if isinstance(job.results, dict) or job.results is None else {},
        "error": job.error if isinstance(job.error, dict) and job.error else None,
        "batch_id": job.batch_id,
        "user_id": _owner_name(job),
        "access_control": job.access_control if isinstance(job.access_control, dict) else {},
        "archived": job.archived,
        "webhook": _webhook_out(job.webhook),
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "started_at": job.started_at,
        "processing_started_at": job.started_at,
        "completed_at": job.completed_at,
    }
    if with_logs:
        body["logs"] = [
            {"timestamp": log.timestamp, "level": log.level, "message": log.message}
            for log in JobLog.objects.filter(job_id=job.pk).order_by("timestamp", "id")
        ]
    return body


def batch_dict(batch: Batch) -> dict[str, Any]:
    """A batch as the older service's ``Batch.to_dict()`` (``isActive`` spelled the old way)."""
    return {
        "batch_id": batch.batch_id,
        "batch_name": batch.batch_name or None,
        "status": batch.status,
        "total_jobs": batch.total_jobs,
        "pending_jobs": batch.pending_jobs,
        "processing_jobs": batch.processing_jobs,
        "completed_jobs": batch.completed_jobs,
        "failed_jobs": batch.failed_jobs,
        "cancelled_jobs": batch.cancelled_jobs,
        "archived": batch.archived,
        "isActive": batch.is_active,
        "user_id": _owner_name(batch),
        "access_control": batch.access_control if isinstance(batch.access_control, dict) else {},
        "created_at": batch.created_at,
        "updated_at": batch.updated_at,
        "completed_at": batch.completed_at,
    }


def _read_job(request: HttpRequest, job_id: str, level: access.Level = "read") -> Job:
    return access.get_job(_caller(request), job_id, level)


def _read_batch(request: HttpRequest, batch_id: str, level: access.Level = "read") -> Batch:
    return access.get_batch(_caller(request), batch_id, level)


# --- jobs -----------------------------------------------------------------------------------


def _status_spelling(value: Any) -> Any:
    """The older system wrote "canceled" as well; its imports map it (legacy/convert.py),
    and so do its clients' filters."""
    return JobStatus.CANCELLED if value == "canceled" else value


LegacyStatus = Annotated[JobStatus, BeforeValidator(_status_spelling)]


class JobListParams(Schema):
    status: LegacyStatus | None = None
    batch_id: Identifier | None = None
    user_id: Annotated[str, Field(max_length=150)] | None = Field(
        None, description="Jobs of this user (X-User-ID from an admin key means the same)."
    )
    limit: int = Field(100, ge=1, le=MAX_LIMIT)
    skip: int = Field(0, ge=0, le=MAX_SKIP)


@router.post("/jobs", response={201: LegacyJobResponse, **ERROR_RESPONSES}, deprecated=True)
def create_job(
    request: HttpRequest,
    payload: LegacyJobIn,
    x_user_id: UserHeader = None,
    x_use_cache: CacheHeader = None,
) -> Status[dict[str, Any]]:
    """Old `POST /api/event-job/jobs`: one session job (`job_type` defaults to `session`).
    New: `POST /api/jobs`."""
    owner = acting_owner(request, x_user_id, payload.user_id)
    item = _legacy_job(payload, use_cache(x_use_cache), None, None)
    if payload.batch_id:
        _read_batch(request, payload.batch_id, "write")
    access.check_uploads(request.auth, [("", item.spec.parameters)])  # type: ignore[attr-defined]
    job = legacy_services.create_job(item, batch_id=payload.batch_id, user=owner)
    job = job_selectors.get_job(job.pk)  # the caller's own creation, whoever owns it
    return Status(
        201,
        {
            "status": "success",
            "job": job_dict(job, with_logs=True),
            "message": f"Job {job.pk} created.",
        },
    )


@router.get("/jobs", response={200: LegacyJobsResponse, **ERROR_RESPONSES}, deprecated=True)
def list_jobs(
    request: HttpRequest, params: Query[JobListParams], x_user_id: UserHeader = None
) -> dict[str, Any]:
    """Old `GET /api/event-job/jobs`: filters `status`, `batch_id`, `user_id`; paging with
    `limit`/`skip`; newest first; `total` counts every match. New: `GET /api/jobs`."""
    jobs: QuerySet[Job] = access.readable(Job.objects.select_related("user"), _caller(request))
    user_id = params.user_id or claimed_user_id(request, x_user_id)
    if params.status:
        jobs = jobs.filter(status=params.status)
    if params.batch_id:
        jobs = jobs.filter(batch_id=params.batch_id)
    if user_id:
        jobs = jobs.filter(user__username=user_id)
    total = jobs.count()
    page = jobs.order_by("-created_at", "-pk")[params.skip : params.skip + params.limit]
    return {"status": "success", "total": total, "jobs": [job_dict(job) for job in page]}


@router.get("/jobs/{job_id}", response={200: LegacyJobRead, **ERROR_RESPONSES}, deprecated=True)
def get_job(request: HttpRequest, job_id: Identifier) -> dict[str, Any]:
    """Old `GET /api/event-job/jobs/{job_id}`, with the job's log lines.
    New: `GET /api/jobs/{job_id}` (and `/logs`)."""
    return {"status": "success", "job": job_dict(_read_job(request, job_id), with_logs=True)}


@router.delete(
    "/jobs/{job_id}", response={200: LegacyMessageResponse, **ERROR_RESPONSES}, deprecated=True
)
def delete_job(request: HttpRequest, job_id: Identifier) -> dict[str, Any]:
    """Old `DELETE /api/event-job/jobs/{job_id}` (refused while processing).
    New: `DELETE /api/jobs/{job_id}`."""
    _read_job(request, job_id, "write")
    services.delete_job(job_id)
    return {"status": "success", "message": f"Job {job_id} deleted."}


@router.post(
    "/{job_id}/restart", response={200: LegacyJobResponse, **ERROR_RESPONSES}, deprecated=True
)
def restart_job(
    request: HttpRequest, job_id: Identifier, payload: LegacyRestartIn | None = None
) -> dict[str, Any]:
    """Old `POST /api/event-job/{job_id}/restart`: back to pending with results, error and
    progress reset, for a completed, failed or cancelled job (a pending or processing one is
    refused, 409 `INVALID_TRANSITION`). New: `POST /api/jobs/{job_id}/restart`."""
    _read_job(request, job_id, "write")
    services.restart(job_id)
    return {
        "status": "success",
        "message": f"Job {job_id} was reset for a restart.",
        "job": job_dict(_read_job(request, job_id), with_logs=True),
    }


# --- batches --------------------------------------------------------------------------------


class BatchListParams(Schema):
    status: LegacyStatus | None = None
    archived: bool = Field(False, description="`true`: the archived batches instead.")
    user_id: Annotated[str, Field(max_length=150)] | None = None
    limit: int = Field(100, ge=1, le=MAX_LIMIT)
    skip: int = Field(0, ge=0, le=MAX_SKIP)


@router.post("/batches", response={201: LegacyBatchResponse, **ERROR_RESPONSES}, deprecated=True)
def create_batch(
    request: HttpRequest,
    payload: LegacyBatchIn,
    x_user_id: UserHeader = None,
    x_use_cache: CacheHeader = None,
) -> Status[dict[str, Any]]:
    """Old `POST /api/event-job/batches`: the batch and its jobs, all or none; the batch's
    `webhook` goes to each job without one. A client-chosen `batch_id` is refused.
    New: `POST /api/jobs/batch`."""
    if payload.batch_id:
        raise ValidationError(
            "A client-chosen batch_id is not supported: the Job Center assigns batch ids "
            "(leave batch_id out and use the one in the answer).",
            details=[{"field": "batch_id", "message": "not supported"}],
        )
    owner = acting_owner(request, x_user_id, payload.user_id)
    cache = use_cache(x_use_cache)
    items = [
        _legacy_job(item, cache, payload.webhook, position)
        for position, item in enumerate(payload.jobs)
    ]
    access.check_uploads(
        request.auth,  # type: ignore[attr-defined]
        [(f"jobs[{i}].", item.spec.parameters) for i, item in enumerate(items)],
    )
    created = legacy_services.create_batch(payload.batch_name or "", items, user=owner)
    batch = batch_selectors.get_batch(created.batch.pk)  # the caller's own creation
    return Status(
        201,
        {
            "status": "success",
            "batch": batch_dict(batch),
            "message": f"Batch {batch.pk} created with {len(created.job_ids)} jobs.",
        },
    )


@router.get("/batches", response={200: LegacyBatchesResponse, **ERROR_RESPONSES}, deprecated=True)
def list_batches(
    request: HttpRequest, params: Query[BatchListParams], x_user_id: UserHeader = None
) -> dict[str, Any]:
    """Old `GET /api/event-job/batches`: filters `status`, `archived` (false by default),
    `user_id`; paging with `limit`/`skip`; newest first. New: `GET /api/batches`."""
    batches: QuerySet[Batch] = access.readable(
        Batch.objects.select_related("user"), _caller(request)
    )
    batches = batches.filter(archived=params.archived)
    user_id = params.user_id or claimed_user_id(request, x_user_id)
    if params.status:
        batches = batches.filter(status=params.status)
    if user_id:
        batches = batches.filter(user__username=user_id)
    total = batches.count()
    page = batches.order_by("-created_at", "-pk")[params.skip : params.skip + params.limit]
    return {"status": "success", "total": total, "batches": [batch_dict(b) for b in page]}


@router.post(
    "/batches/fail-all",
    response={200: LegacyFailAllResponse, **ERROR_RESPONSES},
    deprecated=True,
)
def fail_all_batches(request: HttpRequest) -> dict[str, Any]:
    """Old `POST /api/event-job/batches/fail-all`: fail the pending and processing jobs of
    every non-archived batch the caller may change. New: `POST /api/batches/{id}/fail` per
    batch."""
    user = _caller(request)
    candidates = access.readable(Batch.objects.filter(archived=False), user)
    writable = [b.pk for b in candidates.order_by("created_at") if access.can_act(user, b)]
    failed = legacy_services.fail_batches(writable, "Failed with every open batch (fail-all).")
    touched = [batch_id for batch_id, count in failed.items() if count]
    return {
        "status": "success",
        "message": f"{sum(failed.values())} jobs of {len(touched)} batches failed.",
        "total": len(touched),
        "failed_jobs": sum(failed.values()),
        "batches": touched,
    }


@router.get(
    "/batches/{batch_id}",
    response={200: LegacyBatchRead, **ERROR_RESPONSES},
    deprecated=True,
)
def get_batch(request: HttpRequest, batch_id: Identifier) -> dict[str, Any]:
    """Old `GET /api/event-job/batches/{batch_id}`. New: `GET /api/batches/{batch_id}`."""
    return {"status": "success", "batch": batch_dict(_read_batch(request, batch_id))}


@router.delete(
    "/batches/{batch_id}",
    response={200: LegacyMessageResponse, **ERROR_RESPONSES},
    deprecated=True,
)
def delete_batch(request: HttpRequest, batch_id: Identifier) -> dict[str, Any]:
    """Old `DELETE /api/event-job/batches/{batch_id}`: the batch and all its jobs (refused
    while one of them is processing). The new API has no batch deletion: archive instead."""
    _read_batch(request, batch_id, "write")
    deleted = legacy_services.delete_batch(batch_id)
    return {"status": "success", "message": f"Batch {batch_id} and {deleted} jobs deleted."}


@router.post(
    "/batches/{batch_id}/archive",
    response={200: LegacyBatchResponse, **ERROR_RESPONSES},
    deprecated=True,
)
def archive_batch(request: HttpRequest, batch_id: Identifier) -> dict[str, Any]:
    """Old `POST /api/event-job/batches/{batch_id}/archive` (with its finished jobs).
    New: `POST /api/batches/{batch_id}/archive`."""
    _read_batch(request, batch_id, "write")
    batch_services.archive_batch(batch_id)
    return {
        "status": "success",
        "message": f"Batch {batch_id} archived.",
        "batch": batch_dict(_read_batch(request, batch_id)),
    }


@router.post(
    "/batches/{batch_id}/toggle-active",
    response={200: LegacyBatchResponse, **ERROR_RESPONSES},
    deprecated=True,
)
def toggle_batch_active(request: HttpRequest, batch_id: Identifier) -> dict[str, Any]:
    """Old `POST /api/event-job/batches/{batch_id}/toggle-active` (an inactive batch's jobs
    are not claimed). New: `POST /api/batches/{batch_id}/toggle-active`."""
    _read_batch(request, batch_id, "write")
    batch = batch_services.toggle_active(batch_id)
    return {
        "status": "success",
        "message": f"Batch {batch_id} isActive is now {str(batch.is_active).lower()}.",
        "batch": batch_dict(_read_batch(request, batch_id)),
    }


# --- files ----------------------------------------------------------------------------------


@router.get(
    "/files/{path:path}",
    response=ERROR_RESPONSES,
    deprecated=True,
    openapi_extra={
        "responses": {
            200: {
                "description": "The file",
                "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def get_file(request: HttpRequest, path: str) -> FileResponse:
    """Old `GET /api/event-job/files/{path}`. Files now live per job: the path is
    `<job_id>/<file>` (the paths in a job's `results`, prefixed with its id), served inline.
    New: `GET /api/jobs/{job_id}/files/{file}`."""
    job_id, _, relative = path.partition("/")
    if not job_id or not relative:
        raise InvalidPath(
            "File paths are <job_id>/<path in the job's folder>.", details={"path": path}
        )
    if len(job_id) > 64:
        raise NotFound(f"Job {job_id[:64]!r}… does not exist.", details={"path": path})
    _read_job(request, job_id)
    found = job_file(job_id, relative)
    return FileResponse(found.open("rb"), content_type=content_type(found), filename=found.name)
