"""The hook for vision/LLM engines (``llm*`` extraction methods and ``template``).

An engine is any object with the two methods of ``LlmEngine``; ``JOBCENTER_LLM_ENGINE``
names a zero-argument factory for it by dotted path. ``OpenAIChatPages`` below is the one
that ships: it talks to the OpenAI-compatible chat server the media processors use
(``JOBCENTER_CHAT_URL``, ``_KEY``, ``_MODEL``; the model must accept images for the
``llm*`` methods). While the setting is empty, jobs that need an engine are refused at
submission (422) and, should the setting vanish before the job runs, fail with
``LLM_UNAVAILABLE``.
"""

from __future__ import annotations

import base64
import json
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


PAGE_PROMPT = (
    "Transcribe this page of a document as Markdown: every word in reading order, headings "
    "as ### (or deeper) headings, lists as lists, tables as Markdown tables. Text languages: "
    "{languages}. Answer with the Markdown only, without comments or code fences."
)
HINT_PROMPT = "\n\nThe page's text as a machine read it (may be incomplete or garbled):\n\n{hint}"
REWRITE_PROMPT = "{template}\n\nContext (JSON): {context}\n\nDocument (Markdown):\n\n{markdown}"


class OpenAIChatPages:
    """``LlmEngine`` over ``POST {JOBCENTER_CHAT_URL}/chat/completions`` (OpenAI, vLLM,
    Ollama's /v1, …): a page goes as a PNG data URL beside the prompt, as the OpenAI vision
    message format has it. Set ``JOBCENTER_LLM_ENGINE=processors.pdf.llm.OpenAIChatPages``."""

    def __init__(self) -> None:
        from processors.engines.openai import OpenAIChat

        self.chat = OpenAIChat(code="LLM_FAILED")
        self.model = self.chat.model

    def page_to_markdown(
        self, image_png: bytes, *, page: int, languages: str, text_hint: str = ""
    ) -> str:
        prompt = PAGE_PROMPT.format(languages=languages)
        if text_hint.strip():
            prompt += HINT_PROMPT.format(hint=text_hint.strip())
        image = "data:image/png;base64," + base64.b64encode(image_png).decode("ascii")
        content = [
            {"type": "text", "text": prompt},
            {"type": "image_url", "image_url": {"url": image}},
        ]
        return self._complete([{"role": "user", "content": content}])

    def rewrite(
        self, markdown: str, *, template: str | None, context: dict[str, Any] | None
    ) -> str:
        prompt = REWRITE_PROMPT.format(
            template=template or "", context=json.dumps(context or {}), markdown=markdown
        )
        return self._complete([{"role": "user", "content": prompt}])

    def _complete(self, messages: list[dict[str, Any]]) -> str:
        return self.chat.complete(messages)
