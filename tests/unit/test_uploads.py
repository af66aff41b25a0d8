"""File names kept for uploads and outputs (jobcenter/uploads.py)."""

from __future__ import annotations

import unicodedata

import pytest

from jobcenter.uploads import safe_name


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("Übersicht Prüfung.pdf", "Übersicht Prüfung.pdf"),
        (unicodedata.normalize("NFD", "Vertrag Müller.pdf"), "Vertrag Müller.pdf"),
        ("Отчёт 2025.pdf", "Отчёт 2025.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\scan?.png", "scan_.png"),
        ("a<b>|c*.txt", "a_b_c_.txt"),
        (" .hidden", "hidden"),
        ("...", "upload"),
    ],
)
def test_safe_names_keep_letters_of_any_script_and_nothing_that_leads_elsewhere(
    given: str, kept: str
) -> None:
    assert safe_name(given) == kept
