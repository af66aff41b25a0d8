"""From ordered lines to Markdown: paragraphs, headings, lists and tables, with hyphenation
repaired and the headers and footers that repeat on every page removed.

Decisions that need the whole document (the body text size that makes a line a heading, the
lines that repeat on most pages) are taken here, after all pages were read; everything that
concerns one page only (reading order, tables) was done in the page's own process.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

from processors.pdf.layout import Line, PageLayout, Table

_BULLET = re.compile(
    r"^([\u2022\u25e6\u25aa\u25ab\u2023\u2043\u25cf\u25cb\u25a0\u25a1\u27a2"
    r"\u27a4\u25ba\u25b6\u2713\u2714\u00b7*\-\u2013\u2014])\s+(\S.*)$"
)
_NUMBERED = re.compile(r"^(\d{1,3}|[a-z])([.)])\s+(\S.*)$")
_PAGE_NUMBER = re.compile(
    r"^(?:[-\u2013 ]*#[-\u2013 ]*|(?:seite|page|s\.|p\.)\s*#(?:\s*(?:von|of|/)\s*#)?|#\s*/\s*#)$"
)
_DIGITS = re.compile(r"\d+")
_ESCAPE_START = re.compile(r"^(#|>|[-+*]\s|=+$|-+$)")
_ORDERED_START = re.compile(r"^(\d{1,9})[.)](\s|$)")


@dataclass
class Paragraph:
    kind: str
    """"p", "h" (heading), "li" (bullet item), "ol" (numbered item), "table"."""
    lines: list[Line] = field(default_factory=list)
    table: Table | None = None
    level: int = 0
    marker: str = ""
    _text: str | None = field(default=None, repr=False, compare=False)

    @property
    def size(self) -> float:
        sizes = [line.size for line in self.lines]
        return max(sizes) if sizes else 0.0

    @property
    def bold(self) -> bool:
        return bool(self.lines) and all(line.bold for line in self.lines)

    def text(self) -> str:
        """Joined once: styles, headings, Markdown and plain text each ask for it, after
        the paragraph's lines are complete."""
        if self._text is None:
            self._text = join_lines([line.text for line in self.lines])
        return self._text


def join_lines(texts: list[str]) -> str:
    """Join the lines of a paragraph, repairing words hyphenated at a line end: the hyphen
    goes when the next line continues in lower case (``Verwal-`` + ``tung``), stays when it
    starts with a capital or digit (``Bund-`` + ``Länder``)."""
    out = ""
    for text in texts:
        text = text.strip()
        if not text:
            continue
        if not out:
            out = text
        elif out.endswith("-") and len(out) > 1 and out[-2].isalpha():
            out = out[:-1] + text if text[0].islower() else out + text
        else:
            out = f"{out} {text}"
    return out


# --- headers and footers ---------------------------------------------------------------------


def furniture_keys(layouts: list[PageLayout]) -> set[str]:
    """Texts that repeat near the top or bottom of most pages (digits ignored, so page
    numbers match), and page-number lines ("Seite 3 von 9", "- 4 -")."""
    if len(layouts) < 2:
        return set()
    seen: Counter[str] = Counter()
    for layout in layouts:
        seen.update({_key(line.text) for line in _band_lines(layout)})
    needed = max(2, math.ceil(0.5 * len(layouts)))
    return {key for key, count in seen.items() if count >= needed or _PAGE_NUMBER.match(key)}


def _band_lines(layout: PageLayout) -> list[Line]:
    band = max(0.08 * layout.height, 36.0)
    return [
        line for line in layout.lines if line.bottom <= band or line.top >= layout.height - band
    ]


def _key(text: str) -> str:
    return _DIGITS.sub("#", " ".join(text.lower().split()))


def remove_furniture(layout: PageLayout, keys: set[str]) -> PageLayout:
    if not keys:
        return layout
    drop = {id(line) for line in _band_lines(layout) if _key(line.text) in keys}
    items = [item for item in layout.items if id(item) not in drop]
    return PageLayout(layout.width, layout.height, items, layout.source)


# --- paragraphs ------------------------------------------------------------------------------


def paragraphs(layout: PageLayout) -> list[Paragraph]:
    if layout.paragraphs is None:
        layout.paragraphs = _paragraphs(layout)
    return layout.paragraphs


def _paragraphs(layout: PageLayout) -> list[Paragraph]:
    found: list[Paragraph] = []
    current: Paragraph | None = None
    previous: Line | None = None
    for item in layout.items:
        if isinstance(item, Table):
            found.append(Paragraph("table", table=item))
            current, previous = None, None
            continue
        line = item
        start = _list_start(line.text)
        if current is None or start is not None or _breaks(current, previous, line, layout):
            current = Paragraph("p", [line])
            if start is not None:
                current.kind, current.marker = start
                line = Line(**{**line.__dict__, "text": _strip_marker(line.text)})
                current.lines = [line]
            found.append(current)
        else:
            current.lines.append(line)
        previous = item
    return found


def _list_start(text: str) -> tuple[str, str] | None:
    if _BULLET.match(text):
        return "li", "-"
    match = _NUMBERED.match(text)
    if match:
        return "ol", match.group(1) + match.group(2)
    return None


def _strip_marker(text: str) -> str:
    match = _BULLET.match(text)
    if match:
        return match.group(2)
    match = _NUMBERED.match(text)
    return match.group(3) if match else text


def _breaks(current: Paragraph, previous: Line | None, line: Line, layout: PageLayout) -> bool:
    if previous is None or line.region != previous.region:
        return True
    if layout.source == "ocr":
        return False  # Tesseract's paragraphs are the regions
    size = max(previous.size, line.size, 1.0)
    pitch = line.baseline - previous.baseline
    if pitch <= 0 or pitch > 1.55 * size:
        return True
    return abs(line.size - previous.size) > 0.15 * size or line.bold != previous.bold


# --- headings --------------------------------------------------------------------------------


@dataclass
class Styles:
    """The document's body size per source and the sizes that make headings, largest
    first; found once for the whole document."""

    body: dict[str, float]
    heading_sizes: dict[str, list[float]]

    @classmethod
    def of(cls, layouts: list[PageLayout]) -> Styles:
        counts: dict[str, Counter[float]] = {}
        for layout in layouts:
            counter = counts.setdefault(layout.source, Counter())
            for line in layout.lines:
                counter[round(line.size * 2) / 2] += len(line.text)
        body = {
            source: counter.most_common(1)[0][0] for source, counter in counts.items() if counter
        }
        headings: dict[str, set[float]] = {}
        for layout in layouts:
            for paragraph in paragraphs(layout):
                if paragraph.kind == "p" and _large(
                    paragraph, body.get(layout.source, 0), layout.source
                ):
                    headings.setdefault(layout.source, set()).add(round(paragraph.size * 2) / 2)
        return cls(
            body, {source: sorted(sizes, reverse=True) for source, sizes in headings.items()}
        )

    def heading_level(self, paragraph: Paragraph, source: str) -> int:
        """3 for the largest heading size (``## Page N`` is level 2), down to 6; 0: none."""
        body = self.body.get(source, 0.0)
        text = paragraph.text()
        if paragraph.kind != "p" or not text or len(text) > 200:
            return 0
        sizes = self.heading_sizes.get(source, [])
        if _large(paragraph, body, source):
            if source == "ocr":  # sizes measured from pixels: only coarse steps are reliable
                return 3 if paragraph.size >= 1.8 * body else 4
            rank = sizes.index(round(paragraph.size * 2) / 2)
            return min(6, 3 + rank)
        if (
            source == "native"
            and paragraph.bold
            and len(paragraph.lines) == 1
            and len(text) <= 100
            and text[-1] not in ".,;:"
            and not text[0].islower()
            and abs(paragraph.size - body) <= 0.15 * max(body, 1)
        ):
            return min(6, 3 + len(sizes))
        return 0


def _large(paragraph: Paragraph, body: float, source: str) -> bool:
    if body <= 0 or len(paragraph.lines) > 3:
        return False
    factor = 1.15 if source == "native" else 1.35
    return paragraph.size >= factor * body and len(paragraph.text()) <= 200


# --- Markdown --------------------------------------------------------------------------------


def page_markdown(layout: PageLayout, styles: Styles) -> str:
    blocks: list[str] = []
    items: list[str] = []

    def flush_list() -> None:
        if items:
            blocks.append("\n".join(items))
            items.clear()

    for paragraph in paragraphs(layout):
        if paragraph.kind == "li":
            items.append(f"- {paragraph.text()}")
            continue
        if paragraph.kind == "ol":
            number = paragraph.marker[:-1]
            if number.isdigit():
                items.append(f"{number}. {paragraph.text()}")
            else:
                items.append(f"- {paragraph.marker} {paragraph.text()}")
            continue
        flush_list()
        if paragraph.kind == "table" and paragraph.table is not None:
            blocks.append(table_markdown(paragraph.table.rows))
            continue
        text = paragraph.text()
        level = styles.heading_level(paragraph, layout.source)
        if level:
            blocks.append("#" * level + " " + text)
        else:
            blocks.append(_escape(text))
    flush_list()
    return "\n\n".join(blocks)


def _escape(text: str) -> str:
    """Keep a paragraph from reading as Markdown syntax: ``2020. Das`` is not a list item,
    ``# 1`` not a heading (CommonMark escapes punctuation only, hence ``2020\\.``)."""
    match = _ORDERED_START.match(text)
    if match:
        return f"{match.group(1)}\\{text[len(match.group(1)) :]}"
    return "\\" + text if _ESCAPE_START.match(text) else text


def table_markdown(rows: list[list[str]]) -> str:
    width = max(len(row) for row in rows)
    cells = [
        [cell.replace("|", "\\|").strip() for cell in row] + [""] * (width - len(row))
        for row in rows
    ]
    lines = ["| " + " | ".join(cells[0]) + " |", "|" + " --- |" * width]
    lines += ["| " + " | ".join(row) + " |" for row in cells[1:]]
    return "\n".join(lines)


def plain_text(layout: PageLayout) -> str:
    """Paragraphs as plain text, blank-line separated (for ``page_texts``)."""
    out = []
    for paragraph in paragraphs(layout):
        if paragraph.kind == "table" and paragraph.table is not None:
            out.append("\n".join("\t".join(row) for row in paragraph.table.rows))
        elif paragraph.kind in {"li", "ol"}:
            marker = paragraph.marker if paragraph.kind == "ol" else "\u2022"
            out.append(f"{marker} {paragraph.text()}")
        else:
            out.append(paragraph.text())
    return "\n\n".join(out)
