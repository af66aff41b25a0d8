"""Uploaded input files (e.g. a PDF to transcribe), shared by the API that receives them
and the processors that read them. An upload is referenced in job parameters as
``upload:<id>``; its bytes live at ``JOBCENTER_MEDIA_ROOT/uploads/<id>/<file name>``."""

from __future__ import annotations

import re
import shutil
import unicodedata
import uuid
from pathlib import Path
from typing import BinaryIO

from django.conf import settings

from jobcenter.errors import NotFound, ValidationError

PREFIX = "upload:"
_ID = re.compile(r"^[0-9a-f]{32}$")
_UNSAFE = re.compile(r"[^\w. -]+")
"""Letters of any script stay ("Prüfung.pdf"); separators and symbols go."""


def upload_root() -> Path:
    return Path(settings.JOBCENTER_MEDIA_ROOT) / "uploads"


def safe_name(filename: str) -> str:
    """A file name without directories or odd characters, never empty or hidden."""
    name = unicodedata.normalize("NFC", Path(filename.replace("\\", "/")).name)
    name = _UNSAFE.sub("_", name).strip(" .")
    return name[:200] or "upload"


def write_upload(stream: BinaryIO, filename: str) -> Path:
    """Copy ``stream`` into a new folder of the upload area; the folder's name is the
    upload's id. Callers serving users go through ``jobs.services.add_upload``, which also
    records whose upload it is."""
    folder = upload_root() / uuid.uuid4().hex
    folder.mkdir(parents=True)
    path = folder / safe_name(filename)
    with path.open("wb") as out:
        shutil.copyfileobj(stream, out)
    return path


def store_upload(stream: BinaryIO, filename: str) -> str:
    """Copy ``stream`` into the upload area and return its reference ``upload:<id>``."""
    return PREFIX + write_upload(stream, filename).parent.name


def is_upload_ref(value: str) -> bool:
    return value.startswith(PREFIX)


def upload_id(ref: str) -> str | None:
    """The id of a well-formed ``upload:<id>`` reference, else None."""
    value = ref.removeprefix(PREFIX)
    return value if ref.startswith(PREFIX) and _ID.match(value) else None


def resolve_upload(ref: str) -> Path:
    """The file behind ``upload:<id>``; a malformed or unknown reference is a clear error."""
    identifier = upload_id(ref)
    if identifier is None:
        raise ValidationError(
            f"{ref!r} is not an upload reference (upload:<32 hex digits>).",
            details=[{"field": "source", "message": "malformed upload reference"}],
        )
    folder = upload_root() / identifier
    files = [path for path in folder.iterdir() if path.is_file()] if folder.is_dir() else []
    if not files:
        raise NotFound(f"Upload {ref!r} does not exist.", details={"source": ref})
    return files[0]
