"""The two text engines, each reduced to lines with boxes (processors/pdf/layout.py), plus
what only pdfium does here: rendering pages, finding and extracting embedded images.

- ``pdfminer``: pdfminer.six's layout analysis groups characters into lines (it copes with
  text drawn in any order); its own box ordering is not used, because on two-column pages it
  mixes the columns; the shared XY-cut orders the lines instead.
- ``pdfium``: pypdfium2's text layer; pdfium already joins characters into text runs
  ("rects"), which are read with one call each, so the engine stays close to pdfium's speed.
"""

from __future__ import annotations

import ctypes
import io
import statistics
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from processors.pdf.layout import Line, PageLayout, Rule, clean_text, reading_order

_BOLD_MARKERS = ("bold", "black", "heavy", "semibold", "demi")


class PdfiumPages:
    """One open pypdfium2 document; pages are loaded one at a time and closed again."""

    def __init__(self, path: str | Path, password: str | None = None) -> None:
        self.document = pdfium.PdfDocument(str(path), password=password)

    def __len__(self) -> int:
        return len(self.document)

    def close(self) -> None:
        self.document.close()

    def size(self, index: int) -> tuple[float, float]:
        return self.document.get_page_size(index)

    # -- text ---------------------------------------------------------------------------

    def layout(self, index: int) -> PageLayout:
        page = self.document[index]
        try:
            width, height = page.get_size()
            textpage = page.get_textpage()
            try:
                lines = self._lines(textpage, height)
            finally:
                textpage.close()
            rules = self._rules(page, height)
        finally:
            page.close()
        return PageLayout(width, height, reading_order(lines, rules), "native")

    def _lines(self, textpage: pdfium.PdfTextPage, height: float) -> list[Line]:
        raw = textpage.raw
        lines: list[Line] = []
        x = ctypes.c_double()
        y = ctypes.c_double()
        for number in range(textpage.count_rects()):
            left, bottom, right, top = textpage.get_rect(number)
            text = clean_text(textpage.get_text_bounded(left, bottom, right, top))
            if not text:
                continue
            size, bold, baseline = 0.0, False, bottom
            index = pdfium_c.FPDFText_GetCharIndexAtPos(
                raw, left + 0.5, (top + bottom) / 2, 2.0, (top - bottom) / 2 + 1
            )
            if index >= 0:
                size = float(pdfium_c.FPDFText_GetFontSize(raw, index))
                bold = pdfium_c.FPDFText_GetFontWeight(raw, index) >= 600
                if pdfium_c.FPDFText_GetCharOrigin(raw, index, ctypes.byref(x), ctypes.byref(y)):
                    baseline = y.value
            if size <= 0:
                size = max(top - bottom, 1.0)
            lines.append(
                Line(
                    text, left, height - top, right, height - bottom, height - baseline, size, bold
                )
            )
        return lines

    def _rules(self, page: pdfium.PdfPage, height: float) -> list[Rule]:
        rules = []
        for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_PATH], max_depth=1):
            left, bottom, right, top = obj.get_bounds()
            rule = Rule(left, height - top, right, height - bottom)
            if rule.horizontal or rule.vertical:
                rules.append(rule)
        return rules

    # -- pictures -----------------------------------------------------------------------

    def image_coverage(self, index: int) -> float:
        """Share of the page covered by images (the largest one): near 1 for a scan."""
        page = self.document[index]
        try:
            width, height = page.get_size()
            area = max(width * height, 1.0)
            best = 0.0
            for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2):
                left, bottom, right, top = obj.get_bounds()
                w = max(0.0, min(right, width) - max(left, 0.0))
                h = max(0.0, min(top, height) - max(bottom, 0.0))
                best = max(best, w * h / area)
            return min(best, 1.0)
        finally:
            page.close()

    def render(
        self, index: int, dpi: float, *, grayscale: bool, max_pixels: int
    ) -> tuple[Image.Image, float]:
        """The page as an image at ``dpi``, or at the highest dpi that stays under
        ``max_pixels`` (returned too, so the caller can warn)."""
        page = self.document[index]
        try:
            width, height = page.get_size()
            pixels = (width * dpi / 72) * (height * dpi / 72)
            if pixels > max_pixels:
                dpi = dpi * (max_pixels / pixels) ** 0.5
            bitmap = page.render(scale=dpi / 72, grayscale=grayscale, may_draw_forms=True)
            # to_pil() shares the bitmap's memory (for grayscale): copy before freeing it
            image = bitmap.to_pil().copy()
            bitmap.close()
            return image, dpi
        finally:
            page.close()

    def images(self, index: int, max_pixels: int, limit: int = 200) -> tuple[list[bytes], int]:
        """Embedded images as PNG (at most ``limit``); also how many were skipped as too
        large."""
        page = self.document[index]
        found: list[bytes] = []
        skipped = 0
        try:
            for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2):
                if len(found) >= limit:
                    skipped += 1
                    continue
                w, h = obj.get_px_size()
                if w < 16 or h < 16:
                    continue
                if w * h > max_pixels:
                    skipped += 1
                    continue
                try:
                    bitmap = obj.get_bitmap(render=False)
                    pil = bitmap.to_pil().copy()
                    bitmap.close()
                except pdfium.PdfiumError:
                    skipped += 1
                    continue
                buffer = io.BytesIO()
                if pil.mode not in {"1", "L", "RGB", "RGBA", "P"}:
                    pil = pil.convert("RGB")
                pil.save(buffer, "PNG", compress_level=3)
                found.append(buffer.getvalue())
        finally:
            page.close()
        return found, skipped

    def metadata(self) -> dict[str, Any]:
        values = self.document.get_metadata_dict(skip_empty=True)
        return {
            "title": values.get("Title") or None,
            "author": values.get("Author") or None,
            "subject": values.get("Subject") or None,
            "creator": values.get("Creator") or None,
            "producer": values.get("Producer") or None,
            "creation_date": _pdf_date(values.get("CreationDate")),
            "modification_date": _pdf_date(values.get("ModDate")),
            "page_count": len(self.document),
            "pdf_version": _version(self.document.get_version()),
            "encrypted": pdfium_c.FPDF_GetSecurityHandlerRevision(self.document.raw) != -1,
        }


def _version(value: int | None) -> str | None:
    return f"{value // 10}.{value % 10}" if value else None


def _pdf_date(value: str | None) -> str | None:
    """``D:20240131120000+01'00'`` as ISO 8601; anything unparsable is returned as is."""
    if not value:
        return None
    raw = value.removeprefix("D:").replace("'", "")
    digits = "".join(ch for ch in raw[:14] if ch.isdigit())
    if len(digits) < 4:
        return value
    digits = digits.ljust(14, "0")
    year, month, day = digits[0:4], digits[4:6] or "01", digits[6:8] or "01"
    month = month if month != "00" else "01"
    day = day if day != "00" else "01"
    iso = f"{year}-{month}-{day}T{digits[8:10]}:{digits[10:12]}:{digits[12:14]}"
    zone = raw[14:]
    if zone.startswith("Z"):
        iso += "Z"
    elif zone[:1] in {"+", "-"} and len(zone) >= 5:
        iso += f"{zone[:3]}:{zone[3:5]}"
    return iso


class PdfminerPages:
    """pdfminer.six over one document: parsed once, pages laid out on demand."""

    def __init__(self, path: str | Path, password: str = "") -> None:
        from pdfminer.converter import PDFPageAggregator
        from pdfminer.layout import LAParams
        from pdfminer.pdfdocument import PDFDocument
        from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
        from pdfminer.pdfpage import PDFPage
        from pdfminer.pdfparser import PDFParser

        class TolerantPage(PDFPage):
            """A page whose dictionary pdfminer cannot take keeps the error for itself
            instead of ending the walk through the page tree."""

            error: Exception | None = None

            def __init__(self, *args: Any) -> None:
                try:
                    super().__init__(*args)
                except Exception as exc:
                    self.error = exc

        self.file = open(path, "rb")  # noqa: SIM115 - kept open while pages are read
        try:
            document = PDFDocument(PDFParser(self.file), password=password)
            self.pages: list[Any] = list(TolerantPage.create_pages(document))
        except Exception:
            self.file.close()
            raise
        resources = PDFResourceManager(caching=True)
        # boxes_flow=None: lines are grouped as usual, the (slow, column-mixing) ordering of
        # boxes is skipped; layout.reading_order orders the lines.
        self.device = PDFPageAggregator(
            resources, laparams=LAParams(boxes_flow=None, all_texts=True)
        )
        self.interpreter = PDFPageInterpreter(resources, self.device)

    def __len__(self) -> int:
        return len(self.pages)

    def close(self) -> None:
        self.file.close()

    def layout(self, index: int) -> PageLayout:
        from pdfminer.layout import LTChar, LTCurve, LTTextLine

        if index >= len(self.pages):
            raise IndexError(f"pdfminer finds only {len(self.pages)} pages")
        if self.pages[index].error is not None:
            raise self.pages[index].error
        self.interpreter.process_page(self.pages[index])
        page = self.device.get_result()
        left, top = page.x0, page.y1
        lines: list[Line] = []
        rules: list[Rule] = []

        def walk(obj: Any) -> None:
            if isinstance(obj, LTTextLine):
                text = clean_text(obj.get_text())
                if not text:
                    return
                chars = [ch for ch in obj if isinstance(ch, LTChar)]
                sizes = [ch.size for ch in chars] or [obj.height]
                size = statistics.median(sizes)
                baselines = [ch.matrix[5] for ch in chars] or [obj.y0]
                bold = (
                    bool(chars)
                    and sum(any(m in ch.fontname.lower() for m in _BOLD_MARKERS) for ch in chars)
                    > len(chars) / 2
                )
                lines.append(
                    Line(
                        text,
                        obj.x0 - left,
                        top - obj.y1,
                        obj.x1 - left,
                        top - obj.y0,
                        top - statistics.median(baselines),
                        size,
                        bold,
                    )
                )
                return
            if isinstance(obj, LTCurve):
                rule = Rule(obj.x0 - left, top - obj.y1, obj.x1 - left, top - obj.y0)
                if rule.horizontal or rule.vertical:
                    rules.append(rule)
                return
            if hasattr(obj, "__iter__"):
                for child in obj:
                    walk(child)

        walk(page)
        return PageLayout(page.width, page.height, reading_order(lines, rules), "native")
