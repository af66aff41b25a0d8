"""The image processor: PNG, JPEG and multi-page TIFF to Markdown with confidence; the same
error rules as pdf. Pages are small (A6 at 300 dpi) to keep Tesseract quick."""

from __future__ import annotations

from typing import Any

import pytest
from PIL import Image, ImageOps

from processors.base import ProcessorError
from processors.image import ImageProcessor
from tests.processors import corpus
from tests.processors.conftest import Corpus, Runner


@pytest.fixture(scope="module")
def pages(pdf_corpus: Corpus) -> list[Image.Image]:
    small = pdf_corpus.documents["small"]
    return [corpus.render_page(small.pdf, index, 300) for index in range(2)]


def run_image(run_job: Runner, parameters: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    return run_job(parameters, ImageProcessor)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_single_image(
    run_job: Runner, pdf_corpus: Corpus, pages: list[Image.Image], fmt: str
) -> None:
    options = {"quality": 90} if fmt == "JPEG" else {}
    data = corpus.image_bytes(pages[0].convert("L"), fmt, dpi=(300, 300), **options)
    path = pdf_corpus.add(f"scan-{fmt}", data, f".{fmt.lower()}")
    results, ctx = run_image(run_job, {"source": str(path)})
    # one image alone: its header is text like any other; a page number goes even here
    truth = "\n".join([corpus.HEADER, pdf_corpus.documents["small"].truth[0]])
    assert corpus.word_accuracy(truth, results["page_texts"][0]) >= 0.95
    assert results["markdown_content"].startswith("## Page 1\n")
    assert results["ocr_confidence"] > 80
    assert results["pages"][0]["ocr_confidence"] == results["ocr_confidence"]
    assert results["metadata"]["format"] == fmt and results["metadata"]["dpi"] == 300
    assert (ctx.workdir / results["markdown_file"]).read_text(encoding="utf-8") == (
        results["markdown_content"]
    )
    assert [m for _, s, m in ctx.progress_reports if s == "pages"] == ["page 1/1"]


@pytest.mark.slow
def test_multi_page_tiff(run_job: Runner, pdf_corpus: Corpus, pages: list[Image.Image]) -> None:
    data = corpus.image_bytes(
        pages[0].convert("L"),
        "TIFF",
        save_all=True,
        append_images=[pages[1].convert("L")],
        compression="tiff_lzw",
        dpi=(300, 300),
    )
    path = pdf_corpus.add("scan", data, ".tiff")
    results, _ = run_image(run_job, {"source": str(path)})
    assert results["metadata"]["frames"] == 2
    assert [page["page"] for page in results["pages"]] == [1, 2]
    truths = pdf_corpus.documents["small"].truth
    for truth, text in zip(truths, results["page_texts"], strict=True):
        assert corpus.word_accuracy(truth, text) >= 0.95
    # the header repeated on both scans is dropped, as in PDFs
    assert corpus.HEADER not in results["markdown_content"]


def test_pages_past_the_last_frame_are_a_warning_in_the_results(
    run_job: Runner, pdf_corpus: Corpus
) -> None:
    frames = [Image.new("L", (200, 100), 255) for _ in range(2)]
    data = corpus.image_bytes(frames[0], "TIFF", save_all=True, append_images=frames[1:])
    path = pdf_corpus.add("two-frames", data, ".tiff")
    results, _ = run_image(run_job, {"source": str(path), "pages": "2-4"})
    assert [page["page"] for page in results["pages"]] == [2]
    assert results["warnings"] == ["pages 3-4 asked for, but the image has 2"]


@pytest.mark.slow
def test_text_on_a_transparent_background_is_read(
    run_job: Runner, pdf_corpus: Corpus, pages: list[Image.Image]
) -> None:
    """Black text whose background is transparent: converted to RGB plainly, the
    background turns black too and nothing is left to read."""
    gray = pages[0].convert("L")
    text = Image.new("RGBA", gray.size, (0, 0, 0, 0))
    text.putalpha(ImageOps.invert(gray))  # ink opaque, paper transparent
    path = pdf_corpus.add("transparent", corpus.image_bytes(text, "PNG", dpi=(300, 300)), ".png")
    results, _ = run_image(run_job, {"source": str(path)})
    truth = pdf_corpus.documents["small"].truth[0]
    assert corpus.word_accuracy(truth, results["page_texts"][0]) >= 0.9


def test_limits_hold_for_every_frame(run_job: Runner, pdf_corpus: Corpus, settings: Any) -> None:
    settings.JOBCENTER_OCR_MAX_PIXELS = 100_000
    frames = [Image.new("L", (200, 100), 255), Image.new("L", (400, 400), 255)]
    data = corpus.image_bytes(frames[0], "TIFF", save_all=True, append_images=frames[1:])
    path = pdf_corpus.add("big-second-frame", data, ".tiff")
    results, _ = run_image(run_job, {"source": str(path)})
    assert [page["method"] for page in results["pages"]] == ["ocr", "failed"]
    assert "400x400 pixels, more than the limit of 100000" in results["warnings"][0]
    settings.JOBCENTER_PDF_MAX_PAGES = 1
    with pytest.raises(ProcessorError) as caught:
        run_image(run_job, {"source": str(path)})
    assert caught.value.code == "IMAGE_TOO_LARGE"
    assert run_image(run_job, {"source": str(path), "pages": "1"})[0]["pages"][0]["page"] == 1


def test_not_an_image(run_job: Runner, pdf_corpus: Corpus) -> None:
    for name, data in (("text.png", b"plain text"), ("doc.pdf", pdf_corpus.documents["lists"].pdf)):
        path = pdf_corpus.add(name, data, "")
        with pytest.raises(ProcessorError) as caught:
            run_image(run_job, {"source": str(path)})
        assert caught.value.code == "IMAGE_INVALID", name


def test_a_truncated_image_is_invalid_not_an_ocr_failure(
    run_job: Runner, pdf_corpus: Corpus
) -> None:
    """Its header reads fine; its pixels do not."""
    whole = corpus.image_bytes(Image.new("L", (400, 300), 255), "PNG")
    path = pdf_corpus.add("truncated", whole[: len(whole) // 2], ".png")
    with pytest.raises(ProcessorError) as caught:
        run_image(run_job, {"source": str(path)})
    assert caught.value.code == "IMAGE_INVALID", caught.value.message
    assert "truncated" in caught.value.message


def test_too_many_pixels(run_job: Runner, pdf_corpus: Corpus, job_settings: Any) -> None:
    job_settings.JOBCENTER_OCR_MAX_PIXELS = 10_000
    path = pdf_corpus.add(
        "wide", corpus.image_bytes(Image.new("L", (200, 100), 255), "PNG"), ".png"
    )
    with pytest.raises(ProcessorError) as caught:
        run_image(run_job, {"source": str(path)})
    assert caught.value.code == "IMAGE_TOO_LARGE"


def test_tesseract_missing(run_job: Runner, pdf_corpus: Corpus, settings: Any) -> None:
    settings.JOBCENTER_TESSERACT_COMMAND = "/nonexistent/tesseract"
    path = pdf_corpus.add("blank", corpus.image_bytes(Image.new("L", (50, 50), 255), "PNG"), ".png")
    with pytest.raises(ProcessorError) as caught:
        run_image(run_job, {"source": str(path)})
    assert caught.value.code == "OCR_UNAVAILABLE"


@pytest.mark.slow
def test_cache_returns_earlier_results_without_ocr(
    run_job: Runner, pdf_corpus: Corpus, pages: list[Image.Image], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = corpus.image_bytes(pages[1].convert("L"), "PNG", dpi=(300, 300))
    path = pdf_corpus.add("cached-scan", data, ".png")
    first, _ = run_image(run_job, {"source": str(path), "use_cache": True})
    assert first["cached"] is False

    def no_ocr(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("OCR ran again despite the cache")

    monkeypatch.setattr("processors.pdf.pool.run_pages", no_ocr)
    copy = pdf_corpus.add("same-scan-renamed", data, ".png")
    second, ctx = run_image(run_job, {"source": str(copy), "use_cache": True})
    assert second["cached"] is True
    assert second["markdown_content"] == first["markdown_content"]
    assert second["source"]["name"] == "same-scan-renamed.png"  # this job's, not the first's
    assert second["markdown_file"] == "same-scan-renamed.md"
    assert (ctx.workdir / second["markdown_file"]).is_file()
    assert any("Cache hit" in message for _, message in ctx.logs)
    with pytest.raises(AssertionError, match="OCR ran again"):  # other languages: other entry
        run_image(run_job, {"source": str(path), "use_cache": True, "languages": "eng"})


def test_url_sources_follow_the_pdf_rules(run_job: Runner) -> None:
    # refused before any connection: loopback without JOBCENTER_FETCH_ALLOW_PRIVATE
    with pytest.raises(ProcessorError) as caught:
        run_image(run_job, {"url": "http://127.0.0.1:9/scan.png"})
    assert caught.value.code == "FETCH_FAILED"
    assert "JOBCENTER_FETCH_ALLOW_PRIVATE" in caught.value.message
