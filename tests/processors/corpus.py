"""The PDF test corpus, generated at test time: born-digital documents whose text we know
(one column, two columns in either drawing order, a table, lists, German umlauts and
ligatures), the same pages rendered at 300 dpi and wrapped as scanned PDFs, documents mixing
both, a page whose text layer is garbage, and the bad inputs the processor must survive.

Shared by the tests and by bench/pdf_quality.py and bench/pdf_engines.py, so the figures in
docs/benchmarks.md come from the very documents the tests assert on.
"""

from __future__ import annotations

import difflib
import io
import random
import re
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pypdfium2 as pdfium
import reportlab
from PIL import Image
from reportlab.lib.pdfencrypt import StandardEncryption
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from tests.chromium import CHROMIUM, CHROMIUM_ARGS

# Real words, so that Tesseract's language models see ordinary text. Umlauts, ß and the
# letter pairs fi/fl (drawn as ligature glyphs) are frequent on purpose.
WORDS = """
Verwaltung Fläche Begriff offiziell Pflicht Einfluss fließen Konflikt Profil Qualifikation
Prüfung Größe Übersicht Änderung Gebühr Straße Maßnahme Fußgänger Bürger Gemeinde Stadtrat
Haushalt Ausschuss Beschluss Verfahren Antrag Unterlagen Dokument Veranstaltung Sitzung Bericht
Entwicklung Förderung Bildung Wirtschaft Verkehr Umwelt Energie Wasser Wohnung Schule Kinder
Familie Arbeit Gesundheit Sicherheit Ordnung Zukunft Region Landkreis öffentlich wichtig
gemeinsam nachhaltig zusätzlich grundsätzlich ausführlich täglich jährlich künftig häufig
Flughafen Fluss Finanzen Firma finden Figur filtern flach Flotte Schiff Pfeiler Auflage
Einfluss Aufgabe Ergebnis Vorschlag Grundlage Zeitraum Hinweis Anlage Angebot Nachfrage
document meeting council budget committee report proposal decision transport housing energy
water school health safety future region public important common sustainable additional
office official profile conflict influence flight field final finance flexible reflection
project process result summary overview change fee street measure citizen community schedule
""".split()  # noqa: SIM905 - a word list reads better as text

HEADER = "Job Center Testkorpus"
FONT = "Vera"
FONT_BOLD = "VeraBd"
PAGE_A4 = (595.0, 842.0)
PAGE_A6 = (298.0, 420.0)
LIGATURES = {"fi": "\ufb01", "fl": "\ufb02"}


def _register_fonts() -> None:
    folder = Path(reportlab.__file__).parent / "fonts"
    for name, file in ((FONT, "Vera.ttf"), (FONT_BOLD, "VeraBd.ttf")):
        if name not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(name, str(folder / file)))


# --- measuring ---------------------------------------------------------------------------

_TOKEN = re.compile(r"\w+", re.UNICODE)


def tokens(text: str) -> list[str]:
    """Words for comparison: Markdown marks and punctuation dropped, ligatures unfolded."""
    for ligature, letters in (("\ufb01", "fi"), ("\ufb02", "fl")):
        text = text.replace(ligature, letters)
    return _TOKEN.findall(text)


def recall_in_order(truth: str, found: str) -> float:
    """Share of the known words found in the same order (longest matching subsequence by
    difflib blocks): words out of reading order count as missing."""
    want, got = tokens(truth), tokens(found)
    if not want:
        return 1.0
    matcher = difflib.SequenceMatcher(None, want, got, autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks()) / len(want)


def word_accuracy(truth: str, found: str) -> float:
    """1 - word error rate (substitutions, deletions and insertions over the known words)."""
    want, got = tokens(truth), tokens(found)
    if not want:
        return 1.0 if not got else 0.0
    previous = list(range(len(got) + 1))
    for i, word in enumerate(want, 1):
        current = [i]
        for j, other in enumerate(got, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (word != other))
            )
        previous = current
    return max(0.0, 1.0 - previous[-1] / len(want))


# --- text ----------------------------------------------------------------------------------


def sentence(rng: random.Random, length: int) -> str:
    words = [rng.choice(WORDS) for _ in range(length)]
    return " ".join([words[0][0].upper() + words[0][1:], *words[1:]]) + "."


def paragraph(rng: random.Random, sentences: int = 3) -> str:
    return " ".join(sentence(rng, rng.randint(6, 11)) for _ in range(sentences))


def ligated(text: str) -> str:
    for letters, ligature in LIGATURES.items():
        text = text.replace(letters, ligature)
    return text


Rule = tuple[float, float, float, float]


@dataclass
class Line:
    x: float
    y: float
    text: str
    font: str = FONT
    size: float = 11.0


def wrap(text: str, width: float, font: str, size: float, hyphenate: bool) -> list[str]:
    """Break ``text`` into lines of at most ``width`` points; long words that do not fit are
    hyphenated inside their lower-case part, as a typesetter would."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if pdfmetrics.stringWidth(ligated(candidate), font, size) <= width:
            current = candidate
            continue
        if hyphenate and len(word) >= 8 and current:
            for cut in range(len(word) - 3, 2, -1):
                head = f"{current} {word[:cut]}-"
                if (
                    word[cut - 1].islower()
                    and word[cut].islower()
                    and (pdfmetrics.stringWidth(ligated(head), font, size) <= width)
                ):
                    lines.append(head)
                    current = word[cut:]
                    break
            else:
                lines.append(current)
                current = word
            continue
        if current:
            lines.append(current)
        current = word
    if current:
        lines.append(current)
    return lines


# --- documents -----------------------------------------------------------------------------


@dataclass
class Document:
    name: str
    pdf: bytes
    truth: list[str]
    """Known text per page, in reading order (headers, footers and bullets left out)."""
    scanned: set[int] = field(default_factory=set)
    """0-based indexes of the pages that are images only."""
    headings: list[str] = field(default_factory=list)
    list_items: list[str] = field(default_factory=list)


class Writer:
    """Draws pages of known text with reportlab, with a repeated header and a page footer."""

    def __init__(
        self,
        pagesize: tuple[float, float] = PAGE_A4,
        *,
        furniture: bool = True,
        encrypt: StandardEncryption | None = None,
    ) -> None:
        _register_fonts()
        self.buffer = io.BytesIO()
        self.canvas = Canvas(self.buffer, pagesize=pagesize, encrypt=encrypt)
        self.canvas.setTitle("Testkorpus")
        self.canvas.setAuthor("Job Center")
        self.width, self.height = pagesize
        self.furniture = furniture
        self.pages: list[tuple[list[Line], list[Rule]]] = []

    def page(self, lines: Iterable[Line], rules: Iterable[Rule] = ()) -> None:
        self.pages.append((list(lines), list(rules)))

    def finish(self) -> bytes:
        total = len(self.pages)
        for number, (lines, rules) in enumerate(self.pages, 1):
            for rule in rules:
                self.canvas.line(*rule)
            if self.furniture:
                self.canvas.setFont(FONT, 9)
                self.canvas.drawString(50, self.height - 30, HEADER)
                self.canvas.drawString(self.width / 2 - 30, 25, f"Seite {number} von {total}")
            for line in lines:
                self.canvas.setFont(line.font, line.size)
                self.canvas.drawString(line.x, line.y, ligated(line.text))
            self.canvas.showPage()
        self.canvas.save()
        return self.buffer.getvalue()


def column(
    texts: list[tuple[str, str]],
    x: float,
    top: float,
    bottom: float,
    width: float,
    *,
    size: float = 11.0,
    hyphenate: bool = True,
    spacing: float = 1.3,
    indent: float = 0.0,
    space_after: float = 0.8,
) -> tuple[list[Line], str, int]:
    """Lay out (kind, text) blocks top-down; kinds: "h" heading, "p" paragraph, "li" bullet
    item, "ol" numbered item. ``spacing``: baseline to baseline in text sizes; ``indent``:
    a paragraph's first line, in points; ``space_after``: after a paragraph, in text sizes.
    Returns the lines, the known text and how many blocks fit."""
    lines: list[Line] = []
    truth: list[str] = []
    y = top
    leading = size * spacing
    placed = 0
    for kind, text in texts:
        if kind == "h":
            block = [Line(x, y - 4, text, FONT_BOLD, size * 1.5)]
            height = size * 1.5 * 1.3 + 10
        else:
            shift = 18 if kind in {"li", "ol"} else 0
            first = indent if kind == "p" else 0
            wrapped = wrap(text, width - shift, FONT, size, hyphenate)
            if first:  # a shorter first line (not hyphenated), then the rest as wide as ever
                head = wrap(text, width - first, FONT, size, False)[0]
                rest = text[len(head) :].strip()
                wrapped = [head, *(wrap(rest, width, FONT, size, hyphenate) if rest else [])]
            block = []
            for i, row in enumerate(wrapped):
                block.append(Line(x + shift + (first if i == 0 else 0), y - i * leading, row))
                block[-1].size = size
            if kind == "li":
                block.append(Line(x + 4, y, "\u2022", FONT, size))
            height = len(wrapped) * leading + size * space_after
        if y - height < bottom:
            break
        lines.extend(block)
        truth.append(text)
        placed += 1
        y -= height
    return lines, "\n".join(truth), placed


def one_column(
    pages: int = 3,
    seed: int = 1,
    pagesize: tuple[float, float] = PAGE_A4,
    size: float = 11.0,
    *,
    furniture: bool = True,
) -> Document:
    rng = random.Random(seed)
    writer = Writer(pagesize, furniture=furniture)
    truths: list[str] = []
    headings: list[str] = []
    margin = 50 if pagesize[0] > 400 else 28
    for number in range(1, pages + 1):
        heading = f"{number} {rng.choice(WORDS).capitalize()} und {rng.choice(WORDS)}"
        blocks = [("h", heading)] + [("p", paragraph(rng, rng.randint(2, 4))) for _ in range(12)]
        lines, truth, _ = column(
            blocks, margin, pagesize[1] - 70, 60, pagesize[0] - 2 * margin, size=size
        )
        writer.page(lines)
        truths.append(truth)
        headings.append(heading)
    return Document("one_column", writer.finish(), truths, headings=headings)


def thesis(spacing: float, *, indent: float = 18.0, space_after: float = 0.0) -> Document:
    """One page set as drafts and theses are: lines one and a half or two sizes apart,
    paragraphs marked by a first-line indent (and no space), or by space alone."""
    rng = random.Random(12)
    writer = Writer(furniture=False)
    blocks = [("p", paragraph(rng, rng.randint(2, 4))) for _ in range(6)]
    lines, truth, _ = column(
        blocks, 70, PAGE_A4[1] - 70, 60, PAGE_A4[0] - 140,
        spacing=spacing, indent=indent, space_after=space_after,
    )  # fmt: skip
    writer.page(lines)
    return Document(f"thesis_{spacing}", writer.finish(), [truth])


LETTER = [
    "Dear team,",
    "Thanks for joining the call this morning.",
    "Please find the action items below.",
    "Anna will send the revised budget by Friday.",
    "Ben will book the venue for the workshop.",
    "The next meeting is on 12 June at 10:00.",
    "Best regards,",
    "Dana",
]


def letter() -> bytes:
    """One-line paragraphs with space after each, as a word processor sets a short letter:
    the space between them is the most common one on the page, yet no line spacing."""
    writer = Writer(furniture=False)
    lines, _, _ = column(
        [("p", text) for text in LETTER], 70, PAGE_A4[1] - 90, 60, PAGE_A4[0] - 140,
        spacing=1.22, space_after=0.73,
    )  # fmt: skip
    writer.page(lines)
    return writer.finish()


def two_columns(pages: int = 2, seed: int = 2, *, interleaved: bool = False) -> Document:
    """Two columns; ``interleaved`` draws row by row (left line, right line, …), as some
    generators do, so that only a layout analysis recovers the reading order."""
    rng = random.Random(seed)
    writer = Writer()
    truths: list[str] = []
    width = (PAGE_A4[0] - 100 - 24) / 2
    for _ in range(pages):
        texts = [("p", paragraph(rng, rng.randint(2, 3))) for _ in range(12)]
        left, left_truth, used = column(texts, 50, PAGE_A4[1] - 70, 60, width)
        right, right_truth, _ = column(texts[used:], 50 + width + 24, PAGE_A4[1] - 70, 60, width)
        if interleaved:
            ordered: list[Line] = []
            for i in range(max(len(left), len(right))):
                ordered.extend(side[i] for side in (left, right) if i < len(side))
        else:
            ordered = left + right
        writer.page(ordered)
        truths.append(left_truth + "\n" + right_truth)
    name = "two_columns_interleaved" if interleaved else "two_columns"
    return Document(name, writer.finish(), truths)


def table(seed: int = 3) -> Document:
    """A ruled table of short cells, read row by row."""
    rng = random.Random(seed)
    writer = Writer()
    header = ["Posten", "Betrag", "Zuständigkeit", "Prüfung"]
    rows = [header] + [
        [
            rng.choice(WORDS).capitalize(),
            f"{rng.randint(100, 99999)} EUR",
            rng.choice(WORDS),
            rng.choice(["offen", "erledigt", "geprüft"]),
        ]
        for _ in range(14)
    ]
    lines: list[Line] = []
    widths = [150, 90, 140, 100]
    top = PAGE_A4[1] - 90
    intro = "Die folgende Übersicht zeigt den Stand der Prüfung für das laufende Haushaltsjahr."
    lines.append(Line(50, top + 30, intro))
    row_height = 20
    for r, row in enumerate(rows):
        x = 50
        for c, cell in enumerate(row):
            font = FONT_BOLD if r == 0 else FONT
            lines.append(Line(x + 4, top - r * row_height - 14, cell, font, 10))
            x += widths[c]
    rules: list[Rule] = []
    for r in range(len(rows) + 1):
        rules.append((50, top - r * row_height, 50 + sum(widths), top - r * row_height))
    x = 50.0
    for w in [0, *widths]:
        x += w
        rules.append((x, top, x, top - len(rows) * row_height))
    writer.page(lines, rules)
    pdf = writer.finish()
    truth = intro + "\n" + "\n".join(" ".join(row) for row in rows)
    return Document("table", pdf, [truth])


def grid(
    rows: list[list[str]], x: float, top: float, widths: list[float], *, columns: bool = True
) -> tuple[list[Line], list[Rule]]:
    """A table of ``rows`` ruled on every row; ``columns``: also between the cells."""
    lines = [
        Line(x + sum(widths[:c]) + 4, top - r * 20 - 14, cell, FONT_BOLD if r == 0 else FONT, 10)
        for r, row in enumerate(rows)
        for c, cell in enumerate(row)
        if cell
    ]
    right = x + sum(widths)
    rules: list[Rule] = [(x, top - r * 20, right, top - r * 20) for r in range(len(rows) + 1)]
    if columns:
        bottom = top - len(rows) * 20
        rules += [
            (x + sum(widths[:c]), top, x + sum(widths[:c]), bottom) for c in range(len(widths) + 1)
        ]
    return lines, rules


BOOKTABS_ROWS = [["Produkt", "Menge", "Preis"], ["Widget", "1.200", "2,50"],
                 ["Gadget", "300", "10,00"], ["Gizmo", "45", "99,00"]]  # fmt: skip


def booktabs() -> bytes:
    """A table ruled only above, under its header and below, as LaTeX's booktabs sets it."""
    writer = Writer(furniture=False)
    lines, rules = grid(BOOKTABS_ROWS, 50, 760, [150, 100, 100], columns=False)
    kept = [rules[0], rules[1], rules[-1]]  # top, under the header, bottom
    writer.page(lines, kept)
    return writer.finish()


SPARSE_BOOKTABS_ROWS = [
    ["Gruppe", "Behandlung", "n", "Abbrüche"], ["A", "Placebo", "40", "3"],
    ["B", "niedrige Dosis", "38", ""], ["Summe", "", "119", "8"],
]  # fmt: skip


def sparse_booktabs() -> bytes:
    """``SPARSE_BOOKTABS_ROWS`` ruled as booktabs rules, with empty cells and one cell
    wrapped onto a second line ("niedrige" / "Dosis")."""
    writer = Writer(furniture=False)
    rows = [[cell.replace(" Dosis", "") for cell in row] for row in SPARSE_BOOKTABS_ROWS]
    lines, rules = grid(rows, 50, 760, [100, 120, 60, 80], columns=False)
    lines.append(Line(50 + 100 + 4, 760 - 2 * 20 - 14 - 10, "Dosis", FONT, 10))
    writer.page(lines, [rules[0], rules[1], rules[-1]])
    return writer.finish()


TWO_TABLES_TEXT = "Die folgenden Ansprechpartner sind für Rückfragen zuständig."
CLOSING_TEXT = "Bitte überweisen Sie den Betrag innerhalb von 14 Tagen."


ONE_PATH_ROWS = [["Land", "Hauptstadt"], ["Deutschland", "Berlin"], ["Polen", ""]]


def grid_as_one_path() -> bytes:
    """A ruled table whose whole grid is a single path object, as some generators draw it."""
    _register_fonts()
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=PAGE_A4)
    xs, ys = [72, 222, 372], [742 - 20 * row for row in range(len(ONE_PATH_ROWS) + 1)]
    path = canvas.beginPath()
    for y in ys:
        path.moveTo(xs[0], y)
        path.lineTo(xs[-1], y)
    for x in xs:
        path.moveTo(x, ys[0])
        path.lineTo(x, ys[-1])
    canvas.drawPath(path, stroke=1, fill=0)
    canvas.setFont(FONT, 10)
    for row, cells in enumerate(ONE_PATH_ROWS):
        for column, cell in enumerate(cells):
            canvas.drawString(xs[column] + 4, ys[row] - 14, cell)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def two_tables() -> bytes:
    """Two grid tables of one width with a sentence between them, a table ruled across
    only with an empty cell, and a closing sentence above a footer rule of the same width."""
    writer = Writer(furniture=False)
    first, first_rules = grid(
        [["Produkt", "Menge"], ["Äpfel", "3"], ["Birnen", "5"]], 50, 760, [250, 250]
    )
    second, second_rules = grid(
        [["Name", "Telefon"], ["Meier", ""], ["Schulz", "0301"]], 50, 640, [250, 250]
    )
    contacts = [
        ["Name", "Telefon", "E-Mail"],
        ["Meier", "", "meier@example.org"],
        ["Kurz", "0405", "kurz@example.org"],
    ]
    third, third_rules = grid(contacts, 50, 520, [150, 150, 200], columns=False)
    text = [Line(50, 670, TWO_TABLES_TEXT), Line(50, 420, CLOSING_TEXT)]
    writer.page(
        first + second + third + text,
        first_rules + second_rules + third_rules + [(50, 100, 550, 100)],
    )
    return writer.finish()


CELL_TABLE = [["Region", "Jan", "Feb", "Mar"], ["North", "120", "130", "125"],
              ["West", "60", "62", ""], ["South", "90", "95", "98"]]  # fmt: skip


def cell_bordered_table() -> bytes:
    """A table whose borders are drawn cell by cell, as a browser draws collapsed borders:
    every rule a segment of one cell's edge. The West row has no March figure."""
    writer = Writer(furniture=False)
    widths, x, top = [150.0, 80.0, 80.0, 80.0], 50.0, 760.0
    lines, _ = grid(CELL_TABLE, x, top, widths)
    rules: list[Rule] = []
    for r in range(len(CELL_TABLE)):
        upper, lower = top - r * 20, top - (r + 1) * 20
        for c in range(len(widths)):
            left, right = x + sum(widths[:c]), x + sum(widths[: c + 1])
            rules += [(left, upper, right, upper), (left, lower, right, lower)]
            rules += [(left, upper, left, lower), (right, upper, right, lower)]
    writer.page([*lines, Line(50, 600, TWO_TABLES_TEXT)], rules)
    return writer.finish()


def lists(seed: int = 4) -> Document:
    rng = random.Random(seed)
    writer = Writer()
    items = [sentence(rng, rng.randint(5, 16)) for _ in range(5)]
    numbered = [f"{i}. {sentence(rng, rng.randint(5, 12))}" for i in range(1, 4)]
    blocks = [("h", "Aufgaben und Termine"), ("p", paragraph(rng, 2))]
    blocks += [("li", item) for item in items]
    blocks += [("p", paragraph(rng, 2))]
    blocks += [("ol", item) for item in numbered]
    lines, truth, _ = column(blocks, 50, PAGE_A4[1] - 70, 60, PAGE_A4[0] - 100)
    writer.page(lines)
    return Document(
        "lists",
        writer.finish(),
        [truth],
        headings=["Aufgaben und Termine"],
        list_items=items + numbered,
    )


def render_page(pdf: bytes, index: int, dpi: int = 300) -> Image.Image:
    document = pdfium.PdfDocument(pdf)
    try:
        page = document[index]
        bitmap = page.render(scale=dpi / 72, grayscale=True)
        image = bitmap.to_pil().copy()  # to_pil() shares the bitmap's memory
        bitmap.close()
        page.close()
        return image
    finally:
        document.close()


def scanned(source: Document, dpi: int = 300) -> Document:
    """The pages of ``source`` as images only, as a scanner would deliver them."""
    count = len(source.truth)
    images = [render_page(source.pdf, i, dpi).convert("L") for i in range(count)]
    buffer = io.BytesIO()
    images[0].save(buffer, "PDF", resolution=dpi, save_all=True, append_images=images[1:])
    return Document(
        f"{source.name}_scanned", buffer.getvalue(), source.truth, scanned=set(range(count))
    )


def merge(name: str, parts: list[tuple[Document, int]]) -> Document:
    """One document from single pages of others: (document, page index) pairs."""
    target = pdfium.PdfDocument.new()
    truth: list[str] = []
    scanned_pages: set[int] = set()
    for position, (document, index) in enumerate(parts):
        source = pdfium.PdfDocument(document.pdf)
        target.import_pages(source, [index])
        source.close()
        truth.append(document.truth[index])
        if index in document.scanned:
            scanned_pages.add(position)
    buffer = io.BytesIO()
    target.save(buffer)
    target.close()
    return Document(name, buffer.getvalue(), truth, scanned=scanned_pages)


def encrypted(user_password: str) -> bytes:
    """A one-page document encrypted (RC4 128) with an owner password and ``user_password``
    (empty: anyone may open it)."""
    writer = Writer(encrypt=StandardEncryption(user_password, "owner-secret", strength=128))
    writer.page([Line(50, 700, "Vertrauliche Unterlagen der Verwaltung")])
    return writer.finish()


# --- hand-written PDFs ---------------------------------------------------------------------


def raw_pdf(objects: list[bytes], *, root: int = 1, broken_xref: bool = False) -> bytes:
    """A PDF from numbered object bodies (object n is objects[n-1]) with a correct xref."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % (offset + (7 if broken_xref else 0))
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        root,
        xref,
    )
    return bytes(out)


def stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s >>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def page_objects(
    content: bytes,
    *,
    mediabox: bytes = b"[0 0 595 842]",
    font: bytes = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
) -> list[bytes]:
    """Catalog, page tree, one page with Helvetica as /F1, its content stream, the font."""
    return [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox "
        + mediabox
        + b" /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        stream(content),
        font,
    ]


def text_content(lines: list[str], size: int = 14, x: int = 60, top: int = 760) -> bytes:
    body = b"BT /F1 %d Tf %d TL %d %d Td\n" % (size, size + 6, x, top)
    for line in lines:
        escaped = line.encode("latin-1").replace(b"\\", b"\\\\")
        escaped = escaped.replace(b"(", b"\\(").replace(b")", b"\\)")
        body += b"(" + escaped + b") Tj T*\n"
    return body + b"ET"


def _mapped_text_layer(lines: list[str], name: bytes, mappings: bytes) -> bytes:
    """Helvetica text whose ToUnicode CMap (``mappings``: its bfchar/bfrange sections) says
    which characters the codes stand for, whatever the glyphs show."""
    cmap = (
        b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        b"/CMapName /" + name + b" def /CMapType 2 def\n"
        b"1 begincodespacerange <00> <FF> endcodespacerange\n"
        + mappings
        + b"endcmap CMapName currentdict /CMap defineresource pop end end"
    )
    objects = page_objects(
        text_content(lines),
        font=b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica "
        b"/Encoding /WinAnsiEncoding /ToUnicode 6 0 R >>",
    )
    objects.append(stream(cmap))
    return raw_pdf(objects)


def garbage_text_layer(lines: list[str]) -> bytes:
    """A page that shows readable Helvetica text whose ToUnicode map sends every character
    to the private use area: what broken producers emit; the text layer is garbage, the
    picture is fine, so ``auto`` must OCR it."""
    return _mapped_text_layer(lines, b"Garbage", b"1 beginbfrange <20> <7E> <E020> endbfrange\n")


def astral_text_layer(lines: list[str]) -> bytes:
    """Helvetica text whose ToUnicode map sends ``@`` to U+1F600, outside the Basic
    Multilingual Plane: pdfium's text then has more UTF-16 units than characters."""
    return _mapped_text_layer(
        lines,
        b"Astral",
        b"1 beginbfchar <40> <D83DDE00> endbfchar\n"
        b"2 beginbfrange <20> <3F> <0020> <41> <7E> <0041> endbfrange\n",
    )


def image_in_form() -> bytes:
    """A scan as some producers write it: the page draws a form XObject scaled to the page,
    and the form draws the image (in its own unit square)."""
    pixels = bytes((x * 4 + y) % 256 for y in range(64) for x in range(64))
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /XObject << /Fm1 5 0 R >> >> /Contents 4 0 R >>",
            stream(b"q 595 0 0 842 0 0 cm /Fm1 Do Q"),
            stream(
                b"/Im1 Do",
                b"/Type /XObject /Subtype /Form /BBox [0 0 1 1] "
                b"/Resources << /XObject << /Im1 6 0 R >> >>",
            ),
            stream(
                pixels,
                b"/Type /XObject /Subtype /Image /Width 64 /Height 64 "
                b"/ColorSpace /DeviceGray /BitsPerComponent 8",
            ),
        ]
    )


def plain_pdf(lines: list[str], mediabox: bytes = b"[0 0 595 842]") -> bytes:
    return raw_pdf(page_objects(text_content(lines), mediabox=mediabox))


def zero_pages() -> bytes:
    return raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"])


def huge_page() -> bytes:
    """A 200 x 200 inch page (the largest PDF allows) with a line of text."""
    return plain_pdf(["Ein sehr grosses Blatt"], mediabox=b"[0 0 14400 14400]")


def deflate_bomb(megabytes: int = 512) -> bytes:
    """A page whose content stream inflates to ``megabytes`` of spaces from about a
    thousandth of that: a decompression bomb. Built from one compressed megabyte repeated
    (a full flush makes every block alike), so it takes a fraction of a second to make."""
    chunk = b" " * (1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    adler = 1
    for _ in range(megabytes):
        adler = zlib.adler32(chunk, adler)
    data = (
        b"\x78\xda" + block * megabytes + compressor.flush(zlib.Z_FINISH) + struct.pack(">I", adler)
    )
    objects = page_objects(b"")
    objects[3] = stream(data, b"/Filter /FlateDecode")
    return raw_pdf(objects)


def nested_bomb(depth: int = 200_000) -> bytes:
    """A page whose resources hold an array nested ``depth`` levels deep."""
    objects = page_objects(text_content(["Tief verschachtelt"]))
    objects[2] = objects[2].replace(b"/Contents", b"/Nested 6 0 R /Contents")
    objects.append(b"[" * depth + b"]" * depth)
    return raw_pdf(objects)


def deep_page_tree(depth: int = 5000) -> bytes:
    """A page tree nested ``depth`` levels deep above a single page."""
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    for level in range(depth):
        number = 2 + level
        parent = b"/Parent %d 0 R " % (number - 1) if level else b""
        objects.append(b"<< /Type /Pages %s/Kids [%d 0 R] /Count 1 >>" % (parent, number + 1))
    page_number = 2 + depth
    objects.append(
        b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>"
        % (page_number - 1, page_number + 2, page_number + 1)
    )
    objects.append(stream(text_content(["Ganz unten im Seitenbaum"])))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    return raw_pdf(objects)


def page_breaking_pdfminer() -> bytes:
    """Two pages; the second has a MediaBox of names instead of numbers, on which pdfminer
    raises (TypeError) while pdfium still reads the text."""
    good = text_content(["Die erste Seite ist in Ordnung"])
    bad = text_content(["Die zweite Seite hat einen kaputten Rahmen"])
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /Font << /F1 7 0 R >> >> /Contents 5 0 R >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 a b] "
            b"/Resources << /Font << /F1 7 0 R >> >> /Contents 6 0 R >>",
            stream(good),
            stream(bad),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
    )


MARGIN_NOTE = "arXiv:2101.00001v1 [cs.CL] 1 Jan 2021"
CHART_LABEL = "Umsatz Q1 2024"
SIDEWAYS = [f"Zeile {i} der quer gesetzten Tabelle mit einigen Wörtern." for i in range(4)]


def turned_text() -> bytes:
    """Page 1: body text, a watermark across it at 45°, a note up the left margin and a
    small label at 30°;
    page 2: lines set sideways (turned by 90°), as a landscape table in a portrait file."""
    _register_fonts()
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=PAGE_A4)
    for number in range(12):
        canvas.setFont(FONT, 11)
        canvas.drawString(60, 760 - 14 * number, f"Zeile {number} des Haupttextes, die weitergeht.")
    turned = (
        (45, 300, 420, 72, "ENTWURF"),
        (90, 30, 300, 8, MARGIN_NOTE),
        (30, 380, 120, 9, CHART_LABEL),
    )
    for angle, x, y, size, text in turned:
        canvas.saveState()
        canvas.translate(x, y)
        canvas.rotate(angle)
        canvas.setFont(FONT, size)
        canvas.drawString(0, 0, text)
        canvas.restoreState()
    canvas.showPage()
    canvas.translate(80, 60)
    canvas.rotate(90)
    for number, text in enumerate(SIDEWAYS):
        canvas.setFont(FONT, 11)
        canvas.drawString(0, -40 * number, text)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def footnote_mark() -> bytes:
    """A paragraph of three lines with a footnote mark (7 pt, raised) after "Landtag" in
    the second, and two footnotes at the bottom of the page."""
    _register_fonts()
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=PAGE_A4)
    pieces = [
        [("Der Haushalt des Landes wurde im Jahr beraten und nach langer", 11, 0)],
        [("Debatte im Landtag", 11, 0), ("12", 7, 4), (" beschlossen, wie berichtet", 11, 0)],
        [("und wie es im Gesetz über den Haushalt vorgesehen ist.", 11, 0)],
    ]
    for number, line in enumerate(pieces):
        x = 60.0
        for text, size, rise in line:
            canvas.setFont(FONT, size)
            canvas.drawString(x, 760 - 14 * number + rise, text)
            x += pdfmetrics.stringWidth(text, FONT, size)
    canvas.setFont(FONT, 8)
    canvas.drawString(60, 80, "12 Siehe Drucksache 17/1234 des Landtags.")
    canvas.drawString(60, 70, "13 Beschlossen mit 45 zu 44 Stimmen.")
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


GLYPH_HEADING = "Adaptive Irrigation in Semi-Arid Regions"
GLYPH_FORM = [("Invoice date:", "14 November 2026"), ("Customer number:", "C-88231")]
GLYPH_PARAGRAPH = [
    "Water scarcity affects nearly two billion people worldwide, and farmers",
    "in semiarid regions face unpredictable rainfall and shrinking aquifers",
    "while prices for water keep rising from one season to the next.",
]


def glyph_by_glyph() -> bytes:
    """Text as Chromium prints it: every glyph (blanks included) drawn on its own, in a
    font set 4/3 too large and scaled by 0.75 (CSS pixels to points): a heading, two form
    rows of a label and a value far apart, and a paragraph of three lines."""
    _register_fonts()
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=PAGE_A4)
    canvas.scale(0.75, 0.75)

    def glyphs(text: str, x: float, y: float, font: str, size: float) -> None:
        for char in text:
            canvas.setFont(font, size)
            canvas.drawString(x, y, char)
            x += pdfmetrics.stringWidth(char, font, size)

    glyphs(GLYPH_HEADING, 80, 1040, FONT_BOLD, 26.67)
    for row, (label, value) in enumerate(GLYPH_FORM):
        glyphs(label, 80, 980 - 18 * row, FONT, 13.33)
        glyphs(value, 300, 980 - 18 * row, FONT, 13.33)
    for row, line in enumerate(GLYPH_PARAGRAPH):
        glyphs(line, 80, 900 - 18 * row, FONT, 13.33)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


JUSTIFIED = [
    "Die Rechtsschutzversicherungsgesellschaften verlangten von der "
    "Kraftfahrzeughaftpflichtversicherung eine ausführliche Stellungnahme zur "
    "Grundstücksverkehrsgenehmigungsverordnung, die seit Jahren für Verwirrung sorgt.",
    "Äußerst schwierige Übergangsbestimmungen betreffen insbesondere die "
    "Lebensmittelüberwachungsaufgabenübertragungsgesetze sowie die "
    "Rinderkennzeichnungsfleischetikettierungsüberwachung. Größere Behörden müssen künftig "
    "Überstunden ausgleichen.",
    "Schließlich prüfte die Bundesausbildungsförderungsgesetzesnovelle die Zuständigkeiten "
    "der Straßenverkehrsbehörden, der Arbeitsunfähigkeitsbescheinigungen und der "
    "Bezirksschornsteinfegermeister.",
]


def justified() -> bytes:
    """Three paragraphs of long German compounds, justified on an A5 page: lines with
    gaps of several words' width, which pdfminer cuts a line at."""
    from reportlab.lib.enums import TA_JUSTIFY
    from reportlab.lib.pagesizes import A5
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    _register_fonts()
    style = ParagraphStyle(
        "justified", fontName=FONT, fontSize=11, leading=14, alignment=TA_JUSTIFY, spaceAfter=8
    )
    buffer = io.BytesIO()
    SimpleDocTemplate(buffer, pagesize=A5, leftMargin=40, rightMargin=40).build(
        [Paragraph(text, style) for text in JUSTIFIED]
    )
    return buffer.getvalue()


RISEN_SCRIPTS = [
    "Water is H<sub>2</sub>O and the area is 12 m<super>2</super> in the plan. The plan was "
    "drawn up in the spring, checked by the office over the summer and approved by the "
    "council in the autumn, after a long debate about the costs and the timetable.",
    "The effect was shown before<super>a</super> and confirmed later<super>b</super> in two "
    "studies of the same group.",
    "<super>a</super> Smith and Jones, 2019, with a long title that goes on for a while.",
    "<super>b</super> Weber, 2021, a second study that confirms the first one.",
]
RISEN_SCRIPTS_TEXT = [
    "Water is H\u2082O and the area is 12 m\u00b2 in the plan. The plan was drawn up in the "
    "spring, checked by the office over the summer and approved by the council in the "
    "autumn, after a long debate about the costs and the timetable.",
    "The effect was shown before a and confirmed later b in two studies of the same group.",
    "a Smith and Jones, 2019, with a long title that goes on for a while.",
    "b Weber, 2021, a second study that confirms the first one.",
]


def risen_scripts() -> bytes:
    """``RISEN_SCRIPTS`` set by reportlab, whose ``<sub>`` and ``<super>`` move a smaller
    size half a size down or up with a text rise; the last two paragraphs are footnotes
    set smaller, with their letter marks."""
    from reportlab.lib.pagesizes import A5
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    _register_fonts()
    body = ParagraphStyle("body", fontName=FONT, fontSize=10, leading=14, spaceAfter=8)
    note = ParagraphStyle("note", parent=body, fontSize=8, leading=10, spaceAfter=4)
    buffer = io.BytesIO()
    SimpleDocTemplate(buffer, pagesize=A5, leftMargin=40, rightMargin=40).build(
        [Paragraph(text, body if n < 2 else note) for n, text in enumerate(RISEN_SCRIPTS)]
    )
    return buffer.getvalue()


def browser_pdf(html: str, folder: Path) -> bytes:
    """``html`` printed to PDF by Debian's Chromium (installed by scripts/test.sh), as a
    browser's "Save as PDF" makes it: glyphs drawn one by one, list bullets drawn as
    shapes, list numbers as text."""
    import subprocess

    page = folder / "page.html"
    page.write_text(html, encoding="utf-8")
    output = folder / "page.pdf"
    command = [CHROMIUM, *CHROMIUM_ARGS, "--no-pdf-header-footer", f"--print-to-pdf={output}"]
    subprocess.run(
        [*command, page.as_uri()],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return output.read_bytes()


NESTED_LISTS_HTML = """<!doctype html><html lang="en"><body style="font: 12pt sans-serif">
<h1>Project plan</h1>
<p>The plan has these steps, each with its own tasks.</p>
<ol>
<li>Prepare the site<ol><li>Order the materials</li>
<li>Clear the ground before the first delivery arrives</li></ol></li>
<li>Build the frame<ul><li>Walls of timber</li><li>Roof of steel</li></ul></li>
<li>Finish the work</li>
</ol>
<p>Shopping list:</p>
<ul><li>Apples</li><li>Pears and more pears</li><li>Bread</li></ul>
<p>After the list, a paragraph of running text.</p>
</body></html>"""
NESTED_LISTS_MARKDOWN = [
    "1. Prepare the site\n"
    "   1. Order the materials\n"
    "   2. Clear the ground before the first delivery arrives\n"
    "2. Build the frame\n"
    "   - Walls of timber\n"
    "   - Roof of steel\n"
    "3. Finish the work",
    "- Apples\n- Pears and more pears\n- Bread",
]
"""How ``NESTED_LISTS_HTML``'s lists read in Markdown: blocks of the page's Markdown."""

TYPOGRAPHY_HTML = """<!doctype html><html lang="en"><body style="font: 12pt serif">
<h2 style="letter-spacing: 0.4em">SUMMARY OF FINDINGS</h2>
<p><span style="float: left; font-size: 42pt; line-height: 36pt; padding-right: 4pt">O</span>nce
upon a time there was a long paragraph that starts with a drop cap, as magazines set their
first paragraph, and it runs over several lines so that the drop cap spans three of them.</p>
<p>Water is H<sub>2</sub>O, carbon dioxide CO<sub>2</sub>, and the area is 12 m<sup>2</sup>.</p>
<p style="font-variant: small-caps">Annual Report of the Board</p>
<p>Ex<b>ample</b> of a word in two weights.</p>
</body></html>"""
TYPOGRAPHY_PARAGRAPHS = [
    "SUMMARY OF FINDINGS",
    "Once upon a time there was a long paragraph that starts with a drop cap, as magazines "
    "set their first paragraph, and it runs over several lines so that the drop cap spans "
    "three of them.",
]
"""The first paragraphs of ``TYPOGRAPHY_HTML`` as read; the third holds H₂O, CO₂ and m²,
the fourth is set in small caps, the fifth has a word in two weights."""

LOOKALIKES_HTML = """<!doctype html><html lang="en"><body style="font: 12pt serif; width: 420px">
<h2><svg width="14" height="14"><rect width="14" height="14"/></svg> Experience</h2>
<p>Phone <svg width="9" height="9"><rect width="9" height="9"/></svg> +49 30 1234567</p>
<p><span style="display:inline-block;width:9px;height:9px;border:1px solid #000"></span>
Full-time</p>
<p><span style="display:inline-block;width:9px;height:9px;border:1px solid #000"></span>
Part-time</p>
<ol start="99"><li>item 99</li><li>item 100</li><li>item 101</li></ol>
<p>A B C D</p>
<h2 style="font-family: sans-serif; letter-spacing: 0.5em">INVOICE 2025</h2>
<style>table { border-collapse: collapse; border-top: 1px solid #999 }
td, th { border-bottom: 1px solid #999; padding: 2px 12px; text-align: left }
.dot { display: inline-block; width: 8px; height: 8px; border-radius: 50% }</style>
<table><tr><th>Service</th><th>Status</th></tr>
<tr><td>Web</td><td><span class="dot" style="background: #2a2"></span> up</td></tr>
<tr><td>Mail</td><td><span class="dot" style="background: #c22"></span> down</td></tr></table>
<p><span style="float: left; font-size: 42pt; line-height: 36pt; padding-right: 4pt">I</span>
was born in the year 1632, in the city of York, of a good family, though not of that
country, my father being a foreigner of Bremen, who settled first at Hull.</p>
<p>She came 1<sup>st</sup> and he 2<sup>nd</sup>; the third went home.</p>
</body></html>"""
LOOKALIKES_MARKDOWN = [
    "### Experience",
    "Phone +49 30 1234567",
    "Full-time",
    "Part-time",
    "99. item 99\n100. item 100\n101. item 101",
    "A B C D",
    "### INVOICE 2025",
    "| Service | Status |\n| --- | --- |\n| Web | up |\n| Mail | down |",
    "I was born in the year 1632, in the city of York, of a good family, though not of that "
    "country, my father being a foreigner of Bremen, who settled first at Hull.",
    "She came 1st and he 2nd; the third went home.",
]
LETTERED_LISTS_HTML = """<!doctype html><html lang="en">
<body style="font: 11pt serif; width: 520px">
<p>The parties agree to the following conditions, which apply from the first day.</p>
<ol type="a"><li>The buyer pays within thirty days of the invoice date.</li>
<li>The seller delivers the goods to the address the buyer names.</li>
<li>Either party may end the contract with three months' notice.</li></ol>
<p>Further, the following exceptions hold in every case.</p>
<ol type="i"><li>Force majeure suspends every obligation.</li>
<li>Claims expire after two years.</li><li>German law applies.</li></ol>
<ol type="A"><li>First upper item of the list.</li><li>Second upper item of the list.</li></ol>
<p>Die Regel gilt auch für Verträge mit Verbrauchern; Ausnahmen sind im Anhang
z. B. für Schenkungen genannt, die i. d. R. notariell beurkundet werden und deshalb
gesondert geprüft werden, bevor sie gelten.</p>
<p>Glossary:</p>
<dl><dt>Lease</dt><dd>The time a worker may hold a job before another takes it over.</dd>
<dt>Batch</dt><dd>A group of jobs submitted together and watched as one.</dd></dl>
<ol start="101"><li>Item one hundred and one.</li><li>Item one hundred and two.</li></ol>
<ol><li>A new list that starts again.</li><li>And goes on.</li></ol>
</body></html>"""
LETTERED_LISTS_MARKDOWN = [
    "The parties agree to the following conditions, which apply from the first day.",
    "* a. The buyer pays within thirty days of the invoice date.\n"
    "* b. The seller delivers the goods to the address the buyer names.\n"
    "* c. Either party may end the contract with three months' notice.",
    "Further, the following exceptions hold in every case.",
    "* i. Force majeure suspends every obligation.\n"
    "* ii. Claims expire after two years.\n"
    "* iii. German law applies.",
    "+ A. First upper item of the list.\n+ B. Second upper item of the list.",
    "Die Regel gilt auch für Verträge mit Verbrauchern; Ausnahmen sind im Anhang z. B. für "
    "Schenkungen genannt, die i. d. R. notariell beurkundet werden und deshalb gesondert "
    "geprüft werden, bevor sie gelten.",
    "Glossary:",
    "Lease",
    "The time a worker may hold a job before another takes it over.",
    "Batch",
    "A group of jobs submitted together and watched as one.",
    "101. Item one hundred and one.\n102. Item one hundred and two.",
    "1) A new list that starts again.\n2) And goes on.",
]
"""How ``LETTERED_LISTS_HTML`` reads: lettered and roman lists (Markdown has no such lists:
bullet items that keep their letter; a list of another kind right after one takes the
other bullet, else a viewer would join them), "z. B." and "i. d. R." at a line's start as
running text, a definition list's terms apart from their definitions, and a numbering
that starts again as a list of its own (with the other delimiter: else a viewer counts
on, 103, 104)."""
TABLES_WITH_SHAPES_HTML = """<!doctype html><html lang="en">
<body style="font: 11pt sans-serif; width: 520px">
<style>.grid { border-collapse: collapse } .grid td, .grid th { border: 1px solid #999;
padding: 4px 8px; vertical-align: top } ul { margin: 0; padding-left: 16px }
.rules { border-collapse: collapse; margin-top: 20px; border-top: 2px solid #000;
border-bottom: 2px solid #000 } .rules th { border-bottom: 1px solid #000 }
.rules td, .rules th { padding: 2px 12px; text-align: left }
.dot { display: inline-block; width: 8px; height: 8px; border-radius: 50% }</style>
<table class="grid"><tr><th>Plan</th><th>Includes</th></tr>
<tr><td>Basic</td><td><ul><li>10 GB storage</li><li>1 user</li></ul></td></tr>
<tr><td>Team</td><td><ul><li>100 GB storage</li><li>5 users</li><li>Priority support</li></ul>
</td></tr></table>
<table class="rules"><tr><th>Service</th><th>Status</th></tr>
<tr><td>Web</td><td><span class="dot" style="background: #2a2"></span> up</td></tr>
<tr><td>Mail</td><td><span class="dot" style="background: #c22"></span> down</td></tr>
<tr><td>DNS</td><td><span class="dot" style="background: #2a2"></span> up</td></tr></table>
</body></html>"""
TABLES_WITH_SHAPES_MARKDOWN = [
    "| Plan | Includes |\n| --- | --- |\n| Basic | \u2022 10 GB storage \u2022 1 user |\n"
    "| Team | \u2022 100 GB storage \u2022 5 users \u2022 Priority support |",
    "| Service | Status |\n| --- | --- |\n| Web | up |\n| Mail | down |\n| DNS | up |",
]
"""A page of two tables and no other text: a list with drawn bullets in a cell, and a
status column's dots in a table ruled at its head and foot only."""
UNDERLINED_HEADINGS_HTML = """<!doctype html><html lang="en"><body style="font: 11pt sans-serif">
<h3 style="border-bottom: 1px solid #999">PROFILE</h3>
<p>Engineer with ten years of experience in data pipelines.</p>
<h3 style="border-bottom: 1px solid #999">EXPERIENCE</h3>
<div style="display: flex; justify-content: space-between"><b>Senior Engineer, Foo AG</b>
<span>2019 - 2024</span></div>
<p>Led a team of five engineers building the ingestion platform.</p>
<h3 style="border-bottom: 1px solid #999">SKILLS</h3>
<p>Python, SQL and a little Rust.</p>
</body></html>"""
"""A CV's sections under underlined headings: the underlines are rules of one width with
text between them, as a table ruled across is, but most of its "rows" hold one cell."""
"""What ``LOOKALIKES_HTML`` reads as: things the list, letter-spacing, drop cap and script
rules must leave alone (an icon before a heading or inside a line, outlined checkboxes,
numbers set flush right, single letters with blanks), and a one-letter word as a cap."""
REFERENCES_HTML = """<!doctype html><html lang="en">
<body style="font: 11pt serif; width: 520px">
<p>Earlier systems read each page in turn; the results of the most recent studies, as
reported in [12] and [13], show that reading pages in parallel pays off for documents of
more than a few pages, which most of the submitted documents are.</p>
<h3>References</h3>
<div>[1] A. Vaswani, N. Shazeer, and N. Parmar, "Attention is all you need," in Proc.
NeurIPS, 2017.</div>
<div>[2] K. He and J. Sun, "Deep residual learning," in Proc. CVPR, 2016.</div>
<div>[3] Y. LeCun, Y. Bengio, and G. Hinton, "Deep learning," Nature, vol. 521, no. 7553,
pp. 436\u2013444, May 2015, a review of the field.</div>
<div>[4] D. P. Kingma and J. Ba, "Adam," arXiv:1412.6980, 2014.</div>
<div>[5] van der Berg, K., "Tables in PDF files," in Proc. ICDAR, 2019.</div>
<h3>Literature</h3>
<div style="margin-left: 2em; text-indent: -2em">Baker, M. (2016). Reproducibility crisis.
Nature, 533, 452\u2013454.</div>
<div style="margin-left: 2em; text-indent: -2em">Smith, J., &amp; Jones, K. (2019). A long
title of a study on the effects of things on other things in the long run. Journal of
Studies, 12(3), 45\u201367.</div>
<div style="margin-left: 2em; text-indent: -2em">Weber, H. (2020). Kurzer Titel.
Verlag.</div>
<h3>Dialogue</h3>
<div>The rain had not stopped for three days when Martha opened the letter that had lain on
the table since Monday, and read it twice.</div>
<div>"Who is it from?" asked Tom.</div>
<div>She folded the letter, put it back into its envelope and waited for the answer to
come to her, but nothing came\u2026</div>
<div>"Nobody you know," she said at last.</div>
</body></html>"""
REFERENCES_MARKDOWN = [
    "Earlier systems read each page in turn; the results of the most recent studies, as "
    "reported in \\[12] and \\[13], show that reading pages in parallel pays off for "
    "documents of more than a few pages, which most of the submitted documents are.",
    "### References",
    '* \\[1] A. Vaswani, N. Shazeer, and N. Parmar, "Attention is all you need," in Proc. '
    "NeurIPS, 2017.\n"
    '* \\[2] K. He and J. Sun, "Deep residual learning," in Proc. CVPR, 2016.\n'
    '* \\[3] Y. LeCun, Y. Bengio, and G. Hinton, "Deep learning," Nature, vol. 521, no. '
    "7553, pp. 436\u2013444, May 2015, a review of the field.\n"
    '* \\[4] D. P. Kingma and J. Ba, "Adam," arXiv:1412.6980, 2014.\n'
    '* \\[5] van der Berg, K., "Tables in PDF files," in Proc. ICDAR, 2019.',
    "### Literature",
    "Baker, M. (2016). Reproducibility crisis. Nature, 533, 452\u2013454.",
    "Smith, J., & Jones, K. (2019). A long title of a study on the effects of things on "
    "other things in the long run. Journal of Studies, 12(3), 45\u201367.",
    "Weber, H. (2020). Kurzer Titel. Verlag.",
    "### Dialogue",
    "The rain had not stopped for three days when Martha opened the letter that had lain "
    "on the table since Monday, and read it twice.",
    '"Who is it from?" asked Tom.',
    "She folded the letter, put it back into its envelope and waited for the answer to come "
    "to her, but nothing came\u2026",
    '"Nobody you know," she said at last.',
]
"""How ``REFERENCES_HTML`` reads: numbered references as a list whose items keep their
"[n]" (one by an author whose name starts in lower case), references with hanging lines
and lines of dialogue each a paragraph of their own (they are neither indented nor set
apart: each ends a sentence where the next line's first words would have fit), and "[12]"
in a sentence as text."""


CROPPED_AWAY = "Druckerei-Vermerk unterhalb des Beschnitts"
SHOWN = ["Sichtbarer Text im Beschnitt, erste Zeile.", "Und die zweite Zeile des Textes."]


def cropped_and_turned() -> bytes:
    """Page 1: a crop box that starts 100 pt above the media box's bottom, with a line
    below it; page 2: the same lines on a page shown turned by 90° (/Rotate)."""
    _register_fonts()
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=PAGE_A4)
    for number in range(2):
        top = 760
        if number == 0:
            canvas.setCropBox((0, 100, PAGE_A4[0], PAGE_A4[1]))
            canvas.setFont(FONT, 9)
            canvas.drawString(60, 50, CROPPED_AWAY)
        else:  # reportlab lays a turned page out landscape (media box 842 x 595)
            canvas.setCropBox((0, 0, PAGE_A4[1], PAGE_A4[0]))
            canvas.setPageRotation(90)
            top = 500
        canvas.setFont(FONT, 11)
        for row, text in enumerate(SHOWN):
            canvas.drawString(60, top - 14 * row, text)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


STANDARD_BOLD_HEADING = "Zuständigkeit und Verfahren"


def standard_fonts() -> bytes:
    """A bold heading and body text in the standard fonts a PDF names without embedding
    them (Helvetica-Bold, Helvetica): they carry no weight, only their names."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=PAGE_A4)
    canvas.setFont("Helvetica-Bold", 11)
    canvas.drawString(60, 760, STANDARD_BOLD_HEADING)
    canvas.setFont("Helvetica", 11)
    canvas.drawString(60, 730, "Für die Bearbeitung ist das Amt zuständig, binnen zwei Wochen.")
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def image_bytes(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def with_image() -> bytes:
    """A page with a caption and an embedded 200 x 120 pixel picture."""
    from reportlab.lib.utils import ImageReader

    picture = Image.new("RGB", (200, 120), (30, 120, 200))
    for x in range(0, 200, 20):
        for y in range(120):
            picture.putpixel((x, y), (250, 250, 250))
    writer = Writer(furniture=False)
    writer.page([Line(50, 760, "Abbildung 1 zeigt den Lageplan")])
    writer.canvas.drawImage(ImageReader(picture), 50, 500, width=200, height=120)
    return writer.finish()


ACROSS_PAGES = ["Der Antrag ging nach langer Beratung an die Verwal-", "tung des Landes."]


def hyphenated_across_pages() -> bytes:
    """Three pages with the corpus's header and footer; page 1 ends in a word hyphenated
    onto page 2 (``ACROSS_PAGES``), page 3 holds a paragraph of its own."""
    writer = Writer()
    writer.page([Line(50, 760, "Erster Absatz der ersten Seite."), Line(50, 120, ACROSS_PAGES[0])])
    writer.page([Line(50, 760, ACROSS_PAGES[1]), Line(50, 700, "Ein neuer Absatz folgt.")])
    writer.page([Line(50, 760, "Die letzte Seite.")])
    return writer.finish()


ITALIC_WORDS = "Der Chef des Hauses und der Brief vom Amt; the fjord and a jury."


def italic_words() -> bytes:
    """``ITALIC_WORDS`` in Times with "Chef", "Brief", "fjord" and "jury" in italics: an
    italic f or j reaches over the word space, so the boxes of the words nearly touch."""
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    marked = re.sub(r"\b(Chef|Brief|fjord|jury)\b", r"<i>\1</i>", ITALIC_WORDS)
    buffer = io.BytesIO()
    style = ParagraphStyle("body", fontName="Times-Roman", fontSize=12, leading=15)
    SimpleDocTemplate(buffer).build([Paragraph(marked, style)])
    return buffer.getvalue()


GROUPED_ROWS = [
    ["Artikel", "Menge", "Preis"], ["Obst", "", ""], ["Äpfel", "2 kg", "4,20"],
    ["Birnen", "1 kg", "2,90"], ["Gemüse", "", ""], ["Karotten", "1 kg", "1,50"],
]  # fmt: skip


def grouped_table() -> bytes:
    """``GROUPED_ROWS`` as a table ruled under every row, whose group rows ("Obst",
    "Gemüse") hold one cell."""
    from reportlab.lib import colors
    from reportlab.lib.units import cm
    from reportlab.platypus import SimpleDocTemplate, Table, TableStyle

    table = Table(GROUPED_ROWS, colWidths=[8 * cm, 3 * cm, 3 * cm])
    table.setStyle(
        TableStyle(
            [
                ("LINEABOVE", (0, 0), (-1, 0), 1, colors.black),
                ("LINEBELOW", (0, 0), (-1, -1), 0.5, colors.black),
            ]
        )
    )
    buffer = io.BytesIO()
    SimpleDocTemplate(buffer).build([table])
    return buffer.getvalue()


RAISED_INITIAL = [
    "Raised initials stand on the first line of a chapter and rise above",
    "it, as some books set them; the line is body text all the same.",
]


def raised_initial() -> bytes:
    """``RAISED_INITIAL`` with its first letter set at 26 pt on the first line's baseline,
    the rest at 11 pt, drawn as two text objects that touch."""
    _register_fonts()
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=PAGE_A4)
    first, rest = RAISED_INITIAL[0][0], RAISED_INITIAL[0][1:]
    canvas.setFont(FONT, 26)
    canvas.drawString(60, 700, first)
    canvas.setFont(FONT, 11)
    canvas.drawString(60 + pdfmetrics.stringWidth(first, FONT, 26), 700, rest)
    canvas.drawString(60, 686, RAISED_INITIAL[1])
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def with_transparent_image() -> bytes:
    """A red disc on a transparent ground (an image with a soft mask), as logos are."""
    from reportlab.lib.utils import ImageReader

    picture = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    for x in range(200):
        for y in range(100):
            if ((x - 100) / 90) ** 2 + ((y - 50) / 40) ** 2 <= 1:
                picture.putpixel((x, y), (200, 30, 30, 255))
    writer = Writer(furniture=False)
    writer.page([Line(50, 760, "Das Logo der Stadt")])
    writer.canvas.drawImage(ImageReader(picture), 50, 500, width=200, height=100, mask="auto")
    return writer.finish()


def many_pages(count: int) -> bytes:
    writer = Writer(furniture=False)
    for number in range(1, count + 1):
        writer.page([Line(50, 760, f"Seite mit der Nummer {number}")])
    return writer.finish()
