"""Page layout shared by both text engines and OCR: lines with positions, the reading order
of a page (columns, tables), and the text clean-up every engine needs.

Both engines are reduced to the same thing, text lines with a box, a baseline, a font size
and a bold flag, so that reading order, tables, paragraphs, headings and lists are decided by
one piece of code and the engines can be compared on text alone. Coordinates are PDF points
measured from the top-left corner of the page (y grows downwards).
"""

from __future__ import annotations

import bisect
import itertools
import operator
import re
import statistics
from dataclasses import dataclass, field
from typing import Any

# Ligatures and presentation forms unfolded; soft hyphens and pdfium's U+FFFE (its mark for
# a hyphen it took as soft at a line end) become plain hyphens, decided on later.
_FOLD = {
    "\ufb00": "ff",
    "\ufb01": "fi",
    "\ufb02": "fl",
    "\ufb03": "ffi",
    "\ufb04": "ffl",
    "\ufb05": "st",
    "\ufb06": "st",
    "\u00ad": "-",
    "\ufffe": "-",
    "\x02": "-",
    "\u2010": "-",
    "\u2011": "-",
    "\u00a0": " ",
    "\u2009": " ",
    "\u202f": " ",
    "\u200b": "",
    "\ufeff": "",
    "\x00": "",
}
FOLDABLE = re.compile("[" + "".join(re.escape(char) for char in _FOLD) + "]")


def _unfold(match: re.Match[str]) -> str:
    return _FOLD[match.group()]


def clean_text(text: str) -> str:
    """Searching first is a tenth of the cost of replacing; replacing match by match, a
    third of ``str.translate``'s (which looks up every character)."""
    if FOLDABLE.search(text):
        text = FOLDABLE.sub(_unfold, text)
    return clean_spaces(text)


def clean_spaces(text: str) -> str:
    """Blanks collapsed and trimmed: ``clean_text`` for a text known to hold nothing to
    unfold. Splitting and joining costs a fifth of a regular expression's substitution."""
    return " ".join(text.split())


_LETTER_SPACED = re.compile(r"[^\W_](?: [^\W_])+")


def letter_spaced(text: str) -> bool:
    """Single letters or digits with a blank between each, four or more, or two or three
    capitals: a word or a few set letter-spaced ("S U M M A R Y  O F", "F E S T  2 0 2 5"),
    which both engines read with a blank after every letter (pdfium may give each word a
    run of its own: "O F"). Blanks the PDF itself has stay (``closed_up``): "1 2 3 4"."""
    if text[1:2] != " ":  # the usual text: a word of more than one letter first
        return False
    return _LETTER_SPACED.fullmatch(text) is not None and (len(text) >= 7 or text.isupper())


Letter = tuple[str, float, float, bool]
"""A character of letter-spaced text: itself, its left and right edge, and whether the PDF
has a blank before it."""


def closed_up(letters: list[Letter], size: float) -> str:
    """Letter-spaced text as words: a blank where the PDF has one, and where the gap is
    wider than the usual gap between letters by a fifth of the text size and by half (a
    word space set letter-spaced is the space and the spacing on either side of it, and
    some PDFs have no blank characters at all). Text with a blank written between every
    letter ("A B C D") is not letter-spaced and stays as it is."""
    gaps = [after[1] - before[2] for before, after in itertools.pairwise(letters)]
    usual = statistics.median(gaps) if gaps else 0.0
    words = [letters[0][0]] if letters else []
    for (letter, _, _, written), gap in zip(letters[1:], gaps, strict=True):
        if written or gap > max(1.5 * usual, usual + 0.2 * size):
            words.append(" ")
        words.append(letter)
    return "".join(words)


@dataclass(slots=True)
class Line:
    text: str
    x0: float
    top: float
    x1: float
    bottom: float
    baseline: float
    size: float
    bold: bool = False
    region: int = 0
    """Which block of the page's reading order the line belongs to (a column part, a cell);
    a change of region always starts a new paragraph."""

    @property
    def height(self) -> float:
        return self.bottom - self.top

    def values(self) -> tuple[Any, ...]:
        """Its fields in order (``Line(*line.values())`` is a copy): cheaper to build, send
        and keep than the line itself."""
        return (
            self.text, self.x0, self.top, self.x1, self.bottom, self.baseline, self.size,
            self.bold, self.region,
        )  # fmt: skip

    def __reduce__(self) -> tuple[type[Line], tuple[Any, ...]]:
        """Pickled as its values (OCR results carry lines between processes): rebuilding a
        dataclass field by field took four times as long."""
        return Line, self.values()


@dataclass
class Table:
    rows: list[list[str]]
    x0: float
    top: float
    x1: float
    bottom: float
    region: int = 0


Item = Line | Table


@dataclass
class PageLayout:
    width: float
    height: float
    items: list[Item] = field(default_factory=list)
    """Lines and tables in reading order."""
    source: str = "native"
    """"native" or "ocr": sizes of OCR lines are estimates and are compared among themselves."""
    image_coverage: float | None = None
    """Share of the page its largest image covers, where the engine measured it on the way
    (pdfium): ``auto`` weighs a thin text layer against it."""

    @property
    def lines(self) -> list[Line]:
        return [item for item in self.items if isinstance(item, Line)]

    def text(self) -> str:
        """Plain text in reading order (lines joined as they stand), for quality checks."""
        parts: list[str] = []
        for item in self.items:
            if isinstance(item, Line):
                parts.append(item.text)
            else:
                parts.extend(" ".join(row) for row in item.rows)
        return "\n".join(parts)


@dataclass
class Rule:
    """The box of a drawn shape: a ruling line (a table border) as a segment, or a mark."""

    x0: float
    top: float
    x1: float
    bottom: float

    @property
    def horizontal(self) -> bool:
        return (self.bottom - self.top) <= 2.5 and (self.x1 - self.x0) > 10

    @property
    def vertical(self) -> bool:
        return (self.x1 - self.x0) <= 2.5 and (self.bottom - self.top) > 10

    @property
    def mark(self) -> bool:
        """Small and about square: perhaps a list's bullet drawn as a shape, as browsers
        draw discs, circles and squares (``with_drawn_bullets`` decides)."""
        width, height = self.x1 - self.x0, self.bottom - self.top
        return 1.0 <= width <= 10.0 and 1.0 <= height <= 10.0 and 0.6 <= width / height <= 1.6


# --- lines -----------------------------------------------------------------------------------

_ELISION_WORDS = frozenset({"und", "oder", "bzw.", "sowie", "bis", "and", "or", "to"})


def join_lines(texts: list[str]) -> str:
    """Join the lines of a paragraph or a table cell, repairing words hyphenated at a line
    end: the hyphen goes when the next line continues in lower case (``Verwal-`` +
    ``tung``); it stays when the next line starts with a capital (``Bund-`` + ``Länder``),
    a digit or a word with a hyphen of its own (``Know-`` + ``how-Träger``), after a
    capitalised abbreviation or a single letter (``US-`` + ``amerikanischen``), and before a
    conjunction, where it stands for a word left out (``Ein-`` + ``und Ausgaben``). After a
    digit it joins without a blank (``2020-`` + ``2024``)."""
    out = ""
    for text in texts:
        text = text.strip()
        if not text:
            continue
        if not out:
            out = text
            continue
        if out.endswith("-") and len(out) > 1 and (out[-2].isalpha() or out[-2].isdigit()):
            word = text.split(" ", 1)[0]
            fragment = out[:-1].rsplit(" ", 1)[-1]
            if word in _ELISION_WORDS:
                out = f"{out} {text}"  # "Haushalts-" + "und Finanzplan": the hyphen stays
            elif out[-2].isdigit() or fragment.isupper() or len(fragment) == 1 or "-" in word:
                out += text
            else:
                out = out[:-1] + text if text[0].islower() else out + text
        else:
            out = f"{out} {text}"
    return out


def merge_same_baseline(lines: list[Line]) -> list[Line]:
    """Join pieces of one visual line (a bullet drawn apart from its text, runs split at a
    font change, a footnote mark set small and raised) when they share a baseline and
    nearly touch."""
    scripts = _scripts(lines)
    # scripts set as script characters ("²", "₂") are glued to what they touch, and so are
    # letters after a number ("1st"); other letters set small ("note a", "Product TM") are
    # not: glued, they would make other words
    glued = {
        id(script)
        for line in lines
        if (script := scripts.get(id(line))) is not None and script.text != line.text
    }
    letters = {id(script) for script in scripts.values()} - glued
    if scripts:
        lines = [scripts.get(id(line), line) for line in lines]
    ordered = sorted(lines, key=_BASELINE)
    if not _shares_a_baseline(ordered):  # the usual leaf: one piece per line, none to join
        return ordered
    ordered = [line for group in _baseline_groups(ordered) for line in group]
    merged: list[Line] = []
    after_script = False
    for line in ordered:
        last = merged[-1] if merged else None
        if (
            last is not None
            and abs(last.baseline - line.baseline) <= 0.25 * max(last.size, line.size, 1)
            and line.x0 >= last.x1 - 1
            and line.x0 - last.x1 <= 2.5 * max(last.size, line.size, 1)
        ):
            # a script touching the word before it belongs to it ("m²"), and so does what
            # touches the script ("H₂O", "CO₂,"): pdfium's runs' boxes end at their glyphs
            touching = line.x0 - last.x1 <= 0.2 * last.size
            ordinal = id(line) in letters and last.text[-1:].isdigit()
            joint = "" if touching and (after_script or ordinal or id(line) in glued) else " "
            after_script = ordinal or id(line) in glued
            text = last.text + joint + line.text
            merged[-1] = Line(
                text,
                last.x0,
                min(last.top, line.top),
                line.x1,
                max(last.bottom, line.bottom),
                last.baseline,
                _weighted_size(last, line),
                last.bold and line.bold,
            )
        else:
            merged.append(line)
            after_script = id(line) in glued
    return merged


_BASELINE = operator.attrgetter("baseline")


def _shares_a_baseline(ordered: list[Line]) -> bool:
    """Whether two neighbours of ``ordered`` (by baseline) lie on one visual line. Lines
    that do not share one are not joined by ``merge_same_baseline`` either (it asks for
    less: a quarter of their size apart), so its result is then ``ordered`` itself."""
    return any(
        below.baseline - above.baseline <= 0.3 * max(below.size, above.size, 1)
        for above, below in itertools.pairwise(ordered)
    )


def _baseline_groups(lines: list[Line]) -> list[list[Line]]:
    """Lines by visual line, top to bottom: sorted by baseline, a line joins the group whose
    first line's baseline lies within a third of their size; each group left to right."""
    groups: list[list[Line]] = []
    for line in sorted(lines, key=lambda line: line.baseline):
        head = groups[-1][0] if groups else None
        if head is not None and line.baseline - head.baseline <= 0.3 * max(line.size, head.size):
            groups[-1].append(line)
        else:
            groups.append([line])
    for group in groups:
        if len(group) > 1:
            group.sort(key=lambda line: line.x0)
    return groups


_SCRIPT_CHARS = "0123456789+-=()"
_SUPERSCRIPT = str.maketrans(
    _SCRIPT_CHARS,
    "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079\u207a\u207b\u207c\u207d\u207e",
)
_SUBSCRIPT = str.maketrans(
    _SCRIPT_CHARS,
    "\u2080\u2081\u2082\u2083\u2084\u2085\u2086\u2087\u2088\u2089\u208a\u208b\u208c\u208d\u208e",
)


SCRIPT_SIZE = 0.85
"""A superscript or subscript is set at most this share of its line's size: browsers set
``<sup>`` and ``<sub>`` a sixth smaller (0.83), word processors and TeX smaller still."""


def as_script(text: str, raised: bool) -> str:
    """Digits (and + - = ( )) set small and raised as superscripts, lowered as subscripts
    ("m²", "10⁸", "H₂O", a footnote mark "¹²"): joined into their line as plain digits they
    would change the number. Other text is left as it is."""
    if not text or any(ch not in _SCRIPT_CHARS for ch in text):
        return text
    return text.translate(_SUPERSCRIPT if raised else _SUBSCRIPT)


def _scripts(lines: list[Line]) -> dict[int, Line]:
    """Superscripts and subscripts (a footnote mark, an exponent): short runs set at most
    ``SCRIPT_SIZE`` of the size of a line they sit beside (touching its end, or before its
    start with up to half a size between: a footnote's mark), raised or lowered by up to
    0.6 of its size (reportlab and word processors move them half a size), moved onto the
    baseline of the nearest such line (keyed by the id of the run they replace; the
    values' ids mark them as scripts). pdfium gives them runs of their own, which a
    raised baseline would sort out of line, or into a line of their own between two."""
    if len(lines) < 2:
        return {}
    sizes = [line.size for line in lines]
    largest = max(sizes)
    if min(sizes) > SCRIPT_SIZE * largest:
        return {}
    moved: dict[int, Line] = {}
    for script in lines:
        if len(script.text) > 4 or script.size > SCRIPT_SIZE * largest:
            continue
        hosts = [
            host
            for host in lines
            if script.size <= SCRIPT_SIZE * host.size
            and host.top - 0.6 * host.size <= script.top
            and script.bottom <= host.bottom + 0.6 * host.size
            and (
                abs(script.x0 - host.x1) <= 0.3 * host.size
                or -0.3 * host.size <= host.x0 - script.x1 <= 0.5 * host.size
            )
        ]
        if not hosts:
            continue
        host = min(hosts, key=lambda host: abs(host.baseline - script.baseline))
        shift = host.baseline - script.baseline  # top-down: raised is positive
        if abs(shift) <= 0.15 * host.size:
            continue  # on the host's baseline, only smaller (small caps): no script
        values = list(script.values())
        values[0] = as_script(script.text, shift > 0)
        values[5] = host.baseline
        moved[id(script)] = Line(*values)
    return moved


def _weighted_size(a: Line, b: Line) -> float:
    """The size of the longer part: a bullet glyph must not change the line's size."""
    return a.size if len(a.text) >= len(b.text) else b.size


# --- reading order ---------------------------------------------------------------------------


def reading_order(
    lines: list[Line],
    rules: list[Rule] = (),  # type: ignore[assignment]
    marks: list[Rule] = (),  # type: ignore[assignment]
) -> list[Item]:
    """Order a page's lines for reading: tables (found from ruling lines) become Table
    items, the rest is cut recursively at the widest empty gap, vertical gaps splitting
    columns (left before right) and horizontal gaps splitting bands (top before bottom).
    ``marks``: small shapes (``Rule.mark``), bullets where they stand before a line."""
    lines = [line for line in lines if line.text]
    if not lines:
        return []
    lines = without_drop_caps(lines)
    items: list[Line | Table] = list(lines)
    for table, members in find_tables(lines, list(rules), list(marks)):
        member_ids = {id(line) for line in members}
        items = [item for item in items if id(item) not in member_ids]
        items.append(table)
    if marks:  # a table's cells are no list's items (a status column's coloured dots)
        with_drawn_bullets([item for item in items if isinstance(item, Line)], marks)
    sizes = [line.size for line in lines if line.size > 0]
    unit = statistics.median(sizes) if sizes else 10.0
    ordered: list[Item] = []
    regions = _cut(items, unit, paragraph_gap(lines, unit))
    for region, group in enumerate(regions):
        for item in group:
            item.region = region
            ordered.append(item)
    return ordered


def without_drop_caps(lines: list[Line]) -> list[Line]:
    """A drop cap (a paragraph's first letter set two lines high or more, the lines beside
    it) joined to the first line beside it: read as a line of its own it became a heading,
    or was joined into the second line, whose baseline it shares ("nce upon a time … O
    paragraph").

    A cap is one or two characters ending in a letter, at least twice the size of the
    lines beside it: two of them or more start right after it (within twice their size),
    the first level with its top (within its size); a large letter beside one line (a
    question's "Q") is no cap. The topmost line beside it takes it, without a blank where
    it goes on in lower case ("O" + "nce"), except where "A" or "I" is a word of its own
    before one of the words that usually follow it (``_AFTER_A_OR_I``: "A long time",
    "I was"; but "I" + "nitial", "A" + "nother"). A large letter beside two lines or more
    that is no cap (a grade beside its remark) is taken for one: nothing on the page
    tells the two apart."""
    caps = [line for line in lines if len(line.text) <= 2 and line.text[-1:].isalpha()]
    if not caps:
        return lines
    taken: set[int] = set()
    for cap in caps:
        beside = []
        for line in lines:
            size = max(line.size, 1.0)
            if (
                line is not cap
                and cap.size >= 2 * size
                and cap.top - size <= line.top <= cap.bottom
                and -0.1 * size <= line.x0 - cap.x1 <= 2 * size
            ):
                beside.append(line)
        if len(beside) < 2:
            continue
        first = min(beside, key=lambda line: line.top)
        if abs(first.top - cap.top) > max(first.size, 1.0):
            continue
        word = first.text.split(" ", 1)[0].rstrip(",;:.!?")
        glued = first.text[:1].islower() and not (cap.text in {"A", "I"} and word in _AFTER_A_OR_I)
        first.text = cap.text + ("" if glued else " ") + first.text
        for line in beside:  # set in only to make room for the cap: no indent of their own
            line.x0 = min(line.x0, cap.x0)
        taken.add(id(cap))
    return [line for line in lines if id(line) not in taken] if taken else lines


_AFTER_A_OR_I = frozenset((
    "am", "was", "had", "have", "will", "would", "could", "should", "shall", "can", "do",
    "did", "must", "might", "may", "never", "always", "often", "once", "still", "also", "only",
    "just", "then", "think", "thought", "know", "knew", "remember", "saw", "see", "met",
    "came", "come", "went", "go", "found", "find", "felt", "feel", "love", "loved", "want",
    "wanted", "wish", "hope", "believe", "said", "say", "tell", "told", "long", "short",
    "small", "little", "large", "big", "great", "good", "new", "old", "few", "young", "single",
    "man", "woman", "boy", "girl", "child", "king", "queen", "day", "night", "year", "time",
    "week", "morning", "friend", "house", "city", "town", "world", "story", "dark", "bright",
    "cold", "warm", "hot",
))  # fmt: skip
"""Words that usually follow "A" or "I" as a word of its own, after a drop cap."""


BULLET = "\u2022"


def with_drawn_bullets(lines: list[Line], marks: list[Rule]) -> None:
    """Lines that a mark (``Rule.mark``) stands before, as a list's bullet drawn as a shape
    does, start with a bullet character, and their box with the mark: the text layer has
    no character for such a bullet, and its items would run together into one paragraph.

    A mark counts where it is a sixth to three quarters of the line's size wide, lies
    beside the line's middle and ends a tenth of its size to twice its size before the
    line starts (the nearest such line takes it), where no text stands within twice that
    size before it on the line (an icon inside a sentence, "Phone ■ +49 …"), where the
    line is not set larger than most (an icon before a heading), and where another such
    mark stands in line with it, above or below, or it stands right of one just above (a
    sub-list of one item): a list has two items or more, a lone icon or a checked box is
    no list."""
    if len(marks) < 2 or not lines:
        return
    unit = statistics.median(line.size for line in lines)
    found: list[tuple[Rule, Line]] = []
    for mark in marks:
        middle = (mark.top + mark.bottom) / 2
        width = mark.x1 - mark.x0
        nearest: Line | None = None
        for line in lines:
            size = max(line.size, 1.0)
            gap = line.x0 - mark.x1
            if (
                0.1 * size <= gap <= 2.0 * size
                and size / 6 <= width <= 0.75 * size
                and line.top <= middle <= line.bottom
                and (nearest is None or gap < nearest.x0 - mark.x1)
            ):
                nearest = line
        if nearest is None or nearest.size > 1.1 * unit or nearest.text.startswith(BULLET):
            continue
        reach = 2 * max(nearest.size, 1.0)
        if not any(
            mark.x0 - reach <= line.x1 <= mark.x0 + 0.5
            and abs(line.baseline - nearest.baseline) <= 0.3 * reach
            for line in lines
        ):
            found.append((mark, nearest))
    nearest_mark: dict[int, tuple[Rule, Line]] = {}
    for mark, line in found:  # a line takes one mark, the nearest (not the dots before it)
        if id(line) not in nearest_mark or mark.x1 > nearest_mark[id(line)][0].x1:
            nearest_mark[id(line)] = (mark, line)
    found = sorted(nearest_mark.values(), key=lambda pair: pair[1].baseline)
    items = [
        (mark, line)
        for mark, line in found
        if any(other is not mark and abs(other.x0 - mark.x0) <= 1.5 for other, _ in found)
    ]
    for mark, line in found:  # one item nested under an item (a sub-list of one)
        reach = 4 * max(line.size, 1.0)
        if (mark, line) not in items and any(
            other.x0 < mark.x0 and 0 < line.baseline - above.baseline <= reach
            for other, above in items
        ):
            items.append((mark, line))
    for mark, line in items:
        line.text = f"{BULLET} {line.text}"
        line.x0 = mark.x0


def _gaps(spans: list[tuple[float, float]], minimum: float) -> list[tuple[float, float]]:
    """Empty intervals of at least ``minimum`` between the covered ``spans``."""
    gaps = []
    spans = sorted(spans)
    reach = spans[0][1]
    for start, end in spans[1:]:
        if start - reach >= minimum:
            gaps.append((reach, start))
        if end > reach:
            reach = end
    return gaps


def paragraph_gap(lines: list[Line], unit: float) -> float:
    """The empty space between two lines, one above the other, from which they belong to
    different paragraphs: 0.7 of the body text size; on a page set with wide line spacing
    (one and a half or double, as drafts and theses are: the usual space between lines is
    half the size or more), 0.35 of the size more than the usual space, so that the lines
    of a paragraph stay together. The usual space (``usual_spacing``) is found among pairs
    of lines of one size that overlap side to side; lines are boxed by their font's
    height, so that space is the same wherever the line spacing is."""
    ordered = sorted(lines, key=lambda line: line.top)
    samples = []
    for above, below in itertools.pairwise(ordered):
        if below.x0 < above.x1 and above.x0 < below.x1 and abs(above.size - below.size) < 0.5:
            space = below.top - above.bottom
            if space > 0:
                samples.append((float(round(space)), above))
    least = 0.7 * unit
    usual = usual_spacing(samples, 0.5 * unit)
    return least if usual is None else max(least, usual + 0.35 * unit + 0.5)


def usual_spacing(samples: list[tuple[float, Line]], wide: float) -> float | None:
    """The spacing between the lines of a paragraph, from ``samples`` of (spacing, upper
    line) for neighbouring lines: the smallest spacing at least a quarter of them have, if
    the upper lines with it look wrapped: a third of them or more end within a sentence, and
    those are full (on average 0.7 of the widest line; short lines of dialogue do not
    count). Else None: one-line paragraphs spaced apart (a letter's salutation, its
    sentences, its signature) are no paragraph set wide. Spacings under ``wide`` are
    single spacing: None."""
    if not samples:
        return None
    uppers: dict[float, list[Line]] = {}
    for spacing, line in samples:
        uppers.setdefault(spacing, []).append(line)
    common = [key for key in sorted(uppers) if len(uppers[key]) >= max(3, 0.25 * len(samples))]
    if not common or common[0] < wide:  # single spacing, the usual: nothing to tell apart
        return None
    lines = uppers[common[0]]
    running = [line for line in lines if not ends_sentence(line.text)]
    if len(running) < len(lines) / 3:
        return None
    widest = max(line.x1 - line.x0 for _, line in samples)
    full = statistics.fmean(line.x1 - line.x0 for line in running) >= 0.7 * widest
    return common[0] if full else None


def ends_sentence(text: str) -> bool:
    """Whether a line ends a sentence, closing quotes and brackets and a footnote's mark
    after its end ('… he said."', "… capitalism.¹²") aside."""
    return text.rstrip(_CLOSING).endswith(_SENTENCE_END)


def trails_off(text: str) -> bool:
    """Whether a line ends a sentence (``ends_sentence``) or one that breaks off ("…",
    "—"), as a paragraph's last line may, though a line in mid-sentence may too."""
    return text.rstrip(_CLOSING).endswith(_TRAILING_END)


_SENTENCE_END = (".", "!", "?", ":")
_TRAILING_END = (*_SENTENCE_END, "\u2026", "\u2014", "\u2013")
_CLOSING = (
    "\"'\u201c\u201d\u2019\u00bb\u00ab)"
    "\u00b9\u00b2\u00b3\u2070\u2074\u2075\u2076\u2077\u2078\u2079*\u2020\u2021"  # marks: ¹ * † ‡
)


def _cut(items: list[Item], unit: float, paragraph: float) -> list[list[Item]]:
    """Recursive XY-cut at the single widest gap; a group with no gap of at least
    ``paragraph`` (``paragraph_gap``) is a leaf, read line by line."""
    if len(items) <= 1:
        return [items] if items else []
    horizontal = _gaps([(item.top, item.bottom) for item in items], 0.0)
    best_h = max(horizontal, key=lambda g: g[1] - g[0], default=None)
    width_h = best_h[1] - best_h[0] if best_h else -1.0
    column_gap = max(0.9 * unit, 6.0)
    vertical = _gaps([(item.x0, item.x1) for item in items], column_gap)
    if not vertical and width_h >= paragraph:
        bands = _bands(items, paragraph, column_gap)
        if bands is not None:
            return [group for band in bands for group in _leaf(band)]
    for gap in sorted(vertical, key=lambda g: g[0] - g[1]):
        if gap[1] - gap[0] < width_h:
            break
        middle = (gap[0] + gap[1]) / 2
        first = [item for item in items if item.x1 <= middle]
        second = [item for item in items if item.x1 > middle]
        if _is_column_cut(first, second):
            return _cut(first, unit, paragraph) + _cut(second, unit, paragraph)
    if best_h is not None and (width_h >= paragraph or any(isinstance(i, Table) for i in items)):
        middle = (best_h[0] + best_h[1]) / 2
        first = [item for item in items if item.bottom <= middle]
        second = [item for item in items if item.bottom > middle]
        return _cut(first, unit, paragraph) + _cut(second, unit, paragraph)
    return _leaf(items)


def _leaf(items: list[Item]) -> list[list[Item]]:
    """A group read line by line: pieces of a line joined, top to bottom, left to right.
    Rows of pieces set far apart (a form's labels and values, a table of contents) are
    read across, each row a group of its own: one line, one paragraph (``_is_form``).
    Other rows with pieces apart (a justified line whose words the engine split at its
    wide gaps) are lines of the group like the others."""
    leaf_lines = [item for item in items if isinstance(item, Line)]
    tables = [item for item in items if isinstance(item, Table)]
    ordered: list[Item] = list(merge_same_baseline(leaf_lines))
    if not tables:
        if len(ordered) > 1 and _shares_a_baseline(ordered):  # type: ignore[arg-type]
            rows = _baseline_groups(ordered)  # type: ignore[arg-type]
            joined = [_row_line(row) for row in rows]
            if _is_form(rows):
                return [[row] for row in joined]
            return [joined]  # type: ignore[list-item]
        return [ordered]  # by baseline already, no two on one visual line
    ordered.extend(tables)
    ordered.sort(key=lambda item: (item.top if isinstance(item, Table) else item.baseline, item.x0))
    return [ordered]


def _is_form(rows: list[list[Line]]) -> bool:
    """Whether visual lines (``_baseline_groups``) are a form's or a table of contents'
    rows: half of them have pieces side by side, two do or there is only one row, and the
    last pieces of those are a column: they start at one place (a form's values) or are
    page numbers. Not justified text split at its wide gaps: its rows end flush at the
    margin, where a row without gaps ends too."""
    split = [row for row in rows if len(row) > 1]
    if not split or len(split) < 0.5 * len(rows) or (len(split) < 2 and len(rows) > 1):
        return False
    margin = max(row[-1].x1 for row in rows)
    if all(margin - row[-1].x1 <= 1.0 for row in split) and any(
        len(row) == 1 and margin - row[0].x1 <= 1.0 for row in rows
    ):
        return False
    lasts = [row[-1] for row in split]
    starts = sorted(line.x0 for line in lasts)
    aligned = starts[-1] - starts[0] <= 0.5 * max(line.size for line in lasts)
    numbers = all(_PAGE_REFERENCE.match(line.text) for line in lasts)
    return len(split) == 1 or aligned or numbers


_PAGE_REFERENCE = re.compile(r"^(?:\d{1,4}|[ivxlc]{1,7})$", re.IGNORECASE)


def _row_line(row: list[Line]) -> Line:
    """The pieces of a visual line (left to right) as one line across their gaps."""
    if len(row) == 1:
        return row[0]
    first = row[0]
    longest = max(row, key=lambda line: len(line.text))
    return Line(
        " ".join(line.text for line in row),
        first.x0,
        min(line.top for line in row),
        row[-1].x1,
        max(line.bottom for line in row),
        first.baseline,
        longest.size,
        all(line.bold for line in row),
    )


def _bands(items: list[Item], paragraph_gap: float, column_gap: float) -> list[list[Item]] | None:
    """The leaves ``_cut`` reaches by cutting at the widest horizontal gap again and again,
    found in one pass: the bands between all horizontal gaps of at least ``paragraph_gap``.

    That holds while no group of consecutive bands has a vertical gap of ``column_gap``
    (no column cut can happen on the way), which is so when no band has one inside and no
    two neighbouring bands lie that far apart side by side (a gap in a group of bands
    would lie between two neighbours, one on each side of it); and while there are no
    tables (cut at narrower gaps). Otherwise None, and ``_cut`` goes on one cut at a time.
    One pass instead of one cut per paragraph."""
    ordered = sorted(items, key=lambda item: item.top)
    bands: list[list[Item]] = []
    reach = float("-inf")
    for item in ordered:
        if isinstance(item, Table):
            return None
        if item.top - reach >= paragraph_gap:
            bands.append([])
        bands[-1].append(item)
        reach = max(reach, item.bottom)
    previous: tuple[float, float] | None = None
    for band in bands:
        if len(band) > 1 and _gaps([(item.x0, item.x1) for item in band], column_gap):
            return None
        extent = (min(item.x0 for item in band), max(item.x1 for item in band))
        if previous and max(previous[0], extent[0]) - min(previous[1], extent[1]) >= column_gap:
            return None
        previous = extent
    return bands


def _is_column_cut(first: list[Item], second: list[Item]) -> bool:
    """A vertical gap separates columns, not bullets from their items nor the labels of a
    form (short, ending in a colon) or an unruled table of short cells from their values:
    those are read across, row by row. Nor does a line or two set apart beside a column
    (a letter's date at the right, an amount) make a column of its own."""
    left = [item for item in first if isinstance(item, Line)]
    right = [item for item in second if isinstance(item, Line)]
    if not left or not right:
        return True
    small = left if len(left) <= len(right) else right
    if (
        len(small) <= 2
        and len(left) + len(right) - len(small) >= 4
        and all(len(line.text) <= 25 for line in small)
        and not any(isinstance(item, Table) for item in first + second)
    ):
        return False  # a short line or two set apart (a date, an amount): read in place
    if all(len(line.text) <= 3 for line in left) or all(len(line.text) <= 3 for line in right):
        return False
    baselines = {round(line.baseline) for line in right}
    aligned = sum(1 for line in left if {round(line.baseline) + d for d in (-1, 0, 1)} & baselines)
    if aligned < 0.8 * min(len(left), len(right)) or _running_text(left):
        return True
    short = statistics.mean(len(line.text) for line in left + right) < 25
    labels = statistics.mean(len(line.text) for line in left) < 25 and (
        sum(line.text.endswith(":") for line in left) >= 0.5 * len(left)
    )
    return not (short or labels)


def _running_text(lines: list[Line]) -> bool:
    """Lines that continue one another, as a narrow column's do: at least a third of them
    are followed by a line starting in lower case. A table's or a form's cells are not."""
    ordered = sorted(lines, key=lambda line: line.baseline)
    pairs = len(ordered) - 1
    if pairs < 3:
        return False
    continued = sum(1 for line in ordered[1:] if line.text[:1].islower())
    return continued >= pairs / 3


# --- tables ----------------------------------------------------------------------------------


def find_tables(
    lines: list[Line],
    rules: list[Rule],
    marks: list[Rule] = (),  # type: ignore[assignment]
) -> list[tuple[Table, list[Line]]]:
    """Ruled tables: at least three horizontal rules of the same extent with text between
    them; each band between two rules is a row, split into cells at the vertical rules (or,
    without those, at the gaps between the texts). A rule drawn in pieces (a browser draws
    a table's collapsed borders cell by cell) counts as one. ``marks``: bullets drawn as
    shapes, of a list inside a cell (``_cell_bullets``)."""
    rules = _joined_rules(rules)
    horizontal = sorted((rule for rule in rules if rule.horizontal), key=lambda r: r.top)
    groups: list[list[Rule]] = []
    for rule in horizontal:
        for group in groups:
            head = group[0]
            if abs(head.x0 - rule.x0) <= 3 and abs(head.x1 - rule.x1) <= 3:
                if abs(group[-1].top - rule.top) > 1:
                    group.append(rule)
                break
        else:
            groups.append([rule])
    verticals_all = [rule for rule in rules if rule.vertical]
    groups = [part for group in groups for part in _split_at_gaps(group, verticals_all)]
    found: list[tuple[Table, list[Line]]] = []
    used: set[int] = set()
    for group in groups:
        if len(group) < 3:
            continue
        x0, x1 = group[0].x0, group[0].x1
        top, bottom = group[0].top, group[-1].bottom
        inside = [
            line
            for line in lines
            if id(line) not in used
            and line.x0 >= x0 - 2
            and line.x1 <= x1 + 2
            and line.top >= top - 2
            and line.bottom <= bottom + 2
        ]
        if not inside:
            continue
        verticals = sorted(
            {
                round(rule.x0)
                for rule in verticals_all
                if rule.top <= top + 3 and rule.bottom >= bottom - 3 and x0 + 3 < rule.x0 < x1 - 3
            }
        )
        ruled_across = not verticals
        if ruled_across:  # the columns are where no row has text
            size = statistics.median(line.size for line in inside)
            gaps = _gaps([(line.x0, line.x1) for line in inside], 0.5 * size)
            verticals = [round((start + end) / 2) for start, end in gaps]
        rows: list[list[str]] = []
        for upper, lower in itertools.pairwise(group):
            band = [
                line
                for line in inside
                if line.top >= upper.top - 2
                and line.bottom <= lower.bottom + 2
                and (line.top + line.bottom) / 2 < lower.top
            ]
            band = [line for line in band if (line.top + line.bottom) / 2 > upper.top]
            if not band:
                continue
            if marks:
                _cell_bullets(band, verticals, marks)
            rows.extend(
                _band_rows(band, verticals, ruled_across) if rows else [_cells(band, verticals)]
            )
        if len(rows) < 2 or max(len(row) for row in rows) < 2:
            continue
        if ruled_across and 4 * sum(map(_paragraph_row, rows)) >= len(rows):
            continue  # text between underlined headings, no table
        used.update(id(line) for line in inside)
        found.append((Table(rows, x0, top, x1, bottom), inside))
    return found


def _cell_bullets(band: list[Line], verticals: list[int], marks: list[Rule]) -> None:
    """A list inside a cell (a plan's features in a pricing table) keeps its drawn bullets
    (``with_drawn_bullets``), so that its items stay apart in the cell's text: "• 10 GB
    • 1 user", not "10 GB 1 user". Column by column in a row, where a line of the column
    has no text beside it in the row (its cell's next item): a status column's dots stand
    each beside its row's label, one in a cell (several in a band where only the table's
    head and foot are ruled), and are no bullets."""
    columns: dict[int, list[Line]] = {}
    for line in band:
        columns.setdefault(bisect.bisect(verticals, (line.x0 + line.x1) / 2), []).append(line)
    for members in columns.values():
        if len(members) < 2:
            continue
        own = {id(line) for line in members}
        beside = [line.baseline for line in band if id(line) not in own]
        if any(
            all(abs(baseline - line.baseline) > 0.3 * max(line.size, 1.0) for baseline in beside)
            for line in members
        ):
            with_drawn_bullets(members, marks)


def _paragraph_row(row: list[str]) -> bool:
    """A "row" of one cell holding more than eight words: a paragraph, not a table's row
    (a group's label or a row with empty cells holds a word or two)."""
    return sum(map(bool, row)) < 2 and len(" ".join(row).split()) > 8


def _joined_rules(rules: list[Rule]) -> list[Rule]:
    """Horizontal rules on one line that touch or overlap end to end, and vertical ones
    likewise, as one rule each; rules that are neither are left out (tables are made of
    these two kinds only). Vertical rules are joined as horizontal ones, transposed."""
    down = _joined_across([_transposed(rule) for rule in rules if rule.vertical])
    return _joined_across([rule for rule in rules if rule.horizontal]) + [
        _transposed(rule) for rule in down
    ]


def _joined_across(rules: list[Rule]) -> list[Rule]:
    joined: list[Rule] = []
    for rule in sorted(rules, key=lambda r: (round(r.top), r.x0)):
        last = joined[-1] if joined else None
        if (
            last is not None
            and abs(last.top - rule.top) <= 1
            and abs(last.bottom - rule.bottom) <= 1
            and rule.x0 <= last.x1 + 2
        ):
            last.x1 = max(last.x1, rule.x1)
        else:
            joined.append(Rule(rule.x0, rule.top, rule.x1, rule.bottom))
    return joined


def _transposed(rule: Rule) -> Rule:
    return Rule(rule.top, rule.x0, rule.bottom, rule.x1)


def _split_at_gaps(group: list[Rule], verticals: list[Rule]) -> list[list[Rule]]:
    """Rules of one extent (sorted top to bottom) as the tables they belong to. Spaces
    between them that vertical rules cross (a grid) and spaces none crosses are apart; and
    among the latter, a space more than 2.5 times as tall as the usual one is not a row but
    what lies between two tables, or between a table and a footer rule of the same width."""
    if len(group) < 3:
        return [group]
    bands = list(itertools.pairwise(group))
    crossed = [
        any(
            rule.top <= upper.top + 3 and rule.bottom >= lower.top - 3
            and upper.x0 - 3 <= rule.x0 <= upper.x1 + 3
            for rule in verticals
        )
        for upper, lower in bands
    ]  # fmt: skip
    runs: list[tuple[bool, list[Rule]]] = [(crossed[0], [group[0], group[1]])]
    for number in range(1, len(bands)):
        if crossed[number] == crossed[number - 1]:
            runs[-1][1].append(group[number + 1])
        else:  # the rule between them closes one and opens the other
            runs.append((crossed[number], [group[number], group[number + 1]]))
    parts: list[list[Rule]] = []
    for grid, run in runs:
        if grid or len(run) < 3:
            parts.append(run)
            continue
        heights = [lower.top - upper.top for upper, lower in itertools.pairwise(run)]
        usual = statistics.median(heights)
        parts.append([run[0]])
        for lower, height in zip(run[1:], heights, strict=True):
            if height > 2.5 * usual:
                parts.append([lower])
            else:
                parts[-1].append(lower)
    return parts


def _band_rows(band: list[Line], verticals: list[int], ruled_across: bool) -> list[list[str]]:
    """The rows of the space between two rules below the header: one, or several when the
    table rules only its head and foot (top, under the header, bottom). With columns ruled
    too, a band is split only where every visual line fills every column. Ruled across
    only, a visual line starts a row where its first cell and another are filled (a row's
    label and a value; other cells may be empty), and a line that does not goes on with
    the row above it, cell by cell (a cell wrapped onto a second line); a raised mark
    counts on the line it is set on. A header whose every cell wraps is one row: the
    header band is not split."""
    moved = _scripts(band)
    groups = _baseline_groups([moved.get(id(line), line) for line in band])
    original = {id(moved.get(id(line), line)): line for line in band}
    lines = [[original[id(line)] for line in group] for group in groups]
    if len(lines) > 1:
        rows = [_cells(members, verticals) for members in lines]
        width = len(rows[0])
        if width < 2 or any(len(row) != width for row in rows):
            return [_cells(band, verticals)]
        if not ruled_across:
            return rows if all(all(row) for row in rows) else [_cells(band, verticals)]
        starts = [bool(row[0]) and sum(map(bool, row)) >= 2 for row in rows]
        if starts[0] and sum(starts) > 1:
            merged: list[list[str]] = []
            for row, start in zip(rows, starts, strict=True):
                if start:
                    merged.append(row)
                else:
                    pairs = zip(merged[-1], row, strict=True)
                    merged[-1] = [join_lines([above, cell]) for above, cell in pairs]
            return merged
    return [_cells(band, verticals)]


def _cells(band: list[Line], verticals: list[int]) -> list[str]:
    """A row's cells, each cell's lines read as a leaf's are (``merge_same_baseline``): a
    unit's raised "3" stays after its "m" ("5 m³"), not before the cell's text."""
    if verticals:
        edges = [float("-inf"), *verticals, float("inf")]
        cells = []
        for left, right in itertools.pairwise(edges):
            members = [line for line in band if left <= (line.x0 + line.x1) / 2 < right]
            cells.append(join_lines([line.text for line in merge_same_baseline(members)]))
        return cells
    ordered = sorted(band, key=lambda line: line.x0)
    cells: list[list[Line]] = []
    for line in ordered:
        if cells and line.x0 <= max(member.x1 for member in cells[-1]) + 0.5 * line.size:
            cells[-1].append(line)
        else:
            cells.append([line])
    return [join_lines([member.text for member in merge_same_baseline(cell)]) for cell in cells]
