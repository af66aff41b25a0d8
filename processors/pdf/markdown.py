"""From ordered lines to Markdown: paragraphs, headings, lists and tables, with hyphenation
repaired and the headers and footers that repeat on every page removed.

A page's own part is done where the page was read, in its page process: ``page_text``
turns its layout into paragraphs plus the little the whole-document decisions need (the
lines near its top and bottom edges, its characters per text size). The job's process
then takes those decisions (the lines that repeat on most pages, the body text size that
makes a line a heading) and writes the Markdown: it never sees a page's lines, which kept
it busy with a third of the work while the page processes waited.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from processors.pdf.layout import (
    Item,
    Line,
    PageLayout,
    Table,
    ends_sentence,
    join_lines,
    trails_off,
    usual_spacing,
)

_BULLET = re.compile(
    r"^([\u2022\u25e6\u25aa\u25ab\u2023\u2043\u25cf\u25cb\u25a0\u25a1\u27a2"
    r"\u27a4\u25ba\u25b6\u2713\u2714\u00b7*\-\u2013\u2014])\s+(\S.*)$"
)
_NUMBERED = re.compile(r"^(\d{1,3}[.)]|[a-z]\))\s+(\S.*)$")
"""``1.``, ``1)``, ``a)``; not ``a.``, which starts sentences ("z. B.") more often than lists."""
_CLAUSE_ENDS = (".", ":", ";", "!", "?")
"""A numbered or dashed list item inside a paragraph must follow a line that ends like
this: else the line only happens to start with what looks like a marker."""
_RUNNING_MARKERS = frozenset("-*\u00b7\u2013\u2014abcdefghijklmnopqrstuvwxyz")
"""With the digits, markers that also occur in running text (dashes, "1. Januar",
"a) gelten"); a bullet glyph (•, ▪, ►, …) starts an item wherever it stands."""
_PAGE_NUMBER = re.compile(
    r"^(?:[-\u2013 ]*(?:#|[ivxlc]{1,7})[-\u2013 ]*"  # 4, - 4 -, iv
    r"|(?:seite|page|s\.|p\.)\s*#(?:\s*(?:von|of|/)\s*#)?|#\s*/\s*#)$"
)
_DIGITS = re.compile(r"\d+")
_ESCAPE_START = re.compile(r"^(#|>|[-+*]\s|=+$|-+$)")
_INLINE = re.compile(r"[\\*`\[]|(?<![^\W_])_|_(?![^\W_])|<(?=[A-Za-z/!?])|&(?=#?\w+;)|~(?=~)")
"""What would start emphasis, code, a link, an HTML tag or an entity inside a line: a
backslash, ``*``, a backtick, ``[``, ``_`` not between two letters or digits
(``snake_case`` is safe), ``<`` before a letter, ``&`` before an entity name, ``~~``."""
_LEADER_END = re.compile(r"(?:\.\s?){5,}\s*[\divxlc]+$|\u2026\s*[\divxlc]+$")
"""A line of a table of contents: dot leaders and a page number. It ends its entry."""


def _ends_an_entry(text: str) -> bool:
    """A table of contents' line (``_LEADER_END``); the regular expression only for lines
    that end in a page number and hold dots, as few do."""
    return (
        text[-1:] in _PAGE_NUMBER_ENDS
        and (".." in text or ". ." in text or "\u2026" in text)
        and _LEADER_END.search(text) is not None
    )


_PAGE_NUMBER_ENDS = frozenset("0123456789ivxlc")
_INLINE_CANDIDATE = re.compile(r"[\\*`\[_<&~]")
_ORDERED_START = re.compile(r"^(\d{1,9})[.)](\s|$)")
_SYNTAX_FIRST = frozenset("#>-+*=")
"""With the digits (``str.isdecimal``), the first characters ``_ESCAPE_START`` and
``_ORDERED_START`` can match."""
_CHECKBOX = re.compile(r"^[\u2610\u2611\u2612]\s+\S")
"""A checklist's item: ☐, ☑ or ☒ and its text. The box stays in the text (it says whether
the item is ticked); the item is a list item all the same."""
_LIST_FIRST = frozenset(
    "\u2022\u25e6\u25aa\u25ab\u2023\u2043\u25cf\u25cb\u25a0\u25a1\u27a2\u27a4\u25ba\u25b6\u2713\u2714"
    "\u00b7*-\u2013\u2014\u2610\u2611\u2612abcdefghijklmnopqrstuvwxyz"
)
"""With the digits, the first characters ``_BULLET``, ``_CHECKBOX`` and ``_NUMBERED`` can
match."""


@dataclass
class Paragraph:
    kind: str
    """"p", "h" (heading), "li" (bullet item), "ol" (numbered item), "table"."""
    text: str = ""
    """Its lines joined (hyphenation repaired), the list marker taken off."""
    size: float = 0.0
    """The largest text size among its lines."""
    bold: bool = False
    """Every line bold."""
    lines: int = 0
    marker: str = ""
    table: Table | None = None
    first: int = 0
    last: int = 0
    """The indexes of its first and last item in the page's reading order."""
    left: float = 0.0
    """Where its first line starts (a list item's marker): how deep a list item is nested."""

    def __reduce__(self) -> tuple[type[Paragraph], tuple[Any, ...]]:
        """Pickled as its values, like Line: every page sends its paragraphs."""
        return Paragraph, (
            self.kind, self.text, self.size, self.bold, self.lines, self.marker, self.table,
            self.first, self.last, self.left,
        )  # fmt: skip


# --- a page, in its page process -------------------------------------------------------------


@dataclass
class PageText:
    """A page as the job's process needs it."""

    source: str
    """"native" or "ocr": sizes of OCR lines are estimates and are compared among themselves."""
    paragraphs: list[Paragraph]
    edges: list[tuple[int, str, float, int, tuple[str, ...], float]]
    """The lines near the top and bottom edge, where headers and footers are: item index,
    text as compared across pages (``_key``), rounded size, characters, the numbers in
    the text (which the key leaves out), and where it stands: its distance from the top,
    or minus its distance from the bottom."""
    sizes: dict[float, int]
    """Characters per rounded text size, over all lines."""
    items: list[tuple[Any, ...] | Table] | None
    """The items in reading order (lines as tuples, which cost next to nothing to send),
    to paragraph the page again when a header or footer is removed from the middle of a
    paragraph. None where that cannot happen (``_alone_at_the_ends``): they were half of
    what a page sent to the job's process."""


def page_text(layout: PageLayout) -> PageText:
    band = max(0.08 * layout.height, 36.0)
    edges: list[tuple[int, str, float, int, tuple[str, ...], float]] = []
    sizes: dict[float, int] = {}
    items: list[tuple[Any, ...] | Table] = []
    for index, item in enumerate(layout.items):
        if isinstance(item, Table):
            items.append(item)
            continue
        items.append(item.values())
        size = _rounded(item.size)
        sizes[size] = sizes.get(size, 0) + len(item.text)
        if item.bottom <= band or item.top >= layout.height - band:
            numbers = tuple(_DIGITS.findall(item.text))
            place = item.top if item.bottom <= band else item.bottom - layout.height
            edges.append((index, _key(item.text), size, len(item.text), numbers, place))
    paragraphs = _paragraphs(layout.items, layout.source, _body_size(sizes))
    kept = None if _alone_at_the_ends(edges, paragraphs) else items
    return PageText(layout.source, paragraphs, edges, sizes, kept)


def _alone_at_the_ends(edges: list[tuple[Any, ...]], paragraphs: list[Paragraph]) -> bool:
    """Whether every line near an edge is a paragraph of its own, the page's first or
    last: whichever of them turn out to be headers or footers, ``remove_furniture`` only
    leaves out paragraphs and never paragraphs the page again."""
    if not paragraphs:
        return not edges
    ends = {(paragraphs[0].first, paragraphs[0].last), (paragraphs[-1].first, paragraphs[-1].last)}
    return all((index, index) in ends for index, *_ in edges)


def _rounded(size: float) -> float:
    return round(size * 2) / 2


def _body_size(sizes: dict[float, int]) -> float:
    """The size most of a page's characters are set in; 0 for a page without text."""
    return max(sizes, key=sizes.__getitem__) if sizes else 0.0


_FOOTNOTE = re.compile(r"^(?:\d{1,3}\s+|[\u00b9\u00b2\u00b3\u2070\u2074-\u2079]{1,3}\s*)[^\W\d_]")
"""A footnote's start: its number, as digits and a blank or as superscripts, then a word."""


def _starts_footnote(previous: Line | None, line: Line, body: float) -> bool:
    """Footnotes at the foot of a page, one under the other, set smaller than the page's
    body text: each starts with its number after the one before has ended a sentence."""
    return (
        previous is not None
        and line.size <= 0.9 * body
        and ends_sentence(previous.text)
        and _FOOTNOTE.match(line.text) is not None
    )


def _paragraphs(items: list[Item], source: str, body: float) -> list[Paragraph]:
    """``body``: the page's body text size (``_body_size``)."""
    found: list[Paragraph] = []
    lines: list[Line] = []
    kind, marker, first = "p", "", 0

    def close(last: int) -> None:
        if lines:
            found.append(
                Paragraph(
                    kind,
                    join_lines([line.text for line in lines]),
                    max(line.size for line in lines),
                    all(line.bold for line in lines),
                    len(lines),
                    marker,
                    None,
                    first,
                    last,
                    lines[0].x0,
                )
            )
            lines.clear()

    previous: Line | None = None
    above: Line | None = None
    """The line before ``previous`` in its region."""
    pitch = _pitch_limit(items) if source == "native" else 0.0
    margins: dict[int, tuple[float, float]] = {}  # each region's left and right edge
    for item in items:
        if isinstance(item, Line):
            left, right = margins.get(item.region, (item.x0, item.x1))
            margins[item.region] = (min(left, item.x0), max(right, item.x1))
    hanging = _hanging_regions(items)
    sequenced = _sequenced(items)
    for index, item in enumerate(items):
        if isinstance(item, Table):
            close(index - 1)
            found.append(Paragraph("table", table=item, first=index, last=index))
            previous = above = None
            continue
        line = item
        start = _list_start(line.text)
        breaks = (
            not lines
            or _breaks(previous, line, source, pitch)
            or (
                kind == "p"
                and line.region not in hanging
                and _indented(previous, line, items, index, margins)
            )
            or (kind == "p" and _term_or_entry(previous, line, lines, items, index, margins))
            or (
                kind == "p"
                and source == "native"
                and _ended_early(previous, line, lines, above, margins)
            )
            or (kind != "p" and _after_item(previous, line, lines, items, above, margins))
            or (source == "native" and _starts_footnote(previous, line, body))
        )
        if index in sequenced:
            start = "ol", sequenced[index]
        if (
            start
            and not breaks
            and kind == "p"
            and (index in sequenced or line.text[0] in _RUNNING_MARKERS or line.text[0].isdecimal())
            and not lines[-1].text.endswith(_CLAUSE_ENDS)
        ):
            start = None  # a date ("1. Januar"), a dash or "(ii)" wrapped to a line's start
        if breaks or start is not None:
            close(index - 1)
            kind, marker, first = "p", "", index
            if start is not None:
                kind, marker = start
                line = Line(*line.values())
                line.text = (
                    line.text[len(marker) :].lstrip()
                    if index in sequenced
                    else _strip_marker(line.text)
                )
        lines.append(line)
        above = previous if previous is not None and previous.region == item.region else None
        previous = item
    close(len(items) - 1)
    return found


_SEQUENCE_MARKER = re.compile(
    r"^(?:([a-zA-Z]|[ivxlcdm]{2,7}|[IVXLCDM]{2,7})[.)]"
    r"|\((?:[a-zA-Z]|[ivxlcdm]{2,7}|[IVXLCDM]{2,7}|\d{1,3})\)|\[\d{1,3}\])\s+\S"
)
"""A marker that running text starts lines with as well ("z. B.", "A. Smith", "(1)
gilt", "[12] showed"): ``a.``, ``B)``, ``iv.``, ``(c)``, ``(ii)``, ``(1)``, and a
numbered reference's ``[1]``. It starts an item only where it is one of a sequence
(``_sequenced``)."""
_ROMAN = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100, "d": 500, "m": 1000}


def _marker_shape(marker: str) -> str:
    """What items of one list share in their markers: brackets, delimiter and case."""
    return f"{marker[0] == '('}{marker[-1]}{marker.strip(_MARKER_PUNCTUATION).isupper()}"


def _marker_values(marker: str) -> set[tuple[str, int]]:
    """What a marker counts, as (style, value): "c." is the third letter and the roman
    hundred, "iv." only the roman four; the style keeps the brackets and the case."""
    body = marker.strip(_MARKER_PUNCTUATION)
    shape = _marker_shape(marker)
    values: set[tuple[str, int]] = set()
    if body.isdecimal():
        return {(f"{shape}1", int(body))}
    lower = body.lower()
    if len(lower) == 1:
        values.add((f"{shape}a", ord(lower) - ord("a") + 1))
    if all(char in _ROMAN for char in lower):
        numbers = [_ROMAN[char] for char in lower]
        pairs = zip(numbers, [*numbers[1:], 0], strict=True)
        value = sum(-n if n < after else n for n, after in pairs)  # "iv": 5 - 1
        values.add((f"{shape}i", value))
    return values


def _sequenced(items: list[Item]) -> dict[int, str]:
    """Lines that start with a lettered or roman item's marker (``_SEQUENCE_MARKER``),
    as the items of a list: each with the next line further down that starts with a
    marker of its shape ("(a)", "b.", "IV.") in line with it (within two text sizes,
    before the text goes back left of it), where that one counts on ("a." then "b.",
    "iv." then "v.", "(1)" then "(2)"); and only a sequence that starts at one ("a.",
    "i.", "(1)") or has three items. Alone, such a marker is as likely a sentence's start
    as a list's ("z. B.", "A. Smith"), and two initials that happen to follow in the
    alphabet ("J. Smith", "K. Jones") are no list. The line before an item must end like
    a list's item (``_ITEM_ENDS``) or end early (``_broken_early``): an enumeration inside
    a sentence, wrapped so that "(i)" and "(ii)" start lines, runs on as text wraps. The
    indexes, with their markers."""
    markers: dict[int, str] = {}
    lines: list[tuple[int, Line, str]] = []
    for index, item in enumerate(items):
        if isinstance(item, Line) and item.text[:1] in _SEQUENCE_FIRST:
            match = _SEQUENCE_MARKER.match(item.text)
            if match and (item.text[0] != "[" or _starts_an_entry(item.text)):
                marker = markers[index] = match.group().rsplit(None, 1)[0]
                lines.append((index, item, _marker_shape(marker)))
    links: dict[int, tuple[int, set[str]]] = {}
    for position, (index, line, shape) in enumerate(lines):
        size = max(line.size, 1.0)
        for later, other, other_shape in lines[position + 1 :]:
            if other_shape != shape or abs(other.x0 - line.x0) > 2 * size:
                continue
            between = items[index + 1 : later]
            if any(isinstance(item, Table) or item.x0 < line.x0 - 0.5 * size for item in between):
                break
            before = items[later - 1]
            # a reference ends a sentence; "[13] extended" goes on from "as Smith showed,"
            ended = ends_sentence if shape[1] == "]" else _ends_like_an_item
            if not isinstance(before, Line) or not (
                ended(before.text) or _broken_early(before, other, items, 2)
            ):
                break  # "… annotated with" / "(ii) reading order": an enumeration in a sentence
            following = _marker_values(markers[later])
            styles = {style for style, value in _marker_values(markers[index])
                      if (style, value + 1) in following}  # fmt: skip
            if styles:
                links[index] = (later, styles)
            break
    found: dict[int, str] = {}
    heads = set(links) - {later for later, _ in links.values()}
    for head in sorted(heads):
        chain, styles = [head], links[head][1]
        while chain[-1] in links and links[chain[-1]][1] & styles:
            later, shared = links[chain[-1]]
            chain.append(later)
            styles = styles & shared
        first = {value for style, value in _marker_values(markers[head]) if style in styles}
        if 1 in first or len(chain) >= 3:
            found.update((index, markers[index]) for index in chain)
    return found


_ITEM_ENDS = (*_CLAUSE_ENDS, ",")
_ENTRY_START = re.compile(r"[A-Z0-9\u00c0-\u00de\"\u201c\u201e\u00ab]")


def _starts_an_entry(text: str) -> bool:
    """Whether a line after a reference's "[n]" starts an entry: its first words hold a
    capital, a digit or a quote (authors, "van der Berg", a title, a year); a sentence that
    goes on after a citation ("[13] extended the idea") holds none so soon."""
    return _ENTRY_START.search(" ".join(text.split(None, 4)[1:4])) is not None


def _ends_like_an_item(text: str) -> bool:
    return text.endswith(_ITEM_ENDS)


def _broken_early(before: Line, line: Line, items: list[Item], words: int = 1) -> bool:
    """Whether ``before`` ends where the text did not have to wrap: the first ``words``
    of ``line`` (a marker and its first word are kept together, as "(ii)~reading" is)
    would have fit after it, short of where the lines of its column end at the furthest."""
    right = max(
        (
            item.x1
            for item in items
            if isinstance(item, Line) and item.x0 < before.x1 and before.x0 < item.x1
        ),
        default=before.x1,  # a line without width (a lone mark) overlaps none
    )
    return _fits_after(before, line, right, words)


def _fits_after(before: Line, line: Line, right: float, words: int) -> bool:
    """Whether the first ``words`` of ``line`` would fit after ``before`` short of
    ``right``, at ``line``'s mean character width."""
    width = (line.x1 - line.x0) / max(len(line.text), 1)
    first = " ".join(line.text.split(None, words)[:words])
    return before.x1 + (len(first) + 1) * width <= right


_SEQUENCE_FIRST = frozenset("([abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_MARKER_PUNCTUATION = "()[]."


def _list_start(text: str) -> tuple[str, str] | None:
    if text[:1] not in _LIST_FIRST and not text[:1].isdecimal():
        return None
    if _BULLET.match(text) or _CHECKBOX.match(text):
        return "li", "-"
    match = _NUMBERED.match(text)
    if match:
        return "ol", match.group(1)
    return None


def _strip_marker(text: str) -> str:
    if _CHECKBOX.match(text):
        return text
    match = _BULLET.match(text)
    if match:
        return match.group(2)
    match = _NUMBERED.match(text)
    return match.group(2) if match else text


def _breaks(previous: Line | None, line: Line, source: str, limit: float) -> bool:
    """``limit``: the distance from baseline to baseline, in text sizes, from which two
    lines are apart (``_pitch_limit``)."""
    if previous is None or line.region != previous.region:
        return True
    if source == "ocr":
        return False  # Tesseract's paragraphs are the regions
    size = max(previous.size, line.size, 1.0)
    pitch = line.baseline - previous.baseline
    if pitch <= 0 or pitch > limit * size or _ends_an_entry(previous.text):
        return True
    return abs(line.size - previous.size) > 0.15 * size or line.bold != previous.bold


def _pitch_limit(items: list[Item]) -> float:
    """1.55 text sizes from baseline to baseline; on a page whose lines are usually set
    further apart than that (one and a half or double spacing), 0.35 more than the usual
    distance, as ``layout.paragraph_gap`` does for the space between lines (the usual
    distance found the same way, ``layout.usual_spacing``, among neighbours in a region)."""
    samples = []
    previous: Item | None = None
    for item in items:
        if (
            isinstance(item, Line)
            and isinstance(previous, Line)
            and item.region == previous.region
            and item.baseline > previous.baseline
        ):
            key = round(20 * (item.baseline - previous.baseline) / max(item.size, 1.0)) / 20
            samples.append((key, previous))
        previous = item
    usual = usual_spacing(samples, 1.45)
    return 1.55 if usual is None else max(1.55, usual + 0.35)


def _after_item(
    previous: Line | None,
    line: Line,
    lines: list[Line],
    items: list[Item],
    above: Line | None,
    margins: dict[int, tuple[float, float]],
) -> bool:
    """The text after a list ("12.2 …" after item "(d) …"): ``line`` starts left of the
    item's marker after a line that ended a sentence early (``_broken_early``). An item
    whose marker is set in a first-line indent wraps back to the margin mid-sentence.
    Or ``line`` starts flush with the marker, after a line that ended a sentence where
    ``line``'s first two words would have fit (a list set without space after it): an
    item that wraps back under its marker does so where the next word did not fit."""
    if previous is None:
        return False
    size = max(line.size, 1.0)
    if line.x0 < lines[0].x0 - 0.3 * size:
        return ends_sentence(previous.text) and _broken_early(previous, line, items)
    return line.x0 <= lines[0].x0 + 0.3 * size and _ended_early(
        previous, line, lines, above, margins, flush=False
    )


def _ended_early(
    previous: Line | None,
    line: Line,
    lines: list[Line],
    above: Line | None,
    margins: dict[int, tuple[float, float]],
    *,
    flush: bool = True,
) -> bool:
    """A paragraph's last line, where paragraphs are neither indented nor set apart (a
    reference list's one-line entries, dialogue, text printed from the web): the line
    before ``line``, flush with it, ended a sentence (``trails_off``) where ``line``'s
    first two words would have fit after it. A paragraph's other lines end where the
    next word did not fit; two words leave room for the estimate of their width.

    Fit before what: where the line ``above`` it (in its region) ends if that one goes
    on (a line that wraps shows where the text wraps); else where the paragraph's two
    lines before it (``lines`` is the paragraph so far) end at the furthest; else, for a
    paragraph's first line, where ``line`` ends if that one goes on, else where the lines
    of its region do. Not the page's widest line: a running head or an abstract across
    two columns, a web page's navigation over its text reach further than a column's
    lines; beside a figure the text wraps around, or in a note set narrower than the
    text, the lines end short of their region's edge."""
    if previous is None or not trails_off(previous.text):
        return False
    if flush and abs(line.x0 - previous.x0) > 0.3 * max(line.size, 1.0):
        return False
    if above is not None and not trails_off(above.text):
        right = above.x1
    elif len(lines) > 1:
        right = max(other.x1 for other in lines[-3:-1])
    elif not trails_off(line.text):
        right = line.x1
    else:
        right = margins.get(previous.region, (0.0, previous.x1))[1]
    return _fits_after(previous, line, right, 2)


def _hanging_regions(items: list[Item]) -> set[int]:
    """Regions set with hanging lines (references, a glossary): two or more of their
    indented lines (0.8 to 4 text sizes right of the line before, no list item's marker
    on either) follow a line that ended no sentence (a wrapped entry's next line), twice
    as many as follow one that did. Where paragraphs' first lines are indented instead,
    most indented lines follow a sentence's end (a line of dialogue without one is the
    exception). In these regions an indented line after one that happens to end in a
    full stop ("… In Proc.") goes on with its entry (``_indented`` is not asked)."""
    votes: dict[int, list[int]] = {}
    for previous, line in itertools.pairwise(items):
        if (
            isinstance(previous, Line)
            and isinstance(line, Line)
            and line.region == previous.region
            and 0.8 * max(line.size, 1.0) <= line.x0 - previous.x0 <= 4 * max(line.size, 1.0)
            and _list_start(previous.text) is None
            and _list_start(line.text) is None
            and not _SEQUENCE_MARKER.match(line.text)
        ):
            counts = votes.setdefault(line.region, [0, 0])
            counts[ends_sentence(previous.text)] += 1
    return {region for region, (running, ended) in votes.items() if running > max(1, 2 * ended)}


def _indented(
    previous: Line | None,
    line: Line,
    items: list[Item],
    index: int,
    margins: dict[int, tuple[float, float]],
) -> bool:
    """A first-line indent: ``line`` starts a paragraph when a sentence ended on the line
    before and ``line`` starts 0.8 to 4 text sizes right of it, if the line after is flush
    with the line before (a paragraph's first line) or the line before is short (the last
    line of the paragraph before). Or both lines start indented alike, from the region's
    left edge, and the line before is short and ended a sentence (dialogue, one line a
    paragraph). Not otherwise: the lines after a list item's first line are indented too,
    and so is a quotation."""
    if previous is None or not ends_sentence(previous.text):
        return False
    following = items[index + 1] if index + 1 < len(items) else None
    if not isinstance(following, Line) or following.region != line.region:
        following = None
    size = max(line.size, 1.0)
    margin, right = margins.get(line.region, (line.x0, line.x1))
    short = previous.x1 < right - 3 * size
    if 0.8 * size <= line.x0 - previous.x0 <= 4 * size:
        return short or (following is not None and abs(following.x0 - previous.x0) <= 0.3 * size)
    return (
        abs(line.x0 - previous.x0) <= 0.3 * size
        and 0.8 * size <= line.x0 - margin <= 4 * size
        and short
    )


def _term_or_entry(
    previous: Line | None,
    line: Line,
    lines: list[Line],
    items: list[Item],
    index: int,
    margins: dict[int, tuple[float, float]],
) -> bool:
    """A paragraph of its own after a term (a definition list's, a run-in heading): the
    line before is a paragraph's only line so far, shorter than half the region, ends no
    sentence and ends early (``_broken_early``: not a reference's first line before a long
    address), and ``line`` starts 0.8 to 4 text sizes right of it. Or after an indented
    entry (a definition, a reference's hanging lines): ``line`` starts that far left of
    the line before, which ended a sentence early (``_broken_early``: the lines beside a
    drop cap that pdfminer joined into its first line end where the text wraps), and not
    left of the paragraph's first line. Where the line before is the paragraph's first,
    ``line`` must look like the next term: short, ending no sentence, with the line after
    it set further right again. A paragraph with a first-line indent steps back left the
    same way at its second line (which may well follow a sentence's end), and a paragraph
    that wraps has a full first line before its indented ones."""
    if previous is None or not lines:
        return False
    size = max(line.size, 1.0)
    margin, right = margins.get(line.region, (line.x0, line.x1))
    if len(lines) == 1 and 0.8 * size <= line.x0 - previous.x0 <= 4 * size:
        return _term(previous, margin, right) and _broken_early(previous, line, items)
    if not (
        0.8 * size <= previous.x0 - line.x0 <= 4 * size
        and lines[0].x0 >= line.x0 - 0.3 * size
        and ends_sentence(previous.text)
    ):
        return False
    if len(lines) > 1:
        return _broken_early(previous, line, items)
    following = items[index + 1] if index + 1 < len(items) else None
    return (
        _term(line, margin, right)
        and isinstance(following, Line)
        and following.region == line.region
        and following.x0 - line.x0 >= 0.8 * size
    )


def _term(line: Line, margin: float, right: float) -> bool:
    """A line that can be a term or a run-in heading: shorter than half the region
    (``margin`` to ``right``), ending no sentence."""
    return line.x1 - line.x0 < 0.5 * (right - margin) and not ends_sentence(line.text)


# --- headers and footers ---------------------------------------------------------------------


@dataclass(frozen=True)
class Furniture:
    """The headers and footers of a document: texts of lines near the top or bottom edge
    that repeat on most pages, or on most odd or most even pages (digits ignored, so page
    numbers match, as long as one number changes or all go up with the page), and
    page-number lines ("Seite 3 von 9", "- 4 -", "iv"), even on a single page. A line
    larger than the body text (a chapter heading on every page) is never one."""

    keys: frozenset[str]
    largest: dict[str, float]
    """Per source, the text size from which a line is too large to be furniture."""

    @classmethod
    def of(cls, pages: list[list[PageText]], numbers: list[int] | None = None) -> Furniture:
        """``pages``: for each page, its texts (the text layer, OCR or both, which count
        as one page); ``numbers``: their page numbers (odd and even pages, numbers that go
        up with the page), else 1, 2, 3…."""
        largest = {source: _LARGE[source] * body for source, body in _body_sizes(pages).items()}
        seen: Counter[str] = Counter()
        by_parity: tuple[Counter[str], Counter[str]] = (Counter(), Counter())
        in_lines: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
        places: dict[str, list[float]] = {}
        longest: dict[str, int] = {}
        page_numbers = list(numbers or range(1, len(pages) + 1))
        for number, texts in zip(page_numbers, pages, strict=True):
            keys = set()
            for text in texts:
                for _, key, size, chars, found, place in text.edges:
                    if size < largest.get(text.source, math.inf):
                        keys.add(key)
                        in_lines.setdefault(key, []).append((number, found))
                        places.setdefault(key, []).append(place)
                        longest[key] = max(longest.get(key, 0), chars)
            seen.update(keys)
            by_parity[number % 2].update(keys)
        count = len(pages)
        needed = max(2, math.ceil(0.5 * count))
        by_parity_needed = [
            max(2, math.ceil(0.8 * sum(1 for n in page_numbers if n % 2 == parity)))
            for parity in (0, 1)
        ]
        keys = {
            key
            for key, times in seen.items()
            if _PAGE_NUMBER.match(key)
            or (
                (
                    (count >= 2 and times >= needed)
                    or any(by_parity[p][key] >= by_parity_needed[p] for p in (0, 1))
                )
                and _counts_pages(in_lines[key], longest[key])
                and _one_place(places[key])
            )
        }
        return cls(frozenset(keys), largest)

    def drops(self, source: str, key: str, size: float) -> bool:
        return key in self.keys and size < self.largest.get(source, math.inf)


_HEADING_KINDS = frozenset({"p", "ol"})
"""A numbered line set large, or bold on a line of its own, is a heading ("1. Einleitung"),
not a list item."""
_LARGE = {"native": 1.15, "ocr": 1.35}
"""How much larger than the body a line must be to count as large (OCR sizes are
estimates: only coarse steps are reliable). Headings use the same factors."""


def _body_sizes(pages: list[list[PageText]]) -> dict[str, float]:
    """Per source, the text size most characters have."""
    counts: dict[str, dict[float, int]] = {}
    for texts in pages:
        for text in texts:
            counter = counts.setdefault(text.source, {})
            for size, chars in text.sizes.items():
                counter[size] = counter.get(size, 0) + chars
    return {
        source: Counter(counter).most_common(1)[0][0]
        for source, counter in counts.items()
        if counter
    }


def _key(text: str) -> str:
    """Lower case, digits as ``#``, no blanks (OCR sets them unevenly: "von3", "von 3")."""
    return _DIGITS.sub("#", "".join(text.lower().split()))


RUNNING_LINE_CHARS = 40
"""The longest a running line whose several numbers all go up with the page may be
("Dok. 4711-3 · gedruckt 2025-03-03"); a longer one is a sentence, one rule of a list
that continues from page to page."""


def _counts_pages(occurrences: list[tuple[int, tuple[str, ...]]], chars: int) -> bool:
    """Whether lines that read alike but for their numbers are one running line: its
    numbers change in one place at most (a page number, "Seite 3 von 9"), or every number
    that changes goes up with the page ("Doc. 4711-3", "Blatt 12"). The first and last
    lines of a bank statement's pages ("05.03.2025 Überweisung 53: -159,53 EUR") change in
    several places, not all with the page."""
    places = list(zip(*(found for _, found in occurrences), strict=True))
    changing = [number for number, values in enumerate(places) if len(set(values)) > 1]
    if len(changing) <= 1:
        return True
    if chars > RUNNING_LINE_CHARS:  # a sentence whose numbers follow the page is text
        return False
    return all(
        len({int(found[place]) - page for page, found in occurrences}) == 1 for place in changing
    )


def _one_place(places: list[float]) -> bool:
    """Whether lines alike stand at one place on their pages, as headers and footers do
    (within two lines, as scans shift): a list's wrapped lines that read alike, at the foot
    of one page and the head of the next, are text."""
    return (min(places) >= 0 or max(places) < 0) and max(places) - min(places) <= 24


def remove_furniture(page: PageText, furniture: Furniture) -> PageText:
    """The page without its lines near the edges whose text is in ``keys``. Headers and
    footers are paragraphs of their own at the start or end of the page, so their
    paragraphs are simply left out; only when one shares a paragraph with the body, or sits
    between paragraphs of the body, is the page paragraphed again without it."""
    drop = {index for index, key, size, *_ in page.edges if furniture.drops(page.source, key, size)}
    if not drop:
        return page
    sizes = dict(page.sizes)
    for index, _, size, chars, *_ in page.edges:
        if index in drop:
            sizes[size] -= chars
    sizes = {size: chars for size, chars in sizes.items() if chars > 0}
    edges = [edge for edge in page.edges if edge[0] not in drop]
    paragraphs = page.paragraphs
    first, last, removed = 0, len(paragraphs), 0
    while first < last and _all_dropped(paragraphs[first], drop):
        removed += paragraphs[first].last - paragraphs[first].first + 1
        first += 1
    while last > first and _all_dropped(paragraphs[last - 1], drop):
        removed += paragraphs[last - 1].last - paragraphs[last - 1].first + 1
        last -= 1
    if removed == len(drop):  # every removed line was in a paragraph at the start or end
        return PageText(page.source, paragraphs[first:last], edges, sizes, page.items)
    if page.items is None:  # cannot be: page_text keeps them wherever this is reached
        raise ValueError("a page's items are needed to paragraph it again")
    items = [item for index, item in enumerate(page.items) if index not in drop]
    lines = [item if isinstance(item, Table) else Line(*item) for item in items]
    edges = []  # their indexes changed; they served this decision and are not used again
    paragraphs = _paragraphs(lines, page.source, _body_size(sizes))
    return PageText(page.source, paragraphs, edges, sizes, items)


def settle(
    pages: list[list[PageText | None]], numbers: list[int] | None = None
) -> tuple[list[list[PageText | None]], Styles]:
    """The decisions that need the whole document, for each page's texts (text layer, OCR;
    None where there is none) and its page number: the pages without their headers and
    footers, and the styles of what remains."""
    furniture = Furniture.of([[text for text in texts if text] for texts in pages], numbers)
    kept = [
        [remove_furniture(text, furniture) if text else None for text in texts] for texts in pages
    ]
    numbers = numbers or list(range(1, len(pages) + 1))
    for source in range(max((len(texts) for texts in kept), default=0)):
        column = [texts[source] if source < len(texts) else None for texts in kept]
        join_words_across_pages(column, numbers)
    return kept, Styles.of([text for texts in kept for text in texts if text])


def join_words_across_pages(pages: list[PageText | None], numbers: list[int]) -> None:
    """A word hyphenated across a page break ("Verwal-" at the foot of page 4, "tung des
    Landes" at the top of page 5) is made whole on the page it starts on, and its end
    taken off the next page, so that each page's section reads whole words. Only between
    pages that follow one another (``numbers``), headers and footers removed, where the
    next page starts with running text and ``join_lines`` joins the two as one word, as it
    would within a page ("Bund-" + "und Länder" stays apart)."""
    for (page, number), (after, following) in itertools.pairwise(zip(pages, numbers, strict=True)):
        if page is None or after is None or following != number + 1:
            continue
        if not page.paragraphs or not after.paragraphs:
            continue
        last, first = page.paragraphs[-1], after.paragraphs[0]
        if last.kind == "table" or first.kind != "p" or not last.text.endswith("-"):
            continue
        word, _, rest = first.text.partition(" ")
        joined = join_lines([last.text, word])
        if joined == f"{last.text} {word}":
            continue  # not one word
        last.text = joined
        if rest:
            first.text = rest
        else:
            after.paragraphs = after.paragraphs[1:]


def _all_dropped(paragraph: Paragraph, drop: set[int]) -> bool:
    return drop.issuperset(range(paragraph.first, paragraph.last + 1))


# --- headings --------------------------------------------------------------------------------


@dataclass
class Styles:
    """The document's body size per source and the sizes that make headings, largest
    first; found once for the whole document."""

    body: dict[str, float]
    heading_sizes: dict[str, list[float]]

    @classmethod
    def of(cls, pages: list[PageText]) -> Styles:
        body = _body_sizes([pages])
        headings: dict[str, set[float]] = {}
        for page in pages:
            for paragraph in page.paragraphs:
                if (
                    paragraph.kind in _HEADING_KINDS
                    and paragraph.lines <= 3
                    and _large(paragraph, body.get(page.source, 0), page.source)
                ):
                    headings.setdefault(page.source, set()).add(_rounded(paragraph.size))
        return cls(
            body, {source: sorted(sizes, reverse=True) for source, sizes in headings.items()}
        )

    def heading_level(self, paragraph: Paragraph, source: str) -> int:
        """3 for the largest heading size (``## Page N`` is level 2), down to 6; 0: none."""
        if paragraph.kind not in _HEADING_KINDS or paragraph.lines > 3:  # the usual: at once
            return 0
        body = self.body.get(source, 0.0)
        native = source == "native"
        if paragraph.size < _LARGE[source] * body and not (native and paragraph.bold):
            return 0  # neither large nor a bold line of body size
        text = paragraph.text
        if not text or len(text) > 200:
            return 0
        sizes = self.heading_sizes.get(source, [])
        if _large(paragraph, body, source):
            if source == "ocr":  # sizes measured from pixels: only coarse steps are reliable
                return 3 if paragraph.size >= 1.8 * body else 4
            rank = sizes.index(_rounded(paragraph.size))
            return min(6, 3 + rank)
        if (
            source == "native"
            and paragraph.bold
            and paragraph.lines == 1
            and len(text) <= 100
            and text[-1] not in ".,;:"
            and not text[0].islower()
            and abs(paragraph.size - body) <= 0.15 * max(body, 1)
            and _wordy(text)
        ):
            # below the larger headings; "1.1 Hintergrund" one level under "1. Einleitung"
            return min(6, 3 + len(sizes) + _section_depth(paragraph) - 1)
        return 0


def _wordy(text: str) -> bool:
    """Mostly letters, or two words at least: a bold amount, year or page number
    ("1,250.00", "Total 316.68") standing on its own line is no heading, "Q3 2024 vs. Q3
    2023 (EUR m)" is."""
    letters = sum(1 for ch in text if ch.isalpha())
    words = sum(1 for word in text.split() if sum(ch.isalpha() for ch in word) >= 2)
    return letters >= 3 and (letters >= 0.5 * len("".join(text.split())) or words >= 2)


_SECTION_NUMBER = re.compile(r"^\d{1,3}(?:\.\d{1,3})*\.?(?=\s)")


def _section_depth(paragraph: Paragraph) -> int:
    """How many numbers a heading's section number has ("2.1.3" three); 1 without one."""
    match = _SECTION_NUMBER.match(f"{paragraph.marker} {paragraph.text}".strip())
    return len(match.group().rstrip(".").split(".")) if match else 1


def _large(paragraph: Paragraph, body: float, source: str) -> bool:
    if body <= 0 or paragraph.lines > 3:
        return False
    return paragraph.size >= _LARGE[source] * body and len(paragraph.text) <= 200


# --- Markdown --------------------------------------------------------------------------------


def page_markdown(page: PageText, styles: Styles, *, below: int = 0) -> str:
    """``below``: levels to put headings lower (under labels of the caller's)."""
    blocks: list[str] = []
    items: list[str] = []
    levels: list[tuple[float, str]] = []
    """The list's open levels, outermost first: where their items start, and the indent
    of their items' text (where a nested list's markers go)."""
    before = ""
    """The Markdown marker of the list just before, with nothing else between."""
    outermost = ""
    """The marker of the list's last outermost item, as the page has it."""
    other = False
    """The list is written with the other delimiter or bullet (``_other_marker``)."""

    def flush_list() -> None:
        if items:
            blocks.append("\n".join(items))
            items.clear()
        levels.clear()

    def add_item(paragraph: Paragraph, marker: str, text: str) -> None:
        """An item nested under the one before where its text starts further right, by
        0.8 of its size up to 4 sizes (further is another column: a list of its own
        there); back out where it starts left of an open level. Flat, nested numbered
        lists ("1.", "1.", "2.", "2.") would be renumbered 1 to 4 by any viewer. Where the
        text starts is taken as the marker's start and half a size for each of the
        number's characters: numbers are set flush right ("9." starts after "10.").

        An outermost item that does not count on from the one before ("101." then "1.",
        "iii." then "A.") starts a list of its own, in Markdown with the other delimiter
        or bullet: with the same one, a viewer would go on counting (102, 103)."""
        nonlocal before, outermost, other
        unit = max(paragraph.size, 1.0)
        start = paragraph.left + 0.5 * unit * len(paragraph.marker)
        if levels and start > levels[-1][0] + 4 * unit:
            levels.clear()
        while levels and start < levels[-1][0] - 0.6 * unit:
            levels.pop()
        if levels and start <= levels[-1][0] + 0.8 * unit:
            levels.pop()  # the same level: this item takes the place of the one before
        if not levels:
            if items and not _counts_on(outermost, paragraph.marker):
                flush_list()
            if not items:
                other = _markdown_marker(marker) == before
            outermost = paragraph.marker
            if other:
                marker = _other_marker(marker)
            before = _markdown_marker(marker)
        indent = levels[-1][1] if levels else ""
        levels.append((start, indent + " " * (len(marker) + 1)))
        items.append(f"{indent}{marker} {text}")

    for paragraph in page.paragraphs:
        if paragraph.kind == "table" and paragraph.table is not None:
            flush_list()
            before = ""
            blocks.append(table_markdown(paragraph.table.rows))
            continue
        text = escape_inline(paragraph.text)
        if paragraph.kind == "li":
            add_item(paragraph, "-", _escape(text))
            continue
        level = styles.heading_level(paragraph, page.source)
        if level:
            level = min(6, level + below)
        if paragraph.kind == "ol":
            if level:  # "1. Einleitung" set large: a numbered heading, not a list
                flush_list()
                before = ""
                blocks.append(f"{'#' * level} {paragraph.marker} {text}")
            elif paragraph.marker[:-1].isdigit():
                add_item(paragraph, paragraph.marker, _escape(text))
            else:  # "a)": its own list, not more items of a bullet list just before it
                marker = escape_inline(paragraph.marker)  # "[1]" is no link
                add_item(paragraph, "*", f"{marker} {_escape(text)}")
            continue
        flush_list()
        before = ""
        if level:
            blocks.append("#" * level + " " + text)
        else:
            blocks.append(_escape(text))
    flush_list()
    return "\n\n".join(blocks)


def _counts_on(last: str, marker: str) -> bool:
    """Whether an item's marker goes on from the one before in its list: bullets always
    do, "2." after "1." (or "9.": numbered lists skip), "b)" after "a)", "iv." after
    "iii."; not "1." after "101.", nor "A." after "iii.", nor "I." after "C."."""
    if last == "-" or marker == "-":
        return last == marker
    values = dict(_marker_values(last))
    return any(
        value > values[style] if style.endswith("1") else value == values[style] + 1
        for style, value in _marker_values(marker)
        if style in values
    )


def _markdown_marker(marker: str) -> str:
    """What makes two Markdown list items one list: the bullet, or a number's delimiter."""
    return marker[-1]


def _other_marker(marker: str) -> str:
    """The same item's marker with the other delimiter or bullet (a list of its own)."""
    swapped = {".": ")", ")": ".", "*": "+", "+": "*", "-": "+"}
    return marker[:-1] + swapped[marker[-1]]


def escape_inline(text: str) -> str:
    """A text as itself in Markdown: a PDF's ``*`` or ``[1](`` is text, not emphasis or a
    link (``_INLINE``)."""
    if not _INLINE_CANDIDATE.search(text):  # the usual: a tenth of the full pattern's cost
        return text
    return _INLINE.sub(r"\\\g<0>", text)


def _escape(text: str) -> str:
    """Keep a paragraph from reading as Markdown syntax: ``2020. Das`` is not a list item,
    ``# 1`` not a heading (CommonMark escapes punctuation only, hence ``2020\\.``)."""
    if text[:1] not in _SYNTAX_FIRST and not text[:1].isdecimal():
        return text
    match = _ORDERED_START.match(text)
    if match:
        return f"{match.group(1)}\\{text[len(match.group(1)) :]}"
    return "\\" + text if _ESCAPE_START.match(text) else text


def table_markdown(rows: list[list[str]]) -> str:
    width = max(len(row) for row in rows)
    cells = [
        [escape_inline(cell).replace("|", "\\|").strip() for cell in row]
        + [""] * (width - len(row))
        for row in rows
    ]
    lines = ["| " + " | ".join(cells[0]) + " |", "|" + " --- |" * width]
    lines += ["| " + " | ".join(row) + " |" for row in cells[1:]]
    return "\n".join(lines)


def plain_text(page: PageText) -> str:
    """Paragraphs as plain text, blank-line separated (for ``page_texts``)."""
    out = []
    for paragraph in page.paragraphs:
        if paragraph.kind == "table" and paragraph.table is not None:
            out.append("\n".join("\t".join(row) for row in paragraph.table.rows))
        elif paragraph.kind == "li" and _CHECKBOX.match(paragraph.text):
            out.append(paragraph.text)  # the box is its marker
        elif paragraph.kind in {"li", "ol"}:
            marker = paragraph.marker if paragraph.kind == "ol" else "\u2022"
            out.append(f"{marker} {paragraph.text}")
        else:
            out.append(paragraph.text)
    return "\n\n".join(out)
