"""The pdf processor's C helper (processors/pdf/native): built by the test command, loaded
only for its own source, and reading exactly the runs the Python path reads."""

from __future__ import annotations

import ctypes
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pypdfium2.raw as pdfium_c
import pytest
from django.core import checks

from processors.pdf import native
from processors.pdf.engines import _RULES_AND_IMAGES, PdfiumPages, _object_bounds
from processors.pdf.layout import Line
from tests.processors import corpus

DOCUMENTS = {
    "one column, hyphenated": lambda: corpus.one_column(3, seed=11).pdf,
    "two columns": lambda: corpus.two_columns().pdf,
    "table": lambda: corpus.table().pdf,
    "lists": lambda: corpus.lists().pdf,
    "booktabs": corpus.booktabs,
    "watermark and sideways text": corpus.turned_text,
    "footnote marks": corpus.footnote_mark,
    "cropped and turned": corpus.cropped_and_turned,
    "standard fonts, bold by name": corpus.standard_fonts,
    "glyph by glyph, scaled font": corpus.glyph_by_glyph,
}


def _text_pages(path: Path) -> Iterator[tuple[object, ctypes.Array[ctypes.c_char], str]]:
    """Each page's raw text page, its text as UTF-16 and as a string."""
    pages = PdfiumPages(path)
    try:
        for index in range(len(pages)):
            page = pdfium_c.FPDF_LoadPage(pages.document.raw, index)
            textpage = pdfium_c.FPDFText_LoadPage(page)
            count = pdfium_c.FPDFText_CountChars(textpage)
            buffer = ctypes.create_string_buffer(2 * (count + 1))
            written = pdfium_c.FPDFText_GetText(
                textpage, 0, count, ctypes.cast(buffer, ctypes.POINTER(ctypes.c_ushort))
            )
            text = buffer.raw[: 2 * (written - 1)].decode("utf-16-le")
            assert len(text) == count
            try:
                yield textpage, buffer, text
            finally:
                pdfium_c.FPDFText_ClosePage(textpage)
                pdfium_c.FPDF_ClosePage(page)
    finally:
        pages.close()


def _lines(values: list[float], text: str) -> list[Line]:
    return PdfiumPages._runs(values, text, 842.0)


def test_the_test_command_built_the_helper() -> None:
    """scripts/test.sh builds it, so the suite runs the engine as users of run.sh get it."""
    assert native.pdfium() is not None, "run `python -m processors.pdf.native`"
    assert "jobcenter.W001" not in {message.id for message in checks.run_checks()}


@pytest.mark.parametrize("name", DOCUMENTS)
def test_the_helper_reads_the_runs_the_python_path_reads(name: str, tmp_path: Path) -> None:
    helper = native.pdfium()
    assert helper is not None
    path = tmp_path / "document.pdf"
    path.write_bytes(DOCUMENTS[name]())
    pages = 0
    for textpage, buffer, text in _text_pages(path):
        lines = _lines(helper.runs(textpage, buffer, len(text)), text)
        assert lines == _lines(PdfiumPages._run_values(textpage, text), text)
        assert lines  # the page has text, and the helper found it
        pages += 1
    assert pages >= 1


def test_lines_with_several_runs_are_cut_alike(tmp_path: Path) -> None:
    """pdfium joins a line hyphenated at its end with the next one: one text line, two
    runs, whose boundary the helper bisects as the Python path does."""
    helper = native.pdfium()
    assert helper is not None
    path = tmp_path / "hyphenated.pdf"
    path.write_bytes(corpus.one_column(2, seed=11).pdf)
    shared = 0
    for textpage, buffer, text in _text_pages(path):
        values = helper.runs(textpage, buffer, len(text))
        assert _lines(values, text) == _lines(PdfiumPages._run_values(textpage, text), text)
        step = native.RUN_VALUES
        shared += sum(
            1 for at in range(0, len(values) - step, step) if values[at + step] == values[at + 1]
        )
    assert shared > 0, "no line of two runs: the bisecting went untested"


@pytest.mark.parametrize(
    "make",
    [corpus.table, corpus.grid_as_one_path, corpus.image_in_form, corpus.with_image],
    ids=["table", "grid as one path", "image in a form", "image"],
)
def test_the_helper_finds_the_rules_and_images_the_python_path_finds(
    make: Callable[[], Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = make()
    path = tmp_path / "document.pdf"
    path.write_bytes(data if isinstance(data, bytes) else data.pdf)

    def found() -> list[tuple[int, tuple[float, ...]]]:
        pages = PdfiumPages(path)
        try:
            page = pdfium_c.FPDF_LoadPage(pages.document.raw, 0)
            try:
                return [
                    (kind, bounds) for kind, bounds, _, _ in _object_bounds(page, _RULES_AND_IMAGES)
                ]
            finally:
                pdfium_c.FPDF_ClosePage(page)
        finally:
            pages.close()

    assert native.pdfium() is not None
    with_helper = found()
    monkeypatch.setattr(native, "pdfium", lambda: None)
    assert with_helper == found()
    assert with_helper  # the page has rules or images, and the helper found them


def test_a_page_with_more_runs_than_the_buffer_holds(tmp_path: Path) -> None:
    helper = native.PdfiumHelper(ctypes.CDLL(str(native.library_path())))
    helper.grow_runs(2)
    path = tmp_path / "document.pdf"
    path.write_bytes(corpus.two_columns().pdf)
    for textpage, buffer, text in _text_pages(path):  # the first page (still open)
        values = helper.runs(textpage, buffer, len(text))
        assert len(values) > 2 * native.RUN_VALUES
        assert helper.capacity * native.RUN_VALUES >= len(values)
        assert _lines(values, text) == _lines(PdfiumPages._run_values(textpage, text), text)
        break


def test_an_edited_source_is_not_served_by_an_old_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The build is named after its source: after an edit, the old library is not loaded
    (the Python path runs, and the system check says why) until it is built again."""
    source = tmp_path / "pdfium.c"
    shutil.copy(native.SOURCE, source)
    monkeypatch.setattr(native, "SOURCE", source)
    monkeypatch.setattr(native, "BUILD_DIR", tmp_path / "build")
    native.pdfium.cache_clear()
    try:
        first = native.build()
        assert native.pdfium() is not None
        source.write_text(source.read_text() + "\n/* edited */\n")
        native.pdfium.cache_clear()
        assert native.pdfium() is None
        warnings = [message.id for message in checks.run_checks() if message.id == "jobcenter.W001"]
        assert warnings == ["jobcenter.W001"]
        second = native.build()
        assert second != first and second.exists() and not first.exists()
        native.pdfium.cache_clear()
        assert native.pdfium() is not None
    finally:
        native.pdfium.cache_clear()


def test_a_failing_compiler_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(native, "BUILD_DIR", tmp_path / "build")
    with pytest.raises(RuntimeError, match="failed"):
        native.build(compiler="false")
    assert not list((tmp_path / "build").glob("*.so"))


def test_a_page_with_more_drawings_than_the_buffer_holds(tmp_path: Path) -> None:
    helper = native.PdfiumHelper(ctypes.CDLL(str(native.library_path())))
    path = tmp_path / "table.pdf"
    path.write_bytes(corpus.table().pdf)
    pages = PdfiumPages(path)
    page = pdfium_c.FPDF_LoadPage(pages.document.raw, 0)
    try:
        everything = helper.drawn_objects(page)
        helper.objects = (ctypes.c_int * 1)()
        assert len(everything) > 1
        assert helper.drawn_objects(page) == everything
        kinds = {
            pdfium_c.FPDFPageObj_GetType(pdfium_c.FPDFPage_GetObject(page, number))
            for number in range(pdfium_c.FPDFPage_CountObjects(page))
            if number not in everything
        }
        assert kinds == {pdfium_c.FPDF_PAGEOBJ_TEXT}
    finally:
        pdfium_c.FPDF_ClosePage(page)
        pages.close()
