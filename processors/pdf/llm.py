"""The hook for vision/LLM engines (``llm*`` extraction methods and ``template``).

No engine ships with the pdf processor. An engine is any object with the two methods of
``LlmEngine``; ``JOBCENTER_LLM_ENGINE`` names a zero-argument factory for it by dotted path
(e.g. an OpenAI-compatible client added by another package). While the setting is empty,
jobs that need an engine are refused at submission (422) and, should the setting vanish
before the job runs, fail with ``LLM_UNAVAILABLE``.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from django.conf import settings
from django.utils.module_loading import import_string

from processors.base import ProcessorError

LLM_METHODS = frozenset({"llm", "llm_and_native", "llm_and_ocr"})


@runtime_checkable
class LlmEngine(Protocol):
    def page_to_markdown(
        self, image_png: bytes, *, page: int, languages: str, text_hint: str = ""
    ) -> str:
        """Markdown for one page image; ``text_hint`` is the page's native or OCR text when
        the method combines both."""
        ...

    def rewrite(
        self, markdown: str, *, template: str | None, context: dict[str, Any] | None
    ) -> str:
        """The document's Markdown rewritten with ``template`` and ``context``."""
        ...


def configured_engine_path() -> str:
    return str(getattr(settings, "JOBCENTER_LLM_ENGINE", "") or "")


def llm_refusal(method: str, template: str | None) -> str | None:
    """Why these parameters cannot run here, or None."""
    needs = method in LLM_METHODS or bool(template)
    if needs and not configured_engine_path():
        what = f"extraction_method {method!r}" if method in LLM_METHODS else "template"
        return f"{what} needs an LLM engine, and none is configured (JOBCENTER_LLM_ENGINE is empty)"
    return None


def get_engine() -> LlmEngine:
    path = configured_engine_path()
    if not path:
        raise ProcessorError(
            "LLM_UNAVAILABLE", "No LLM engine is configured (JOBCENTER_LLM_ENGINE is empty)."
        )
    try:
        engine = import_string(path)()
    except Exception as exc:
        raise ProcessorError(
            "LLM_UNAVAILABLE", f"The LLM engine {path!r} cannot be loaded: {exc}"
        ) from exc
    if not isinstance(engine, LlmEngine):
        raise ProcessorError(
            "LLM_UNAVAILABLE", f"{path!r} did not return an engine with page_to_markdown/rewrite"
        )
    return engine
