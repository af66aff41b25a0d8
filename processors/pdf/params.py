"""The ``pdf`` job's parameters. Names and values follow the older system, so its clients keep
working (``file_path`` and ``url`` are accepted for ``source``; the ``extraction_method``
values are its own, plus ``auto``)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator

from processors.base import ProcessorParams
from processors.sources import check_source_syntax

ExtractionMethod = Literal[
    "auto",
    "native",
    "ocr",
    "both",
    "preview",
    "preview_and_native",
    "llm",
    "llm_and_native",
    "llm_and_ocr",
]
TextEngine = Literal["pdfium", "pdfminer"]

DEFAULT_ENGINE: TextEngine = "pdfium"
"""Chosen on measured quality and speed: docs/decisions/0010-pdf-text-engine.md."""

LANGUAGES_PATTERN = r"^[A-Za-z0-9_]+(\+[A-Za-z0-9_]+)*$"
_RANGE = re.compile(r"^\s*(\d+)\s*(?:(-)\s*(\d*)\s*)?$")

SOURCE_DESCRIPTION = (
    "The input file: an upload reference (upload:<id>), an http(s) URL, or an absolute path "
    "under one of JOBCENTER_ALLOWED_INPUT_DIRS. The older names file_path and url are "
    "accepted too."
)


def parse_pages(
    spec: str | None, count: int | None = None
) -> tuple[list[int], list[tuple[int, int]]]:
    """``"1-5,9,12-"`` as 0-based page indexes in document order, and the 1-based ranges
    (first, last) asked for beyond ``count``. Without ``count`` only the syntax is
    checked."""
    if spec is None or not spec.strip():
        return (list(range(count)) if count is not None else []), []
    wanted: set[int] = set()
    beyond: list[tuple[int, int]] = []
    for part in spec.split(","):
        match = _RANGE.match(part)
        if not match:
            raise ValueError(f"{part.strip()!r} is not a page or a range like 3-7")
        first = int(match.group(1))
        if first < 1:
            raise ValueError("pages are counted from 1")
        if match.group(2) is None:
            last = first
        elif match.group(3):
            last = int(match.group(3))
        else:
            last = count if count is not None else first
        if last < first and match.group(3):
            raise ValueError(f"{part.strip()!r} runs backwards")
        if count is None:
            continue
        wanted.update(range(first - 1, min(max(first, last), count)))
        if max(first, last) > count:
            beyond.append((max(first, count + 1), max(first, last)))
    merged: list[tuple[int, int]] = []
    for low, high in sorted(beyond):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return sorted(wanted), merged


def describe_ranges(ranges: list[tuple[int, int]]) -> str:
    """``[(5, 999), (1200, 1200)]`` as "5-999, 1200", for messages."""
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges)


class PdfParams(ProcessorParams):
    source: str = Field(
        validation_alias=AliasChoices("source", "file_path", "url"),
        description=SOURCE_DESCRIPTION,
    )
    extraction_method: ExtractionMethod = Field(
        "auto",
        description=(
            "auto: the text layer, and OCR for pages whose text layer is empty or garbage "
            "(scans). native: text layer only. ocr: Tesseract on every page. both: text layer "
            "and OCR. preview: page images only. preview_and_native: page images and text "
            "layer. llm, llm_and_native, llm_and_ocr: a vision model writes each page as "
            "Markdown (needs a configured LLM engine)."
        ),
    )
    engine: TextEngine = Field(
        DEFAULT_ENGINE,
        description="Text layer engine: pdfium (pypdfium2, fast) or pdfminer (pdfminer.six).",
    )
    languages: str = Field(
        "deu+eng", pattern=LANGUAGES_PATTERN, description="Tesseract languages, e.g. deu+eng."
    )
    pages: str | None = Field(
        None, description="Pages to read, e.g. 1-5,9 or 10- (default: all).", examples=["1-5,9"]
    )
    include_images: bool = Field(False, description="Save the embedded images as PNG files.")
    include_previews: bool = Field(False, description="Save a PNG of every page.")
    preview_dpi: int = Field(150, ge=36, le=600, description="Resolution of page previews.")
    ocr_dpi: int = Field(300, ge=72, le=600, description="Resolution pages are OCRed at.")
    use_cache: bool = Field(
        True,
        description="Reuse the results of an earlier job on the same file (by content hash) "
        "with the same parameters.",
    )
    template: str | None = Field(
        None,
        max_length=20_000,
        description="Rewrite the Markdown through the configured LLM engine with this template.",
    )
    context: dict[str, Any] | None = Field(
        None, description="Extra context for the template (LLM engine only)."
    )

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        return check_source_syntax(value)

    @field_validator("pages")
    @classmethod
    def _pages(cls, value: str | None) -> str | None:
        parse_pages(value)
        return value

    @model_validator(mode="after")
    def _llm(self) -> PdfParams:
        from processors.pdf.llm import llm_refusal

        if self.context is not None and not self.template:
            raise ValueError("context is only used with a template: give a template too")
        refusal = llm_refusal(self.extraction_method, self.template)
        if refusal:
            raise ValueError(refusal)
        return self
