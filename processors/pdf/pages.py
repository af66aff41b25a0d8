"""What happens to one page, inside a page process (processors/pdf/pool.py): read the text
layer, decide on OCR, render, OCR, make the preview and extract the images.

Everything here returns plain data (layouts, PNG bytes, warnings); files are written by the
job's process through ``ctx.save_file``, which the page processes do not have.
"""

from __future__ import annotations

import io
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

import pypdfium2 as pdfium

from processors.pdf.engines import PdfiumPages, PdfminerPages
from processors.pdf.layout import PageLayout
from processors.pdf.markdown import PageText, page_text
from processors.pdf.ocr import ocr_image
from processors.pdf.quality import judge

NATIVE_METHODS = {"native", "both", "preview_and_native", "llm_and_native", "auto"}
OCR_METHODS = {"ocr", "both", "llm_and_ocr"}
LLM_METHODS = {"llm", "llm_and_native", "llm_and_ocr"}


@dataclass(frozen=True)
class PageOptions:
    """Everything a page process needs; picklable."""

    path: str
    method: str
    engine: str
    languages: str
    ocr_dpi: int
    preview_dpi: int
    include_previews: bool
    include_images: bool
    max_pixels: int
    page_seconds: float
    tesseract: str | None
    """The Tesseract command, or None when it is not installed (``auto`` then warns)."""

    def __call__(self) -> PageHandler:
        return PageHandler(self)


@dataclass
class PageResult:
    index: int
    native: PageText | None = None
    ocr: PageText | None = None
    ocr_confidence: float | None = None
    ocr_words: int = 0
    used: list[str] = field(default_factory=list)
    """What produced the page's text: "native", "ocr" or both; empty for preview-only."""
    engine: str | None = None
    reason: str | None = None
    """``auto``'s verdict on the text layer: ok, empty, image, garbage, blank, drawn."""
    warnings: list[str] = field(default_factory=list)
    preview: bytes | None = None
    page_image: bytes | None = None
    """PNG for a vision model (llm methods)."""
    images: list[bytes] = field(default_factory=list)
    seconds: float = 0.0


class PageHandler:
    def __init__(self, options: PageOptions) -> None:
        self.options = options
        self.pdfium = PdfiumPages(options.path)
        self.pdfminer: PdfminerPages | None = None
        self.pdfminer_error: str | None = None
        if options.engine == "pdfminer" and options.method in NATIVE_METHODS:
            try:
                self.pdfminer = PdfminerPages(options.path)
            except Exception as exc:  # pdfium opened it; pages fall back to pdfium's text
                self.pdfminer_error = f"{type(exc).__name__}: {exc}"

    def __call__(self, index: int) -> PageResult:
        started = time.monotonic()
        options = self.options
        result = PageResult(index)
        method = options.method
        native = self._native(index, result) if method in NATIVE_METHODS else None
        need_ocr = method in OCR_METHODS
        if method == "auto":
            coverage = native.image_coverage if native else None
            if coverage is None:
                coverage = self.pdfium.image_coverage(index)
            verdict = judge(native.text() if native else "", coverage)
            result.reason = verdict.reason
            need_ocr = verdict.needs_ocr or (verdict.reason == "blank" and self._has_ink(index))
            if need_ocr and verdict.reason == "blank":
                result.reason = "drawn"
            if need_ocr and options.tesseract is None:
                result.warnings.append(
                    f"the text layer is {result.reason}; OCR would be needed but Tesseract is "
                    "not installed"
                )
                need_ocr = False
        ocr = self._ocr(index, result) if need_ocr else None
        if method == "auto" and ocr is not None:
            native = None  # the text layer was judged unusable
        if native is not None:
            result.native = page_text(native)
            result.used.append("native")
        if ocr is not None:
            result.ocr = page_text(ocr)
            result.used.append("ocr")
        if options.include_previews or method in {"preview", "preview_and_native"}:
            result.preview = self._png(index, options.preview_dpi, result, "preview")
        if method in LLM_METHODS:
            result.page_image = self._png(index, min(options.ocr_dpi, 200), result, "LLM image")
        if options.include_images:
            images, skipped = self.pdfium.images(index, options.max_pixels)
            result.images = images
            if skipped:
                result.warnings.append(
                    f"{skipped} embedded image(s) skipped (too large or unreadable)"
                )
        result.seconds = round(time.monotonic() - started, 4)
        return result

    def _native(self, index: int, result: PageResult) -> PageLayout | None:
        if self.options.engine == "pdfminer":
            if self.pdfminer is not None:
                try:
                    layout = self.pdfminer.layout(index)
                    result.engine = "pdfminer"
                    return layout
                except RecursionError:
                    result.warnings.append("pdfminer: nested too deeply; pdfium's text used")
                except Exception as exc:
                    result.warnings.append(
                        f"pdfminer failed ({type(exc).__name__}: {exc}); pdfium's text used"
                    )
            else:
                result.warnings.append(
                    f"pdfminer cannot read the document ({self.pdfminer_error}); pdfium's text used"
                )
        try:
            layout = self.pdfium.layout(index)
        except Exception as exc:
            result.warnings.append(f"the text layer cannot be read ({type(exc).__name__}: {exc})")
            return None
        result.engine = "pdfium"
        return layout

    def _has_ink(self, index: int) -> bool:
        """Text drawn as outlines has no text layer but shows on a quick low-res render."""
        image, _ = self.pdfium.render(index, 36, grayscale=True, max_pixels=4_000_000)
        histogram = image.histogram()
        dark = sum(histogram[:160])
        return dark > 0.002 * max(1, image.width * image.height)

    def _ocr(self, index: int, result: PageResult) -> PageLayout | None:
        options = self.options
        if options.tesseract is None:
            result.warnings.append("OCR skipped: Tesseract is not installed")
            return None
        try:
            image, dpi = self.pdfium.render(
                index, options.ocr_dpi, grayscale=True, max_pixels=options.max_pixels
            )
            if dpi < options.ocr_dpi - 0.5:
                result.warnings.append(
                    f"page too large: rendered for OCR at {dpi:.0f} dpi "
                    f"instead of {options.ocr_dpi}"
                )
            ocr = ocr_image(
                image,
                languages=options.languages,
                dpi=dpi,
                timeout=options.page_seconds,
                command=options.tesseract,
            )
        except subprocess.TimeoutExpired:
            result.warnings.append(f"OCR took more than {options.page_seconds:g} s and was stopped")
            return None
        except (RuntimeError, OSError, pdfium.PdfiumError) as exc:
            result.warnings.append(f"OCR failed: {exc}")
            return None
        result.ocr_confidence = ocr.confidence
        result.ocr_words = ocr.words
        return ocr.layout

    def _png(self, index: int, dpi: int, result: PageResult, what: str) -> bytes:
        image, used = self.pdfium.render(
            index, dpi, grayscale=False, max_pixels=self.options.max_pixels
        )
        if used < dpi - 0.5:
            result.warnings.append(
                f"page too large: {what} made at {used:.0f} dpi instead of {dpi}"
            )
        buffer = io.BytesIO()
        image.save(buffer, "PNG", compress_level=3)
        return buffer.getvalue()


def probe(path: str) -> dict[str, Any]:
    """Open the document with pdfium: page count and metadata, or a classified error."""
    try:
        document = PdfiumPages(path)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            return {"error": "encrypted", "message": str(exc)}
        return _probe_pdfminer(path) or {"error": "invalid", "message": str(exc)}
    try:
        return {"metadata": document.metadata(), "pages": len(document)}
    finally:
        document.close()


def _probe_pdfminer(path: str) -> dict[str, Any] | None:
    """pdfium refuses a document without pages as unreadable; pdfminer tells the two apart."""
    try:
        pages = PdfminerPages(path)
    except Exception:
        return None
    try:
        if len(pages) == 0:
            return {"error": "empty", "message": "the PDF has no pages"}
        return None
    finally:
        pages.close()
