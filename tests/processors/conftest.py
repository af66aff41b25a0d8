"""Fixtures for the pdf and image processors: the generated corpus (made once per session),
settings that point the processors at a temporary folder, and a runner."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from processors.base import Processor
from processors.pdf import PdfProcessor
from processors.testing import RecordingContext, run_processor
from tests.processors import corpus


@dataclass
class Corpus:
    folder: Path
    documents: dict[str, corpus.Document]

    def path(self, name: str) -> Path:
        return self.folder / f"{name}.pdf"

    def add(self, name: str, data: bytes, suffix: str = ".pdf") -> Path:
        path = self.folder / f"{name}{suffix}"
        path.write_bytes(data)
        return path


@pytest.fixture(scope="session")
def pdf_corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    folder = tmp_path_factory.mktemp("pdf-corpus")
    small = corpus.one_column(2, seed=7, pagesize=corpus.PAGE_A6, size=10)
    small.name = "small"
    scanned = corpus.scanned(small)
    documents = [
        corpus.one_column(),
        corpus.two_columns(),
        corpus.two_columns(interleaved=True),
        corpus.table(),
        corpus.lists(),
        small,
        scanned,
        corpus.merge("mixed", [(small, 0), (scanned, 1), (small, 1), (scanned, 0)]),
    ]
    for document in documents:
        (folder / f"{document.name}.pdf").write_bytes(document.pdf)
    return Corpus(folder, {document.name: document for document in documents})


@pytest.fixture
def job_settings(settings: Any, tmp_path: Path, pdf_corpus: Corpus) -> Any:
    settings.JOBCENTER_MEDIA_ROOT = tmp_path / "media"
    settings.JOBCENTER_ALLOWED_INPUT_DIRS = [str(pdf_corpus.folder), str(tmp_path / "inputs")]
    settings.JOBCENTER_FETCH_ALLOW_PRIVATE = False
    settings.JOBCENTER_PDF_WORKERS = 2
    settings.JOBCENTER_PDF_PAGE_SECONDS = 60
    settings.JOBCENTER_PDF_PAGE_MEMORY_MB = 1024
    (tmp_path / "inputs").mkdir()
    return settings


Runner = Callable[..., tuple[dict[str, Any], RecordingContext]]


@pytest.fixture
def run_job(job_settings: Any, tmp_path: Path) -> Runner:
    """Run a processor in-process (``use_cache`` off unless asked for) and return the
    results with the recording context."""
    counter = iter(range(1, 10_000))

    def run(
        parameters: dict[str, Any], processor: type[Processor] = PdfProcessor
    ) -> tuple[dict[str, Any], RecordingContext]:
        ctx = RecordingContext(tmp_path / "media", job_id=f"job-{next(counter)}")
        results = run_processor(processor, {"use_cache": False, **parameters}, ctx)
        return results, ctx

    return run
