"""End to end: pdf jobs stored by ``services.enqueue`` and run by a real
``manage.py runworker --burst`` (its child process forks the page processes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from jobs.models import Job, JobLog
from jobs.services import enqueue
from jobs.states import JobStatus
from tests.conftest import REPO, subprocess_env
from tests.processors import corpus
from tests.processors.conftest import Corpus

pytestmark = pytest.mark.slow


def test_worker_runs_pdf_jobs(
    transactional_db: None, pdf_corpus: Corpus, tmp_path: Path, settings: Any
) -> None:
    media = tmp_path / "media"
    settings.JOBCENTER_MEDIA_ROOT = media
    good = enqueue(
        "pdf",
        {
            "file_path": str(pdf_corpus.path("one_column")),
            "include_previews": True,
            "preview_dpi": 40,
        },
    )
    locked = enqueue("pdf", {"source": str(pdf_corpus.add("locked", corpus.encrypted("pw")))})
    env = subprocess_env(
        JOBCENTER_MEDIA_ROOT=str(media),
        JOBCENTER_ALLOWED_INPUT_DIRS=str(pdf_corpus.folder),
        JOBCENTER_PDF_WORKERS="2",
    )
    env.pop("JOBCENTER_PROCESSORS", None)  # the default registry, where pdf is
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "manage.py"),
            "runworker",
            "--burst",
            "--concurrency",
            "2",
            "--poll-interval",
            "0.2",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stdout + done.stderr

    good.refresh_from_db()
    assert good.status == JobStatus.COMPLETED, good.error
    results = good.results
    assert [page["page"] for page in results["pages"]] == [1, 2, 3]
    document = pdf_corpus.documents["one_column"]
    assert corpus.recall_in_order("\n".join(document.truth), results["markdown_content"]) >= 0.99
    assert len(results["assets"]) == 3
    folder = media / good.job_id
    assert (folder / results["markdown_file"]).read_text(encoding="utf-8") == (
        results["markdown_content"]
    )
    assert all((folder / name).is_file() for name in results["assets"])
    assert JobLog.objects.filter(job=good, message__contains="reading 3 with auto").exists()

    locked.refresh_from_db()
    assert locked.status == JobStatus.FAILED
    assert locked.error["code"] == "PDF_ENCRYPTED"
    assert Job.objects.filter(status=JobStatus.PENDING).count() == 0
