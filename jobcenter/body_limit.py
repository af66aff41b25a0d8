"""Refuses oversized request bodies before anything reads them.

Django's ASGI handler reads a request's whole body into a spooled file before any middleware
or view runs, so a size check in a view (``jobs.api.guard_upload``) only answers once the
client has sent everything: a request announcing a terabyte would be read for as long as the
client cares to send, without credentials. This wrapper sits between the ASGI server and
Django: a request whose ``Content-Length`` is over the limit of its path is answered ``413``
at once, unread; a body without one (chunked) is counted as it arrives and answered ``413``
as soon as it passes the limit, the rest never read. The view's own check stays, as a
second line (and for servers that do not use this module, e.g. WSGI).

Limits: the upload route takes ``JOBCENTER_MAX_UPLOAD_BYTES`` plus the multipart envelope,
every other route under ``/api/`` ``DATA_UPLOAD_MAX_MEMORY_SIZE``
(``JOBCENTER_MAX_REQUEST_BYTES``), as Django would for them. Elsewhere (the admin) a
multipart body is not limited here: Django does not count files against
``DATA_UPLOAD_MAX_MEMORY_SIZE``, and the admin's batch form takes many files at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.conf import settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UPLOAD_PATHS = frozenset({"/api/files"})
"""Routes that take a file upload (``POST /api/files``), limited by the upload limit."""
MULTIPART_ENVELOPE_BYTES = 64 * 1024
"""What the multipart envelope (boundaries, part headers) may add to the file itself; the
same allowance as ``guard_upload``'s, whose own count covers the file's bytes exactly."""


class BadContentLength(ValueError):
    pass


def request_path(scope: Scope) -> str:
    """The path Django routes (without the server's ``root_path``, as ``path_info``)."""
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path or "/"


def header(scope: Scope, name: bytes) -> list[bytes]:
    return [value for key, value in scope.get("headers", []) if key.lower() == name]


def announced_length(scope: Scope) -> int | None:
    """The ``Content-Length`` of the request, ``None`` without one. Several differing
    values or anything but digits is an error: the body's size would be ambiguous."""
    values = {value.strip() for value in header(scope, b"content-length")}
    if not values:
        return None
    if len(values) > 1:
        raise BadContentLength("several different Content-Length headers")
    (value,) = values
    if not value.isdigit():
        raise BadContentLength("the Content-Length header is not a number")
    return int(value)


def body_limit(scope: Scope, path: str) -> int | None:
    """The largest body accepted for the request, ``None`` for no limit here."""
    if path.rstrip("/") in UPLOAD_PATHS:
        return int(settings.JOBCENTER_MAX_UPLOAD_BYTES) + MULTIPART_ENVELOPE_BYTES
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is None:
        return None
    if not path.startswith("/api/"):
        content_type = b"".join(header(scope, b"content-type")[:1]).lower()
        if content_type.startswith(b"multipart/"):
            return None
    return int(limit)


def refusal(
    path: str, status: int, code: str, message: str, details: Any
) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    """The answer to a refused body: the API's error shape under ``/api/`` (the legacy
    routes' own shape under theirs, as ``jobcenter.api.refused_request`` does), plain text
    elsewhere. Built from the project's error type so that it matches what the views say."""
    if not path.startswith("/api/"):
        text = f"{message}\n".encode()
        return status, text, [(b"content-type", b"text/plain; charset=utf-8")]

    from django.http import HttpRequest, HttpResponse

    from jobcenter.api import api
    from jobcenter.errors import JobCenterError

    error = JobCenterError(message, code=code, details=details)
    shaped = api.create_response(HttpRequest(), {"error": error.as_dict()}, status=status)

    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return shaped

    response = shaped
    for prefix, shape in api.error_shapes:
        if path.startswith(f"/api{prefix}/"):
            response = shape(view)(HttpRequest())
            break
    headers = [(b"content-type", response["Content-Type"].encode("latin-1"))]
    return response.status_code, response.content, headers


def too_large(path: str, limit: int) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    if path.rstrip("/") in UPLOAD_PATHS:
        from jobs.api import upload_too_large  # the view's own error

        error = upload_too_large(int(settings.JOBCENTER_MAX_UPLOAD_BYTES))
    else:
        from jobcenter.api import request_too_big_error  # the API's own error

        error = request_too_big_error(limit)
    return refusal(path, 413, "PAYLOAD_TOO_LARGE", error.message, error.details)


async def answer(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    """Sends a whole response and asks the server to close the connection: the rest of the
    request's body is never read, so the connection cannot carry another request."""
    headers = [
        *headers,
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


class BodyLimit:
    """ASGI middleware around the Django application (``jobcenter.asgi``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = request_path(scope)
        try:
            announced = announced_length(scope)
        except BadContentLength as exc:
            await answer(
                send, *refusal(path, 400, "BAD_REQUEST", f"Malformed request: {exc}.", None)
            )
            return
        limit = body_limit(scope, path)
        if limit is None:
            await self.app(scope, receive, send)
            return
        if announced is not None and announced > limit:
            await answer(send, *too_large(path, limit))
            return
        await LimitedRequest(self.app, scope, receive, send, path, limit).run()


class LimitedRequest:
    """One request whose body is counted as the application receives it."""

    def __init__(
        self, app: ASGIApp, scope: Scope, receive: Receive, send: Send, path: str, limit: int
    ) -> None:
        self.app = app
        self.scope = scope
        self.server_receive = receive
        self.server_send = send
        self.path = path
        self.limit = limit
        self.received = 0
        self.started = False
        self.refused = False
        self.answered = False

    async def run(self) -> None:
        await self.app(self.scope, self.receive, self.send)

    async def receive(self) -> Message:
        if self.refused:
            return {"type": "http.disconnect"}
        message = await self.server_receive()
        if message["type"] != "http.request":
            return message
        self.received += len(message.get("body", b""))
        if self.received <= self.limit:
            return message
        # Over the limit: answer now, unless the application already started its own
        # response, and tell the application the client has gone (Django then stops
        # reading and answers nothing).
        self.refused = True
        if not self.started:
            self.started = self.answered = True
            await answer(self.server_send, *too_large(self.path, self.limit))
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if self.answered:
            return  # the 413 is the response; the application's would follow it on the wire
        if message["type"] == "http.response.start":
            self.started = True
        await self.server_send(message)
