"""Is a page's text layer worth reading? ``auto`` runs OCR only where it is not.

A text layer fails in three ways: it is missing (a scan), it holds a few stray characters
over a page-sized image (a scan with a stamped page number), or it is garbage (a font
without a usable ToUnicode map: private-use characters, ``(cid:12)`` placeholders,
replacement characters, or letter soup without vowels). The thresholds are deliberately
plain so that a person can predict the decision; the reason is reported per page.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

_CID = re.compile(r"\(cid:\d+\)")
_WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)
_VOWELS = set("aeiouyäöüàáâãåæèéêëìíîïòóôõøœùúûýÿąęįųėāēīōū")
_CONSONANT_RUN = re.compile(r"[bcdfghjklmnpqrstvwxzß]{6,}", re.IGNORECASE)
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x7f]")
"""The ASCII characters that are control characters and not blanks (``str.isspace``)."""
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_UNUSABLE = {"Co", "Cn", "Cs", "Cc"}

MIN_CHARS = 20
"""Fewer visible characters than this over an image-covered page: treat as a scan."""
SCAN_COVERAGE = 0.5
STAMP_CHARS = 200
STAMP_LINES = 2
"""Fewer characters than STAMP_CHARS in at most STAMP_LINES lines over an image covering
nearly all of the page (``FULL_COVERAGE``): a scan with a stamp or a Bates number as its
only text layer. More lines are a slide's title and points over a background picture."""
FULL_COVERAGE = 0.9


@dataclass(frozen=True)
class Verdict:
    needs_ocr: bool
    reason: str
    """"ok", "empty", "image" (little text over a page-sized image), "garbage", "blank"."""


def garbage_share(text: str) -> float:
    """Share of characters that no reader could use. Only characters outside ASCII are
    looked up one by one: in ASCII only control characters can be unusable."""
    placeholders = len(_CID.findall(text))
    text = _CID.sub("", text)
    visible = _visible(text)
    if not visible and not placeholders:
        return 0.0
    bad = placeholders + len(_ASCII_CONTROL.findall(text))
    for ch in _NON_ASCII.findall(text):
        if (unicodedata.category(ch) in _UNUSABLE or ch == "\ufffd") and not ch.isspace():
            bad += 1
    return bad / (visible + placeholders)


def plausible_word_share(text: str) -> float:
    """Share of Latin-script words that look pronounceable (a vowel, no long consonant
    run); 1.0 when there are too few Latin words to judge (numbers, other scripts).
    Each distinct word is judged once: a page repeats most of its words, and a document's
    pages their vocabulary (``_judged`` remembers)."""
    total = good = 0
    for word, count in Counter(_WORD.findall(text)).items():
        latin, pronounceable = _judged(word)
        if latin:
            total += count
            if pronounceable:
                good += count
    if total < 8:
        return 1.0
    return good / total


@functools.lru_cache(maxsize=65536)
def _judged(word: str) -> tuple[bool, bool]:
    """Whether ``word`` is Latin script, and whether it looks pronounceable."""
    return _latin(word), _pronounceable(word)


def _pronounceable(word: str) -> bool:
    return not _VOWELS.isdisjoint(word.lower()) and not _CONSONANT_RUN.search(word)


def _latin(word: str) -> bool:
    """ASCII letters are Latin; the others are looked up once each."""
    return word.isascii() or all(_latin_letter(ch) for ch in _NON_ASCII.findall(word))


@functools.cache
def _latin_letter(ch: str) -> bool:
    return "LATIN" in unicodedata.name(ch, "")


def _visible(text: str) -> int:
    return len("".join(text.split()))


def judge(text: str, image_coverage: float) -> Verdict:
    visible = _visible(text)
    if visible == 0:
        return Verdict(image_coverage > 0.0, "empty" if image_coverage > 0.0 else "blank")
    if garbage_share(text) > 0.1:
        return Verdict(True, "garbage")
    if plausible_word_share(text) < 0.6:
        return Verdict(True, "garbage")
    stamp = (
        visible < STAMP_CHARS
        and image_coverage >= FULL_COVERAGE
        and sum(1 for line in text.splitlines() if line.strip()) <= STAMP_LINES
    )
    if (visible < MIN_CHARS and image_coverage >= SCAN_COVERAGE) or stamp:
        return Verdict(True, "image")
    return Verdict(False, "ok")
