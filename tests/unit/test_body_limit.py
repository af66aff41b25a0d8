"""The body-limit ASGI wrapper called directly, for what uvicorn never lets reach it (a
malformed or ambiguous Content-Length, which its HTTP parser refuses itself) and for what
the application sees of a refused body. The live behaviour: tests/api/test_body_limit_live.py."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from jobcenter.body_limit import BodyLimit, Message, Receive, Scope, Send


class Recorder:
    """An inner application that reads the whole body, as Django's handler does, and
    answers 200 with what it got."""

    def __init__(self) -> None:
        self.called = False
        self.last_message: Message | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.called = True
        body = b""
        while True:
            message = await receive()
            self.last_message = message
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = [(b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def call(
    path: str, headers: list[tuple[bytes, bytes]], pieces: list[bytes]
) -> tuple[Recorder, list[Message], int]:
    """Runs one request through the wrapper; returns the inner application, what was sent
    to the client and how many body pieces the wrapper took from the server."""
    inner = Recorder()
    sent: list[Message] = []
    taken = 0

    async def receive() -> Message:
        nonlocal taken
        taken += 1
        if taken > len(pieces):
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": pieces[taken - 1], "more_body": taken < len(pieces)}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": path,
        "root_path": "",
        "headers": headers,
    }
    asyncio.run(BodyLimit(inner)(scope, receive, send))
    return inner, sent, taken


def answer_of(sent: list[Message]) -> tuple[int, dict[bytes, bytes], bytes]:
    assert [message["type"] for message in sent] == ["http.response.start", "http.response.body"]
    headers = dict(sent[0]["headers"])
    assert headers[b"content-length"] == str(len(sent[1]["body"])).encode()
    return sent[0]["status"], headers, sent[1]["body"]


@pytest.mark.parametrize(
    "lengths",
    [[b"12abc"], [b"-5"], [b""], [b"10", b"20"]],
    ids=["not-a-number", "negative", "empty", "two-different"],
)
def test_a_malformed_content_length_is_400_in_the_error_shape(lengths: list[bytes]) -> None:
    headers = [(b"content-length", value) for value in lengths]
    inner, sent, taken = call("/api/jobs", headers, [b"x" * 10])
    assert not inner.called and taken == 0
    status, response_headers, body = answer_of(sent)
    assert status == 400 and response_headers[b"connection"] == b"close"
    error = json.loads(body)["error"]
    assert error["code"] == "BAD_REQUEST" and "Content-Length" in error["message"]


def test_repeated_equal_content_lengths_are_one() -> None:
    inner, sent, _ = call("/api/jobs", [(b"content-length", b"3")] * 2, [b"abc"])
    assert inner.called and answer_of(sent)[2] == b"abc"


def test_an_announced_oversized_body_is_never_received(settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    inner, sent, taken = call("/api/jobs", [(b"content-length", b"101")], [b"x" * 101])
    assert not inner.called and taken == 0
    status, _, body = answer_of(sent)
    assert status == 413 and json.loads(body)["error"]["details"] == {"limit_bytes": 100}


def test_a_body_passing_the_limit_is_cut_and_the_application_told_the_client_left(
    settings: Any,
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    pieces = [b"x" * 60] * 10
    inner, sent, taken = call("/api/jobs", [], pieces)
    assert taken == 2  # 120 bytes: over; the other eight pieces are never asked for
    assert inner.last_message == {"type": "http.disconnect"}
    status, _, body = answer_of(sent)  # the 413 alone; the application sent nothing
    assert status == 413 and json.loads(body)["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_a_body_at_the_limit_reaches_the_application(settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    _, sent, _ = call("/api/jobs", [], [b"x" * 50, b"y" * 50])
    status, _, body = answer_of(sent)
    assert status == 200 and body == b"x" * 50 + b"y" * 50


def test_the_upload_route_has_the_upload_limit_plus_the_envelope(settings: Any) -> None:
    settings.JOBCENTER_MAX_UPLOAD_BYTES = 1000
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10
    inner, sent, _ = call("/api/files", [(b"content-length", b"60000")], [b"x" * 60000])
    assert inner.called and answer_of(sent)[0] == 200
    length = str(1000 + 64 * 1024 + 1).encode()
    inner, sent, _ = call("/api/files", [(b"content-length", length)], [])
    status, _, body = answer_of(sent)
    assert not inner.called and status == 413
    assert json.loads(body)["error"]["details"] == {"limit_bytes": 1000}


def test_no_request_limit_means_none_outside_the_upload_route(settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = None
    inner, sent, _ = call("/api/jobs", [(b"content-length", b"5000")], [b"x" * 5000])
    assert inner.called and answer_of(sent)[0] == 200
