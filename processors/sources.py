"""Where a processor's input file comes from: ``source`` in a job's parameters.

Three forms, each with its own safety rule:

- ``upload:<id>``: a file uploaded through the API (jobcenter/uploads.py);
- an absolute path, allowed only under one of ``JOBCENTER_ALLOWED_INPUT_DIRS`` after
  resolving symlinks, so a job cannot read the settings, the database or /etc;
- an ``http(s)`` URL, downloaded by processors/fetch.py (private addresses refused, size and
  time limited) into a temporary folder that is removed afterwards.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from jobcenter.errors import JobCenterError
from jobcenter.uploads import is_upload_ref, resolve_upload, safe_name
from processors.base import ProcessorError
from processors.fetch import Fetcher, FetchTooLarge

_UPLOAD = re.compile(r"^upload:[0-9a-f]{32}$")


@dataclass(frozen=True)
class Source:
    path: Path
    name: str
    """A file name to show (the upload's, the path's or the URL's last part)."""
    kind: str
    """"upload", "path" or "url"."""
    reference: str
    """The ``source`` value as given."""
    size: int
    url: str | None = None
    """For URLs: the final URL after redirects."""

    def describe(self, sha256: str | None = None) -> dict[str, Any]:
        """The ``source`` entry of a job's results."""
        return {
            "name": self.name,
            "kind": self.kind,
            "bytes": self.size,
            **({"sha256": sha256} if sha256 else {}),
            **({"url": self.url} if self.url else {}),
        }


def check_source_syntax(value: str) -> str:
    """For Params validators: refuse at submission what can never be a source."""
    value = value.strip()
    if not value:
        raise ValueError("source is empty")
    if is_upload_ref(value):
        if not _UPLOAD.match(value):
            raise ValueError("an upload reference is upload:<32 hex digits>")
        return value
    if "://" in value:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("only http:// and https:// URLs are accepted")
        return value
    if not os.path.isabs(value):
        raise ValueError("a path source must be absolute (and under an allowed input folder)")
    return value


def allowed_dirs() -> list[Path]:
    return [
        Path(folder).resolve() for folder in getattr(settings, "JOBCENTER_ALLOWED_INPUT_DIRS", [])
    ]


def resolve_path(value: str) -> Path:
    """The real file behind ``value`` if it lies under an allowed folder; symlinks are
    followed first, so a link inside an allowed folder pointing outside is refused."""
    folders = allowed_dirs()
    if not folders:
        raise ProcessorError(
            "SOURCE_NOT_ALLOWED",
            "path sources are disabled: JOBCENTER_ALLOWED_INPUT_DIRS is empty",
            {"source": value},
        )
    try:
        path = Path(value).resolve(strict=True)
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        if any(Path(os.path.abspath(value)).is_relative_to(folder) for folder in folders):
            raise ProcessorError(
                "SOURCE_NOT_FOUND", f"{value} does not exist", {"source": value}
            ) from exc
        raise _not_allowed(value, folders) from exc
    if not any(path.is_relative_to(folder) for folder in folders):
        raise _not_allowed(value, folders)
    if not path.is_file():
        raise ProcessorError("SOURCE_NOT_FOUND", f"{value} is not a file", {"source": value})
    return path


def _not_allowed(value: str, folders: list[Path]) -> ProcessorError:
    return ProcessorError(
        "SOURCE_NOT_ALLOWED",
        f"{value} is not under an allowed input folder (JOBCENTER_ALLOWED_INPUT_DIRS)",
        {"source": value, "allowed": [str(folder) for folder in folders]},
    )


@contextmanager
def open_source(
    value: str, *, max_bytes: int, too_large_code: str, fetch_options: dict[str, Any] | None = None
) -> Iterator[Source]:
    """Yield the local file for ``value``; a download is deleted when the block ends.

    Files larger than ``max_bytes`` fail with ``too_large_code`` (e.g. PDF_TOO_LARGE)
    before any byte is parsed."""
    value = value.strip()
    try:
        check_source_syntax(value)
    except ValueError as exc:
        raise ProcessorError("SOURCE_INVALID", str(exc), {"source": value}) from exc
    if "://" in value:
        folder = Path(tempfile.mkdtemp(prefix="jobcenter-source-"))
        try:
            options = {"max_bytes": max_bytes, **(fetch_options or {})}
            name = safe_name(urlsplit(value).path.rsplit("/", 1)[-1] or "download")
            try:
                result = Fetcher(**options).download(value, folder / name)
            except FetchTooLarge as exc:
                raise ProcessorError(too_large_code, exc.message, exc.details) from exc
            shown = safe_name(result.filename or name)
            yield Source(folder / name, shown, "url", value, result.size, url=result.url)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    if is_upload_ref(value):
        try:
            path = resolve_upload(value)
        except JobCenterError as exc:
            raise ProcessorError("SOURCE_NOT_FOUND", exc.message, {"source": value}) from exc
        kind = "upload"
    else:
        path = resolve_path(value)
        kind = "path"
    size = path.stat().st_size
    if size > max_bytes:
        raise ProcessorError(
            too_large_code,
            f"{path.name} is {size} bytes, more than the limit of {max_bytes}",
            {"source": value, "bytes": size, "limit": max_bytes},
        )
    yield Source(path, path.name, kind, value, size)
