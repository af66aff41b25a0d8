"""The batches REST API: list, read (counters and progress), the batch's jobs, batch
actions, access control and the ZIP of a whole batch. Actions call batches.services."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from django.http import HttpRequest, StreamingHttpResponse
from ninja import Query, Router

from batches import services
from batches.models import Batch
from batches.schemas import (
    BatchActionOut,
    BatchFailIn,
    BatchFilter,
    BatchOut,
    BatchPage,
    BatchPageParams,
    RestartIn,
)
from jobcenter.errors import ValidationError
from jobs import access
from jobs.api import (
    ZIP,
    Keyset,
    ZipEntry,
    job_archive_entries,
    list_jobs_page,
    paginate,
    refuse_body,
    refuse_unknown_query,
    zip_response,
)
from jobs.models import Job
from jobs.schemas import (
    READ_ERRORS,
    WRITE_ERRORS,
    AccessControlIn,
    BatchJobFilter,
    Identifier,
    JobPage,
    JobPageParams,
    errors,
)

router = Router(tags=["batches"])

BATCH_ORDERINGS: dict[str, Keyset] = {
    "-created_at": Keyset(("created_at", "pk"), True),
    "created_at": Keyset(("created_at", "pk"), False),
}


@router.get("", response={200: BatchPage, **errors()})
def list_batches(
    request: HttpRequest, filters: Query[BatchFilter], page: Query[BatchPageParams]
) -> dict[str, Any]:
    """The batches you may read, newest first; page on with `cursor=<next_cursor>`."""
    refuse_unknown_query(request, BatchFilter, BatchPageParams)
    batches = access.readable(Batch.objects.select_related("user"), request.auth)  # type: ignore[attr-defined]
    batches = filters.filter(batches)
    return paginate(batches, f"batches:{page.ordering}", BATCH_ORDERINGS[page.ordering], page)


@router.get("/{batch_id}", response={200: BatchOut, **errors()})
def get_batch(request: HttpRequest, batch_id: Identifier) -> Batch:
    """The batch with its counters per status and its progress in percent."""
    return access.get_batch(request.auth, batch_id)  # type: ignore[attr-defined]


@router.get("/{batch_id}/jobs", response={200: JobPage, **errors()})
def list_batch_jobs(
    request: HttpRequest,
    batch_id: Identifier,
    filters: Query[BatchJobFilter],
    page: Query[JobPageParams],
) -> dict[str, Any]:
    """The batch's jobs, with the filters and paging of GET /api/jobs."""
    # batch_id may be repeated as a filter (older clients sent it), as long as it agrees
    refuse_unknown_query(request, BatchJobFilter, JobPageParams, also=["batch_id"])
    if request.GET.get("batch_id", batch_id) != batch_id:
        raise ValidationError(
            "batch_id in the query names another batch than the path.",
            details=[{"field": "batch_id", "message": "differs from the batch in the path"}],
        )
    access.get_batch(request.auth, batch_id)  # type: ignore[attr-defined]
    jobs = Job.objects.filter(batch_id=batch_id)
    return list_jobs_page(jobs, request.auth, filters, page)  # type: ignore[attr-defined]


def _act(
    request: HttpRequest,
    batch_id: str,
    action: str,
    run: Callable[[str], int],
    *,
    options: bool = False,
) -> dict[str, Any]:
    """``options``: the endpoint has a body schema of its own (ninja validated it)."""
    if not options:
        refuse_body(request)
    access.get_batch(request.auth, batch_id, "write")  # type: ignore[attr-defined]
    changed = run(batch_id)
    batch = access.get_batch(request.auth, batch_id)  # type: ignore[attr-defined]
    return {"batch_id": batch_id, "action": action, "changed": changed, "batch": batch}


@router.post("/{batch_id}/restart", response={200: BatchActionOut, **errors(WRITE_ERRORS)})
def restart_batch(
    request: HttpRequest, batch_id: Identifier, payload: RestartIn | None = None
) -> dict[str, Any]:
    """Restart the batch's failed and cancelled jobs (and completed ones if asked)."""
    options = payload or RestartIn()
    return _act(
        request,
        batch_id,
        "restart",
        lambda pk: services.restart_batch(pk, include_completed=options.include_completed),
        options=True,
    )


@router.post("/{batch_id}/fail", response={200: BatchActionOut, **errors(WRITE_ERRORS)})
def fail_batch(
    request: HttpRequest, batch_id: Identifier, payload: BatchFailIn | None = None
) -> dict[str, Any]:
    """Fail every pending and processing job of the batch."""
    options = payload or BatchFailIn()
    return _act(
        request,
        batch_id,
        "fail",
        lambda pk: services.fail_batch(pk, message=options.message),
        options=True,
    )


@router.post("/{batch_id}/pending", response={200: BatchActionOut, **errors(WRITE_ERRORS)})
def set_batch_pending(request: HttpRequest, batch_id: Identifier) -> dict[str, Any]:
    """Put the batch's processing, failed and cancelled jobs back in the queue."""
    return _act(request, batch_id, "pending", services.set_pending_batch)


@router.post("/{batch_id}/cancel", response={200: BatchActionOut, **errors(WRITE_ERRORS)})
def cancel_batch(request: HttpRequest, batch_id: Identifier) -> dict[str, Any]:
    """Cancel the pending jobs; ask the workers to stop the processing ones."""
    return _act(request, batch_id, "cancel", services.cancel_batch)


@router.post("/{batch_id}/archive", response={200: BatchActionOut, **errors(WRITE_ERRORS)})
def archive_batch(request: HttpRequest, batch_id: Identifier) -> dict[str, Any]:
    """Archive the batch and its finished jobs (an archived batch's jobs are not claimed)."""
    return _act(request, batch_id, "archive", services.archive_batch)


@router.post("/{batch_id}/unarchive", response={200: BatchActionOut, **errors(WRITE_ERRORS)})
def unarchive_batch(request: HttpRequest, batch_id: Identifier) -> dict[str, Any]:
    return _act(request, batch_id, "unarchive", services.unarchive_batch)


@router.post("/{batch_id}/toggle-active", response={200: BatchActionOut, **errors(WRITE_ERRORS)})
def toggle_batch_active(request: HttpRequest, batch_id: Identifier) -> dict[str, Any]:
    """Flip is_active: an inactive batch's jobs stay pending and are not claimed."""
    return _act(request, batch_id, "toggle-active", lambda pk: _toggled(pk))


def _toggled(batch_id: str) -> int:
    services.toggle_active(batch_id)
    return 0


@router.put("/{batch_id}/access", response={200: BatchOut, **errors(WRITE_ERRORS)})
def set_batch_access(request: HttpRequest, batch_id: Identifier, payload: AccessControlIn) -> Batch:
    """Replace the access control of the batch and of its jobs (owner or an admin grant)."""
    batch = access.get_batch(request.auth, batch_id, "admin")  # type: ignore[attr-defined]
    access.set_batch_access(batch, payload.model_dump())
    return access.get_batch(request.auth, batch_id)  # type: ignore[attr-defined]


@router.get(
    "/{batch_id}/archive",
    response=errors(READ_ERRORS),
    openapi_extra={"responses": {200: {"description": "ZIP archive", "content": ZIP}}},
)
def download_batch_archive(request: HttpRequest, batch_id: Identifier) -> StreamingHttpResponse:
    """A ZIP of the batch (batch.json) and, per job you may read, `<job_id>/job.json` and
    `<job_id>/files/…` (streamed)."""
    user = request.auth  # type: ignore[attr-defined]
    batch = access.get_batch(user, batch_id)

    def entries() -> Iterator[ZipEntry]:
        yield (
            "batch.json",
            json.dumps(BatchOut.from_orm(batch).model_dump(mode="json"), indent=2).encode(),
        )
        jobs = access.readable(Job.objects.filter(batch_id=batch.pk).select_related("user"), user)
        for job in jobs.order_by("created_at", "pk").iterator(chunk_size=500):
            yield from job_archive_entries(job, prefix=f"{job.pk}/")

    return zip_response(entries(), f"{batch.pk}.zip")
