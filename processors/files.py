"""Where a job's files live: ``JOBCENTER_MEDIA_ROOT/<job_id>/``. Shared by the worker's
context, the test context and the views that list and serve the files."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings


def job_dir(job_id: str) -> Path:
    return Path(settings.JOBCENTER_MEDIA_ROOT) / job_id


def save_job_file(folder: Path, name: str, data: bytes | str) -> Path:
    """Write ``data`` to ``folder/name`` (sub-folders allowed); a name that would leave the
    folder (``..``, an absolute path) is refused."""
    root = folder.resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(root) or path == root:
        raise ValueError(f"file name {name!r} leaves the job folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path
