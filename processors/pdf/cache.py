"""Results by content: the same file (SHA-256 of its bytes) with the same parameters gives the
same results, so a batch that re-submits a document does not extract it again.

Entries live in ``JOBCENTER_MEDIA_ROOT/cache/<job type>/<key>/``: ``results.json`` and the
files the job saved (Markdown, previews, images) under the same relative names, which the
next job copies into its own folder. An entry is written to a temporary folder and renamed
into place, so a reader never sees half of one. Nothing is evicted automatically: delete the
folder to reclaim the space.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings

if TYPE_CHECKING:
    from processors.base import JobContext
    from processors.sources import Source

CACHE_VERSION = 2
"""Bump when the output for the same input changes, so old entries are not reused."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def cache_key(job_type: str, sha256: str, parameters: dict[str, Any]) -> str:
    payload = json.dumps(
        {"v": CACHE_VERSION, "type": job_type, "sha256": sha256, "parameters": parameters},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _root(job_type: str) -> Path:
    return Path(settings.JOBCENTER_MEDIA_ROOT) / "cache" / job_type


def load(job_type: str, key: str) -> tuple[dict[str, Any], Path] | None:
    folder = _root(job_type) / key
    try:
        results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return results, folder / "files"


def reuse(
    job_type: str, key: str, ctx: JobContext, source: Source, sha256: str, markdown_file: str
) -> dict[str, Any] | None:
    """The stored results for ``key``, their files copied into the job's folder, made this
    job's own: the entry came from another job with the same bytes, which may have had
    another file name, another URL (with its query string) or another owner, none of
    which may show here."""
    entry = load(job_type, key)
    if entry is None:
        return None
    results, files = entry
    for name, path in cached_files(files):
        if name != results.get("markdown_file"):
            ctx.save_file(name, path.read_bytes())
    ctx.save_file(markdown_file, results["markdown_content"])
    results["markdown_file"] = markdown_file
    results["source"] = source.describe(sha256)
    results["cached"] = True
    return results


def cached_files(files: Path) -> Iterator[tuple[str, Path]]:
    if not files.is_dir():
        return
    for path in sorted(files.rglob("*")):
        if path.is_file():
            yield path.relative_to(files).as_posix(), path


def store(
    job_type: str, key: str, results: dict[str, Any], workdir: Path, names: list[str]
) -> None:
    """Keep ``results`` and the job's files ``names`` (relative to ``workdir``)."""
    root = _root(job_type)
    root.mkdir(parents=True, exist_ok=True)
    target = root / key
    if target.exists():
        return
    staging = Path(tempfile.mkdtemp(prefix=f".{key[:12]}-", dir=root))
    try:
        for name in names:
            source = workdir / name
            if source.is_file():
                destination = staging / "files" / name
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, destination)
        kept = {name: value for name, value in results.items() if name != "source"}
        (staging / "results.json").write_text(json.dumps(kept), encoding="utf-8")
        try:
            os.rename(staging, target)
        except OSError:  # another job stored the same entry first
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
