"""Uploaded input files (e.g. a PDF to transcribe), shared by the API that receives them
and the processors that read them. An upload is referenced in job parameters as
``upload:<id>``; its bytes live at ``JOBCENTER_MEDIA_ROOT/uploads/<id>/<file name>``."""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path
from typing import BinaryIO

from django.conf import settings

from jobcenter.errors import NotFound, ValidationError

PREFIX = "upload:"
_ID = re.compile(r"^[0-9a-f]{32}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def upload_root() -> Path:
    return Path(settings.JOBCENTER_MEDIA_ROOT) / "uploads"


def safe_name(filename: str) -> str:
    """A file name without directories or odd characters, never empty or hidden."""
    name = _UNSAFE.sub("_", Path(filename.replace("\\", "/")).name).strip(" .")
    return name[:200] or "upload"


def store_upload(stream: BinaryIO, filename: str) -> str:
    """Copy ``stream`` into the upload area and return its reference ``upload:<id>``.
    Callers serving users go through ``jobs.services.add_upload``, which also records whose
    upload it is."""
    upload_id = uuid.uuid4().hex
    folder = upload_root() / upload_id
    folder.mkdir(parents=True)
    with (folder / safe_name(filename)).open("wb") as out:
        shutil.copyfileobj(stream, out)
    return PREFIX + upload_id


def is_upload_ref(value: str) -> bool:
    return value.startswith(PREFIX)


def upload_id(ref: str) -> str | None:
    """The id of a well-formed ``upload:<id>`` reference, else None."""
    value = ref.removeprefix(PREFIX)
    return value if ref.startswith(PREFIX) and _ID.match(value) else None


def resolve_upload(ref: str) -> Path:
    """The file behind ``upload:<id>``; a malformed or unknown reference is a clear error."""
    upload_id = ref.removeprefix(PREFIX)
    if not ref.startswith(PREFIX) or not _ID.match(upload_id):
        raise ValidationError(
            f"{ref!r} is not an upload reference (upload:<32 hex digits>).",
            details=[{"field": "source", "message": "malformed upload reference"}],
        )
    folder = upload_root() / upload_id
    files = [path for path in folder.iterdir() if path.is_file()] if folder.is_dir() else []
    if not files:
        raise NotFound(f"Upload {ref!r} does not exist.", details={"source": ref})
    return files[0]
