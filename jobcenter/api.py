"""The NinjaAPI instance: every app adds its Router here, and every error becomes the one
error shape ``{"error": {"code", "message", "details"}}`` — JobCenterErrors from the
services, ninja's validation and authentication errors, unknown routes (404), wrong methods
(405), too-large bodies (413). No input should produce a 500; a bug that does still answers
in the same shape, without internals."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from functools import wraps
from inspect import iscoroutinefunction
from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import connection
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    JsonResponse,
)
from django.http.multipartparser import MultiPartParserError
from django.urls import URLPattern, URLResolver, re_path, reverse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI, Schema, Status
from ninja.errors import HttpError
from ninja.errors import ValidationError as NinjaValidationError

from jobcenter.errors import JobCenterError, field_path, schema_problem

logger = logging.getLogger("jobcenter.api")

HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    422: "VALIDATION_ERROR",
    429: "THROTTLED",
}


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def error_response(status: int, code: str, message: str, details: Any = None) -> JsonResponse:
    return JsonResponse(error_body(code, message, details), status=status)


@csrf_exempt
def unknown_route(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    return error_response(404, "NOT_FOUND", f"No API route {request.path!r}.")


def _method_not_allowed(response: Any) -> Any:
    if isinstance(response, HttpResponseNotAllowed):
        allowed = sorted(
            method.strip() for method in response.get("Allow", "").split(",") if method.strip()
        )
        replacement = error_response(
            405,
            "METHOD_NOT_ALLOWED",
            "Method not allowed here; allowed: " + ", ".join(allowed) + ".",
            {"allowed": allowed},
        )
        replacement["Allow"] = ", ".join(allowed)
        return replacement
    return response


def _json_405(view: Callable[..., Any]) -> Callable[..., Any]:
    """Ninja answers a wrong method with a plain-text 405; give it the error shape."""
    if iscoroutinefunction(view):

        @wraps(view)
        async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            return _method_not_allowed(await view(request, *args, **kwargs))

        return async_wrapper

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        return _method_not_allowed(view(request, *args, **kwargs))

    return wrapper


class JobCenterAPI(NinjaAPI):
    # (path prefix under /api/, view decorator): routers that answer errors in a shape of
    # their own (the legacy routes); their unknown routes and refused requests get it too.
    error_shapes: list[tuple[str, Callable[[Callable[..., HttpResponse]], Any]]] = []

    def _get_urls(self) -> list[URLResolver | URLPattern]:
        urls: list[URLResolver | URLPattern] = []
        for url in super()._get_urls():
            if isinstance(url, URLPattern):
                url = URLPattern(url.pattern, _json_405(url.callback), url.default_args, url.name)
            urls.append(url)
        # Last: JSON 404s for unknown routes, even for paths no route pattern can match
        # (a newline in a {path:path} parameter), hence [\s\S] (reversible, unlike (?s)).
        for prefix, shape in self.error_shapes:
            pattern = rf"^{re.escape(prefix.strip('/'))}/[\s\S]*$"
            urls.append(re_path(pattern, shape(unknown_route)))
        urls.append(re_path(r"^[\s\S]*$", unknown_route))
        return urls


api = JobCenterAPI(
    title="Job Center API",
    version="1.0.0",
    description="Submit, watch and steer jobs and batches. Authenticate with "
    "`Authorization: Bearer <API key>` (`manage.py createapikey`) or a logged-in session. "
    "Errors: `{error: {code, message, details}}`. See docs/api.md.",
    urls_namespace="api",
)


@api.exception_handler(JobCenterError)
def job_center_error(request: HttpRequest, exc: JobCenterError) -> HttpResponse:
    return api.create_response(request, {"error": exc.as_dict()}, status=exc.status_code)


def _field(location: tuple[Any, ...]) -> str:
    """``("body", "payload", "jobs", 3, "job_type")`` -> ``jobs[3].job_type``."""
    parts = list(location[1:])
    if location and location[0] == "body" and parts and parts[0] == "payload":
        parts = parts[1:]
    return field_path(parts) or str(location[0] if location else "body")


@api.exception_handler(NinjaValidationError)
def request_validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    details = []
    for error in exc.errors:
        location = tuple(error.get("loc") or ())
        field = _field(location)
        if field == "body" and error.get("type") == "unstorable_value":
            field = ""  # the value's own place in the body names it
        field, message = schema_problem(error, field)
        details.append(
            {
                "field": field,
                "in": str(location[0]) if location else "body",
                "message": message,
                "type": str(error.get("type", "")),
            }
        )
    first = details[0] if details else {"field": "request", "message": "invalid"}
    return api.create_response(
        request,
        error_body(
            "VALIDATION_ERROR", f"Invalid request: {first['field']}: {first['message']}", details
        ),
        status=422,
    )


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = HTTP_CODES.get(exc.status_code, "ERROR")
    message = str(exc.message)
    if exc.status_code == 401:
        message = "Authentication required: send 'Authorization: Bearer <API key>' or log in."
    return api.create_response(request, error_body(code, message), status=exc.status_code)


@api.exception_handler(Http404)
def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return api.create_response(request, error_body("NOT_FOUND", "Not found."), status=404)


def request_too_big_error(limit: int) -> JobCenterError:
    """Shared with jobcenter/body_limit.py, which refuses such bodies before Django reads
    them."""
    return JobCenterError(
        f"The request body is larger than {limit} bytes (JOBCENTER_MAX_REQUEST_BYTES).",
        code="PAYLOAD_TOO_LARGE",
        details={"limit_bytes": limit},
    )


@api.exception_handler(RequestDataTooBig)
def request_too_big(request: HttpRequest, exc: Exception) -> HttpResponse:
    from django.conf import settings

    error = request_too_big_error(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    return api.create_response(request, {"error": error.as_dict()}, status=413)


@api.exception_handler(MultiPartParserError)
@api.exception_handler(SuspiciousOperation)
def bad_request(request: HttpRequest, exc: Exception) -> HttpResponse:
    return api.create_response(
        request, error_body("BAD_REQUEST", f"Malformed request: {exc}"), status=400
    )


def refused_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's ``handler400`` (urls.py): a request refused before any view ran (a missing
    or invalid Host header, …) gets the API's error shape under /api/, Django's page
    elsewhere."""
    if not request.path.startswith("/api/"):
        return defaults.bad_request(request, exception)

    def answer(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return error_response(400, "BAD_REQUEST", "Malformed request.")

    for prefix, shape in api.error_shapes:
        if request.path.startswith(f"/api{prefix}/"):
            return shape(answer)(request)
    return answer(request)


@api.exception_handler(Exception)
def unexpected_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("Unhandled error in %s %s", request.method, request.path)
    return api.create_response(
        request,
        error_body("INTERNAL_ERROR", "An unexpected error occurred; it has been logged."),
        status=500,
    )


class HealthOut(Schema):
    status: str
    database: str
    workers_alive: int | None = None
    oldest_pending_age_seconds: float | None = None


@api.get("/", auth=None, include_in_schema=False)
def index(request: HttpRequest) -> dict[str, str]:
    """Where to go from the API's root."""
    return {
        "name": "Job Center API",
        "docs": reverse("api:openapi-view"),
        "openapi": reverse("api:openapi-json"),
        "health": reverse("api:health"),
    }


@api.api_operation(
    ["GET", "HEAD"],
    "/health",
    response={200: HealthOut, 503: HealthOut},
    auth=None,
    tags=["health"],
    url_name="health",
)
def health(request: HttpRequest) -> Status[HealthOut]:
    """Is the database reachable, how many workers are alive (status running and a
    heartbeat within JOBCENTER_WORKER_ALIVE_SECONDS), how long has the oldest pending job
    waited? No authentication, nothing sensitive. HEAD answers the same status, for
    monitors."""
    from jobs.api import health_summary

    try:
        connection.ensure_connection()
        summary = health_summary()
    except Exception:
        logger.exception("Health check failed")
        return Status(503, HealthOut(status="unavailable", database="unreachable"))
    return Status(200, HealthOut(status="ok", database=connection.vendor, **summary))


def _register_routers() -> None:
    from batches.api import router as batches_router
    from jobs.api import files_router, job_types_router, workers_router
    from jobs.api import router as jobs_router
    from jobs.auth import API_AUTH
    from legacy import api as legacy_api

    api.add_router("/jobs", jobs_router, auth=API_AUTH)
    api.add_router("/batches", batches_router, auth=API_AUTH)
    api.add_router("/files", files_router, auth=API_AUTH)
    api.add_router("/job-types", job_types_router, auth=API_AUTH)
    api.add_router("/workers", workers_router, auth=API_AUTH)
    api.add_router(legacy_api.PREFIX, legacy_api.router, auth=API_AUTH)
    api.error_shapes.append((legacy_api.PREFIX, legacy_api.old_error_shape))


_register_routers()
