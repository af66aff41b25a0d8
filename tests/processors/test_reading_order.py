"""Reading order (processors/pdf/layout.py): the one-pass split of a page into paragraph
bands must give what cutting at the widest gap again and again gives, and step aside where
a column cut could happen on the way."""

from __future__ import annotations

from processors.pdf.layout import (
    Line,
    Rule,
    as_script,
    closed_up,
    find_tables,
    letter_spaced,
    reading_order,
    with_drawn_bullets,
    without_drop_caps,
)


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


def test_labels_and_their_values_are_read_across_one_row_a_paragraph() -> None:
    """A form: short labels ending in a colon, long values far to their right. Not two
    columns (all labels, then all values), but one line per row, each its own paragraph."""
    rows = [
        ("Antragsteller:", "Max Mustermann, geboren am 1. Januar 1980 in Musterstadt"),
        ("Anschrift:", "Musterstraße 1, 12345 Musterstadt, Landkreis Beispiel"),
        ("Aktenzeichen:", "BV-2026-001234 der unteren Bauaufsichtsbehörde"),
    ]
    lines = [
        line
        for number, (label, value) in enumerate(rows)
        for line in (
            _line(label, 50, 100 + 14 * number, 120),
            _line(value, 200, 100 + 14 * number, 520),
        )
    ]
    ordered = reading_order(lines)
    assert [item.text for item in ordered] == [f"{label} {value}" for label, value in rows]
    assert len({item.region for item in ordered}) == 3


def test_two_columns_whose_lines_share_baselines_stay_columns() -> None:
    left = [f"Left column line {n} of running text goes on" for n in range(4)]
    right = [f"Right column line {n} of running text goes on" for n in range(4)]
    lines = [_line(text, 50, 100 + 12 * n, 280) for n, text in enumerate(left)]
    lines += [_line(text, 310, 100 + 12 * n, 540) for n, text in enumerate(right)]
    assert [item.text for item in reading_order(lines)] == left + right


def test_a_word_hyphenated_inside_a_table_cell_is_joined() -> None:
    rules = [Rule(50, top, 450, top) for top in (100, 120, 150)]
    rules += [Rule(x, 100, x, 150) for x in (50, 250, 450)]
    lines = [
        _line("Amt", 54, 104, 100),
        _line("Kosten", 254, 104, 300),
        _line("Informations-", 54, 124, 140),
        _line("technik", 54, 136, 100),
        _line("1.250 €", 254, 124, 300),
    ]
    [(table, members)] = find_tables(lines, rules)
    assert table.rows == [["Amt", "Kosten"], ["Informationstechnik", "1.250 €"]]
    assert len(members) == 5


def test_a_raised_unit_in_a_table_cell_stays_after_its_number() -> None:
    """The cell read "3 Lager 5 m": its runs were sorted by baseline, the raised 3 first."""
    rules = [Rule(50, top, 450, top) for top in (100, 120, 140)]
    rules += [Rule(x, 100, x, 140) for x in (50, 250, 450)]
    lines = [
        _line("Posten", 54, 104, 100),
        _line("Menge", 254, 104, 300),
        _line("Lager 5 m", 54, 126, 100),
        Line("3", 100.5, 123, 104, 129, 127, 6.0),
        _line("1", 254, 126, 300),
    ]
    [(table, _)] = find_tables(lines, rules)
    assert table.rows == [["Posten", "Menge"], ["Lager 5 m\u00b3", "1"]]


def test_a_list_marker_set_lower_and_larger_than_its_item_stays_in_front_of_it() -> None:
    """reportlab's list flowables draw the marker 2 pt below the item's baseline."""
    item = Line("Maßnahme eins: Umsetzung in den Kommunen", 68, 100, 400, 110, 108, 10)
    marker = Line("\u2022", 54, 99, 60, 111, 110, 12)
    following = Line("und in den Ländern, mit Text.", 68, 112, 300, 122, 120, 10)
    ordered = reading_order([following, item, marker])
    assert [line.text for line in ordered] == [
        "\u2022 Maßnahme eins: Umsetzung in den Kommunen",
        "und in den Ländern, mit Text.",
    ]


def test_narrow_columns_of_running_text_are_columns_though_their_lines_are_short() -> None:
    columns = [
        ["The spring fair returns", "to the green on the first", "Saturday of May, with",
         "stalls and a bake sale."],
        ["The parish council has", "approved new benches for", "the playground, to be",
         "finished before summer."],
        ["The library van visits", "on Tuesdays instead of", "Wednesdays; the new",
         "timetable is posted."],
    ]  # fmt: skip
    lines = [
        _line(text, 50 + 180 * column, 100 + 12 * row, 50 + 180 * column + 140)
        for column, texts in enumerate(columns)
        for row, text in enumerate(texts)
    ]
    assert [item.text for item in reading_order(lines)] == [t for texts in columns for t in texts]


def test_raised_digits_become_superscripts_and_lowered_ones_subscripts() -> None:
    area = Line("Die Fläche ist 250 m", 50, 100, 150, 110, 108, 10)
    exponent = Line("2", 150.5, 98, 154, 104, 104, 6)
    rest = Line("groß.", 157, 100, 190, 110, 108, 10)
    water = Line("Wasser H", 50, 130, 95, 140, 138, 10)
    index = Line("2", 95.5, 135, 99, 141, 140, 6)
    assert [line.text for line in reading_order([area, exponent, rest, water, index])] == [
        "Die Fläche ist 250 m\u00b2 groß.",
        "Wasser H\u2082",
    ]
    assert as_script("12", raised=True) == "\u00b9\u00b2" and as_script("a", raised=True) == "a"


def test_a_line_set_apart_at_the_right_is_read_where_it_stands() -> None:
    """A letter's date at the right margin: not a column of its own, read after the page."""
    lines = [
        _line("Jane Smith", 50, 100, 120),
        _line("42 Elm Street", 50, 112, 130),
        _line("March 3, 2025", 450, 150, 540),
        _line("Dear Mr. Doe,", 50, 190, 140),
        _line("Thank you for your letter of February 20, which arrived today.", 50, 220, 400),
        _line("I am writing to confirm the shipment of 250 units next week.", 50, 232, 400),
    ]
    texts = [item.text for item in reading_order(lines)]
    assert texts.index("March 3, 2025") == 2


def test_a_right_column_of_two_lines_of_text_is_still_a_column() -> None:
    left = [
        "The city council met on Tuesday to discuss",
        "the budget for the coming year. Members",
        "argued over the cost of road repairs, which",
        "have been delayed twice this spring already.",
    ]
    right = ["Weather: sunny, high of 24 degrees,", "light winds from the west today."]
    lines = [_line(text, 50, 100 + 12 * n, 280) for n, text in enumerate(left)]
    lines += [_line(text, 320, 100 + 12 * n, 540) for n, text in enumerate(right)]
    assert [item.text for item in reading_order(lines)] == left + right


def test_small_text_on_the_baseline_is_no_subscript() -> None:
    lines = [
        Line("signed in AD", 50, 100, 110, 110, 108, 10),
        Line("1648", 113, 102, 135, 110, 108, 7),
    ]
    assert [line.text for line in reading_order(lines)] == ["signed in AD 1648"]


def test_a_header_whose_every_cell_wraps_is_one_row() -> None:
    rules = [Rule(50, top, 350, top) for top in (100, 130, 170)]
    lines = [
        _line("Item", 54, 104, 90), _line("Unit", 154, 104, 190),
        _line("number", 54, 116, 100), _line("price", 154, 116, 190),
        _line("A-100", 54, 134, 100), _line("12.50", 154, 134, 190),
        _line("B-200", 54, 150, 100), _line("8.00", 154, 150, 190),
    ]  # fmt: skip
    [(table, _)] = find_tables(lines, rules)
    assert table.rows == [["Item number", "Unit price"], ["A-100", "12.50"], ["B-200", "8.00"]]


def test_a_small_shape_just_before_a_line_is_its_bullet() -> None:
    """As browsers draw a list's discs and squares: the text layer has no character for
    them. Shapes too large, too far off or not beside the line's middle are no bullets."""
    items = [_line(text, 64, 100 + 14 * row, 300) for row, text in enumerate("ABCDE")]
    with_drawn_bullets(
        items,
        [
            Rule(52, 103, 56, 107),  # A: a disc before the line's middle
            Rule(38, 117, 42, 121),  # B: 22 pt before the line, over two sizes away
            Rule(52, 129, 61, 138),  # C: 9 pt wide, more than three quarters of the size
            Rule(52, 142, 56, 146),  # D: a square before the middle
            Rule(52, 151.5, 56, 155.5),  # E: between the lines D and E
        ],
    )
    assert [line.text for line in items] == ["\u2022 A", "B", "C", "\u2022 D", "E"]
    assert [line.x0 for line in items] == [52, 64, 64, 52, 64]
    assert Rule(52, 103, 56, 107).mark and not Rule(52, 103, 80, 107).mark


def test_a_lone_shape_is_no_bullet_but_one_under_an_item_is_a_sub_item() -> None:
    """A list has two items: one shape alone is an icon. One set further right just under
    an item is the item's sub-list of one. Text before a shape on its line makes it an
    icon inside the line."""
    alone = [_line("Verified account", 64, 100, 300)]
    with_drawn_bullets(alone, [Rule(52, 103, 56, 107), Rule(300, 400, 304, 404)])
    assert alone[0].text == "Verified account"
    lines = [
        _line("Square one", 64, 100, 300),
        _line("Square two", 64, 114, 300),
        _line("circle sub", 84, 128, 300),
        _line("Phone", 20, 142, 50),
        _line("+49 30 1234567", 64, 142, 300),
    ]
    marks = [Rule(52, 103, 56, 107), Rule(52, 117, 56, 121), Rule(72, 131, 76, 135)]
    with_drawn_bullets(lines, [*marks, Rule(52, 145, 56, 149)])
    assert [line.text for line in lines] == [
        "\u2022 Square one",
        "\u2022 Square two",
        "\u2022 circle sub",
        "Phone",
        "+49 30 1234567",
    ]


def test_letter_spaced_text_is_closed_up_into_its_words() -> None:
    letters = [(c, 10 + 20 * i, 22 + 20 * i, False) for i, c in enumerate("SUMMARY")]
    letters += [(c, 170 + 20 * i, 182 + 20 * i, False) for i, c in enumerate("OF")]  # wide gap
    assert letter_spaced("S U M M A R Y O F") and letter_spaced("O F")
    assert closed_up(letters, 18.0) == "SUMMARY OF"
    # the PDF's own blanks stay: between words set letter-spaced, and in "A B C D"
    written = [(c, 10 + 20 * i, 22 + 20 * i, c == "O") for i, c in enumerate("SUMMARYOF")]
    assert closed_up(written, 18.0) == "SUMMARY OF"
    spaced = [(c, 10 + 12 * i, 18 + 12 * i, i > 0) for i, c in enumerate("ABCD")]
    assert closed_up(spaced, 12.0) == "A B C D"
    # not letter-spacing: two or three small letters, words
    for text in ("a b", "x y z", "S U M M A R Y OF", "Summary"):
        assert not letter_spaced(text)
    assert letter_spaced("F E S T 2 0 2 5")  # digits too: the blanks the PDF has stay


def test_a_drop_cap_joins_the_first_line_beside_it() -> None:
    cap = Line("O", 35, 73, 62, 102, 101, 42.0)
    first = _line("nce upon a time", 68, 71, 500, size=12)
    second = _line("paragraph and so on", 68, 85, 500, size=12)
    big = Line("A", 35, 300, 60, 330, 328, 40.0)  # alone: a section letter of a glossary
    entry = _line("Abend, der", 35, 340, 200, size=12)
    assert [line.text for line in without_drop_caps([cap, first, second, big, entry])] == [
        "Once upon a time",
        "paragraph and so on",
        "A",
        "Abend, der",
    ]


def test_rows_of_a_table_ruled_at_head_and_foot_stay_rows_beside_a_wider_gap() -> None:
    """A gap between two groups of an invoice's items made every ordinary row look like a
    cell's wrapped line, set closer than rows: five items came out as two rows."""
    rules = [Rule(50, top, 450, top) for top in (96, 116, 215)]
    items = [("1", "Consulting, phase 1", "760.00"), ("2", "Development", "2,040.00"),
             ("3", "Software licence", "450.00"), ("4", "Travel expenses", "180.00"),
             ("5", "Hotel, 2 nights", "240.00")]  # fmt: skip
    lines = [_line("No.", 54, 100, 70), _line("Item", 90, 100, 120), _line("Amount", 380, 100, 420)]
    top = 120.0
    for number, (position, item, amount) in enumerate(items):
        top += 20 if number == 3 else 14  # the gap between the groups
        lines += [_line(position, 54, top, 60), _line(item, 90, top, 200)]
        lines.append(_line(amount, 380, top, 420))
    [(table, _)] = find_tables(lines, rules)
    assert table.rows == [["No.", "Item", "Amount"], *[list(item) for item in items]]
