"""The two text engines, each reduced to lines with boxes (processors/pdf/layout.py), plus
what only pdfium does here: rendering pages, finding and extracting embedded images.

- ``pdfminer``: pdfminer.six's layout analysis groups characters into lines (it copes with
  text drawn in any order); its own box ordering is not used, because on two-column pages it
  mixes the columns; the shared XY-cut orders the lines instead.
- ``pdfium``: pypdfium2's text layer; pdfium already joins characters into text runs
  ("rects"). Their boxes, sizes and weights are read by a C helper in one call a page
  (processors/pdf/native), or, where it is not built, by the same steps through ctypes.
"""

from __future__ import annotations

import ctypes
import functools
import io
import itertools
import math
import operator
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from processors.pdf import native
from processors.pdf.layout import (
    FOLDABLE,
    SCRIPT_SIZE,
    Letter,
    Line,
    PageLayout,
    Rule,
    as_script,
    clean_spaces,
    clean_text,
    closed_up,
    letter_spaced,
    reading_order,
)

_BOLD_MARKERS = ("bold", "black", "heavy", "semibold", "demi")
_LINE_END_HYPHEN = re.compile("[\ufffe\x02]")
"""pdfium's marks for a hyphen it took as soft, where it joined two lines."""


class PdfiumPages:
    """One open pypdfium2 document; pages are loaded one at a time and closed again."""

    def __init__(self, path: str | Path, password: str | None = None) -> None:
        self.document = pdfium.PdfDocument(str(path), password=password)
        self._text: Any = None
        self._text_units = 0

    def _text_buffer(self, units: int) -> Any:
        """A buffer for ``units`` UTF-16 units, kept for the next page: a buffer of a new
        size is an array type of a new size for ctypes, whose making cost 2 % of a page."""
        if units > self._text_units:
            self._text_units = max(units, 2 * self._text_units, 4096)
            self._text = (ctypes.c_ushort * self._text_units)()
        return self._text

    def __len__(self) -> int:
        return len(self.document)

    def close(self) -> None:
        self.document.close()

    def size(self, index: int) -> tuple[float, float]:
        return self.document.get_page_size(index)

    # -- text ---------------------------------------------------------------------------

    def layout(self, index: int) -> PageLayout:
        """Raw calls for the page and its text page: pypdfium2's wrappers (a finalizer and
        a parent link per object) cost a tenth of what pdfium itself takes here."""
        page = pdfium_c.FPDF_LoadPage(self.document.raw, index)
        if not page:
            raise pdfium.PdfiumError(f"Failed to load page {index + 1}.")
        try:
            x_min, y_min, x_max, y_max = _visible_box(page)
            width, height = x_max - x_min, y_max - y_min
            textpage = pdfium_c.FPDFText_LoadPage(page)
            if not textpage:
                raise pdfium.PdfiumError(f"Failed to load the text of page {index + 1}.")
            try:
                lines = self._lines(textpage, y_max)
            finally:
                pdfium_c.FPDFText_ClosePage(textpage)
            lines = _on_page(lines, x_min, width, height)
            rules: list[Rule] = []
            marks: list[Rule] = []
            images = []
            for kind, bounds, obj, matrix in _object_bounds(page, _RULES_AND_IMAGES):
                left, bottom, right, top = bounds
                left, right = left - x_min, right - x_min
                bottom, top = bottom - y_min, top - y_min
                if kind == pdfium_c.FPDF_PAGEOBJ_IMAGE:
                    images.append((left, bottom, right, top))
                    continue
                rule = Rule(left, height - top, right, height - bottom)
                if rule.horizontal or rule.vertical:
                    rules.append(rule)
                elif rule.mark:
                    if not _outlined_box(obj):
                        marks.append(rule)
                elif rule.x1 - rule.x0 > 10 and rule.bottom - rule.top > 10:
                    for x0, y0, x1, y1 in _path_lines(obj, matrix):  # a grid as one path
                        rule = Rule(
                            min(x0, x1) - x_min,
                            height - (max(y0, y1) - y_min),
                            max(x0, x1) - x_min,
                            height - (min(y0, y1) - y_min),
                        )
                        if rule.horizontal or rule.vertical:
                            rules.append(rule)
        finally:
            pdfium_c.FPDF_ClosePage(page)
        layout = PageLayout(width, height, reading_order(lines, rules, marks), "native")
        layout.image_coverage = _coverage(images, width, height)
        return layout

    def _lines(self, raw: Any, height: float) -> list[Line]:
        """Text runs (pdfium's "rects": one per text object and line) with their text.

        The page's text is read with one call and cut at pdfium's line breaks; each line's
        runs come from counting rects over that line alone, and a run's first character is
        found by bisecting the run count over the line's prefix. Asking pdfium for the text
        inside each run's box instead scans the whole page once per run, which made this
        engine four times slower than pdfium's own text extraction.
        """
        count = pdfium_c.FPDFText_CountChars(raw)
        if count <= 0:
            return []
        buffer = self._text_buffer(count + 1)
        written = pdfium_c.FPDFText_GetText(raw, 0, count, buffer)
        text = ctypes.string_at(buffer, 2 * max(written - 1, 0)).decode(
            "utf-16-le", errors="replace"
        )
        if len(text) != count:  # characters outside the BMP: indexes no longer match
            return self._lines_by_box(raw, height)
        helper = native.pdfium()
        values = helper.runs(raw, buffer, count) if helper else self._run_values(raw, text)
        return self._runs(values, text, height, raw)

    @staticmethod
    def _runs(values: list[float], text: str, height: float, raw: Any = None) -> list[Line]:
        """The runs (``native.RUN_VALUES`` numbers each) as lines with their text. Pieces
        of one word are joined first, and on a page whose runs are single glyphs (some
        generators, Chromium's PDFs among them, draw every glyph on its own, and pdfium
        gives each a run) the words of a line too (``_continues``): the layout analysis
        expects lines, and would read a form's words as columns."""
        step = native.RUN_VALUES
        lengths = sorted(map(operator.sub, values[1::step], values[::step]))
        glyphs = bool(lengths) and lengths[len(lengths) // 2] <= 2
        pieces: list[list[Any]] = []
        numbers = iter(values)
        for first, last, x0, y1, x1, y0, size, bold, has_origin, origin_y, angle in zip(
            *[numbers] * step, strict=True
        ):
            if size <= 0:
                size = max(y1 - y0, 1.0)
            elif size >= WATERMARK_SIZE and y1 - y0 > 1.6 * size and _diagonal(angle):
                continue  # a watermark across the page ("ENTWURF"), not its text
            piece = [
                int(first), int(last), x0, y1, x1, y0, size, bold > 0,
                origin_y if has_origin else y0,
            ]  # fmt: skip
            # a run that does not start where the one before ended cannot continue it
            if pieces and pieces[-1][1] == piece[0] and _continues(pieces[-1], piece, text, glyphs):
                joined = pieces[-1]
                if piece[1] - piece[0] > joined[1] - joined[0]:  # the longer part's size
                    joined[6], joined[7] = piece[6], piece[7]  # and weight ("R" + "aised")
                joined[1], joined[4] = piece[1], max(joined[4], piece[4])
                joined[3], joined[5] = max(joined[3], piece[3]), min(joined[5], piece[5])
            else:
                pieces.append(piece)
        runs: list[Line] = []
        for first, last, x0, y1, x1, y0, size, bold, baseline in pieces:
            run = text[first:last]
            # the usual run holds no other white space than blanks (those are not printable)
            # and nothing to unfold: trimming is all it needs, a tenth of the engine's Python
            if run.isprintable() and (run.isascii() or FOLDABLE.search(run) is None):
                run = run.strip(" ")
                if "  " in run:
                    run = clean_spaces(run)
            else:
                run = clean_text(run)
            if raw is not None and run:
                if letter_spaced(run):
                    run = clean_text(closed_up(_letters(raw, text, first, last), size)) or run
                # the box takes in a blank at either end: it is made to end at the glyphs
                if text[first].isspace():
                    x0 = _glyph_edge(raw, text, range(first, last), x0)
                if text[last - 1].isspace():
                    x1 = _glyph_edge(raw, text, range(last - 1, first - 1, -1), x1)
            if run:
                runs.append(
                    Line(run, x0, height - y1, x1, height - y0, height - baseline, size, bold)
                )
        return runs

    @staticmethod
    def _run_values(raw: Any, text: str) -> list[float]:
        """What the C helper (processors/pdf/native) reads, through ctypes: written flat,
        with pdfium's functions and the out-parameters bound once, as each call costs more
        than pdfium's own work (about five calls per line, 1.5 to 3.5 µs each). The angle
        is only asked for where a watermark is possible."""
        count_rects = pdfium_c.FPDFText_CountRects
        get_rect = pdfium_c.FPDFText_GetRect
        font_size = pdfium_c.FPDFText_GetFontSize
        font_weight = pdfium_c.FPDFText_GetFontWeight
        char_origin = pdfium_c.FPDFText_GetCharOrigin
        char_angle = pdfium_c.FPDFText_GetCharAngle
        left, top, right, bottom = cells = [ctypes.c_double() for _ in range(4)]
        refs = [ctypes.byref(cell) for cell in cells]
        x, y = ctypes.c_double(), ctypes.c_double()
        origin = ctypes.byref(x), ctypes.byref(y)
        values: list[float] = []
        count = len(text)
        start = 0
        while start < count:
            end = text.find("\r\n", start)
            if end < 0:
                end = count
            rects = count_rects(raw, start, end - start) if end > start else 0
            if rects == 1:  # the usual line: one run, no bisecting
                boxes = [(start, end)]
            else:
                boxes = PdfiumPages._run_bounds(raw, text, start, end, rects)
            for number, (first, last) in enumerate(boxes):
                get_rect(raw, number, *refs)
                size = _scaled(raw, first, font_size(raw, first))
                y.value = 0.0
                values += (
                    first,
                    last,
                    left.value,
                    top.value,
                    right.value,
                    bottom.value,
                    size,
                    _bold(raw, first, font_weight(raw, first)),
                    char_origin(raw, first, *origin),
                    y.value,
                    char_angle(raw, first) if size >= WATERMARK_SIZE else 0.0,
                )
            start = end + 2
        return values

    @staticmethod
    def _run_bounds(raw: Any, text: str, start: int, end: int, rects: int) -> list[tuple[int, int]]:
        """Where each of a line's ``rects`` runs starts: the first index at which counting
        the runs over the line's prefix exceeds the runs before it. Most such lines are
        two lines pdfium joined at a hyphenated word, and the next run starts right after
        the hyphen: that place is tried first (two counts), else the place is bisected.
        pdfium keeps the rects of the last count only, so the line's own count is made
        again at the end for ``FPDFText_GetRect``."""
        if rects == 0:
            return []
        count_rects = pdfium_c.FPDFText_CountRects
        hyphens = [match.end() for match in _LINE_END_HYPHEN.finditer(text, start, end)]
        firsts = [start]
        for number in range(1, rects):
            low, high = firsts[-1] + 1, end
            for place in hyphens:
                if place < low:
                    continue
                before = count_rects(raw, start, place - start)
                if before == number and count_rects(raw, start, place - start + 1) > number:
                    low = high = place  # found
                elif before > number:
                    high = place  # the run starts earlier: bisect below this place
                break
            while low < high:
                middle = (low + high) // 2
                if count_rects(raw, start, middle - start + 1) > number:
                    high = middle
                else:
                    low = middle + 1
            firsts.append(low)
        firsts.append(end)
        count_rects(raw, start, end - start)
        return list(itertools.pairwise(firsts))

    def _lines_by_box(self, raw: Any, height: float) -> list[Line]:
        """The slow way, for pages whose text indexes differ from character indexes: the
        text inside each run's box."""
        lines: list[Line] = []
        left, top, right, bottom = cells = [ctypes.c_double() for _ in range(4)]
        for number in range(pdfium_c.FPDFText_CountRects(raw, 0, -1)):
            pdfium_c.FPDFText_GetRect(raw, number, *(ctypes.byref(cell) for cell in cells))
            box = (left.value, bottom.value, right.value, top.value)
            text = clean_text(_bounded_text(raw, left.value, top.value, right.value, bottom.value))
            if not text:
                continue
            index = pdfium_c.FPDFText_GetCharIndexAtPos(
                raw, box[0] + 0.5, (box[3] + box[1]) / 2, 2.0, (box[3] - box[1]) / 2 + 1
            )
            lines.append(self._line(raw, text, index, box, height))
        return lines

    @staticmethod
    def _line(
        raw: Any,
        text: str,
        index: int,
        box: tuple[float, float, float, float],
        height: float,
    ) -> Line:
        """A run as a Line, with the size, weight and baseline of its first character;
        ``box`` is (left, bottom, right, top) in PDF space."""
        left, bottom, right, top = box
        size, bold, baseline = 0.0, False, bottom
        if index >= 0:
            size = _scaled(raw, index, float(pdfium_c.FPDFText_GetFontSize(raw, index)))
            bold = _bold(raw, index, pdfium_c.FPDFText_GetFontWeight(raw, index))
            x, y = ctypes.c_double(), ctypes.c_double()
            if pdfium_c.FPDFText_GetCharOrigin(raw, index, ctypes.byref(x), ctypes.byref(y)):
                baseline = y.value
        if size <= 0:
            size = max(top - bottom, 1.0)
        return Line(text, left, height - top, right, height - bottom, height - baseline, size, bold)

    # -- pictures -----------------------------------------------------------------------

    def image_coverage(self, index: int) -> float:
        """Share of the page covered by images (the largest one): near 1 for a scan.
        (``layout()`` measures it too, on the way.)"""
        page = self.document[index]
        try:
            width, height = page.get_size()
            images = _object_bounds(page.raw, {pdfium_c.FPDF_PAGEOBJ_IMAGE: 2})
            return _coverage([box for _, box, _, _ in images], width, height)
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
                    # rendered (at its own pixel size), so that its soft mask is applied: a
                    # logo on a transparent ground came out on black
                    bitmap = obj.get_bitmap(render=True)
                    pil = bitmap.to_pil().copy()
                    bitmap.close()
                except pdfium.PdfiumError:
                    skipped += 1
                    continue
                buffer = io.BytesIO()
                if pil.mode == "RGBA" and pil.getextrema()[3] == (255, 255):
                    pil = pil.convert("RGB")  # opaque throughout: no alpha to keep
                elif pil.mode not in {"1", "L", "RGB", "RGBA", "P"}:
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


def _letters(raw: Any, text: str, first: int, last: int) -> list[Letter]:
    """The characters from ``first`` to ``last`` of a text page but its blanks, for
    ``layout.closed_up``: asked for only where a run is letter-spaced, as few are. Their
    edges are their advances ("loose" boxes; the glyphs' own boxes made a narrow "I" look
    set apart), and a blank before one counts as written where the PDF has it, not
    pdfium (which puts one in for every wide gap)."""
    box = pdfium_c.FS_RECTF()
    letters: list[Letter] = []
    written = False
    for index in range(first, last):
        if text[index].isspace():
            written = written or pdfium_c.FPDFText_IsGenerated(raw, index) == 0
        elif pdfium_c.FPDFText_GetLooseCharBox(raw, index, ctypes.byref(box)):
            letters.append((text[index], box.left, box.right, written))
            written = False
    return letters


def _glyph_edge(raw: Any, text: str, indexes: range, default: float) -> float:
    """The outer edge of the first character in ``indexes`` that is not a blank (its left
    edge going forward, its right edge going back): where a run's text starts or ends
    within the blank its box takes in (a word space, or a space pdfium put in for a gap),
    so that runs that touch are told apart from runs with a space between them."""
    for index in indexes:
        if not text[index].isspace():
            left, right, *cells = [ctypes.c_double() for _ in range(4)]
            refs = [ctypes.byref(cell) for cell in (left, right, *cells)]
            if pdfium_c.FPDFText_GetCharBox(raw, index, *refs):
                return left.value if indexes.step > 0 else right.value
            break
    return default


def _continues(piece: list[Any], after: list[Any], text: str, glyphs: bool) -> bool:
    """Whether the run ``after`` goes on with the text of ``piece`` (both as
    ``PdfiumPages._runs`` holds them: first, last, box, size, bold, baseline): it follows
    in the text, on the same baseline in the same font size and weight, and next to it on
    the line (a word space away at most). With a blank between them only where runs are
    ``glyphs``: else such runs are set apart on purpose (a table's cells). Further apart
    (two sizes at most), or with a blank between, only in a letter-spaced line. In another
    size or weight only where they touch with no blank between (one word). Runs left apart
    are joined with a blank later (``merge_same_baseline``): "A d a p t i v e"."""
    first, size = after[0], piece[6]
    if (
        first != piece[1]
        or abs(after[8] - piece[8]) > 0.1 * size
        or not -0.2 * size <= after[2] - piece[4] <= 2.0 * size
    ):
        return False
    if after[6] != size or after[7] != piece[7]:
        # another size or weight: the same word only with no blank between, touching
        # (small caps "A" + "NNUAL", "Ex" + bold "ample")
        return after[2] - piece[4] <= 0.15 * min(size, after[6]) and not (
            text[first - 1].isspace() or text[first].isspace()
        )
    if after[2] - piece[4] <= 0.6 * size and (
        glyphs or not (text[first - 1].isspace() or text[first].isspace())
    ):
        return True
    return _in_letter_spaced_line(text, first)  # further apart: letter-spaced text only


def _in_letter_spaced_line(text: str, index: int) -> bool:
    """Whether the line of a page's text that holds ``index`` is letter-spaced throughout
    (``layout.letter_spaced``): its glyphs lie further apart than words do elsewhere
    ("I N V O I C E" at half an em's spacing), and are still one run."""
    start = text.rfind("\n", 0, index) + 1
    end = text.find("\r", index)
    return letter_spaced(" ".join(text[start : end if end >= 0 else len(text)].split()))


def _visible_box(page: Any) -> tuple[float, float, float, float]:
    """The visible part of a page (its media box cut by its crop box) as left, bottom,
    right, top, in the coordinates of its text: before the page's /Rotate turns it for
    display, as the text page gives them. What lies outside is not shown (crop marks, a
    printer's slug)."""
    cells = [ctypes.c_float() for _ in range(4)]
    refs = [ctypes.byref(cell) for cell in cells]
    left, bottom, right, top = 0.0, 0.0, 0.0, 0.0
    if pdfium_c.FPDFPage_GetMediaBox(page, *refs):
        left, bottom, right, top = (cell.value for cell in cells)
        left, right = sorted((left, right))
        bottom, top = sorted((bottom, top))
    if right - left < 1 or top - bottom < 1:  # none, or unreadable: pdfium's page size
        width, height = pdfium_c.FPDF_GetPageWidthF(page), pdfium_c.FPDF_GetPageHeightF(page)
        return 0.0, 0.0, width, height
    if pdfium_c.FPDFPage_GetCropBox(page, *refs):
        x0, y0, x1, y1 = (cell.value for cell in cells)
        x0, x1 = sorted((x0, x1))
        y0, y1 = sorted((y0, y1))
        cut = (max(left, x0), max(bottom, y0), min(right, x1), min(top, y1))
        if cut[2] - cut[0] >= 1 and cut[3] - cut[1] >= 1:
            return cut
    return left, bottom, right, top


def _on_page(lines: list[Line], x_min: float, width: float, height: float) -> list[Line]:
    """The lines on the visible part of the page (moved when it does not start at the
    origin), without those lying wholly outside it."""
    if x_min:
        for line in lines:
            line.x0 -= x_min
            line.x1 -= x_min
    return [
        line
        for line in lines
        if line.x1 > 0 and line.x0 < width and line.bottom > 0 and line.top < height
    ]


WATERMARK_SIZE = 18.0
"""Text at an angle this large or larger is a watermark and left out; smaller (a chart's
label at 30°) is read."""


def _diagonal(radians: float) -> bool:
    """Text set at an angle that is not a multiple of a right angle (more than 5° off),
    as watermarks are; upright and sideways text (a margin note, a landscape table) is
    read. pdfium answers -1 when it cannot tell."""
    if radians < 0:
        return False
    off = math.degrees(radians) % 90
    return 5 < off < 85


def _bounded_text(raw: Any, left: float, top: float, right: float, bottom: float) -> str:
    """The text inside a box (UTF-16 units: any characters)."""
    units = pdfium_c.FPDFText_GetBoundedText(raw, left, top, right, bottom, None, 0)
    if units <= 0:
        return ""
    buffer = ctypes.create_string_buffer(2 * units)
    pointer = ctypes.cast(buffer, ctypes.POINTER(ctypes.c_ushort))
    pdfium_c.FPDFText_GetBoundedText(raw, left, top, right, bottom, pointer, units)
    return buffer.raw.decode("utf-16-le", errors="ignore")


_RULES_AND_IMAGES = {pdfium_c.FPDF_PAGEOBJ_PATH: 1, pdfium_c.FPDF_PAGEOBJ_IMAGE: 2}
"""Paths on the page itself (ruling lines), images also inside forms (scans are often
wrapped in one)."""


def _object_bounds(
    page: Any, depths: dict[int, int]
) -> Iterator[tuple[int, tuple[float, float, float, float], Any, tuple[float, ...]]]:
    """Kind, page-space bounds (left, bottom, right, top), the object and the matrix of
    the form it is in, for the objects of the kinds in ``depths`` on a page (a raw
    ``FPDF_PAGE``), each kind looked for in form objects down to its depth (1: the page
    itself). pdfium gives the bounds of an object inside a form
    in the form's space: they are mapped through the form's matrix. Raw calls:
    pypdfium2's ``get_objects()`` wraps every object of the page in a Python object, which
    on a text page cost as much as reading the text."""
    cells = [ctypes.c_float() for _ in range(4)]
    refs = [ctypes.byref(cell) for cell in cells]
    helper = native.pdfium()
    deepest = max(depths.values())
    identity = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    pending: list[tuple[Any, int, tuple[float, ...]]] = [(None, 1, identity)]
    while pending:
        form, depth, matrix = pending.pop()
        if form is None:  # text objects, most of a page's, skipped in C where it is built
            numbers: Iterable[int] = (
                helper.drawn_objects(page)
                if helper
                else range(pdfium_c.FPDFPage_CountObjects(page))
            )
        else:
            numbers = range(pdfium_c.FPDFFormObj_CountObjects(form))
        for number in numbers:
            if form is None:
                obj = pdfium_c.FPDFPage_GetObject(page, number)
            else:
                obj = pdfium_c.FPDFFormObj_GetObject(form, number)
            found = pdfium_c.FPDFPageObj_GetType(obj)
            if depth <= depths.get(found, 0) and pdfium_c.FPDFPageObj_GetBounds(obj, *refs):
                yield found, _transform(matrix, *(cell.value for cell in cells)), obj, matrix
            elif found == pdfium_c.FPDF_PAGEOBJ_FORM and depth < deepest:
                own = pdfium_c.FS_MATRIX()
                if pdfium_c.FPDFPageObj_GetMatrix(obj, ctypes.byref(own)):
                    inner = (own.a, own.b, own.c, own.d, own.e, own.f)
                    pending.append((obj, depth + 1, _compose(inner, matrix)))


def _outlined_box(path: Any) -> bool:
    """Whether a path (a raw ``FPDF_PAGEOBJECT``) is drawn as an outline of straight
    lines only, as a checkbox is: not a bullet, which browsers fill (discs, squares) or
    draw as a round outline (circles)."""
    fill, stroke = ctypes.c_int(), ctypes.c_int()
    if not pdfium_c.FPDFPath_GetDrawMode(path, ctypes.byref(fill), ctypes.byref(stroke)):
        return False
    if fill.value != pdfium_c.FPDF_FILLMODE_NONE:
        return False
    return all(
        pdfium_c.FPDFPathSegment_GetType(pdfium_c.FPDFPath_GetPathSegment(path, number))
        != pdfium_c.FPDF_SEGMENT_BEZIERTO
        for number in range(pdfium_c.FPDFPath_CountSegments(path))
    )


_MOST_SEGMENTS = 400
"""A path with more segments is a drawing, not a table's grid."""


def _path_lines(path: Any, outer: tuple[float, ...]) -> Iterator[tuple[float, float, float, float]]:
    """The straight segments of a path object (a raw ``FPDF_PAGEOBJECT``) in page space:
    some generators draw a table's whole grid as one path, whose bounds are a box."""
    count = pdfium_c.FPDFPath_CountSegments(path)
    if count < 6 or count > _MOST_SEGMENTS:  # a box or a single line is no grid
        return
    own = pdfium_c.FS_MATRIX()
    if not pdfium_c.FPDFPageObj_GetMatrix(path, ctypes.byref(own)):
        return
    matrix = _compose((own.a, own.b, own.c, own.d, own.e, own.f), outer)
    a, b, c, d, e, f = matrix
    x, y = ctypes.c_float(), ctypes.c_float()
    previous: tuple[float, float] | None = None
    for number in range(count):
        segment = pdfium_c.FPDFPath_GetPathSegment(path, number)
        if not segment or not pdfium_c.FPDFPathSegment_GetPoint(
            segment, ctypes.byref(x), ctypes.byref(y)
        ):
            previous = None
            continue
        point = (a * x.value + c * y.value + e, b * x.value + d * y.value + f)
        if pdfium_c.FPDFPathSegment_GetType(segment) == pdfium_c.FPDF_SEGMENT_LINETO and previous:
            yield (*previous, *point)
        previous = point


def _coverage(
    images: list[tuple[float, float, float, float]], width: float, height: float
) -> float:
    area = max(width * height, 1.0)
    best = 0.0
    for left, bottom, right, top in images:
        w = max(0.0, min(right, width) - max(left, 0.0))
        h = max(0.0, min(top, height) - max(bottom, 0.0))
        best = max(best, w * h / area)
    return min(best, 1.0)


def _compose(inner: tuple[float, ...], outer: tuple[float, ...]) -> tuple[float, ...]:
    """The matrix that applies ``inner`` and then ``outer`` (PDF's row-vector convention)."""
    a, b, c, d, e, f = inner
    A, B, C, D, E, F = outer  # noqa: N806
    return (
        a * A + b * C,
        a * B + b * D,
        c * A + d * C,
        c * B + d * D,
        e * A + f * C + E,
        e * B + f * D + F,
    )


def _transform(
    matrix: tuple[float, ...], left: float, bottom: float, right: float, top: float
) -> tuple[float, float, float, float]:
    a, b, c, d, e, f = matrix
    xs, ys = [], []
    for x, y in ((left, bottom), (left, top), (right, bottom), (right, top)):
        xs.append(a * x + c * y + e)
        ys.append(b * x + d * y + f)
    return min(xs), min(ys), max(xs), max(ys)


def _version(value: int | None) -> str | None:
    return f"{value // 10}.{value % 10}" if value else None


def _pdf_date(value: str | None) -> str | None:
    """``D:20240131120000+01'00'`` as ISO 8601; anything unparsable is returned as is."""
    if not value:
        return None
    raw = value.removeprefix("D:").replace("'", "").strip()
    match = re.match(r"\d{4,14}", raw)
    if match is None:
        return value
    digits, zone = match.group().ljust(14, "0"), raw[match.end() :]
    year, month, day = digits[0:4], digits[4:6] or "01", digits[6:8] or "01"
    month = month if month != "00" else "01"
    day = day if day != "00" else "01"
    iso = f"{year}-{month}-{day}T{digits[8:10]}:{digits[10:12]}:{digits[12:14]}"
    if zone.startswith("Z") or zone[:5] in {"+0000", "-0000"}:
        iso += "Z"  # UTC written as the API writes its own timestamps
    elif zone[:1] in {"+", "-"} and len(zone) >= 5:
        iso += f"{zone[:3]}:{zone[3:5]}"
    return iso


def _scaled(raw: Any, index: int, size: float) -> float:
    """The font size as set, times the scale of the character's matrix: a PDF may set
    13.33 and scale the text by 0.75 (Chromium's do), which pdfium's size leaves out."""
    matrix = pdfium_c.FS_MATRIX()
    if size <= 0 or not pdfium_c.FPDFText_GetMatrix(raw, index, ctypes.byref(matrix)):
        return size
    area = abs(matrix.a * matrix.d - matrix.b * matrix.c)
    return size * math.sqrt(area) if area > 0 else size


def _bold(raw: Any, index: int, weight: int) -> bool:
    """Bold by the font's weight; the standard fonts a PDF names without embedding them
    (Helvetica-Bold, Times-Bold) have none (0), so their name tells."""
    if weight > 0:
        return weight >= 600
    flags = ctypes.c_int()
    size = pdfium_c.FPDFText_GetFontInfo(raw, index, None, 0, ctypes.byref(flags))
    if size <= 0:
        return False
    name = ctypes.create_string_buffer(size)
    pdfium_c.FPDFText_GetFontInfo(raw, index, name, size, ctypes.byref(flags))
    return _bold_font(name.value.decode("latin-1"))


@functools.cache
def _bold_font(name: str) -> bool:
    """Asked once per font name, not once per character."""
    return any(marker in name.lower() for marker in _BOLD_MARKERS)


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
        from pdfminer.layout import LTChar, LTCurve, LTRect, LTTextLine

        if index >= len(self.pages):
            raise IndexError(f"pdfminer finds only {len(self.pages)} pages")
        if self.pages[index].error is not None:
            raise self.pages[index].error
        pdf_page = self.pages[index]
        # Laid out as drawn, before the page's /Rotate turns it for display: as pdfium's
        # text coordinates are, so that both engines read a turned page alike.
        pdf_page.rotate = 0
        self.interpreter.process_page(pdf_page)
        page = self.device.get_result()
        left, top = page.x0, page.y1
        visible = _visible_part(pdf_page, page)
        if visible != (page.x0, page.y0, page.x1, page.y1):
            left, top = visible[0], visible[3]
        lines: list[Line] = []
        rules: list[Rule] = []
        marks: list[Rule] = []
        turned: list[Any] = []

        def walk(obj: Any) -> None:
            if isinstance(obj, LTTextLine):
                chars = [ch for ch in obj if isinstance(ch, LTChar)]
                if any(_turned(ch) for ch in chars):
                    # pdfminer lines up turned characters one by one, or with a level
                    # neighbour: they are put into lines of their own below
                    turned.extend(ch for ch in chars if _turned(ch))
                    parts = [ch for ch in obj if not (isinstance(ch, LTChar) and _turned(ch))]
                    chars = [ch for ch in parts if isinstance(ch, LTChar)]
                    text = clean_text(_known_glyphs("".join(part.get_text() for part in parts)))
                    if not chars or not text:
                        return
                    box = (
                        min(ch.x0 for ch in chars),
                        min(ch.y0 for ch in chars),
                        max(ch.x1 for ch in chars),
                        max(ch.y1 for ch in chars),
                    )
                else:
                    text = clean_text(_known_glyphs(_with_scripts(obj, chars, descent)))
                    box = (obj.x0, obj.y0, obj.x1, obj.y1)
                if not text:
                    return
                sizes = [ch.size for ch in chars] or [obj.height]
                size = statistics.median(sizes)
                if letter_spaced(text):
                    text = clean_text(closed_up(_pdfminer_letters(obj), size))
                baseline = statistics.median(ch.matrix[5] for ch in chars) if chars else obj.y0
                if chars and size <= SCRIPT_SIZE * body:  # a subscript pdfminer set apart
                    risen = statistics.median(_risen_baseline(ch, descent) for ch in chars)
                    if abs(risen - baseline) > 0.15 * size:
                        baseline = risen
                fonts = Counter(ch.fontname for ch in chars)
                bold = sum(n for font, n in fonts.items() if _bold_font(font)) > len(chars) / 2
                lines.append(
                    Line(
                        text,
                        box[0] - left,
                        top - box[3],
                        box[2] - left,
                        top - box[1],
                        top - baseline,
                        size,
                        bold,
                    )
                )
                return
            if isinstance(obj, LTCurve):
                rule = Rule(obj.x0 - left, top - obj.y1, obj.x1 - left, top - obj.y0)
                if rule.horizontal or rule.vertical:
                    rules.append(rule)
                elif rule.mark and not (isinstance(obj, LTRect) and not obj.fill):
                    marks.append(rule)  # an outlined box is a checkbox, not a bullet
                return
            if hasattr(obj, "__iter__"):
                for child in obj:
                    walk(child)

        descent, body = _descent(page)
        walk(page)
        lines.extend(_sideways_lines(turned, left, top))
        width, height = visible[2] - visible[0], visible[3] - visible[1]
        lines = _on_page(lines, 0.0, width, height)
        return PageLayout(width, height, reading_order(lines, rules, marks), "native")


def _visible_part(pdf_page: Any, page: Any) -> tuple[float, float, float, float]:
    """The crop box in the laid-out page's coordinates (pdfminer lays out the media box,
    moved to the origin), cut to the media box."""
    try:
        media = [float(v) for v in pdf_page.mediabox]
        crop = [float(v) for v in pdf_page.cropbox]
    except (TypeError, ValueError, AttributeError):
        return (page.x0, page.y0, page.x1, page.y1)
    dx, dy = page.x0 - min(media[0], media[2]), page.y0 - min(media[1], media[3])
    x0, x1 = sorted((crop[0] + dx, crop[2] + dx))
    y0, y1 = sorted((crop[1] + dy, crop[3] + dy))
    x0, y0 = max(x0, page.x0), max(y0, page.y0)
    x1, y1 = min(x1, page.x1), min(y1, page.y1)
    if x1 - x0 < 1 or y1 - y0 < 1:
        return (page.x0, page.y0, page.x1, page.y1)
    return (x0, y0, x1, y1)


_CID = re.compile(r"\(cid:\d+\)")
_LEADING_CID = re.compile(r"^\s*\(cid:\d+\)")


def _known_glyphs(text: str) -> str:
    """pdfminer writes a glyph it cannot map to a character as ``(cid:127)``. At the start
    of a line (or alone: a marker set apart from its item) that is, almost always, a list
    bullet drawn from a symbol font (pdfium reads it as •); anywhere else it is left out
    rather than shown."""
    if "(cid:" not in text:
        return text
    return _CID.sub("", _LEADING_CID.sub("\u2022", text))


def _descent(page: Any) -> tuple[float, float]:
    """Where the boxes of most of a page's characters start below their baseline, as a
    share of their size (the fonts' descent), and the size most are set in: pdfminer
    moves a character's box by a text rise (reportlab sets ``<super>`` and ``<sub>`` with
    one) but not its matrix, so a raised character's baseline is found from its box
    (``_risen_baseline``). Only for text set small: a font whose descent differs (or is
    missing) would move a line of body text."""
    from pdfminer.layout import LTChar

    ratios: list[float] = []
    sizes: list[float] = []
    stack = [page]
    while stack and len(ratios) < 500:
        obj = stack.pop()
        if isinstance(obj, LTChar):
            if obj.size > 0 and obj.upright:
                ratios.append((obj.y0 - obj.matrix[5]) / obj.size)
                sizes.append(obj.size)
        elif hasattr(obj, "__iter__"):
            stack.extend(obj)
    if not ratios:
        return 0.0, 0.0
    return statistics.median(ratios), statistics.median(sizes)


def _risen_baseline(char: Any, descent: float) -> float:
    """A pdfminer character's baseline with its text rise (``_descent``)."""
    return float(char.y0 - descent * char.size)


def _with_scripts(line: Any, chars: list[Any], descent: float) -> str:
    """A pdfminer line's text, with digits set small and raised (or lowered) as
    superscripts (subscripts), as the pdfium engine writes them (``layout.as_script``),
    and a letter so set after a word apart from it ("later b"): glued, it made another
    word ("laterb"). ``descent``: see ``_descent``."""
    from pdfminer.layout import LTChar

    if len(chars) < 2:
        return line.get_text()
    sizes = sorted(char.size for char in chars)
    body = sizes[len(sizes) // 2]
    if sizes[0] > SCRIPT_SIZE * body:  # the usual line: nothing set small
        return line.get_text()
    baseline = statistics.median(
        _risen_baseline(char, descent) for char in chars if char.size > SCRIPT_SIZE * body
    )
    parts: list[str] = []
    shifted = False
    for part in line:
        text = part.get_text()
        was_shifted, shifted = shifted, False
        if isinstance(part, LTChar) and part.size <= SCRIPT_SIZE * body:
            shift = _risen_baseline(part, descent) - baseline
            if abs(shift) > 0.15 * body:
                shifted = True
                text = as_script(text, shift > 0)
                if text.isalpha() and not was_shifted and parts and parts[-1][-1:].isalpha():
                    text = " " + text  # a letter as a mark ("later b"), as pdfium has it
        parts.append(text)
    return "".join(parts)


def _pdfminer_letters(line: Any) -> list[Letter]:
    """A pdfminer line's characters but its blanks, for ``layout.closed_up``: a blank
    before one counts as written where it is a character of the PDF (pdfminer puts in
    blanks of its own, not characters, for wide gaps)."""
    from pdfminer.layout import LTChar

    letters: list[Letter] = []
    written = False
    for part in line:
        if not isinstance(part, LTChar):
            continue
        text = part.get_text()
        if text.isspace():
            written = True
        else:
            letters.append((text, part.x0, part.x1, written))
            written = False
    return letters


def _turned(char: Any) -> bool:
    """A pdfminer character not set level (more than about 3° off)."""
    a, b = char.matrix[0], char.matrix[1]
    return a <= 0 or abs(b) > 0.05 * a


def _sideways_lines(chars: list[Any], left: float, top: float) -> list[Line]:
    """Lines of pdfminer characters set at an angle (a note up the margin, a table set
    sideways, a chart's label), each read along its direction; large text at an angle that
    is not a right one (a watermark across the page) is left out, as the pdfium engine
    does."""
    placed = []
    for char in chars:
        a, b = char.matrix[0], char.matrix[1]
        angle = math.atan2(b, a)
        size = max(min(char.width, char.height), 1.0)
        if _diagonal(angle % (2 * math.pi)):
            size = max(char.width, char.height) * 0.9  # the box of a glyph turned part-way
            if size >= WATERMARK_SIZE:
                continue
        degrees = round(math.degrees(angle)) % 360
        cos, sin = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
        x, y = char.matrix[4], char.matrix[5]
        placed.append((degrees, -sin * x + cos * y, cos * x + sin * y, size, char))
    placed.sort(key=lambda entry: (entry[0], entry[1], entry[2]))
    groups: list[list[tuple[int, float, float, float, Any]]] = []
    for entry in placed:
        last = groups[-1][-1] if groups else None
        if last and last[0] == entry[0] and entry[1] - last[1] <= 0.3 * entry[3]:
            groups[-1].append(entry)
        else:
            groups.append([entry])
    lines = []
    for group in groups:
        group.sort(key=lambda entry: entry[2])
        text = ""
        reach = None
        for _, _, along, size, char in group:
            piece = char.get_text()
            if reach is not None and along - reach > 0.2 * size and not text.endswith(" "):
                text += " "
            text += piece
            reach = along + char.adv
        text = clean_text(text)
        if not text:
            continue
        chars = [entry[4] for entry in group]
        x0, x1 = min(c.x0 for c in chars), max(c.x1 for c in chars)
        y0, y1 = min(c.y0 for c in chars), max(c.y1 for c in chars)
        size = statistics.median(entry[3] for entry in group)
        lines.append(Line(text, x0 - left, top - y1, x1 - left, top - y0, top - y0, size))
    return lines
