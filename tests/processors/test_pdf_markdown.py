"""Headers and footers removed from pages whose paragraphs were made in the page processes
(processors/pdf/markdown.py): the result must be what paragraphing the page without them
gives, also where one shares a paragraph with the body or sits between its paragraphs."""

from __future__ import annotations

from processors.pdf.layout import Line, PageLayout
from processors.pdf.markdown import (
    Styles,
    furniture_keys,
    page_markdown,
    page_text,
    remove_furniture,
)

HEIGHT = 842.0


def _line(text: str, top: float, region: int, size: float = 10.0) -> Line:
    return Line(text, 50, top, 500, top + size, top + size - 2, size, region=region)


def _markdown_without_furniture(pages: list[list[Line]]) -> list[str]:
    texts = [page_text(PageLayout(595, HEIGHT, lines)) for lines in pages]
    keys = furniture_keys(texts)
    kept = [remove_furniture(text, keys) for text in texts]
    styles = Styles.of(kept)
    return [page_markdown(text, styles) for text in kept]


def _markdown_of(pages: list[list[Line]]) -> list[str]:
    texts = [page_text(PageLayout(595, HEIGHT, lines)) for lines in pages]
    styles = Styles.of(texts)
    return [page_markdown(text, styles) for text in texts]


def test_a_footer_set_close_under_the_body_is_taken_out_of_its_paragraph() -> None:
    pages = [
        [
            _line(f"Body text of the {word} page that goes on", 760, 0),
            _line("and ends on its second line here.", 772, 0),
            _line("Annual report 2026", 784, 0),  # the next line: joins the paragraph
        ]
        for word in ("red", "green", "blue")
    ]
    found = _markdown_without_furniture(pages)
    assert found == _markdown_of([page[:2] for page in pages])
    assert found[0] == "Body text of the red page that goes on and ends on its second line here."


def test_a_header_read_between_two_parts_of_a_paragraph_is_taken_out_of_it() -> None:
    """Reading order can put a line near the edge between lines of the body (a running head
    in a narrow column); without it the two parts are one paragraph again."""
    pages = [
        [
            _line(f"The first part of the {word} sentence that", 30, 0),
            _line("Running head", 40, 1),
            _line(f"continues in its {word} part.", 42, 0),
        ]
        for word in ("red", "green", "blue")
    ]
    found = _markdown_without_furniture(pages)
    assert found == _markdown_of([[page[0], page[2]] for page in pages])
    assert found[0] == "The first part of the red sentence that continues in its red part."
