"""Headers and footers removed from pages whose paragraphs were made in the page processes
(processors/pdf/markdown.py): the result must be what paragraphing the page without them
gives, also where one shares a paragraph with the body or sits between its paragraphs."""

from __future__ import annotations

from markdown_it import MarkdownIt

from processors.pdf.layout import Line, PageLayout, Table, reading_order
from processors.pdf.markdown import (
    Furniture,
    PageText,
    Paragraph,
    Styles,
    join_lines,
    page_markdown,
    page_text,
    plain_text,
    remove_furniture,
    settle,
)

HEIGHT = 842.0


def _line(text: str, top: float, region: int, size: float = 10.0) -> Line:
    return Line(text, 50, top, 500, top + size, top + size - 2, size, region=region)


def _bold(text: str, top: float, region: int) -> Line:
    line = _line(text, top, region)
    line.bold = True
    return line


def _markdown_without_furniture(pages: list[list[Line]]) -> list[str]:
    texts = [page_text(PageLayout(595, HEIGHT, lines)) for lines in pages]
    furniture = Furniture.of([[text] for text in texts])
    kept = [remove_furniture(text, furniture) for text in texts]
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


def test_a_page_whose_header_and_footer_stand_alone_sends_no_lines() -> None:
    """Its lines are half of what a page sends to the job's process, and only needed to
    paragraph the page again: not where the lines near the edges are the first and last
    paragraphs on their own, whichever of them turn out to be furniture."""
    pages = [
        [
            _line("Annual report 2026", 30, 0),
            _line(f"Body text of the {word} page, one sentence.", 400, 0),
            _line(f"Page {number}", 820, 0),
        ]
        for number, word in enumerate(("red", "green", "blue"), 1)
    ]
    texts = [page_text(PageLayout(595, HEIGHT, lines)) for lines in pages]
    assert [text.items for text in texts] == [None, None, None]
    assert _markdown_without_furniture(pages) == _markdown_of([page[1:2] for page in pages])


def test_a_line_near_the_edge_after_the_first_paragraph_keeps_the_lines() -> None:
    """A running head under a title that changes: only the second paragraph goes, and the
    page is paragraphed again without it (the title and the body may then join)."""
    pages = [
        [
            _line(f"Title of the {word} page", 30, 0),
            _line("Running head", 52, 1),
            _line(f"Body text of the {word} page, one sentence.", 400, 0),
        ]
        for word in ("red", "green", "blue")
    ]
    texts = [page_text(PageLayout(595, HEIGHT, lines)) for lines in pages]
    assert all(text.items is not None for text in texts)
    assert _markdown_without_furniture(pages) == _markdown_of(
        [[page[0], page[2]] for page in pages]
    )


def _page(*lines: Line, source: str = "native") -> PageText:
    return page_text(PageLayout(595, HEIGHT, list(lines), source))


def _kept(pages: list[list[PageText]]) -> list[list[str]]:
    furniture = Furniture.of(pages)
    return [[plain_text(remove_furniture(text, furniture)) for text in texts] for texts in pages]


def _body(word: str) -> Line:
    return _line(f"The {word} body text of this page, set in the body size.", 400, 0)


def test_text_layer_and_ocr_of_one_page_count_as_one_page() -> None:
    """With ``both``, a page's text layer and its OCR hold the same lines: a title near the
    top edge of one page is not a header repeated on two pages."""
    first = [_line("Bescheid über die Gebühren", 40, 0), _body("first")]
    second = [_line("Rechtsbehelfsbelehrung", 800, 0), _body("second")]
    pages = [[_page(*lines), _page(*lines, source="ocr")] for lines in (first, second)]
    kept = _kept(pages)
    assert kept[0][0].startswith("Bescheid über die Gebühren")
    assert kept[0][1].startswith("Bescheid über die Gebühren")
    assert kept[1][0].startswith("Rechtsbehelfsbelehrung")


def test_a_numbered_heading_on_every_page_is_not_a_header() -> None:
    pages = [
        [_page(_line(f"Kapitel {number}", 40, 0, size=16), _body(word))]
        for number, word in enumerate(("red", "green", "blue"), 1)
    ]
    assert [texts[0].splitlines()[0] for texts in _kept(pages)] == [
        "Kapitel 1", "Kapitel 2", "Kapitel 3"
    ]  # fmt: skip


def test_page_numbers_go_even_from_a_single_page_and_headers_by_odd_and_even_pages() -> None:
    single = _kept([[_page(_body("only"), _line("Seite 2 von 5", 800, 1))]])
    assert single == [["The only body text of this page, set in the body size."]]
    pages = [
        [_page(_line(header, 40, 0), _body(word), _line(number, 800, 1))]
        for header, word, number in zip(
            ["Jahresbericht 2025", "Kapitel Finanzen"] * 3 + ["Jahresbericht 2025"],
            ["a", "b", "c", "d", "e", "f", "g"],
            ["i", "ii", "iii", "iv", "v", "vi", "vii"],
            strict=True,
        )
    ]
    assert all(texts[0].startswith("The ") for texts in _kept(pages))
    assert all("\n" not in texts[0] for texts in _kept(pages))  # no header, no page number


def test_a_hyphen_before_a_conjunction_stands_for_a_word_left_out() -> None:
    assert join_lines(["die Haushalts-", "und Finanzplanung"]) == (
        "die Haushalts- und Finanzplanung"
    )
    assert join_lines(["Ein-", "oder Ausgaben"]) == "Ein- oder Ausgaben"
    assert join_lines(["Verwal-", "tung und Unterlagen"]) == "Verwaltung und Unterlagen"


def test_what_looks_like_a_list_marker_inside_a_sentence_does_not_start_a_list() -> None:
    lines = [
        _line("Die Frist für den Antrag beginnt am", 100, 0),
        _line("1. Januar und gilt für alle Verfahren,", 112, 0),
        _line("z. B. für Anträge auf Förderung.", 124, 0),
        _line("Dazu gehören:", 136, 0),
        _line("1) die Anmeldung,", 148, 0),
        _line("2) die Prüfung.", 160, 0),
    ]
    assert _markdown_of([lines]) == [
        "Die Frist für den Antrag beginnt am 1. Januar und gilt für alle Verfahren, "
        "z. B. für Anträge auf Förderung. Dazu gehören:\n\n1) die Anmeldung,\n2) die Prüfung."
    ]


def test_a_numbered_line_set_large_is_a_heading() -> None:
    lines = [
        _line("1. Einleitung", 60, 0, size=16),
        _line("Der Bericht beschreibt das Verfahren und seine Ergebnisse.", 100, 1),
        _line("2. Methoden", 140, 2, size=16),
        _line("Die Daten wurden im Jahr erhoben und danach ausgewertet.", 180, 3),
    ]
    markdown = _markdown_of([lines])[0]
    assert markdown.startswith("### 1. Einleitung\n\nDer Bericht")
    assert "### 2. Methoden" in markdown


def test_a_bullet_glyph_starts_an_item_even_after_a_line_without_a_colon() -> None:
    lines = [
        _line("Im Paket enthalten sind", 100, 0),
        _line("\u2022 das Handbuch", 112, 0),
        _line("\u2022 die Software", 124, 0),
    ]
    assert _markdown_of([lines]) == ["Im Paket enthalten sind\n\n- das Handbuch\n- die Software"]


def _at(text: str, x0: float, top: float) -> Line:
    return Line(text, x0, top, 400, top + 10, top + 8, 10.0)


def test_list_items_set_further_right_are_nested_and_back_out_where_they_start_left() -> None:
    lines = [
        _at("1. Vorbereitung", 50, 100),
        _at("a) Material bestellen", 68, 112),
        _at("b) Gelände räumen", 68, 124),
        _at("\u2022 vor der Lieferung", 86, 136),
        _at("2. Bau", 50, 148),
        _at("9. Abnahme", 56, 160),  # numbers set flush right: "9." starts later than "10."
        _at("10. Übergabe", 50, 172),
    ]
    markdown = _markdown_of([lines])[0]
    assert markdown == (
        "1. Vorbereitung\n"
        "   * a) Material bestellen\n"
        "   * b) Gelände räumen\n"
        "     - vor der Lieferung\n"
        "2. Bau\n"
        "9. Abnahme\n"
        "10. Übergabe"
    )
    html = MarkdownIt("commonmark").render(markdown)
    assert html.count("<ol>") == 1  # one numbered list, the lettered one inside its item
    assert "<li>Vorbereitung\n<ul>\n<li>a) Material bestellen</li>" in html


def _settled(pages: list[list[Line]], numbers: list[int] | None = None) -> list[str]:
    texts = [page_text(PageLayout(595, HEIGHT, lines)) for lines in pages]
    kept, styles = settle([[text] for text in texts], numbers)
    return [page_markdown(text, styles) for (text,) in kept if text is not None]


def test_lines_alike_at_the_foot_of_one_page_and_the_head_of_the_next_are_text() -> None:
    """A list's items wrap alike ("… onto a second line in the printed page"): the wrapped
    line at the foot of page 1 and the one near the head of page 2 were taken for a
    header and footer of a two-page document, and lost."""
    wrapped = "onto a second line in the printed page"
    first = [
        _line("25. Item number 25 with some text that wraps", 700, 0),
        _line(wrapped, 790, 0),
    ]
    second = [
        _line("26. Item number 26 with some text that wraps", 40, 0),
        _line(wrapped, 52, 0),
        _line("27. Item number 27 with some text that wraps", 64, 0),
    ]
    pages = _markdown_without_furniture([first, second])
    assert [page.count(wrapped) for page in pages] == [1, 1]
    # a footer stands at one place on every page, and goes
    footer = [_line("Vertraulich", 800, 0)]
    pages = _markdown_without_furniture([first[:1] + footer, second[:1] + footer])
    assert not any("Vertraulich" in page for page in pages)


def test_a_word_hyphenated_across_a_page_break_is_made_whole_on_its_first_page() -> None:
    first = [_line("Der Antrag ging an die Verwal-", 100, 0)]
    second = [
        _line("tung des Landes, die ihn prüfte.", 100, 0),
        _line("Ein neuer Absatz beginnt hier.", 130, 1),
    ]
    assert _settled([first, second]) == [
        "Der Antrag ging an die Verwaltung",
        "des Landes, die ihn prüfte.\n\nEin neuer Absatz beginnt hier.",
    ]
    ending = [_line("Gemeinsam tragen es Bund-", 100, 0)]
    assert _settled([ending, [_line("und Länder zu gleichen Teilen.", 100, 0)]]) == [
        "Gemeinsam tragen es Bund-",
        "und Länder zu gleichen Teilen.",
    ]
    # pages 1 and 3 of a document: what page 2 held is not known
    assert _settled([first, second], numbers=[1, 3])[0] == "Der Antrag ging an die Verwal-"


def test_a_checklist_is_a_list_that_keeps_its_boxes() -> None:
    """☐ and ☑ started no item: a checklist ran together into one paragraph."""
    lines = [
        _line("Vor der Reise:", 100, 0),
        _line("\u2610 Reisepass", 112, 0),
        _line("\u2611 Fahrkarten", 124, 0),
    ]
    assert _markdown_of([lines]) == ["Vor der Reise:\n\n- \u2610 Reisepass\n- \u2611 Fahrkarten"]
    text = page_text(PageLayout(595, HEIGHT, lines))
    assert plain_text(text).split("\n\n")[1:] == ["\u2610 Reisepass", "\u2611 Fahrkarten"]


def _rendered_text(markdown: str) -> tuple[str, set[str]]:
    """What a CommonMark reader shows (the text of every inline) and which kinds of
    element it made of the Markdown."""
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    kinds = {token.type for token in tokens}
    shown = []
    for token in tokens:
        children = token.children or []
        kinds.update(child.type for child in children)
        if token.type == "inline":
            shown.append("".join(child.content for child in children if child.type == "text"))
    return " ".join(shown), kinds


def test_markdown_characters_in_the_text_stay_text() -> None:
    texts = [
        "Die *wichtigen* Punkte stehen in [Anlage 1](anlage.pdf) und `code` hier.",
        "Ein Pfad C:\\Daten\\neu, ein _Hinweis_ und snake_case_name.",
        "<b>fett</b> oder &amp; und ~~weg~~ sowie 3 < 4.",
        "Der Preis ist 5 * 3 = 15 Euro, **nicht fett** und ohne __Strich__.",
    ]
    lines = [_line(text, 100 + 40 * number, number) for number, text in enumerate(texts)]
    lines.append(_line("\u2022 Ein Punkt mit *Stern* und [Klammer]", 300, 9))
    markdown = _markdown_of([lines])[0]
    shown, kinds = _rendered_text(markdown)
    for text in [*texts, "Ein Punkt mit *Stern* und [Klammer]"]:
        assert text in shown, (text, markdown)
    assert kinds.isdisjoint({"em_open", "strong_open", "link_open", "code_inline", "html_inline",
                             "s_open", "html_block"}), kinds  # fmt: skip
    assert "bullet_list_open" in kinds  # the real list item still is one
    assert "snake_case_name" in markdown  # no backslashes where nothing needs them


def test_markdown_characters_in_table_cells_stay_text() -> None:
    table = Table([["Posten", "Wert"], ["*A*", "[1](x) | 2"]], 0, 0, 100, 100)
    page = PageText("native", [Paragraph("table", table=table)], [], {}, [])
    markdown = page_markdown(page, Styles.of([page]))
    shown, kinds = _rendered_text(markdown)
    assert "table_open" in kinds and "em_open" not in kinds and "link_open" not in kinds
    assert "*A*" in shown and "[1](x) | 2" in shown


def test_lines_that_differ_in_more_than_a_page_number_are_not_furniture() -> None:
    """A bank statement's pages begin and end with bookings that read alike but for their
    numbers; only the footer's page number changes from page to page."""
    pages = [
        [
            _line(f"0{day}.03.2025 Überweisung an Firma {50 + day}: -1{day}9,53 EUR", 30, 0),
            _line(f"Seite {day} von 3", 800, 1),
        ]
        for day in (1, 2, 3)
    ]
    kept = _markdown_without_furniture(pages)
    assert kept == [f"0{day}.03.2025 Überweisung an Firma {50 + day}: -1{day}9,53 EUR"
                    for day in (1, 2, 3)]  # fmt: skip


def test_ocr_spacing_does_not_keep_a_footer_apart() -> None:
    pages = [
        [_line("Der Text der Seite.", 400, 0), _line(footer, 800, 1)]
        for footer in ("Amt für Statistik von3", "Amt für Statistik von 3")
    ]
    assert _markdown_without_furniture(pages) == ["Der Text der Seite."] * 2


def test_bold_numbered_lines_of_body_size_are_headings_nested_by_their_numbers() -> None:
    body = "Dieser Abschnitt enthält gewöhnlichen Fließtext ohne Besonderheiten."
    lines = [
        _bold("1. Einleitung", 60, 0),
        _line(body, 90, 1),
        _bold("1.1 Hintergrund", 120, 2),
        _line(body, 150, 3),
        _bold("2. Methoden", 180, 4),
        _line(body, 210, 5),
    ]
    lines += [
        _bold(text, 240 + 30 * n, 6 + n)
        for n, text in enumerate(["1,250.00", "Total 316.68", "2024"])
    ]
    markdown = _markdown_of([lines])[0]
    assert [block for block in markdown.split("\n\n") if block.startswith("#")] == [
        "### 1. Einleitung",
        "#### 1.1 Hintergrund",
        "### 2. Methoden",
    ]  # a bold amount or year on its own line is no heading


def test_a_lettered_list_after_a_bullet_list_is_a_list_of_its_own() -> None:
    lines = [
        _line("Zu beachten sind:", 100, 0),
        _line("\u2022 die Frist", 112, 0),
        _line("\u2022 die Form", 124, 0),
        _line("a) bei Anträgen: schriftlich,", 136, 0),
        _line("b) bei Widersprüchen: binnen eines Monats.", 148, 0),
    ]
    markdown = _markdown_of([lines])[0]
    tokens = MarkdownIt("commonmark").parse(markdown)
    assert [token.type for token in tokens].count("bullet_list_open") == 2
    assert "* a) bei Anträgen: schriftlich," in markdown


def test_each_entry_of_a_table_of_contents_with_dot_leaders_is_its_own_line() -> None:
    entries = [
        "1 Einleitung ........................ 1",
        "1.1 Hintergrund .................... 2",
        "2 Methoden . . . . . . . . . . . . 7",
        "Anhang A ........................... iv",
    ]
    lines = [_line(text, 100 + 14 * n, 0) for n, text in enumerate(entries)]
    assert _markdown_of([lines])[0].split("\n\n") == entries


def test_a_footer_whose_numbers_all_go_up_with_the_page_is_furniture() -> None:
    pages = [
        [_line("Der Text der Seite.", 400, 0), _line(f"Dok. 4711-{n} · Blatt {n + 6}", 800, 1)]
        for n in (1, 2, 3)
    ]
    assert _markdown_without_furniture(pages) == ["Der Text der Seite."] * 3


def test_furniture_goes_by_page_numbers_not_by_the_order_pages_were_read_in() -> None:
    """Page processes finish in any order; odd and even pages, and numbers that go up with
    the page, need the pages' own numbers."""
    texts = [
        page_text(
            PageLayout(
                595,
                HEIGHT,
                [_line("Der Text der Seite.", 400, 0), _line(f"Dok. 4711-{n} · Blatt {n}", 800, 1)],
            )
        )
        for n in (1, 2, 3, 4)
    ]
    order = [2, 0, 3, 1]
    shuffled = Furniture.of([[texts[i]] for i in order], [i + 1 for i in order])
    assert shuffled.keys == Furniture.of([[text] for text in texts]).keys != frozenset()
    unnumbered = Furniture.of([[texts[i]] for i in order])  # taken as pages 1, 2, 3, 4
    assert unnumbered.keys != shuffled.keys


def test_a_sentence_whose_numbers_follow_the_page_is_no_footer() -> None:
    """A rule of a list continued one per page: its numbers go up with the page, but it is
    a sentence, not a running line."""
    pages = [
        [
            _line(f"{n}. Regel {n}: den Arbeitsplatz sauber und aufgeräumt halten.", 30, 0),
            _line("Werkzeug nach jedem Gebrauch reinigen und zurücklegen.", 400, 1),
        ]
        for n in (1, 2, 3)
    ]
    kept = _markdown_without_furniture(pages)
    assert [f"Regel {n}:" in markdown for n, markdown in zip((1, 2, 3), kept, strict=True)] == [
        True
    ] * 3


def test_short_bold_headings_with_numbers_and_prose_with_a_few_dots() -> None:
    lines = [
        _bold("Q3 2024 vs. Q3 2023 (EUR m)", 60, 0),
        _line("Die Preise wurden am Montag angepasst. Warten.... 12", 90, 1),
        _line("und die nächste Zeile setzt den Absatz fort.", 102, 1),
    ]
    assert _markdown_of([lines])[0].split("\n\n") == [
        "### Q3 2024 vs. Q3 2023 (EUR m)",
        "Die Preise wurden am Montag angepasst. Warten.... 12 und die nächste Zeile setzt den "
        "Absatz fort.",
    ]


def test_dialogue_set_double_spaced_keeps_its_one_line_paragraphs() -> None:
    def line(text: str, x0: float, top: float, x1: float) -> Line:
        return Line(text, x0, top, x1, top + 12, top + 10, 12, region=0)

    lines = [
        line("She watched him leave and then turned back to the window, where", 72, 100, 520),
        line("the rain kept falling on the empty street.", 72, 124, 400),
        line("\u201cAnna?\u201d", 108, 148, 160),
        line("\u201cComing.\u201d", 108, 172, 175),
        line("She closed the curtains, switched off the lamp in the hall and", 108, 196, 520),
        line("climbed the stairs slowly, one hand on the rail.", 72, 220, 440),
    ]
    assert _markdown_of([lines])[0].split("\n\n") == [
        "She watched him leave and then turned back to the window, where the rain kept "
        "falling on the empty street.",
        "\u201cAnna?\u201d",
        "\u201cComing.\u201d",
        "She closed the curtains, switched off the lamp in the hall and climbed the stairs "
        "slowly, one hand on the rail.",
    ]


def test_footnotes_at_the_foot_of_a_page_are_a_paragraph_each() -> None:
    """Set smaller than the body, one under the other: each starts with its number once
    the one before has ended; a footnote's second line and body lines that start with a
    number stay in their paragraph."""
    body = [
        _line("The budget was debated at length and passed in the end,", 100, 0),
        _line("as the committee had proposed.", 112, 0),
        _line("12 months later the money was spent. It was a close vote", 124, 0),
        _line("in the end.", 136, 0),
    ]
    notes = [
        _line("1 See the committee's report, printed matter 17/1234.", 760, 0, size=8.0),
        _line("2 The vote was 45 to 44, with one member absent and two", 770, 0, size=8.0),
        _line("abstaining.", 780, 0, size=8.0),
        _line("\u00b3 Ibid., p. 14.", 790, 0, size=8.0),
    ]
    assert plain_text(_page(*body, *notes)).split("\n\n") == [
        "The budget was debated at length and passed in the end, as the committee had "
        "proposed. 12 months later the money was spent. It was a close vote in the end.",
        "1 See the committee's report, printed matter 17/1234.",
        "2 The vote was 45 to 44, with one member absent and two abstaining.",
        "\u00b3 Ibid., p. 14.",
    ]


def _spanning(text: str, x0: float, x1: float, top: float) -> Line:
    return Line(text, x0, top, x1, top + 10, top + 8, 10.0)


def test_a_hanging_entry_ends_where_the_next_starts_left_not_so_a_first_line_indent() -> None:
    """References set with hanging lines ran into one paragraph. The same step back to
    the left after a first line that ends a sentence is a first-line indent's second line."""
    references = [
        _spanning("Smith, J. (2020). A long title of a paper about layout that", 50, 400, 100),
        _spanning("wraps onto a second line. Journal of Documents, 12, 45-67.", 70, 330, 112),
        _spanning("Weber, K. (2019). Another paper whose title is long enough to", 50, 400, 124),
        _spanning("wrap as well. Proceedings, 1-10.", 70, 240, 136),
    ]
    indented = [
        _spanning("The meeting began at nine, as it always had begun there.", 70, 400, 100),
        _spanning("Then the chair read the minutes of the last meeting and", 50, 400, 112),
        _spanning("asked for comments, of which there were none at all.", 50, 330, 124),
    ]
    assert _markdown_of([references, indented]) == [
        "Smith, J. (2020). A long title of a paper about layout that wraps onto a second line. "
        "Journal of Documents, 12, 45-67.\n\n"
        "Weber, K. (2019). Another paper whose title is long enough to wrap as well. "
        "Proceedings, 1-10.",
        " ".join(line.text for line in indented),
    ]


def test_what_only_looks_like_a_term_a_hanging_entry_or_a_lettered_list_reads_on() -> None:
    """From an exploratory run of the rules for terms, hanging entries and lettered lists:
    a book's two-line paragraph whose first line ends a sentence, before the next
    paragraph's indented first line, was split; an enumeration inside a sentence wrapped
    so that "(i)" and "(ii)" start lines, and two references whose authors' initials
    happen to follow in the alphabet ("J. Smith", "K. Thompson"), became list items."""
    book = [
        _spanning("It was late when they reached the house on the hill at last.", 70, 400, 100),
        _spanning("The driver had said nothing the whole way from the station.", 50, 360, 112),
        _spanning("Inside, a fire was burning in the hall, and somebody had laid", 70, 400, 124),
        _spanning("the table for two, as if they had been expected all along.", 50, 370, 136),
    ]
    enumeration = [
        _spanning("This paper makes three contributions to the field:", 50, 400, 100),
        _spanning("(i) a benchmark of scanned pages from twelve domains, with", 50, 398, 112),
        _spanning("(ii) reading order; and (iii) a model that runs on one core.", 50, 380, 124),
    ]
    references = [
        _spanning("J. Smith. An overview of the Tesseract OCR engine. In Proc.", 50, 400, 100),
        _spanning("pages 629-633, 2007. K. Thompson. Regular expression search", 50, 398, 112),
        _spanning("K. Thompson. Regular expression search algorithm. Communications", 50, 400, 124),
        _spanning("of the ACM, 11(6), 1968.", 50, 170, 136),
    ]
    book_markdown, enumeration_markdown, references_markdown = _markdown_of(
        [book, enumeration, references]
    )
    assert book_markdown.split("\n\n") == [
        f"{book[0].text} {book[1].text}",
        f"{book[2].text} {book[3].text}",
    ]
    assert enumeration_markdown == " ".join(line.text for line in enumeration)
    assert "*" not in references_markdown


def test_the_lines_beside_a_drop_cap_go_on_into_the_flush_lines_under_it() -> None:
    """The lines beside a cap are set in to make room for it; the first flush line under
    them after a sentence's end looked like a hanging entry's next one."""
    lines = [
        Line("O", 50, 100, 74, 130, 124, 30.0),
        Line("nce upon a time the council met to decide the future", 80, 100, 400, 110, 108, 10),
        Line("of the old mill, which had stood empty since the flood.", 80, 112, 340, 122, 120, 10),
        Line("After long debates the council agreed to sell it to", 50, 124, 400, 134, 132, 10),
        Line("a couple who promised to turn it into a bakery.", 50, 136, 260, 146, 144, 10),
    ]
    [markdown] = _markdown_of([reading_order(lines)])
    assert markdown == "Once upon a time the council met to decide the future " + " ".join(
        line.text for line in lines[2:]
    )


def test_an_entrys_line_ending_in_an_abbreviation_goes_on_where_entries_hang() -> None:
    """In references set with hanging lines, an entry's line that ends in "Recognit."
    before its indented next line read as a paragraph's end and a first-line indent. A
    book's one-line first paragraph before an indented one is a paragraph of its own."""
    references = [
        _spanning("Chen, K. and Jones, C. (2021). Robust reading order. In", 50, 400, 100),
        _spanning("Proceedings of the Conference on Document Analysis, 1-10.", 70, 330, 112),
        _spanning("Devlin, J. (2019). Pre-training deep models. Pattern Recognit.", 50, 400, 124),
        _spanning("112, 107-121.", 70, 140, 136),
    ]
    book = [
        _spanning("The letter arrived on a Tuesday, when the harvest was over.", 50, 400, 100),
        _spanning("Martha did not open it at once. She put it on the shelf by", 70, 400, 112),
        _spanning("the door and went back to the kitchen to finish the bread.", 50, 360, 124),
    ]
    references_markdown, book_markdown = _markdown_of([references, book])
    assert references_markdown.split("\n\n") == [
        f"{references[0].text} {references[1].text}",
        f"{references[2].text} {references[3].text}",
    ]
    assert book_markdown.split("\n\n") == [book[0].text, f"{book[1].text} {book[2].text}"]


def test_a_list_item_ends_where_a_line_starts_left_of_its_marker() -> None:
    """From an exploratory run: "12.2 On termination …", back at the margin after item
    "(d)", was read as that item's next line; and "I." right after "C." went on counting
    the letters, one Markdown list of both."""
    lines = [
        _spanning("12.1 Either party may end this Agreement if:", 50, 300, 100),
        _spanning("(a) the other party commits a material breach; or", 56, 330, 112),
        _spanning("(b) the other party cannot pay its debts.", 56, 290, 124),
        _spanning("12.2 On termination the Customer shall pay all invoices.", 50, 400, 136),
        _spanning("A. No internet", 50, 120, 160),
        _spanning("B. Slow connection", 50, 140, 172),
        _spanning("C. Wi-Fi drops", 50, 118, 184),
        _spanning("I. Contact support", 50, 140, 196),
        _spanning("II. Send the device in", 50, 160, 208),
    ]
    blocks = _markdown_of([lines])[0].split("\n\n")
    assert blocks == [
        "12.1 Either party may end this Agreement if:",
        "* (a) the other party commits a material breach; or\n"
        "* (b) the other party cannot pay its debts.",
        "12.2 On termination the Customer shall pay all invoices.",
        "* A. No internet\n* B. Slow connection\n* C. Wi-Fi drops",
        "+ I. Contact support\n+ II. Send the device in",
    ]


def test_a_line_of_dialogue_without_a_full_stop_does_not_make_a_book_hang() -> None:
    """A region whose indented lines mostly follow a sentence's end is set with
    first-line indents, though one follows a line of dialogue without a full stop: taken
    for hanging lines, a whole novel's page ran into one paragraph."""
    page = [
        _spanning("The rain had not stopped for three days when Martha opened", 70, 400, 100),
        _spanning("the letter at last and read it twice.", 50, 250, 112),
        _spanning("\u201cWho is it from?\u201d asked Tom.", 70, 220, 124),
        _spanning("\u201cNobody you know\u201d", 70, 170, 136),
        _spanning("He waited, but she said nothing more. Outside, a cart", 70, 400, 148),
        _spanning("rattled over the cobblestones.", 50, 220, 160),
        _spanning("She stood up and went to the window and looked out at the", 70, 400, 172),
        _spanning("grey shapes behind the rain\u2026", 50, 200, 184),
        _spanning("Then, after a long while, she turned round and looked", 70, 400, 196),
        _spanning("at him.", 50, 90, 208),
    ]
    assert _markdown_of([page])[0].split("\n\n") == [
        f"{page[0].text} {page[1].text}",
        page[2].text,
        f"{page[3].text} {page[4].text} {page[5].text}",
        " ".join(line.text for line in page[6:]),
    ]


def test_items_wrapped_back_to_the_margin_and_paragraphs_ending_in_a_mark() -> None:
    """From a third exploratory run: an item whose marker is set in a first-line indent
    wraps back to the margin mid-sentence, and was cut there; paragraphs that end in a
    footnote's mark ("capitalism.¹²") were taken for entries with hanging lines, and a
    whole page ran into one paragraph; an introduction before lettered items set in a
    first-line indent ran into them; a reference's first line before a long address was
    taken for a term."""
    steps = [
        _spanning("1. Open the cover of the device by pressing both and lifting", 68, 400, 100),
        _spanning("the cover carefully upwards.", 50, 190, 112),
        _spanning("2. Remove the old cartridge without touching its contacts.", 68, 380, 124),
    ]
    essay = [
        _spanning("Weber's account has been read in many ways, and few agree on", 68, 400, 100),
        _spanning("what exactly it claims about modern capitalism.\u00b9\u00b2", 50, 330, 112),
        _spanning("The difficulty is not only one of interpretation. The text", 68, 400, 124),
        _spanning("itself changed between the editions.\u00b9\u00b3", 50, 340, 136),
        _spanning("It is therefore useful to separate three questions here.", 68, 380, 148),
    ]
    duties = [
        _spanning("The Supplier shall, at its own cost:", 50, 220, 100),
        _spanning("(a) deliver the Goods on the Delivery Date to the address", 68, 400, 112),
        _spanning("Buyer names, with all documents; and", 50, 240, 124),
        _spanning("(b) keep the Buyer informed of any change without delay.", 68, 380, 136),
    ]
    reference = [
        _spanning("Green, A. (2022). Available at", 50, 200, 100),
        _spanning("https://www.example.org/a/very/long/path/to/a/resource.html", 70, 400, 112),
    ]
    steps_md, essay_md, duties_md, reference_md = _markdown_of([steps, essay, duties, reference])
    assert steps_md == (
        f"1. {steps[0].text[3:]} {steps[1].text}\n2. Remove the old cartridge without touching "
        "its contacts."
    )
    assert essay_md.split("\n\n") == [
        f"{essay[0].text} {essay[1].text}",
        f"{essay[2].text} {essay[3].text}",
        essay[4].text,
    ]
    assert duties_md.split("\n\n")[0] == duties[0].text
    assert reference_md == f"{reference[0].text} {reference[1].text}"


def test_a_line_without_width_does_not_stop_the_page() -> None:
    """A line with no width (a mark of zero advance) overlaps no line, not even itself:
    finding where its column ends took the largest of nothing, and the page was lost."""
    lines = [
        _spanning("Introduction to the topic:", 50, 200, 100),
        _spanning("(a) the first point of the list", 68, 260, 112),
        Line("\u2022", 300, 124, 300, 134, 132, 10.0),
        _spanning("(b) the second point of the list", 68, 270, 136),
    ]
    assert "(b) the second point of the list" in _markdown_of([lines])[0]


def test_a_line_that_ends_a_sentence_early_ends_its_paragraph() -> None:
    """Paragraphs neither indented nor set apart (one-line references, dialogue, pages
    printed from the web) ran into one another. A paragraph's last line ended a sentence
    or broke off ("—") where the next line's first two words would have fit; a line in
    mid-paragraph ends where they would not, even where a sentence ends there, and lines
    that do not start flush (a centred title) are not asked."""
    page = [
        _spanning("The committee met on Monday and agreed on the whole plan.", 50, 395, 100),
        _spanning("It was adopted by all members present, with one abstention.", 50, 380, 112),
        _spanning("The vote was taken at noon.", 50, 200, 124),
        _spanning("Everyone went home after the meeting had ended, and the", 50, 390, 136),
        _spanning("chair, who had hesitated \u2014", 50, 180, 148),
        _spanning("then she signed the minutes.", 50, 210, 160),
    ]
    title = [
        _spanning("A Study of Layout.", 150, 300, 100),
        _spanning("And of Reading Order", 160, 290, 112),
    ]
    assert _markdown_of([page, title]) == [
        f"{page[0].text} {page[1].text} {page[2].text}\n\n{page[3].text} {page[4].text}\n\n"
        f"{page[5].text}",
        "A Study of Layout. And of Reading Order",
    ]


def test_text_flush_with_a_lists_markers_after_its_last_item_is_no_part_of_it() -> None:
    """A list set without space after it: the next paragraph, flush with the markers, ran
    into the last item. An item that wraps back under its marker stays whole."""
    page = [
        _spanning("Bring the following:", 50, 150, 100),
        _spanning("\u2022 A passport or an identity card.", 50, 210, 112),
        _spanning("\u2022 Two photos, or one if you have brought a photo for the", 50, 395, 124),
        _spanning("badge already.", 50, 120, 136),
        _spanning("Everything else is handed out on the day of the course.", 50, 350, 148),
    ]
    assert _markdown_of([page])[0].split("\n\n") == [
        "Bring the following:",
        "- A passport or an identity card.\n"
        "- Two photos, or one if you have brought a photo for the badge already.",
        page[4].text,
    ]


def test_an_indented_quotation_is_not_cut_where_its_lines_end_short_of_the_text() -> None:
    """A quotation indented on both sides (set apart: a region of its own) ends its lines
    short of the text around it: a sentence that ends at one of its line ends did not end
    early."""
    page = [
        _spanning("The court recalled the words of the earlier decision, which", 50, 400, 100),
        _spanning("had settled the matter for a generation of lawyers:", 50, 330, 112),
        _spanning("Notice must be given in writing and name the goods.", 80, 340, 130),
        _spanning("It must reach the other party before the goods are sent", 80, 368, 142),
        _spanning("to the address that party named.", 80, 250, 154),
    ]
    for line in page[2:]:
        line.region = 1
    assert _markdown_of([page])[0].split("\n\n") == [
        f"{page[0].text} {page[1].text}",
        " ".join(line.text for line in page[2:]),
    ]


def test_a_line_across_the_columns_does_not_make_a_columns_lines_end_early() -> None:
    """From an exploratory run: a running head across two columns reached further than
    the left column's lines, which then all seemed to end early, and every sentence that
    ended at a line's end cut its paragraph. Room is measured within the region."""
    head = Line("JOURNAL OF DOCUMENT STUDIES 2021", 50, 40, 540, 50, 48, 10.0, region=0)
    column = [
        _spanning("the method is simple and it is easy to implement.", 50, 270, 100),
        _spanning("We thank the reviewers for their careful reading of", 50, 280, 112),
        _spanning("the draft and their many helpful suggestions.", 50, 250, 124),
    ]
    citations = [
        _spanning("The first systems read one page after the other, as", 50, 280, 160),
        _spanning("[12] was the first to split a document, and then", 50, 278, 172),
        _spanning("[13] extended this to scanned pages, while the", 50, 279, 184),
        _spanning("[14] showed that it pays off for long ones.", 50, 270, 196),
    ]
    for line in column:
        line.region = 1
    for line in citations:
        line.region = 2
    found = _markdown_of([[head, *column, *citations]])[0].split("\n\n")
    assert found[1] == " ".join(line.text for line in column)
    assert found[2] == " ".join(line.text for line in citations).replace("[", "\\[")


def test_lines_beside_a_figure_do_not_end_early() -> None:
    """From an exploratory run: text that wraps around a figure on its right ends its
    lines short of the region's edge; a sentence that ended at one of them cut the
    paragraph. The measure is the paragraph's line before, where that one went on."""
    page = [
        _spanning("The castle was built in the twelfth century. It", 50, 250, 100),
        _spanning("stands on a hill above the village around it.", 50, 245, 112),
        _spanning("We climbed the tower and counted all of its many steps", 50, 400, 124),
        _spanning("and then we went home.", 50, 170, 136),
    ]
    assert _markdown_of([page]) == [" ".join(line.text for line in page)]


def test_lines_beside_a_figure_that_end_sentences_do_not_end_early() -> None:
    """From a third exploratory run: the last lines beside a figure both ended sentences,
    and the first line below it, across the full width, was taken as the measure."""
    page = [
        _spanning("The market opens at four in the morning, long before the", 50, 400, 100),
        _spanning("sun rises. By six it is busy, and gulls circle the", 50, 255, 112),
        _spanning("stalls. The fishmongers shout. Dogs bark.", 50, 250, 124),
        _spanning("Old men argue about the weather. Nobody listens.", 50, 245, 136),
        _spanning("The cafe opens at seven and its owner puts out the chairs", 50, 400, 148),
        _spanning("for the first guests.", 50, 150, 160),
    ]
    assert _markdown_of([page]) == [" ".join(line.text for line in page)]


def test_sentences_that_start_with_a_citation_are_no_reference_list() -> None:
    """From the exploratory runs: lines that happen to start with "[12] was", "[13]
    extended", "[14] then" count on like a reference list's entries; an entry's first
    words hold a capital, a digit or a quote (authors, a title, a year), these none."""
    page = [
        _spanning("Early systems relied on hand-written rules for finding the", 50, 430, 100),
        _spanning("columns. Later systems learned the rules from the data.", 50, 425, 112),
        _spanning("[12] was among the first to do so and used a decision tree.", 50, 428, 124),
        _spanning("[13] extended the idea to tables, and reported large gains.", 50, 426, 136),
        _spanning("[14] then showed that the same features work for reading.", 50, 424, 148),
    ]
    assert _markdown_of([page]) == [" ".join(line.text for line in page).replace("[", "\\[")]
