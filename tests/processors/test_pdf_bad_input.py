"""Bad input ends as a specific error code or as a completed job with a warning per bad page;
never as a hang or a crash of the job's process."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest

from processors.base import ProcessorError
from processors.pdf.engines import PdfiumPages
from tests.processors import corpus
from tests.processors.conftest import Corpus, Runner


def fails_with(run_job: Runner, parameters: dict[str, Any], code: str) -> ProcessorError:
    with pytest.raises(ProcessorError) as caught:
        run_job(parameters)
    assert caught.value.code == code, caught.value.message
    return caught.value


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"Hello, this is plain text and not a PDF at all.", "is not a PDF"),
        (b"", "is not a PDF (the file is empty (0 bytes))"),
        (corpus.image_bytes(corpus.Image.new("RGB", (10, 10)), "PNG"), "is not a PDF"),
    ],
)
def test_not_a_pdf(run_job: Runner, pdf_corpus: Corpus, data: bytes, message: str) -> None:
    path = pdf_corpus.add(f"not-a-pdf-{len(data)}", data)
    error = fails_with(run_job, {"source": str(path)}, "PDF_INVALID")
    assert message in error.message


def test_truncated_pdf(run_job: Runner, pdf_corpus: Corpus) -> None:
    whole = pdf_corpus.documents["one_column"].pdf
    path = pdf_corpus.add("truncated", whole[: len(whole) // 3])
    error = fails_with(run_job, {"source": str(path)}, "PDF_INVALID")
    assert "cannot be opened" in error.message


def test_corrupt_xref_is_repaired(run_job: Runner, pdf_corpus: Corpus) -> None:
    data = corpus.raw_pdf(
        corpus.page_objects(corpus.text_content(["Reparierbar"])), broken_xref=True
    )
    results, _ = run_job({"source": str(pdf_corpus.add("broken-xref", data)), "engine": "pdfminer"})
    assert "Reparierbar" in results["markdown_content"]


def test_encrypted_with_a_user_password(run_job: Runner, pdf_corpus: Corpus) -> None:
    path = pdf_corpus.add("encrypted", corpus.encrypted("secret"))
    error = fails_with(run_job, {"source": str(path)}, "PDF_ENCRYPTED")
    assert "password" in error.message


@pytest.mark.parametrize("engine", ["pdfium", "pdfminer"])
def test_encrypted_with_an_empty_user_password_is_read(
    run_job: Runner, pdf_corpus: Corpus, engine: str
) -> None:
    path = pdf_corpus.add("encrypted-open", corpus.encrypted(""))
    results, _ = run_job({"source": str(path), "engine": engine})
    assert "Vertrauliche Unterlagen der Verwaltung" in results["markdown_content"]
    assert results["metadata"]["encrypted"] is True
    assert results["pages"][0]["warnings"] == []


def test_zero_pages(run_job: Runner, pdf_corpus: Corpus) -> None:
    path = pdf_corpus.add("zero-pages", corpus.zero_pages())
    fails_with(run_job, {"source": str(path)}, "PDF_EMPTY")


def test_a_page_that_makes_pdfminer_raise(run_job: Runner, pdf_corpus: Corpus) -> None:
    path = pdf_corpus.add("pdfminer-raises", corpus.page_breaking_pdfminer())
    results, ctx = run_job({"source": str(path), "engine": "pdfminer"})
    first, second = results["pages"]
    assert first["engine"] == "pdfminer" and first["warnings"] == []
    assert second["engine"] == "pdfium"
    assert "pdfminer failed (TypeError" in second["warnings"][0]
    assert "Die zweite Seite hat einen kaputten Rahmen" in results["page_texts"][1]
    assert any(
        level == "warning" and message.startswith("page 2: pdfminer failed")
        for level, message in ctx.logs
    )


def test_huge_page_is_rendered_at_a_lower_resolution(
    run_job: Runner, pdf_corpus: Corpus, job_settings: Any
) -> None:
    job_settings.JOBCENTER_OCR_MAX_PIXELS = 4_000_000
    path = pdf_corpus.add("huge-page", corpus.huge_page())
    results, _ = run_job({"source": str(path), "include_previews": True})
    assert "Ein sehr grosses Blatt" in results["markdown_content"]
    assert "preview made at 10 dpi instead of 150" in results["pages"][0]["warnings"][0]


def test_file_and_page_limits(run_job: Runner, pdf_corpus: Corpus, job_settings: Any) -> None:
    path = pdf_corpus.add("twelve-pages", corpus.many_pages(12))
    job_settings.JOBCENTER_PDF_MAX_PAGES = 10
    error = fails_with(run_job, {"source": str(path)}, "PDF_TOO_LARGE")
    assert "JOBCENTER_PDF_MAX_PAGES" in error.message
    results, _ = run_job({"source": str(path), "pages": "1-10"})
    assert len(results["pages"]) == 10
    job_settings.JOBCENTER_PDF_MAX_BYTES = 1000
    error = fails_with(run_job, {"source": str(path)}, "PDF_TOO_LARGE")
    assert error.details["limit"] == 1000


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["pdfium", "pdfminer"])
def test_decompression_bomb_fails_fast_within_the_memory_limit(
    run_job: Runner, pdf_corpus: Corpus, job_settings: Any, engine: str
) -> None:
    job_settings.JOBCENTER_PDF_PAGE_MEMORY_MB = 300
    path = pdf_corpus.add("deflate-bomb", corpus.deflate_bomb(768))
    started = time.monotonic()
    error = fails_with(run_job, {"source": str(path), "engine": engine}, "PDF_INVALID")
    assert time.monotonic() - started < 30
    assert "no page could be read" in error.message


@pytest.mark.parametrize("engine", ["pdfium", "pdfminer"])
def test_deep_nesting(run_job: Runner, pdf_corpus: Corpus, engine: str) -> None:
    path = pdf_corpus.add("nested", corpus.nested_bomb())
    results, _ = run_job({"source": str(path), "engine": engine})
    assert "Tief verschachtelt" in results["markdown_content"]
    path = pdf_corpus.add("deep-tree", corpus.deep_page_tree())
    error = fails_with(run_job, {"source": str(path), "engine": engine}, "PDF_INVALID")
    assert "no page could be read" in error.message


def _slow_on_second_page(original: Any) -> Any:
    def layout(self: PdfiumPages, index: int) -> Any:
        if index == 1:
            time.sleep(60)
        return original(self, index)

    return layout


def test_a_document_whose_every_page_runs_out_of_time_is_a_timeout_not_invalid(
    run_job: Runner, pdf_corpus: Corpus, job_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def slow(self: PdfiumPages, index: int) -> Any:
        time.sleep(60)

    monkeypatch.setattr(PdfiumPages, "layout", slow)
    job_settings.JOBCENTER_PDF_PAGE_SECONDS = 1
    error = fails_with(
        run_job, {"source": str(pdf_corpus.path("small")), "pages": "1"}, "PDF_TIMEOUT"
    )
    assert "JOBCENTER_PDF_PAGE_SECONDS" in error.message


def test_a_page_past_its_time_budget_is_stopped(
    run_job: Runner, pdf_corpus: Corpus, job_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Page processes are forked, so they run the patched engine.
    monkeypatch.setattr(PdfiumPages, "layout", _slow_on_second_page(PdfiumPages.layout))
    job_settings.JOBCENTER_PDF_PAGE_SECONDS = 1.5
    job_settings.JOBCENTER_PDF_WORKERS = 1
    started = time.monotonic()
    results, ctx = run_job({"source": str(pdf_corpus.path("one_column"))})
    assert time.monotonic() - started < 15
    assert [page["method"] for page in results["pages"]] == ["native", "failed", "native"]
    assert "took more than 1.5 s" in results["pages"][1]["warnings"][0]
    assert "could not be read: took more than 1.5 s" in results["markdown_content"]
    assert results["page_texts"][1] == "" and results["page_texts"][2]
    assert [m for _, s, m in ctx.progress_reports if s == "pages"][-1] == "page 3/3"


def _crashing_on(page: int, original: Any) -> Any:
    """``PdfiumPages.layout`` that kills its process (SIGSEGV) on page index ``page``."""

    def layout(self: PdfiumPages, index: int) -> Any:
        if index == page:
            os.kill(os.getpid(), signal.SIGSEGV)
        return original(self, index)

    return layout


def test_a_page_that_kills_its_process_costs_only_that_page(
    run_job: Runner, pdf_corpus: Corpus, job_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(PdfiumPages, "layout", _crashing_on(0, PdfiumPages.layout))
    job_settings.JOBCENTER_PDF_WORKERS = 1
    results, _ = run_job({"source": str(pdf_corpus.path("one_column"))})
    assert [page["method"] for page in results["pages"]] == ["failed", "native", "native"]
    assert "signal SIGSEGV" in results["pages"][0]["warnings"][0]


def test_a_crash_after_pages_done_but_not_yet_reported_names_the_page_that_crashed(
    run_job: Runner, pdf_corpus: Corpus, job_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Page processes report fast pages in batches; the first two pages are done and not
    yet sent when the third kills the process: the third is the one lost, the first two
    are read again by the next process."""
    monkeypatch.setattr(PdfiumPages, "layout", _crashing_on(2, PdfiumPages.layout))
    monkeypatch.setattr("processors.pdf.pool.REPORT_SECONDS", 3600.0)
    job_settings.JOBCENTER_PDF_WORKERS = 1  # 12 pages: chunks of 3, the first is 1-3
    path = pdf_corpus.add("twelve", corpus.one_column(12, seed=12).pdf)
    results, _ = run_job({"source": str(path)})
    methods = [page["method"] for page in results["pages"]]
    assert methods == ["native", "native", "failed"] + ["native"] * 9
    assert "signal SIGSEGV" in results["pages"][2]["warnings"][0]
    assert all(results["page_texts"][:2])


def test_a_document_past_the_job_timeout_fails_before_the_worker_kills_it(
    run_job: Runner, pdf_corpus: Corpus, job_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every page is within its own budget (60 s), but the job's timeout (from
    # JOBCENTER_PROCESSOR_LIMITS, as the worker applies it) runs out first. The first page
    # takes longer than REPORT_SECONDS, so it is reported before the second one hangs.
    original = _slow_on_second_page(PdfiumPages.layout)

    def layout(self: PdfiumPages, index: int) -> Any:
        if index == 0:
            time.sleep(0.2)
        return original(self, index)

    monkeypatch.setattr(PdfiumPages, "layout", layout)
    job_settings.JOBCENTER_PROCESSOR_LIMITS = {"pdf": {"timeout": 3}}
    job_settings.JOBCENTER_PDF_WORKERS = 1
    started = time.monotonic()
    error = fails_with(run_job, {"source": str(pdf_corpus.path("one_column"))}, "PDF_TIMEOUT")
    assert time.monotonic() - started < 15
    assert "within 3 s" in error.message
    assert error.details["pages_done"] == 1
