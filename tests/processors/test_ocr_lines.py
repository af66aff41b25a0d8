"""OCR lines as Tesseract reports them, put back together where its page segmentation cut
them (processors/pdf/ocr.py ``join_split_lines``)."""

from __future__ import annotations

import io

import pypdfium2 as pdfium
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from processors.pdf.layout import Line
from processors.pdf.ocr import join_split_lines, ocr_image
from tests.processors import corpus


def _line(text: str, x0: float, x1: float, baseline: float, region: int) -> Line:
    return Line(text, x0, baseline - 10, x1, baseline, baseline, 10.0, False, region)


def test_halves_of_a_line_are_joined_but_columns_are_not() -> None:
    labels = [_line(f"Item {n}:", 72, 120, 100 + 16 * n, 1) for n in range(3)]
    values = [_line(f"value {n}", 124, 300, 100 + 16 * n, 2) for n in range(3)]
    left = _line("left column", 72, 250, 200, 3)
    right = _line("right column", 270, 450, 200, 4)  # a 20 pt gutter: two columns
    joined = join_split_lines([*labels, *values, left, right])
    assert [line.text for line in joined] == [
        "Item 0: value 0",
        "Item 1: value 1",
        "Item 2: value 2",
        "left column",
        "right column",
    ]
    assert (joined[0].x0, joined[0].x1, joined[0].region) == (72, 300, 1)


def test_a_line_already_read_is_not_taken_again_as_a_continuation() -> None:
    """Tesseract on a page turned sideways read each line's right piece first: joined to
    the left piece after it, every piece came out twice (441 characters became 828)."""
    pieces = []
    for n in range(3):
        pieces += [_line(f"right {n}", 124, 300, 100 + 16 * n, 1)]
        pieces += [_line(f"left {n}", 72, 120, 100 + 16 * n, 1)]
    joined = join_split_lines(pieces)
    assert sorted(line.text for line in joined) == sorted(line.text for line in pieces)


def test_rows_of_alike_lines_are_read_line_by_line() -> None:
    """Twenty lines "Line N of page 1: jumps over …": Tesseract takes the text up to the
    aligned colons for a block of its own and read all the labels before the rest."""
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4)
    page.setFont("Helvetica", 11)
    truth = [
        f"Line {n} of page 1: jumps over the lazy dog near the riverbank today." for n in range(20)
    ]
    for n, text in enumerate(truth):
        page.drawString(72, 740 - 16 * n, text)
    page.save()
    document = pdfium.PdfDocument(buffer.getvalue())
    image = document[0].render(scale=300 / 72, grayscale=True).to_pil()
    result = ocr_image(image, languages="eng", dpi=300, timeout=120)
    assert corpus.recall_in_order(" ".join(truth), result.layout.text()) >= 0.95
