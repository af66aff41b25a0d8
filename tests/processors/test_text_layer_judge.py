"""``auto``'s verdict on a text layer (processors/pdf/quality.py), on texts whose figures can
be counted by hand."""

from __future__ import annotations

import pytest

from processors.pdf.quality import garbage_share, judge, plausible_word_share


def test_pronounceable_words_are_counted_once_per_occurrence() -> None:
    # Latin words: 5 x "Verwaltung", "Straße" and "über" (from "über1") are pronounceable;
    # "crwth" (no vowel), "Angstschweiss" (eight consonants in a row) and 2 x "pfffft"
    # (both) are not; "Ωμέγα" (Greek) is not judged, "ab" is too short to be a word.
    text = "Verwaltung " * 5 + "Straße crwth Angstschweiss pfffft pfffft Ωμέγα über1 ab"
    assert plausible_word_share(text) == pytest.approx(7 / 11)


def test_too_few_latin_words_are_not_judged() -> None:
    assert plausible_word_share("xkcd brrr Ωμέγα Ωμέγα Ωμέγα Ωμέγα Ωμέγα 2024") == 1.0


def test_unusable_characters_are_counted_wherever_they_are() -> None:
    # 9 visible characters: 2 private-use, 1 replacement character, 1 control (BEL);
    # blanks (also the information separator \x1c) do not count.
    text = "ab\ue000\ue001 c\ufffd\x07\x1c d e"
    assert garbage_share(text) == pytest.approx(4 / 9)
    assert garbage_share("(cid:12)(cid:7) ok") == pytest.approx(2 / 4)


def test_verdicts() -> None:
    assert judge("", 0.0).reason == "blank"
    assert judge(" \n ", 0.9).reason == "empty"
    assert judge("\ue000" * 30, 0.0).reason == "garbage"
    assert judge("Seite 3", 0.95).reason == "image"
    stamp = "Eingang 12.03.2025 Az. 123/45-1 Blatt 1"  # stamped on a scan
    assert judge(stamp, 0.98).reason == "image"
    assert judge(stamp, 0.6).reason == "ok"  # a picture on a page with a line of text
    assert judge(" ".join([stamp] * 10), 0.98).reason == "ok"  # text over a background
    assert judge(f"Umsatz 2025\n{stamp}", 0.98).reason == "image"  # two lines: still a stamp
    slide = "Ergebnisse 2025\nUmsatz +12 %\nNeue Filialen\nAusblick"
    assert judge(slide, 0.98).reason == "ok"  # a slide's points over a background picture
    assert judge("Die Verwaltung prüft den Antrag im Rahmen der Frist.", 0.0).reason == "ok"
