"""End to end: a batch of 20 session jobs stored by ``create_batch`` and run by a real
``manage.py runworker --burst`` against the conference site on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from batches.models import Batch
from batches.services import create_batch
from jobs.models import Job
from jobs.states import JobStatus
from tests.conftest import REPO, subprocess_env
from tests.processors.media_server import MediaServer
from tests.processors.media_site import ABSTRACT, SLIDES, Site, build_site

pytestmark = pytest.mark.slow

PROCESSORS = (
    "processors.echo.EchoProcessor,processors.session.SessionProcessor,"
    "processors.media.AudioProcessor,processors.media.VideoProcessor"
)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    server = MediaServer()
    yield build_site(server, tmp_path / "site", sessions=20)
    server.close()


def test_worker_runs_a_batch_of_20_sessions(
    transactional_db: None, site: Site, tmp_path: Path, settings: Any
) -> None:
    media = tmp_path / "media"
    settings.JOBCENTER_MEDIA_ROOT = media
    settings.JOBCENTER_PROCESSORS = PROCESSORS.split(",")
    jobs = []
    for number in range(1, 21):
        parameters: dict[str, Any] = {
            "event": "DevConf 2026",
            "session": f"Queues that scale, part {number}",
            "url": site.page_url(number),
            "filename": f"session-{number:02d}",
            "track": "Databases",
            "speakers": ["Ada Lovelace"],
            "attachments_url": f"{site.url}/files/slides.pdf",
        }
        if number % 5 == 0:  # four with the video (later ones reuse the cached transcript)
            parameters["video_url"] = f"{site.url}/media/talk.mp4"
        if number == 7:  # one with a missing attachment: a partial failure, still completed
            parameters["attachments_url"] = f"{site.url}/files/missing.pdf"
        jobs.append({"job_type": "session", "parameters": parameters})
    batch = create_batch("devconf", jobs).batch

    env = subprocess_env(
        JOBCENTER_MEDIA_ROOT=str(media),
        JOBCENTER_PROCESSORS=PROCESSORS,
        JOBCENTER_FETCH_ALLOW_PRIVATE="1",
        JOBCENTER_PDF_WORKERS="1",
        JOBCENTER_TRANSCRIPTION_ENGINE="processors.engines.pocketsphinx.PocketsphinxEngine",
        JOBCENTER_CHAT_ENGINE="",
    )
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
        timeout=240,
        env=env,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stdout + done.stderr

    batch.refresh_from_db()
    assert batch.status == JobStatus.COMPLETED
    assert (batch.total_jobs, batch.completed_jobs) == (20, 20)
    assert (batch.pending_jobs, batch.processing_jobs, batch.failed_jobs) == (0, 0, 0)
    assert batch.cancelled_jobs == 0
    finished = list(Job.objects.filter(batch=batch).order_by("created_at", "job_id"))
    assert len(finished) == 20 and {job.status for job in finished} == {JobStatus.COMPLETED}
    dossiers = sorted(path.name for path in media.glob("job-*/session-*.md"))
    assert dossiers == [f"session-{n:02d}.md" for n in range(1, 21)]
    for job in finished:
        results = job.results
        number = int(results["markdown_file"][8:10])
        text = (media / job.job_id / results["markdown_file"]).read_text(encoding="utf-8")
        assert text == results["markdown_content"]
        front = yaml.safe_load(text.split("---\n", 2)[1])
        assert front["session"] == f"Queues that scale, part {number}"
        assert ABSTRACT[0] in results["web_text"]
        if number == 7:
            assert [e["code"] for e in results["errors"]] == ["FETCH_FAILED"]
        else:
            assert results["errors"] == [] and SLIDES[0] in results["attachments_text"]
        if number % 5 == 0:
            assert "open source" in results["video_transcript"]
    assert Batch.objects.filter(pk=batch.pk, completed_jobs=20).exists()
