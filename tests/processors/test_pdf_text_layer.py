"""The pdfium engine's fast reading of the text layer (processors/pdf/engines.py): the same
runs as asking pdfium for the text inside each run's box, and the cases where it must not
take the fast path."""

from __future__ import annotations

from pathlib import Path

import pytest

from processors.pdf.engines import PdfiumPages
from processors.pdf.layout import Line
from tests.processors import corpus


def _runs(lines: list[Line]) -> list[tuple[str, float, float, float, float, bool]]:
    return [
        (line.text, round(line.x0, 1), round(line.top, 1), round(line.baseline, 1),
         round(line.size, 1), line.bold)
        for line in lines
    ]  # fmt: skip


@pytest.mark.parametrize(
    "document",
    [
        corpus.one_column(2, seed=11),
        corpus.two_columns(interleaved=True),
        corpus.table(),
        corpus.lists(),
    ],
    ids=lambda document: document.name,
)
def test_fast_text_path_reads_the_same_runs_as_the_box_path(
    document: corpus.Document, tmp_path: Path
) -> None:
    path = tmp_path / "document.pdf"
    path.write_bytes(document.pdf)
    pages = PdfiumPages(path)
    try:
        for index in range(len(pages)):
            page = pages.document[index]
            height = page.get_height()
            textpage = page.get_textpage()
            fast = pages._lines(textpage, height)
            slow = pages._lines_by_box(textpage, height)
            textpage.close()
            page.close()
            assert len(fast) > 5
            assert _runs(fast) == _runs(slow)
    finally:
        pages.close()


def test_characters_outside_the_basic_plane_keep_lines_whole(tmp_path: Path) -> None:
    """pdfium counts such a character twice (once per UTF-16 unit) where Python counts it
    once: taking character indexes from the page's text would shift every later line's
    box and font by one character."""
    path = tmp_path / "astral.pdf"
    path.write_bytes(corpus.astral_text_layer(["Gruss @ aus Bonn", "zweite Zeile", "dritte"]))
    pages = PdfiumPages(path)
    try:
        lines = pages.layout(0).lines
        assert [line.text for line in lines] == [
            "Gruss \U0001f600 aus Bonn",
            "zweite Zeile",
            "dritte",
        ]
        assert [line.size for line in lines] == [14.0, 14.0, 14.0]
        page = pages.document[0]
        textpage = page.get_textpage()
        assert _runs(lines) == _runs(pages._lines_by_box(textpage, page.get_height()))
        textpage.close()
        page.close()
    finally:
        pages.close()


def test_an_image_inside_a_form_covers_the_page(tmp_path: Path) -> None:
    """Bounds of objects inside a form are in the form's space; mapped to the page, the
    scan covers all of it, so ``auto`` takes the page for OCR. Reading the text layer
    measures it on the way, the same."""
    path = tmp_path / "form.pdf"
    path.write_bytes(corpus.image_in_form())
    pages = PdfiumPages(path)
    try:
        assert pages.image_coverage(0) == pytest.approx(1.0, abs=0.01)
        assert pages.layout(0).image_coverage == pytest.approx(1.0, abs=0.01)
    finally:
        pages.close()
