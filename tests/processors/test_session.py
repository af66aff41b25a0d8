"""``session``: dossiers from a conference site served on 127.0.0.1 (media_site.py), with
the partial failures the older system's users met: a corrupt or missing attachment, a video
that is gone or undecodable, no translation engine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from processors.base import ProcessorError
from processors.session import SessionProcessor
from processors.session.processor import dossier_name
from processors.testing import RecordingContext, run_processor
from tests.processors.media_server import MediaServer, Reply, Request
from tests.processors.media_site import (
    ABSTRACT,
    COOKIE,
    NOTES,
    SIDEBAR,
    SLIDES,
    Site,
    build_site,
)

RESULT_FIELDS = {
    "markdown_file",
    "markdown_content",
    "web_text",
    "video_transcript",
    "attachments_text",
    "assets",
    "attachments_url",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    server = MediaServer()
    yield build_site(server, tmp_path_factory.mktemp("site"))
    server.close()


@pytest.fixture
def session_settings(settings: Any, tmp_path: Path) -> Any:
    settings.JOBCENTER_MEDIA_ROOT = tmp_path / "media"
    settings.JOBCENTER_FETCH_ALLOW_PRIVATE = True
    settings.JOBCENTER_TRANSCRIPTION_ENGINE = "processors.engines.pocketsphinx.PocketsphinxEngine"
    settings.JOBCENTER_CHAT_ENGINE = ""
    settings.JOBCENTER_TEMPLATE_DIRS = []
    settings.JOBCENTER_MEDIA_CHUNK_SECONDS = 60
    settings.JOBCENTER_PDF_WORKERS = 1
    settings.JOBCENTER_ENGINE_RETRIES = 0
    return settings


def params(site: Site, **extra: Any) -> dict[str, Any]:
    return {
        "event": "DevConf 2026",
        "session": "Queues that scale, part 1",
        "url": site.page_url(1),
        "filename": "queues-that-scale",
        "track": "Databases",
        "day": "2026-02-01",
        "starttime": "10:30",
        "endtime": "11:15",
        "speakers": ["Ada Lovelace", "Grace Hopper"],
        "use_cache": False,
        **extra,
    }


def run(parameters: dict[str, Any], root: Path, job: str = "job-1") -> tuple[Any, Any]:
    ctx = RecordingContext(root, job_id=job)
    return run_processor(SessionProcessor, parameters, ctx), ctx


def matter(markdown: str) -> dict[str, Any]:
    assert markdown.startswith("---\n")
    return yaml.safe_load(markdown.split("---\n", 2)[1])


def section(markdown: str, title: str) -> str:
    body = markdown.split(f"\n## {title}\n", 1)[1]
    return body.split("\n## ", 1)[0]


def test_full_dossier_with_partial_failures_and_cache(
    session_settings: Any, site: Site, tmp_path: Path
) -> None:
    parameters = params(
        site,
        video_url=f"{site.url}/media/talk.mp4",
        attachments_url=f"{site.url}/files/index.html",
        use_cache=True,
    )
    results, ctx = run(parameters, tmp_path / "media")
    assert set(results) >= RESULT_FIELDS
    for key in RESULT_FIELDS - {"assets", "attachments_url"}:
        assert isinstance(results[key], str) and results[key], key
    assert isinstance(results["assets"], list)
    assert results["attachments_url"] == f"{site.url}/files/index.html"
    markdown = results["markdown_content"]
    assert results["markdown_file"] == "queues-that-scale.md"
    assert (ctx.workdir / "queues-that-scale.md").read_text(encoding="utf-8") == markdown

    front = matter(markdown)
    assert front["event"] == "DevConf 2026"
    assert front["session"] == "Queues that scale, part 1"
    assert front["track"] == "Databases" and front["day"] == "2026-02-01"
    assert (front["starttime"], front["endtime"]) == ("10:30", "11:15")
    assert front["speakers"] == ["Ada Lovelace", "Grace Hopper"]
    assert front["language"] == "en" and front["translation"] == "not_needed"
    assert front["url"] == site.page_url(1)
    assert front["video_url"] == f"{site.url}/media/talk.mp4"
    assert front["attachments_url"] == f"{site.url}/files/index.html"
    assert str(front["processed_at"]).startswith("20")
    assert front["errors"] == [
        "attachment corrupt.pdf: PDF_INVALID",
        "attachment missing.pdf: FETCH_FAILED",
    ]

    # the page's main text, without the site's furniture
    for sentence in ABSTRACT:
        assert sentence in results["web_text"]
        assert sentence in section(markdown, "Abstract")
    for furniture in (COOKIE, SIDEBAR, "Imprint", "Sponsors"):
        assert furniture not in results["web_text"]

    # attachments: two read, one corrupt, one missing; in the listing's order
    names = [a["name"] for a in results["attachments"]]
    assert names == ["slides.pdf", "corrupt.pdf", "notes.pdf", "missing.pdf"]
    errors = {a["name"]: a["error"] and a["error"]["code"] for a in results["attachments"]}
    assert errors == {
        "slides.pdf": None,
        "corrupt.pdf": "PDF_INVALID",
        "notes.pdf": None,
        "missing.pdf": "FETCH_FAILED",
    }
    for line in SLIDES + NOTES:
        assert line in results["attachments_text"]
    attachments = section(markdown, "Attachments")
    assert "### corrupt.pdf\n\n_Not read: `PDF_INVALID`" in attachments
    assert SLIDES[1] in attachments.split("### slides.pdf", 1)[1]
    for name in ("attachments/slides/slides.pdf", "attachments/slides/slides.md"):
        assert name in results["assets"]
    assert all((ctx.workdir / name).is_file() for name in results["assets"])
    assert "Incomplete dossier" in markdown and "`FETCH_FAILED`" in markdown

    # the video's transcript with timestamps, and its files
    assert results["video_transcript"].startswith("**[00:0")
    assert "open source" in results["video_transcript"]
    assert results["video_transcript"] in section(markdown, "Transcript")
    for key in ("srt_file", "vtt_file", "segments_file", "markdown_file"):
        assert (ctx.workdir / results["video"][key]).is_file()
    assert json.loads((ctx.workdir / "video/transcript.segments.json").read_text())

    # progress: each step, attachments counted, transcription in percent, in order
    steps = [(step, message) for _, step, message in ctx.progress_reports]
    assert steps[0][0] == "page" and steps[-1] == ("write", "queues-that-scale.md")
    assert ("attachments", "attachments 2/4") in steps
    assert any(s == "transcribe" and m.endswith(" %") for s, m in steps)
    order = [s for s, _ in steps]
    assert order.index("attachments") < order.index("transcribe") < order.index("write")
    percents = [p for p, _, _ in ctx.progress_reports]
    assert percents == sorted(percents)
    logged = "\n".join(message for _, message in ctx.logs)
    assert "attachment corrupt.pdf: PDF_INVALID" in logged

    # the same session again: transcript and attachment texts come from the cache
    again, ctx2 = run(parameters, tmp_path / "media", job="job-2")
    assert again["video_transcript"] == results["video_transcript"]
    assert again["attachments_text"] == results["attachments_text"]
    assert any("transcript taken from the cache" in m for _, m in ctx2.logs)
    assert any("Cache hit" in m for _, m in ctx2.logs)


def test_zip_of_pdfs_stays_inside_the_job_folder(
    session_settings: Any, site: Site, tmp_path: Path
) -> None:
    results, ctx = run(params(site, attachments_url=f"{site.url}/files/bundle.zip"), tmp_path)
    assert [a["name"] for a in results["attachments"]] == ["slides.pdf", "notes.pdf"]
    assert results["errors"] == []
    # the ZIP's other member is not read, and says so (the archiver's own files are no one's)
    assert results["skipped_attachments"] == [
        {
            "name": "readme.txt",
            "url": f"{site.url}/files/bundle.zip#readme.txt",
            "reason": "not a PDF; only PDFs are read",
        }
    ]
    assert (
        "warning",
        f"attachment readme.txt not taken: not a PDF; only PDFs are read "
        f"({site.url}/files/bundle.zip#readme.txt)",
    ) in ctx.logs
    for line in SLIDES + NOTES:
        assert line in results["attachments_text"]
    assert all(name.startswith("attachments/") for name in results["assets"])
    assert not (tmp_path / "notes.pdf").exists()
    front = matter(results["markdown_content"])
    assert front["errors"] == [] and front["video_url"] is None
    assert "_No video was given for this session._" in results["markdown_content"]


def test_single_pdf_attachment(session_settings: Any, site: Site, tmp_path: Path) -> None:
    results, _ = run(params(site, attachments_url=f"{site.url}/files/slides.pdf"), tmp_path)
    assert [a["name"] for a in results["attachments"]] == ["slides.pdf"]
    assert results["attachments"][0]["pages"] == 1
    assert SLIDES[0] in results["attachments_text"]


def test_video_failures_are_recorded_and_the_rest_produced(
    session_settings: Any, site: Site, tmp_path: Path
) -> None:
    gone, _ = run(params(site, video_url=f"{site.url}/media/gone.mp4"), tmp_path, "job-a")
    assert [(e["part"], e["code"]) for e in gone["errors"]] == [("video", "FETCH_FAILED")]
    assert "HTTP 404" in gone["errors"][0]["message"]
    assert gone["video_transcript"] == "" and gone["video"] is None
    transcript = section(gone["markdown_content"], "Transcript")
    assert "_No transcript: `FETCH_FAILED`" in transcript
    assert ABSTRACT[0] in gone["web_text"]

    broken, _ = run(params(site, video_url=f"{site.url}/media/broken.mp4"), tmp_path, "job-b")
    assert [e["code"] for e in broken["errors"]] == ["MEDIA_UNDECODABLE"]

    german, _ = run(
        params(site, video_url=f"{site.url}/media/talk.mp4", source_language="de"),
        tmp_path,
        "job-c",
    )
    assert [e["code"] for e in german["errors"]] == ["LANGUAGE_UNSUPPORTED"]

    session_settings.JOBCENTER_MEDIA_MAX_BYTES = 1000
    large, _ = run(params(site, video_url=f"{site.url}/media/talk.mp4"), tmp_path, "job-d")
    assert [e["code"] for e in large["errors"]] == ["MEDIA_TOO_LARGE"]  # as a video job's


def test_page_failures_fail_the_job(session_settings: Any, site: Site, tmp_path: Path) -> None:
    with pytest.raises(ProcessorError) as caught:
        run(params(site, url=f"{site.url}/sessions/404.html"), tmp_path)
    assert caught.value.code == "FETCH_FAILED" and caught.value.details["status"] == 404

    with pytest.raises(ProcessorError) as caught:
        run(params(site, url=f"{site.url}/files/slides.pdf"), tmp_path)
    assert caught.value.code == "PAGE_NOT_HTML"

    session_settings.JOBCENTER_FETCH_ALLOW_PRIVATE = False
    before = len(site.server.requests)
    with pytest.raises(ProcessorError) as caught:
        run(params(site), tmp_path)
    assert caught.value.code == "FETCH_FAILED"
    assert "JOBCENTER_FETCH_ALLOW_PRIVATE" in caught.value.message
    assert len(site.server.requests) == before


def test_untranslated_without_a_chat_engine(
    session_settings: Any, site: Site, tmp_path: Path
) -> None:
    results, ctx = run(params(site, target_language="de"), tmp_path)
    front = matter(results["markdown_content"])
    assert front["translation"] == "untranslated" and front["language"] == "en"
    assert front["target_language"] == "de"
    assert (
        "> **Untranslated:** this dossier is in en; de was asked for"
        in (results["markdown_content"])
    )
    assert results["translation"]["status"] == "untranslated"
    assert any("untranslated" in message for level, message in ctx.logs if level == "warning")


def test_translation_through_the_chat_engine(
    session_settings: Any, site: Site, tmp_path: Path
) -> None:
    seen: list[dict[str, Any]] = []

    def chat(request: Request) -> Reply:
        payload = json.loads(request.body)
        seen.append(payload)
        text = "[de] " + payload["messages"][-1]["content"]
        body = {"choices": [{"message": {"role": "assistant", "content": text}}]}
        return Reply(200, json.dumps(body).encode(), "application/json")

    site.server.routes["/v1/chat/completions"] = chat
    session_settings.JOBCENTER_CHAT_ENGINE = "processors.engines.openai.OpenAIChat"
    session_settings.JOBCENTER_CHAT_URL = f"{site.url}/v1"
    session_settings.JOBCENTER_CHAT_KEY = "k"
    session_settings.JOBCENTER_CHAT_MODEL = "translator"
    results, _ = run(
        params(site, target_language="de", attachments_url=f"{site.url}/files/slides.pdf"),
        tmp_path,
    )
    front = matter(results["markdown_content"])
    assert front["translation"] == "translated" and front["language"] == "de"
    assert section(results["markdown_content"], "Abstract").startswith("\n[de] ")
    assert "[de] " in section(results["markdown_content"], "Attachments")
    assert "[de]" not in results["web_text"]  # results keep the original text
    assert len(seen) == 2 and seen[0]["model"] == "translator"

    site.server.routes["/v1/chat/completions"] = Reply(401, b'{"error": "bad key"}')
    failed, _ = run(params(site, target_language="de"), tmp_path / "again")
    assert [(e["part"], e["code"]) for e in failed["errors"]] == [("translation", "CHAT_FAILED")]
    assert "**Untranslated:**" in failed["markdown_content"]


def test_template_from_the_template_dirs(session_settings: Any, site: Site, tmp_path: Path) -> None:
    folder = tmp_path / "templates"
    (folder / "custom").mkdir(parents=True)
    (folder / "custom" / "short.md").write_text(
        "{{ front_matter }}\n\n# {{ event }}: {{ session }}\n\n"
        "{% for s in speakers %}- {{ s }}\n{% endfor %}\n{{ web_text|truncatewords:5 }}\n",
        encoding="utf-8",
    )
    session_settings.JOBCENTER_TEMPLATE_DIRS = [str(folder)]
    results, _ = run(params(site, template="custom/short.md"), tmp_path)
    body = results["markdown_content"].split("---\n", 2)[2]
    assert body.startswith("\n# DevConf 2026: Queues that scale, part 1\n\n- Ada Lovelace\n")
    assert matter(results["markdown_content"])["session"] == "Queues that scale, part 1"

    (folder / "custom" / "broken.md").write_text("{% if %}", encoding="utf-8")
    with pytest.raises(ProcessorError) as caught:
        run(params(site, template="custom/broken.md"), tmp_path / "broken")
    assert caught.value.code == "TEMPLATE_INVALID"

    for bad in ("../secrets.md", "/etc/passwd", "custom/missing.md"):
        with pytest.raises(ValidationError):
            SessionProcessor.Params.model_validate(params(site, template=bad))


def test_parameters(session_settings: Any, site: Site, tmp_path: Path) -> None:
    results, _ = run(params(site, filename="../../etc/passwd"), tmp_path)
    assert results["markdown_file"] == "passwd.md"
    assert (tmp_path / "job-1" / "passwd.md").is_file()
    for bad in (
        {"url": "file:///etc/passwd"},
        {"video_url": "ftp://example.org/x.mp4"},
        {"speakers": "Ada"},
        {"source_language": "english please"},
        {"unknown": 1},
    ):
        with pytest.raises(ValidationError):
            SessionProcessor.Params.model_validate(params(site, **bad))


def test_cancelled_during_attachments(session_settings: Any, site: Site, tmp_path: Path) -> None:
    ctx = RecordingContext(tmp_path, job_id="job-c", cancel_after_progress=3)
    parameters = params(site, attachments_url=f"{site.url}/files/index.html")
    results = run_processor(SessionProcessor, parameters, ctx)
    assert results == {"cancelled": True}
    assert not (ctx.workdir / "queues-that-scale.md").exists()
    assert [step for _, step, _ in ctx.progress_reports][-1] == "attachments"


def test_a_listing_page_that_mentions_the_pdf_magic_is_read_as_a_page(
    session_settings: Any, site: Site, tmp_path: Path
) -> None:
    """ "%PDF-" in the first kilobyte (a comment, a script) made the page a broken PDF."""
    site.server.routes["/files/magic.html"] = Reply(
        200,
        b"<!DOCTYPE html><html><head><!-- exports as %PDF-1.7 --></head><body>"
        b'<a href="/files/slides.pdf">Slides</a></body></html>',
        "text/html",
    )
    results, _ = run(params(site, attachments_url=f"{site.url}/files/magic.html"), tmp_path)
    assert [a["name"] for a in results["attachments"]] == ["slides.pdf"]
    assert results["errors"] == []


def test_a_page_without_main_text_is_recorded_as_a_partial_failure(
    session_settings: Any, site: Site, tmp_path: Path
) -> None:
    """A page its scripts fill in: "completed" with no error hid it in a batch."""
    site.server.routes["/shell.html"] = Reply(
        200, b'<html><body><div id="app"></div><script>render()</script></body></html>', "text/html"
    )
    results, _ = run(params(site, url=f"{site.url}/shell.html"), tmp_path)
    assert [(e["part"], e["code"]) for e in results["errors"]] == [("page", "PAGE_EMPTY")]
    assert "_The page has no main text._" in results["markdown_content"]


def test_a_pdf_linked_twice_with_a_query_is_one_attachment(
    session_settings: Any, site: Site, tmp_path: Path
) -> None:
    site.server.routes["/files/twice.html"] = Reply(
        200,
        b'<html><body><a href="/files/slides.pdf">Slides</a>'
        b'<a href="/files/slides.pdf?download=1">Download</a></body></html>',
        "text/html",
    )
    results, _ = run(params(site, attachments_url=f"{site.url}/files/twice.html"), tmp_path)
    assert [a["name"] for a in results["attachments"]] == ["slides.pdf"]


def test_attachments_that_are_not_pdfs_are_listed_as_not_taken(
    session_settings: Any, site: Site, tmp_path: Path
) -> None:
    """Slides as PPTX were left out without a word: the dossier looked complete."""
    site.server.routes["/files/mixed.html"] = Reply(
        200,
        b'<html><body><nav><a href="/">Home</a> <a href="/logo.png">Logo</a></nav>'
        b'<a href="/files/deck.pptx">Slides</a> <a href="/files/slides.pdf">Slides (PDF)</a>'
        b'<a href="/files/handout.DOCX?dl=1">Handout</a> <a href="/files/deck.pptx#p2">Again</a>'
        b"</body></html>",
        "text/html",
    )
    results, ctx = run(params(site, attachments_url=f"{site.url}/files/mixed.html"), tmp_path)
    assert [a["name"] for a in results["attachments"]] == ["slides.pdf"]
    assert results["skipped_attachments"] == [
        {
            "name": "deck.pptx",
            "url": f"{site.url}/files/deck.pptx",
            "reason": "not a PDF; only PDFs are read",
        },
        {
            "name": "handout.DOCX",
            "url": f"{site.url}/files/handout.DOCX?dl=1",
            "reason": "not a PDF; only PDFs are read",
        },
    ]
    assert results["errors"] == []  # nothing failed; the PDF was read
    logged = [message for level, message in ctx.logs if level == "warning"]
    assert any(m.startswith("attachment deck.pptx not taken: not a PDF") for m in logged)
    assert any(m.startswith("attachment handout.DOCX not taken") for m in logged)
    attachments = section(results["markdown_content"], "Attachments")
    assert "_Not taken:_\n\n- deck.pptx: not a PDF; only PDFs are read\n" in attachments
    assert "- handout.DOCX: not a PDF; only PDFs are read" in attachments


def test_a_page_of_only_other_formats_is_empty_and_lists_them(
    session_settings: Any, site: Site, tmp_path: Path
) -> None:
    site.server.routes["/files/pptx.html"] = Reply(
        200, b'<html><body><a href="/files/deck.pptx">Slides</a></body></html>', "text/html"
    )
    results, _ = run(params(site, attachments_url=f"{site.url}/files/pptx.html"), tmp_path)
    assert [(e["part"], e["code"]) for e in results["errors"]] == [
        ("attachments", "ATTACHMENTS_EMPTY")
    ]
    assert [item["name"] for item in results["skipped_attachments"]] == ["deck.pptx"]
    assert "- deck.pptx: not a PDF" in section(results["markdown_content"], "Attachments")


def test_attachments_over_the_limit_are_listed_as_not_taken(
    session_settings: Any, site: Site, tmp_path: Path
) -> None:
    session_settings.JOBCENTER_SESSION_MAX_ATTACHMENTS = 1
    results, _ = run(params(site, attachments_url=f"{site.url}/files/bundle.zip"), tmp_path)
    assert [a["name"] for a in results["attachments"]] == ["slides.pdf"]
    reasons = {item["name"]: item["reason"] for item in results["skipped_attachments"]}
    assert reasons == {
        "readme.txt": "not a PDF; only PDFs are read",
        "notes.pdf": "beyond the limit of 1 (JOBCENTER_SESSION_MAX_ATTACHMENTS)",
    }


def test_a_dossier_is_named_after_the_whole_title() -> None:
    title = {
        "url": "https://conf.example.org/s/1",
        "event": "DevConf",
        "session": "CI/CD pipelines: a\\b",
    }
    assert dossier_name(SessionProcessor.Params.model_validate(title)) == "CI_CD pipelines_ a_b.md"
    named = {**title, "filename": "reports/ci.md"}
    assert dossier_name(SessionProcessor.Params.model_validate(named)) == "ci.md"
