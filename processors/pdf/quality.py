"""Is a page's text layer worth reading? ``auto`` runs OCR only where it is not.

A text layer fails in three ways: it is missing (a scan), it holds a few stray characters
over a page-sized image (a scan with a stamped page number), or it is garbage (a font
without a usable ToUnicode map: private-use characters, ``(cid:12)`` placeholders,
replacement characters, or letter soup without vowels). The thresholds are deliberately
plain so that a person can predict the decision; the reason is reported per page.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_CID = re.compile(r"\(cid:\d+\)")
_WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)
_VOWELS = set("aeiouyäöüàáâãåæèéêëìíîïòóôõøœùúûýÿąęįųėāēīōū")
_CONSONANT_RUN = re.compile(r"[bcdfghjklmnpqrstvwxzß]{6,}", re.IGNORECASE)

MIN_CHARS = 20
"""Fewer visible characters than this over an image-covered page: treat as a scan."""
SCAN_COVERAGE = 0.5


@dataclass(frozen=True)
class Verdict:
    needs_ocr: bool
    reason: str
    """"ok", "empty", "image" (little text over a page-sized image), "garbage", "blank"."""


def garbage_share(text: str) -> float:
    """Share of characters that no reader could use."""
    placeholders = len(_CID.findall(text))
    text = _CID.sub("", text)
    visible = [ch for ch in text if not ch.isspace()]
    if not visible and not placeholders:
        return 0.0
    bad = placeholders
    for ch in visible:
        category = unicodedata.category(ch)
        if category in {"Co", "Cn", "Cs", "Cc"} or ch == "\ufffd":
            bad += 1
    return bad / (len(visible) + placeholders)


def plausible_word_share(text: str) -> float:
    """Share of Latin-script words that look pronounceable (a vowel, no long consonant
    run); 1.0 when there are too few Latin words to judge (numbers, other scripts)."""
    words = [word for word in _WORD.findall(text) if _latin(word)]
    if len(words) < 8:
        return 1.0
    good = sum(
        1
        for word in words
        if any(ch in _VOWELS for ch in word.lower()) and not _CONSONANT_RUN.search(word)
    )
    return good / len(words)


def _latin(word: str) -> bool:
    return all("LATIN" in unicodedata.name(ch, "") for ch in word)


def judge(text: str, image_coverage: float) -> Verdict:
    visible = sum(1 for ch in text if not ch.isspace())
    if visible == 0:
        return Verdict(image_coverage > 0.0, "empty" if image_coverage > 0.0 else "blank")
    if garbage_share(text) > 0.1:
        return Verdict(True, "garbage")
    if plausible_word_share(text) < 0.6:
        return Verdict(True, "garbage")
    if visible < MIN_CHARS and image_coverage >= SCAN_COVERAGE:
        return Verdict(True, "image")
    return Verdict(False, "ok")
