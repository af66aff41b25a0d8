"""Oversized request bodies against a real uvicorn server on 127.0.0.1, over raw sockets:
Django's ASGI handler reads a whole body before any view runs, so only the ASGI wrapper
(jobcenter/body_limit.py) can refuse one unread. The server runs with small limits so that
"over the limit" is cheap to send."""

from __future__ import annotations

import json
import select
import socket
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import User

from jobcenter.body_limit import MULTIPART_ENVELOPE_BYTES
from jobs.api_keys import create_api_key
from jobs.models import Job

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

UPLOAD_LIMIT = 100_000
REQUEST_LIMIT = 50_000
ENVELOPE = MULTIPART_ENVELOPE_BYTES  # what the wrapper allows on top of an upload


@pytest.fixture(scope="module")
def small_limits() -> Iterator[None]:
    """The live server's environment (read when it starts): limits small enough to pass."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JOBCENTER_MAX_UPLOAD_BYTES", str(UPLOAD_LIMIT))
        patch.setenv("JOBCENTER_MAX_REQUEST_BYTES", str(REQUEST_LIMIT))
        yield


@pytest.fixture(scope="module")
def live_server_url(small_limits: None, live_server_url: str) -> str:
    """tests/api/conftest.py's uvicorn server, started with ``small_limits``."""
    return live_server_url


@pytest.fixture
def server(live_server_url: str) -> tuple[str, int]:
    address = urlsplit(live_server_url)
    assert address.hostname and address.port
    return address.hostname, address.port


@pytest.fixture
def api_key(transactional_db: None) -> str:
    return create_api_key(User.objects.create_user("uploader"), "limits").raw_key


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float  # from the end of the request head to the whole answer
    body_sent: int  # body bytes the client had sent when it saw the answer
    unsent: bool = field(default=False)  # whether the client still had body left to send

    def json(self) -> Any:
        assert self.headers["content-type"].startswith("application/json"), self.headers
        return json.loads(self.body)


def read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before an answer: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers["content-length"])
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed in the middle of the answer"
        body += chunk
    return status, headers, body[:length]


def exchange(
    server: tuple[str, int], head: str, body: Iterable[bytes] = (), timeout: float = 10
) -> Answer:
    """Sends the request head, then the body piece by piece for as long as the server has
    not answered (as a client that watches for an early answer does), then reads the
    answer. A reset while sending is what a server that stops reading may cause; the answer
    it sent before is still there to read."""
    with socket.create_connection(server, timeout=timeout) as sock:
        sock.sendall(head.encode("latin-1"))
        started = time.monotonic()
        sent = 0
        unsent = False
        for piece in body:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                unsent = True
                break
            try:
                sock.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                unsent = True
                break
            sent += len(piece)
        status, headers, content = read_answer(sock)
        return Answer(status, headers, content, time.monotonic() - started, sent, unsent)


def post_head(path: str, *headers: str) -> str:
    return "\r\n".join([f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *headers, "", ""])


def chunked(total: int, piece: int = 8192) -> Iterator[bytes]:
    """A chunked body of ``total`` bytes (then its last chunk)."""
    for start in range(0, total, piece):
        size = min(piece, total - start)
        yield f"{size:x}\r\n".encode() + b"x" * size + b"\r\n"
    yield b"0\r\n\r\n"


def error_of(answer: Answer) -> dict[str, Any]:
    body = answer.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    return body["error"]


@pytest.mark.parametrize(
    ("path", "limit"),
    [("/api/files", UPLOAD_LIMIT), ("/api/jobs", REQUEST_LIMIT), ("/api/batches", REQUEST_LIMIT)],
)
def test_an_announced_oversized_body_is_refused_at_once_unread(
    server: tuple[str, int], path: str, limit: int
) -> None:
    # No credentials, no body: the answer cannot wait for either.
    answer = exchange(server, post_head(path, "Content-Length: 999999999999"))
    assert answer.seconds < 2
    assert answer.status == 413
    error = error_of(answer)
    assert error["code"] == "PAYLOAD_TOO_LARGE"
    assert error["details"] == {"limit_bytes": limit}
    assert answer.headers["connection"] == "close"


def test_an_upload_announcing_just_over_limit_and_envelope_is_refused_unread(
    server: tuple[str, int], api_key: str
) -> None:
    head = post_head(
        "/api/files",
        f"Authorization: Bearer {api_key}",
        "Content-Type: multipart/form-data; boundary=b",
        f"Content-Length: {UPLOAD_LIMIT + ENVELOPE + 1}",
    )
    answer = exchange(server, head)
    assert answer.seconds < 2 and answer.status == 413
    assert error_of(answer)["code"] == "PAYLOAD_TOO_LARGE"


def test_the_legacy_routes_refuse_in_their_old_error_shape(server: tuple[str, int]) -> None:
    answer = exchange(
        server, post_head("/api/legacy/event-job/jobs", "Content-Length: 999999999999")
    )
    assert answer.seconds < 2 and answer.status == 413
    assert answer.json() == {
        "status": "error",
        "message": f"The request body is larger than {REQUEST_LIMIT} bytes "
        "(JOBCENTER_MAX_REQUEST_BYTES).",
        "error_type": "PAYLOAD_TOO_LARGE",
        "details": {"limit_bytes": REQUEST_LIMIT},
    }


@pytest.mark.parametrize(
    ("path", "limit"), [("/api/jobs", REQUEST_LIMIT), ("/api/files", UPLOAD_LIMIT + ENVELOPE)]
)
def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit(
    server: tuple[str, int], path: str, limit: int
) -> None:
    total = 64 * 1024 * 1024  # what a server that reads it all would take seconds to swallow
    head = post_head(
        path,
        "Content-Type: application/octet-stream",
        "Transfer-Encoding: chunked",
    )
    answer = exchange(server, head, chunked(total))
    assert answer.status == 413
    assert error_of(answer)["code"] == "PAYLOAD_TOO_LARGE"
    # The client saw the answer with most of its body still unsent: the server stopped
    # reading once past the limit (what it holds beyond is socket buffers).
    assert answer.unsent
    assert limit < answer.body_sent < total // 4, answer.body_sent
    assert answer.seconds < 5


def multipart(content: bytes) -> tuple[str, bytes]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="data.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return f"multipart/form-data; boundary={boundary}", body


def upload_head(api_key: str, content_type: str, length: int) -> str:
    return post_head(
        "/api/files",
        f"Authorization: Bearer {api_key}",
        f"Content-Type: {content_type}",
        f"Content-Length: {length}",
    )


def test_an_upload_at_the_limit_is_stored(server: tuple[str, int], api_key: str) -> None:
    content_type, body = multipart(b"y" * UPLOAD_LIMIT)
    answer = exchange(server, upload_head(api_key, content_type, len(body)), [body])
    assert answer.status == 201, answer.body
    stored = answer.json()
    assert stored["reference"].startswith("upload:") and stored["size"] == UPLOAD_LIMIT


def test_an_upload_over_the_limit_within_the_envelope_is_refused_by_the_view(
    server: tuple[str, int], api_key: str
) -> None:
    """The wrapper lets it through (it may be envelope); the view's check still counts."""
    content_type, body = multipart(b"y" * (UPLOAD_LIMIT + 1))
    assert len(body) <= UPLOAD_LIMIT + ENVELOPE
    answer = exchange(server, upload_head(api_key, content_type, len(body)), [body])
    assert answer.status == 413
    assert error_of(answer)["details"] == {"limit_bytes": UPLOAD_LIMIT}


def test_a_chunked_json_body_under_the_limit_still_works(
    server: tuple[str, int], api_key: str
) -> None:
    payload = json.dumps({"job_type": "echo", "parameters": {"message": "m" * 30_000}}).encode()
    assert len(payload) < REQUEST_LIMIT
    pieces = [payload[i : i + 7000] for i in range(0, len(payload), 7000)]
    body = [f"{len(piece):x}\r\n".encode() + piece + b"\r\n" for piece in pieces]
    head = post_head(
        "/api/jobs",
        f"Authorization: Bearer {api_key}",
        "Content-Type: application/json",
        "Transfer-Encoding: chunked",
    )
    answer = exchange(server, head, [*body, b"0\r\n\r\n"])
    assert answer.status == 201, answer.body
    assert Job.objects.get(pk=answer.json()["job_id"]).parameters["message"] == "m" * 30_000


def test_a_json_body_at_the_limit_reaches_the_view(server: tuple[str, int], api_key: str) -> None:
    payload = json.dumps({"job_type": "echo", "parameters": {"message": "m"}}).encode()
    payload += b" " * (REQUEST_LIMIT - len(payload))
    head = post_head(
        "/api/jobs",
        f"Authorization: Bearer {api_key}",
        "Content-Type: application/json",
        f"Content-Length: {len(payload)}",
    )
    answer = exchange(server, head, [payload])
    assert answer.status == 201, answer.body


def test_other_paths_keep_their_answers_apart_from_the_limit(server: tuple[str, int]) -> None:
    home = exchange(server, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert home.status == 302 and home.headers["location"] == "/admin/"

    # A small form post still reaches Django (which refuses it for its missing CSRF token).
    form = b"username=a&password=b"
    head = post_head(
        "/admin/login/",
        "Content-Type: application/x-www-form-urlencoded",
        f"Content-Length: {len(form)}",
    )
    assert exchange(server, head, [form]).status == 403

    # An oversized one is refused unread, in plain text: it is no API route.
    head = post_head(
        "/admin/login/",
        "Content-Type: application/x-www-form-urlencoded",
        "Content-Length: 999999999999",
    )
    answer = exchange(server, head)
    assert answer.seconds < 2 and answer.status == 413
    assert answer.headers["content-type"].startswith("text/plain")
    assert b"JOBCENTER_MAX_REQUEST_BYTES" in answer.body

    # Files do not count against the request limit in Django, so the admin's multipart
    # forms (a batch of many files) are not limited by it either.
    content_type, body = multipart(b"z" * (2 * REQUEST_LIMIT))
    head = post_head(
        "/admin/login/", f"Content-Type: {content_type}", f"Content-Length: {len(body)}"
    )
    assert exchange(server, head, [body]).status == 403
