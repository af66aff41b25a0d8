"""Fetching URLs for processors without letting a job reach into the job center's own network.

A job's parameters come from outside, so a URL in them is untrusted: it may point at the
database, a cloud metadata endpoint or a service on localhost, directly or through a redirect
or a DNS name that resolves there. So every host is resolved here, every address it resolves
to is checked, and the connection goes to a checked address (no second lookup an attacker
could answer differently); each redirect is checked the same way. Responses are streamed with
a size limit, a per-read timeout and an overall deadline, and compressed transfer encodings
are not requested, so a small response cannot inflate in memory. Which addresses are private,
and the connections pinned to a checked address, come from jobcenter/net.py, shared with
webhook delivery.

Used by the pdf and image processors for URL sources, and meant for any processor that
downloads (web pages, videos, attachments).
"""

from __future__ import annotations

import http.client
import re
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from django.conf import settings

from jobcenter import net
from processors.base import ProcessorError, RetryableError

USER_AGENT = "JobCenter/1.0"
REDIRECT_STATUSES = {301, 302, 303, 307, 308}
RETRYABLE_STATUSES = {408, 425, 429, 500, 502, 503, 504}
CHUNK = 64 * 1024

Resolver = Callable[[str, int], list[str]]


class FetchError(ProcessorError):
    """A URL could not be fetched; ``details`` has the url and, when known, the HTTP status."""

    def __init__(
        self,
        message: str,
        *,
        url: str,
        status: int | None = None,
        retryable: bool = False,
        **details: Any,
    ) -> None:
        super().__init__(
            "FETCH_FAILED",
            message,
            {"url": url, "status": status, "retryable": retryable, **details},
        )
        self.status = status
        self.retryable = retryable


class RetryableFetchError(FetchError, RetryableError):
    """A failure that may pass (timeout, 5xx, 429): the worker retries the job with backoff."""

    def __init__(
        self, message: str, *, url: str, status: int | None = None, **details: Any
    ) -> None:
        details.pop("retryable", None)
        super().__init__(message, url=url, status=status, retryable=True, **details)


class FetchTooLarge(FetchError):
    """The response is larger than the limit (by its Content-Length or as it streamed)."""


@dataclass
class FetchResult:
    url: str
    """The final URL, after redirects."""
    status: int
    headers: dict[str, str]
    size: int
    content: bytes = b""
    path: Path | None = None
    redirects: list[str] = field(default_factory=list)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def filename(self) -> str:
        """The server's file name (Content-Disposition), else the URL path's last part."""
        disposition = self.headers.get("content-disposition", "")
        match = re.search(
            r"filename\*=(?:UTF-8'')?([^;]+)|filename=\"?([^\";]+)\"?", disposition, re.IGNORECASE
        )
        if match:
            return unquote((match.group(1) or match.group(2)).strip())
        return unquote(urlsplit(self.url).path.rsplit("/", 1)[-1])


@dataclass
class Fetcher:
    """Safe HTTP(S) GET. One instance may serve many fetches; settings are read at creation."""

    max_bytes: int = 100 * 1024 * 1024
    timeout: float = 30.0
    """Seconds for connecting and for each read."""
    total_timeout: float = 600.0
    """Seconds for the whole download, redirects included."""
    max_redirects: int = 5
    allow_private: bool | None = None
    """None: settings.JOBCENTER_FETCH_ALLOW_PRIVATE."""
    headers: dict[str, str] = field(default_factory=dict)
    resolver: Resolver = net.resolve_all
    ssl_context: ssl.SSLContext | None = None

    def __post_init__(self) -> None:
        if self.allow_private is None:
            self.allow_private = bool(getattr(settings, "JOBCENTER_FETCH_ALLOW_PRIVATE", False))

    def get(self, url: str) -> FetchResult:
        """Download into memory (for pages and small files)."""
        chunks: list[bytes] = []
        with self._open(url) as (result, body):
            for chunk in body:
                chunks.append(chunk)
        result.content = b"".join(chunks)
        return result

    def download(self, url: str, destination: Path) -> FetchResult:
        """Stream to ``destination``; a partial file is removed when the download fails."""
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._open(url) as (result, body), destination.open("wb") as out:
                for chunk in body:
                    out.write(chunk)
        except BaseException:
            destination.unlink(missing_ok=True)
            raise
        result.path = destination
        return result

    # -- internals ------------------------------------------------------------------------

    @contextmanager
    def _open(self, url: str) -> Iterator[tuple[FetchResult, Iterator[bytes]]]:
        deadline = time.monotonic() + self.total_timeout
        redirects: list[str] = []
        current = url
        while True:
            connection, response = self._request(current, deadline)
            try:
                status = response.status
                if status in REDIRECT_STATUSES:
                    location = response.getheader("Location")
                    if not location:
                        raise FetchError(
                            f"HTTP {status} redirect without a Location from {current}",
                            url=current,
                            status=status,
                        )
                    if len(redirects) >= self.max_redirects:
                        raise FetchError(
                            f"more than {self.max_redirects} redirects",
                            url=url,
                            status=status,
                            redirects=redirects,
                        )
                    redirects.append(current)
                    current = urljoin(current, location)
                    continue
                if status >= 400:
                    error = RetryableFetchError if status in RETRYABLE_STATUSES else FetchError
                    raise error(
                        f"HTTP {status} {response.reason} from {current}",
                        url=current,
                        status=status,
                        retryable=status in RETRYABLE_STATUSES,
                    )
                if status != 200:
                    raise FetchError(
                        f"HTTP {status} {response.reason} from {current} (expected 200)",
                        url=current,
                        status=status,
                    )
                headers = {key.lower(): value for key, value in response.getheaders()}
                length = headers.get("content-length", "")
                if length.isdigit() and int(length) > self.max_bytes:
                    raise FetchTooLarge(
                        f"{current} is {int(length)} bytes, more than the limit "
                        f"of {self.max_bytes}",
                        url=current,
                        status=status,
                        limit=self.max_bytes,
                    )
                result = FetchResult(current, status, headers, 0, redirects=redirects)
                yield result, self._body(response, result, deadline)
                return
            finally:
                connection.close()

    def _body(
        self, response: http.client.HTTPResponse, result: FetchResult, deadline: float
    ) -> Iterator[bytes]:
        while True:
            if time.monotonic() > deadline:
                raise RetryableFetchError(
                    f"download of {result.url} took more than {self.total_timeout:g} s",
                    url=result.url,
                    status=result.status,
                    retryable=True,
                )
            try:
                chunk = (
                    response.read1(CHUNK) if hasattr(response, "read1") else response.read(CHUNK)
                )
            except (OSError, http.client.HTTPException) as exc:
                raise RetryableFetchError(
                    f"reading {result.url} failed: {exc}",
                    url=result.url,
                    status=result.status,
                    retryable=True,
                ) from exc
            if not chunk:
                expected = result.headers.get("content-length", "")
                if expected.isdigit() and int(expected) != result.size:
                    raise RetryableFetchError(
                        f"{result.url} ended after {result.size} of {expected} bytes",
                        url=result.url,
                        status=result.status,
                        retryable=True,
                    )
                return
            result.size += len(chunk)
            if result.size > self.max_bytes:
                raise FetchTooLarge(
                    f"{result.url} is larger than the limit of {self.max_bytes} bytes",
                    url=result.url,
                    status=result.status,
                    limit=self.max_bytes,
                )
            yield chunk

    def _request(
        self, url: str, deadline: float
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise FetchError(f"only http(s) URLs can be fetched, not {url!r}", url=url)
        if parts.username or parts.password:
            raise FetchError("URLs with credentials are not fetched", url=url)
        host = parts.hostname
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise FetchError(f"invalid port in {url!r}", url=url) from exc
        addresses = self._resolve(host, port, url)
        timeout = max(0.1, min(self.timeout, deadline - time.monotonic()))
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", **self.headers}
        last_error: Exception | None = None
        for address in addresses:
            connection = net.pinned_connection(
                parts.scheme, host, port, address, timeout, self.ssl_context
            )
            try:
                connection.request("GET", path, headers=headers)
                return connection, connection.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                last_error = exc
        raise RetryableFetchError(f"cannot fetch {url}: {last_error}", url=url, retryable=True)

    def _resolve(self, host: str, port: int, url: str) -> list[str]:
        try:
            addresses = self.resolver(host, port)
        except (OSError, UnicodeError) as exc:
            raise FetchError(f"cannot resolve {host!r}: {exc}", url=url) from exc
        if not addresses:
            raise FetchError(f"{host!r} resolves to no address", url=url)
        if not self.allow_private:
            refused = [address for address in addresses if not net.address_allowed(address)]
            if refused:
                raise FetchError(
                    f"{host!r} resolves to a private, loopback or link-local address "
                    f"({', '.join(refused)}); set JOBCENTER_FETCH_ALLOW_PRIVATE to allow it",
                    url=url,
                    addresses=refused,
                )
        return addresses


def fetch(url: str, **options: Any) -> FetchResult:
    return Fetcher(**options).get(url)


def download(url: str, destination: Path, **options: Any) -> FetchResult:
    return Fetcher(**options).download(url, destination)
