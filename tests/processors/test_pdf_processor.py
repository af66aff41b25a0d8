"""The pdf processor's output: Markdown structure, results fields, files, progress, page
selection, the cache, the LLM hook and OCR availability."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pydantic import ValidationError

from processors.base import ProcessorError
from processors.pdf import PdfProcessor
from processors.pdf.engines import _known_glyphs, _pdf_date
from processors.pdf.markdown import join_lines
from processors.pdf.params import PdfParams, describe_ranges, parse_pages
from processors.registry import get_processor
from processors.testing import RecordingContext
from tests.processors import corpus
from tests.processors.conftest import Corpus, Runner


def test_registered_by_default() -> None:
    assert get_processor("pdf") is PdfProcessor
    assert get_processor("image").job_type == "image"


def test_parameters_are_documented_in_the_api_schema() -> None:
    from jobcenter.api import api

    schemas = api.get_openapi_schema()["components"]["schemas"]
    properties = schemas["PdfParams"]["properties"]
    methods = set(properties["extraction_method"]["enum"])
    assert methods == {
        "auto",
        "native",
        "ocr",
        "both",
        "preview",
        "preview_and_native",
        "llm",
        "llm_and_native",
        "llm_and_ocr",
    }
    assert properties["extraction_method"]["default"] == "auto"
    assert properties["engine"]["enum"] == ["pdfium", "pdfminer"]
    assert properties["engine"]["default"] == "pdfium"
    assert properties["languages"]["default"] == "deu+eng"
    assert "file_path" in properties["source"]["description"]
    for name in ("pages", "include_images", "include_previews", "use_cache", "template"):
        assert properties[name]["description"], name
    assert schemas["PdfJobCreate"]["properties"]["parameters"]


def test_markdown_has_a_section_per_page_without_headers_and_footers(
    run_job: Runner, pdf_corpus: Corpus
) -> None:
    results, ctx = run_job({"source": str(pdf_corpus.path("one_column"))})
    markdown = results["markdown_content"]
    assert re.findall(r"^## Page (\d+)$", markdown, re.MULTILINE) == ["1", "2", "3"]
    assert corpus.HEADER not in markdown
    assert "Seite 1 von 3" not in markdown and "Seite 3 von 3" not in markdown
    # hyphenated line ends were joined back into whole words
    assert not re.search(r"\w-\s*\n\s*[a-zäöü]", markdown)
    document = pdf_corpus.documents["one_column"]
    for heading in document.headings:
        assert f"### {heading}" in markdown
    # the file is there too, listed under its old name
    saved = ctx.workdir / results["markdown_file"]
    assert saved.read_text(encoding="utf-8") == markdown
    assert results["markdown_file"] == "one_column.md"


def test_results_fields(run_job: Runner, pdf_corpus: Corpus) -> None:
    results, _ = run_job({"source": str(pdf_corpus.path("one_column"))})
    assert len(results["page_texts"]) == 3
    assert [page["page"] for page in results["pages"]] == [1, 2, 3]
    for page, text in zip(results["pages"], results["page_texts"], strict=True):
        assert page["method"] == "native"
        assert page["chars"] > 500
        assert page["chars"] == len(text.replace(" ", "").replace("\n", ""))
        assert page["ocr_confidence"] is None
        assert page["warnings"] == []
    metadata = results["metadata"]
    assert metadata["title"] == "Testkorpus"
    assert metadata["author"] == "Job Center"
    assert metadata["page_count"] == 3
    assert metadata["producer"].startswith("ReportLab")
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", metadata["creation_date"])
    assert results["source"]["sha256"] and results["source"]["kind"] == "path"
    assert results["cached"] is False


def test_lists_and_tables_become_markdown(run_job: Runner, pdf_corpus: Corpus) -> None:
    results, _ = run_job({"source": str(pdf_corpus.path("lists"))})
    markdown = results["markdown_content"]
    document = pdf_corpus.documents["lists"]
    assert "### Aufgaben und Termine" in markdown
    bullets = [item for item in document.list_items if not item[0].isdigit()]
    for item in bullets:
        assert f"- {item}" in markdown
    for item in document.list_items[len(bullets) :]:
        assert re.search(rf"^{re.escape(item)}$", markdown, re.MULTILINE), item

    results, _ = run_job({"source": str(pdf_corpus.path("table"))})
    rows = [line for line in results["markdown_content"].splitlines() if line.startswith("|")]
    assert rows[0] == "| Posten | Betrag | Zuständigkeit | Prüfung |"
    assert rows[1] == "| --- | --- | --- | --- |"
    assert len(rows) == 2 + 14
    assert all(row.count("|") == 5 for row in rows)


def test_hyphenation_repair() -> None:
    assert join_lines(["die Verwal-", "tung prüft"]) == "die Verwaltung prüft"
    assert join_lines(["die Bund-", "Länder-Runde"]) == "die Bund-Länder-Runde"
    assert join_lines(["Seite 3 -", "weiter"]) == "Seite 3 - weiter"
    assert join_lines(["2020-", "2024"]) == "2020-2024"
    assert join_lines(["die US-", "amerikanischen Partner"]) == "die US-amerikanischen Partner"
    assert join_lines(["das Know-", "how-Träger-Modell"]) == "das Know-how-Träger-Modell"
    assert join_lines(["per E-", "mail"]) == "per E-mail"
    assert join_lines(["2- und", "3-Zimmer"]) == "2- und 3-Zimmer"


def test_progress_per_page(run_job: Runner, pdf_corpus: Corpus) -> None:
    _, ctx = run_job({"source": str(pdf_corpus.path("one_column"))})
    messages = [message for _, step, message in ctx.progress_reports if step == "pages"]
    assert messages == ["page 1/3", "page 2/3", "page 3/3"]
    percents = [percent for percent, _, _ in ctx.progress_reports]
    assert percents == sorted(percents) and percents[-1] == 100


def test_page_selection(run_job: Runner, pdf_corpus: Corpus) -> None:
    results, _ctx = run_job({"source": str(pdf_corpus.path("one_column")), "pages": "2-3,7"})
    assert [page["page"] for page in results["pages"]] == [2, 3]
    assert re.findall(r"^## Page (\d+)$", results["markdown_content"], re.MULTILINE) == ["2", "3"]
    assert any("pages 7 asked for" in warning for warning in results["warnings"])
    with pytest.raises(ProcessorError) as caught:
        run_job({"source": str(pdf_corpus.path("one_column")), "pages": "9-"})
    assert caught.value.code == "PAGES_OUT_OF_RANGE"


def test_glyphs_pdfminer_cannot_map_are_bullets_at_a_line_start_else_left_out() -> None:
    assert _known_glyphs("(cid:127) Unterpunkt 1.1") == "\u2022 Unterpunkt 1.1"
    assert _known_glyphs("(cid:127)") == "\u2022"
    assert _known_glyphs("Preis(cid:3) 5 EUR") == "Preis 5 EUR"
    assert _known_glyphs("plain text") == "plain text"


def test_pdf_dates_as_iso_8601() -> None:
    assert _pdf_date("D:20240131120000+01'00'") == "2024-01-31T12:00:00+01:00"
    assert _pdf_date("D:20240131120000+00'00'") == "2024-01-31T12:00:00Z"
    assert _pdf_date("D:20240131120000Z") == "2024-01-31T12:00:00Z"
    assert _pdf_date("D:2024") == "2024-01-01T00:00:00"
    assert _pdf_date("D:20240131+01'00'") == "2024-01-31T00:00:00+01:00"  # no time, a zone
    assert _pdf_date("D:202401311230-05'30'") == "2024-01-31T12:30:00-05:30"
    assert _pdf_date("yesterday") == "yesterday"


def test_page_ranges() -> None:
    assert parse_pages("1-3,5", 10) == ([0, 1, 2, 4], [])
    assert parse_pages("8-", 10) == ([7, 8, 9], [])
    assert parse_pages(None, 3) == ([0, 1, 2], [])
    assert parse_pages("2,12", 10) == ([1], [(12, 12)])
    assert parse_pages("1-999999999,5", 4) == ([0, 1, 2, 3], [(5, 999999999)])
    assert describe_ranges([(5, 999), (1200, 1200)]) == "5-999, 1200"
    for bad in ("0", "3-1", "a", "1-2-3"):
        with pytest.raises(ValueError):
            parse_pages(bad)
    with pytest.raises(ValidationError):
        PdfParams.model_validate({"source": "/x.pdf", "pages": "5-2"})


def test_source_aliases_and_syntax() -> None:
    assert PdfParams.model_validate({"file_path": "/data/a.pdf"}).source == "/data/a.pdf"
    assert PdfParams.model_validate({"url": "https://example.org/a.pdf"}).source.startswith(
        "https://"
    )
    for bad in ("relative/a.pdf", "ftp://example.org/a.pdf", "upload:xyz", ""):
        with pytest.raises(ValidationError):
            PdfParams.model_validate({"source": bad})
    with pytest.raises(ValidationError):
        PdfParams.model_validate({"source": "/a.pdf", "extraction": "native"})  # typo refused


def test_previews_and_images_are_saved_and_listed(run_job: Runner, pdf_corpus: Corpus) -> None:
    path = pdf_corpus.add("with_image", corpus.with_image())
    results, ctx = run_job(
        {"source": str(path), "include_images": True, "include_previews": True, "preview_dpi": 72}
    )
    assert results["assets"] == ["previews/page-0001.png", "images/page-0001-01.png"]
    with Image.open(ctx.workdir / "previews/page-0001.png") as preview:
        assert preview.size == (595, 842)
    with Image.open(ctx.workdir / "images/page-0001-01.png") as picture:
        assert picture.size == (200, 120)
    assert "Abbildung 1 zeigt den Lageplan" in results["markdown_content"]


def test_an_image_with_a_transparent_ground_keeps_it(run_job: Runner, pdf_corpus: Corpus) -> None:
    """Its soft mask was dropped: the transparent ground came out black."""
    path = pdf_corpus.add("transparent_image", corpus.with_transparent_image())
    results, ctx = run_job({"source": str(path), "include_images": True})
    assert results["assets"] == ["images/page-0001-01.png"]
    with Image.open(ctx.workdir / "images/page-0001-01.png") as picture:
        assert picture.size == (200, 100) and picture.mode == "RGBA"
        assert picture.getpixel((2, 2))[3] == 0  # the corner: transparent
        assert picture.getpixel((100, 50)) == (200, 30, 30, 255)


def test_preview_method_makes_page_images_only(run_job: Runner, pdf_corpus: Corpus) -> None:
    results, ctx = run_job(
        {"source": str(pdf_corpus.path("lists")), "extraction_method": "preview", "preview_dpi": 50}
    )
    assert results["assets"] == ["previews/page-0001.png"]
    assert results["pages"][0]["method"] == "preview"
    assert results["page_texts"] == [""]
    assert "![Page 1](previews/page-0001.png)" in results["markdown_content"]
    assert (ctx.workdir / "previews/page-0001.png").stat().st_size > 1000


def test_cache_returns_earlier_results_without_extracting(
    run_job: Runner, pdf_corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    parameters = {
        "source": str(pdf_corpus.path("lists")),
        "use_cache": True,
        "include_previews": True,
        "preview_dpi": 40,
    }
    first, _ = run_job(parameters)
    assert first["cached"] is False

    def no_extraction(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("extracted again despite the cache")

    monkeypatch.setattr("processors.pdf.pool.PagePool.open", no_extraction)
    second, ctx = run_job(parameters)
    assert second["cached"] is True
    assert second["markdown_content"] == first["markdown_content"]
    assert any("Cache hit" in message for _, message in ctx.logs)
    for name in [second["markdown_file"], *second["assets"]]:
        assert (ctx.workdir / name).is_file()
    # other parameters are another entry
    with pytest.raises(AssertionError, match="extracted again"):
        run_job({**parameters, "engine": "pdfminer"})


def test_a_cache_hit_is_the_jobs_own_source_and_file_name(
    run_job: Runner, pdf_corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same bytes under another name (or URL, or from another user): the results
    reused from the cache name this job's source, never the earlier one's."""
    first, _ = run_job({"source": str(pdf_corpus.path("lists")), "use_cache": True})
    copy = pdf_corpus.add("renamed-copy", pdf_corpus.path("lists").read_bytes())
    second, ctx = run_job({"source": str(copy), "use_cache": True})
    assert second["cached"] is True
    assert second["source"]["name"] == "renamed-copy.pdf"
    assert second["source"]["sha256"] == first["source"]["sha256"]
    assert second["markdown_file"] == "renamed-copy.md"
    files = {path.name for path in ctx.workdir.iterdir()}
    assert "renamed-copy.md" in files and "lists.md" not in files
    assert (ctx.workdir / "renamed-copy.md").read_text() == first["markdown_content"]


class FakeEngine:
    """A stand-in vision engine: proves the hook passes page images and text along."""

    def page_to_markdown(
        self, image_png: bytes, *, page: int, languages: str, text_hint: str = ""
    ) -> str:
        assert image_png.startswith(b"\x89PNG")
        return f"**vision page {page}** ({languages}, hint {len(text_hint)} chars)"

    def rewrite(
        self, markdown: str, *, template: str | None, context: dict[str, Any] | None
    ) -> str:
        return f"{template}: {len(markdown)} chars, context {sorted(context or {})}"


def test_llm_methods_are_refused_without_an_engine(settings: Any) -> None:
    settings.JOBCENTER_LLM_ENGINE = ""
    for method in ("llm", "llm_and_native", "llm_and_ocr"):
        with pytest.raises(ValidationError, match="JOBCENTER_LLM_ENGINE"):
            PdfParams.model_validate({"source": "/a.pdf", "extraction_method": method})
    with pytest.raises(ValidationError, match="needs an LLM engine"):
        PdfParams.model_validate({"source": "/a.pdf", "template": "Summarise"})


def test_a_context_without_a_template_is_refused() -> None:
    with pytest.raises(ValidationError, match="context is only used with a template"):
        PdfParams.model_validate({"source": "/a.pdf", "context": {"event": "x"}})


def test_llm_engine_hook(
    run_job: Runner, pdf_corpus: Corpus, settings: Any, tmp_path: Path
) -> None:
    settings.JOBCENTER_LLM_ENGINE = f"{__name__}.FakeEngine"
    results, _ = run_job(
        {
            "source": str(pdf_corpus.path("one_column")),
            "extraction_method": "llm_and_native",
            "pages": "1",
        }
    )
    assert "**vision page 1** (deu+eng, hint" in results["markdown_content"]
    assert results["pages"][0]["method"] == "native+llm"
    results, _ = run_job(
        {"source": str(pdf_corpus.path("lists")), "template": "Summary", "context": {"event": "x"}}
    )
    assert results["markdown_content"].startswith("Summary: ")
    assert "## Page 1" in results["extracted_markdown"]
    # the engine vanished between submission and run: a clear failure, not a crash
    params = PdfParams.model_validate(
        {"source": str(pdf_corpus.path("lists")), "extraction_method": "llm", "use_cache": False}
    )
    settings.JOBCENTER_LLM_ENGINE = ""
    with pytest.raises(ProcessorError) as caught:
        PdfProcessor().run(params, RecordingContext(tmp_path))
    assert caught.value.code == "LLM_UNAVAILABLE"


def test_missing_tesseract_is_named(run_job: Runner, pdf_corpus: Corpus, settings: Any) -> None:
    settings.JOBCENTER_TESSERACT_COMMAND = "/nonexistent/tesseract"
    with pytest.raises(ProcessorError) as caught:
        run_job({"source": str(pdf_corpus.path("small_scanned")), "extraction_method": "ocr"})
    assert caught.value.code == "OCR_UNAVAILABLE"
    assert "tesseract-ocr" in caught.value.message
    # auto still reads text layers, and says which pages it could not OCR
    results, ctx = run_job({"source": str(pdf_corpus.path("mixed"))})
    assert [page["method"] for page in results["pages"]] == ["native", "native", "native", "native"]
    assert results["page_texts"][1] == "" and results["page_texts"][0]
    assert any("Tesseract is not installed" in warning for warning in results["warnings"])
    assert any(level == "warning" and "Tesseract" in message for level, message in ctx.logs)


def test_missing_ocr_language_is_named(run_job: Runner, pdf_corpus: Corpus) -> None:
    with pytest.raises(ProcessorError) as caught:
        run_job(
            {
                "source": str(pdf_corpus.path("small")),
                "extraction_method": "ocr",
                "languages": "deu+xyz",
            }
        )
    assert caught.value.code == "OCR_LANGUAGE_UNAVAILABLE"
    assert "xyz" in caught.value.message


def test_cancellation_stops_between_pages(
    job_settings: Any, pdf_corpus: Corpus, tmp_path: Path
) -> None:
    job_settings.JOBCENTER_PDF_WORKERS = 1
    ctx = RecordingContext(tmp_path / "media", cancel_after_progress=2)
    params = PdfParams.model_validate(
        {"source": str(pdf_corpus.path("one_column")), "engine": "pdfminer", "use_cache": False}
    )
    results = PdfProcessor().run(params, ctx)
    assert results["cancelled"] is True
    assert results["pages_done"] < 3


def test_a_cancelled_job_leaves_none_of_the_files_it_saved(
    job_settings: Any, pdf_corpus: Corpus, tmp_path: Path
) -> None:
    job_settings.JOBCENTER_PDF_WORKERS = 1
    ctx = RecordingContext(tmp_path / "media", cancel_after_progress=2)
    params = PdfParams.model_validate(
        {
            "source": str(pdf_corpus.path("one_column")),
            "engine": "pdfminer",
            "include_previews": True,
            "preview_dpi": 36,
            "use_cache": False,
        }
    )
    results = PdfProcessor().run(params, ctx)
    assert results["cancelled"] is True and results["pages_done"] >= 1  # a preview was saved
    assert [path for path in ctx.workdir.rglob("*") if path.is_file()] == []
    assert any("files saved are discarded" in message for _, message in ctx.logs)


@pytest.mark.slow
def test_both_methods_side_by_side(run_job: Runner, pdf_corpus: Corpus) -> None:
    results, _ = run_job(
        {"source": str(pdf_corpus.path("small")), "extraction_method": "both", "pages": "1"}
    )
    page = results["pages"][0]
    assert page["method"] == "native+ocr"
    assert page["ocr_confidence"] > 80
    markdown = results["markdown_content"]
    assert "### Text layer" in markdown and "### OCR" in markdown
    # one page alone: its header is text like any other (the text layer and the OCR of a
    # page are not two pages that repeat it); its page number goes
    truth = "\n".join([corpus.HEADER, pdf_corpus.documents["small"].truth[0]])
    native, ocr = markdown.split("### OCR")
    assert corpus.recall_in_order(truth, native) >= 0.99
    assert corpus.word_accuracy(truth, ocr) >= 0.95
    assert "Seite 1" not in markdown
    # the labels are the only headings at their level: the page's own go one below
    labels = [line for line in markdown.splitlines() if line.startswith("### ")]
    assert labels == ["### Text layer", "### OCR"]
    assert "\n#### 1 " in native  # the page's heading, a level lower than on its own
    scanned, _ = run_job(
        {"source": str(pdf_corpus.path("small_scanned")), "extraction_method": "both", "pages": "1"}
    )
    assert "### Text layer\n\n_No text on this page._\n\n### OCR" in scanned["markdown_content"]


class ChatServer:
    """An OpenAI-compatible /v1/chat/completions on 127.0.0.1 that records the requests and
    answers with the number of images it was sent."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                body["_path"], body["_auth"] = self.path, self.headers.get("Authorization")
                outer.bodies.append(body)
                content = body["messages"][-1]["content"]
                parts = content if isinstance(content, list) else []
                images = [part for part in parts if part.get("type") == "image_url"]
                answer = f"# Vision {len(images)}" if images else "Rewritten"
                reply = json.dumps({"choices": [{"message": {"content": answer}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_llm_methods_through_an_openai_compatible_server(
    run_job: Runner, pdf_corpus: Corpus, settings: Any
) -> None:
    server = ChatServer()
    try:
        settings.JOBCENTER_LLM_ENGINE = "processors.pdf.llm.OpenAIChatPages"
        settings.JOBCENTER_CHAT_URL = server.url
        settings.JOBCENTER_CHAT_KEY = "sk-test"
        settings.JOBCENTER_CHAT_MODEL = "vision-model"
        results, _ = run_job(
            {
                "source": str(pdf_corpus.path("lists")),
                "extraction_method": "llm_and_native",
                "template": "Summarise",
                "context": {"event": "Sitzung"},
            }
        )
    finally:
        server.close()
    page, rewrite = server.bodies
    assert page["_path"] == "/v1/chat/completions" and page["_auth"] == "Bearer sk-test"
    assert page["model"] == "vision-model"
    text, image = page["messages"][0]["content"]
    assert image["image_url"]["url"].startswith("data:image/png;base64,iVBOR")
    assert "deu+eng" in text["text"] and "Aufgaben und Termine" in text["text"]  # the hint
    assert results["extracted_markdown"] == "## Page 1\n\n# Vision 1\n"
    assert results["pages"][0]["method"] == "native+llm"
    prompt = rewrite["messages"][0]["content"]
    assert prompt.startswith("Summarise") and '"event": "Sitzung"' in prompt
    assert "# Vision 1" in prompt
    assert results["markdown_content"] == "Rewritten"


def test_llm_engine_without_a_chat_server(
    run_job: Runner, pdf_corpus: Corpus, settings: Any
) -> None:
    settings.JOBCENTER_LLM_ENGINE = "processors.pdf.llm.OpenAIChatPages"
    settings.JOBCENTER_CHAT_URL = ""
    with pytest.raises(ProcessorError) as caught:
        run_job({"source": str(pdf_corpus.path("lists")), "extraction_method": "llm"})
    assert caught.value.code == "LLM_UNAVAILABLE"
    assert "JOBCENTER_CHAT_URL" in caught.value.message


def test_the_first_page_process_opens_the_document_without_a_process_of_its_own(
    run_job: Runner, pdf_corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fork of the job's process is a fifth of a small document's time: the page count
    and metadata come from the first page process (processors/pdf/pool.py PagePool)."""

    def guarded(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the document was opened in a process of its own")

    monkeypatch.setattr("processors.pdf.pool.run_guarded", guarded)
    results, _ = run_job({"source": str(pdf_corpus.path("lists")), "extraction_method": "native"})
    assert results["metadata"]["page_count"] == len(pdf_corpus.documents["lists"].truth)
    assert results["markdown_content"].startswith("## Page 1")
