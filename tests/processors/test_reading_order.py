"""Reading order (processors/pdf/layout.py): the one-pass split of a page into paragraph
bands must give what cutting at the widest gap again and again gives, and step aside where
a column cut could happen on the way."""

from __future__ import annotations

from processors.pdf.layout import Line, reading_order


def _line(text: str, x0: float, top: float, x1: float, size: float = 10.0) -> Line:
    bottom = top + size
    return Line(text, x0, top, x1, bottom, bottom - 2, size)


def test_a_single_column_is_read_paragraph_by_paragraph_top_to_bottom() -> None:
    lines = [
        _line("Second paragraph, first line of it", 50, 200, 500),
        _line("First paragraph, its second line", 50, 112, 480),
        _line("Heading of the page", 50, 60, 250, size=16),
        _line("First paragraph, its first line here", 50, 100, 500),
        _line("Second paragraph, second and last", 50, 212, 300),
    ]
    ordered = reading_order(lines)
    assert [item.text for item in ordered] == [
        "Heading of the page",
        "First paragraph, its first line here",
        "First paragraph, its second line",
        "Second paragraph, first line of it",
        "Second paragraph, second and last",
    ]
    assert [item.region for item in ordered] == [0, 1, 1, 2, 2]


def test_paragraphs_side_by_side_below_a_full_width_line_are_read_as_columns() -> None:
    """No column gap runs through the whole page (the title spans it), nor through any one
    paragraph band; but the band on the right and the band below it on the left lie side
    by side, and once the title is cut off they are two columns: left before right."""
    lines = [
        _line("A title that spans the whole width of the page", 50, 50, 500),
        _line("A paragraph set in the right-hand column only", 300, 100, 500),
        _line("The left-hand column starts lower on the page", 50, 130, 250),
        _line("and goes on here with its second line of text", 50, 142, 250),
    ]
    assert [item.text for item in reading_order(lines)] == [
        "A title that spans the whole width of the page",
        "The left-hand column starts lower on the page",
        "and goes on here with its second line of text",
        "A paragraph set in the right-hand column only",
    ]
