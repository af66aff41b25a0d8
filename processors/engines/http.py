"""POSTs to the servers engines talk to, with a timeout, bounded retries and clear errors.

The URL comes from the deployment's settings, not from a job, so private and loopback
addresses are allowed (a transcription server on the same host is the common case); the
request still goes through jobcenter/net.py, which pins the address it resolved.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from jobcenter import net
from processors.base import ProcessorError, RetryableError

RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
MAX_REPLY_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class Endpoint:
    """One server operation: where, with which key, and how patiently."""

    url: str
    key: str
    timeout: float
    code: str
    """The error code of this engine's failures, e.g. TRANSCRIPTION_FAILED."""
    retries: int | None = None
    retry_seconds: float | None = None

    def post(self, body: bytes, content_type: str) -> dict[str, Any]:
        """The JSON reply; RetryableError once retries are spent on a passing failure
        (timeout, refused connection, 429, 5xx), ProcessorError for any other."""
        retries = self.retries
        if retries is None:
            retries = int(getattr(settings, "JOBCENTER_ENGINE_RETRIES", 2))
        pause = self.retry_seconds
        if pause is None:
            pause = float(getattr(settings, "JOBCENTER_ENGINE_RETRY_SECONDS", 2.0))
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        last: ProcessorError | None = None
        for attempt in range(retries + 1):
            if attempt:
                time.sleep(pause * 2 ** (attempt - 1))
            try:
                reply = net.request(
                    "POST",
                    self.url,
                    body=body,
                    headers=headers,
                    timeout=self.timeout,
                    allow_private=True,
                    max_body_bytes=MAX_REPLY_BYTES,
                )
            except ValueError as exc:
                raise ProcessorError(self.code, f"invalid engine URL: {exc}") from exc
            except OSError as exc:  # refused, reset, timed out, unresolvable
                last = RetryableError(
                    self.code,
                    f"{self.url} could not be reached: {exc or type(exc).__name__}",
                    {"url": self.url, "attempts": attempt + 1},
                )
                continue
            if reply.status in RETRY_STATUSES:
                last = RetryableError(
                    self.code,
                    f"{self.url} answered HTTP {reply.status}: {_reason(reply.body)}",
                    {"url": self.url, "status": reply.status, "attempts": attempt + 1},
                )
                continue
            if reply.status != 200:
                raise ProcessorError(
                    self.code,
                    f"{self.url} answered HTTP {reply.status}: {_reason(reply.body)}",
                    {"url": self.url, "status": reply.status},
                )
            try:
                data = json.loads(reply.body)
            except ValueError as exc:
                raise ProcessorError(
                    self.code, f"{self.url} did not answer JSON", {"url": self.url}
                ) from exc
            if not isinstance(data, dict):
                raise ProcessorError(self.code, f"{self.url} answered {type(data).__name__}")
            return data
        assert last is not None
        last.message = f"{last.message} (after {retries + 1} attempts)"
        raise last


def _reason(body: bytes) -> str:
    """The server's own error message when it sent the OpenAI error shape, else its text."""
    text = body[:2000].decode("utf-8", "replace")
    try:
        data = json.loads(text)
    except ValueError:
        return text.strip()[:300] or "(empty body)"
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:300]
        if isinstance(error, str):
            return error[:300]
    return text.strip()[:300]


def multipart(
    fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]
) -> tuple[bytes, str]:
    """A multipart/form-data body and its content type."""
    boundary = f"jobcenter-{uuid.uuid4().hex}"
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode()
            + b"\r\n"
        )
    for name, (filename, data, kind) in files.items():
        parts.append(
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="{filename}"\r\nContent-Type: {kind}\r\n\r\n'
            ).encode()
            + data
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
