"""Engines for OpenAI-compatible servers (OpenAI itself, whisper.cpp's server, vLLM,
LocalAI, Ollama's /v1, …), configured by URL, key and model in settings."""

from __future__ import annotations

import json
import wave
from pathlib import Path
from typing import Any

from django.conf import settings

from processors.base import ProcessorError
from processors.engines.base import Segment
from processors.engines.http import Endpoint, multipart


def _endpoint(prefix: str, operation: str, code: str, default_timeout: float) -> Endpoint:
    base = str(getattr(settings, f"JOBCENTER_{prefix}_URL", "") or "").rstrip("/")
    if not base:
        raise ProcessorError(
            code.replace("FAILED", "UNAVAILABLE"),
            f"JOBCENTER_{prefix}_URL is empty: the {prefix.lower()} server is not configured",
        )
    url = base if base.endswith(operation) else f"{base}{operation}"
    return Endpoint(
        url=url,
        key=str(getattr(settings, f"JOBCENTER_{prefix}_KEY", "") or ""),
        timeout=float(getattr(settings, f"JOBCENTER_{prefix}_TIMEOUT", default_timeout)),
        code=code,
    )


class OpenAITranscription:
    """``POST {JOBCENTER_TRANSCRIPTION_URL}/audio/transcriptions`` with the chunk as ``file``,
    asking for ``verbose_json`` so the reply carries segment timestamps."""

    languages: frozenset[str] | None = None

    def __init__(self) -> None:
        self.endpoint = _endpoint(
            "TRANSCRIPTION", "/audio/transcriptions", "TRANSCRIPTION_FAILED", 300.0
        )
        self.model = str(getattr(settings, "JOBCENTER_TRANSCRIPTION_MODEL", "") or "whisper-1")
        self.name = f"openai:{self.model}"

    def transcribe(self, wav: Path, *, language: str) -> list[Segment]:
        fields = {
            "model": self.model,
            "response_format": "verbose_json",
            "timestamp_granularities[]": "segment",
        }
        if language:
            fields["language"] = language.split("-")[0].lower()
        body, kind = multipart(fields, {"file": (wav.name, wav.read_bytes(), "audio/wav")})
        data = self.endpoint.post(body, kind)
        return self._segments(data, wav)

    def _segments(self, data: dict[str, Any], wav: Path) -> list[Segment]:
        raw = data.get("segments")
        if isinstance(raw, list) and raw:
            segments: list[Segment] = []
            for item in raw:
                try:
                    text = str(item["text"]).strip()
                    start, end = float(item["start"]), float(item["end"])
                except (KeyError, TypeError, ValueError) as exc:
                    raise ProcessorError(
                        "TRANSCRIPTION_FAILED",
                        f"the server sent a segment without start/end/text: {item!r:.200}",
                    ) from exc
                if text:
                    segments.append(Segment(round(start, 3), round(end, 3), text))
            return segments
        text = data.get("text")
        if not isinstance(text, str):
            raise ProcessorError(
                "TRANSCRIPTION_FAILED", "the server's reply has neither segments nor text"
            )
        if not text.strip():
            return []
        with wave.open(str(wav)) as audio:
            duration = audio.getnframes() / audio.getframerate()
        return [Segment(0.0, round(duration, 3), text.strip())]


class OpenAIChat:
    """``POST {JOBCENTER_CHAT_URL}/chat/completions``; the reply's first choice."""

    def __init__(self, code: str = "CHAT_FAILED") -> None:
        """``code``: the error code of a failed call (its ``_UNAVAILABLE`` twin when no
        server is configured); the pdf processor's LLM engine uses LLM_FAILED."""
        self.code = code
        self.endpoint = _endpoint("CHAT", "/chat/completions", code, 120.0)
        self.model = str(getattr(settings, "JOBCENTER_CHAT_MODEL", "") or "gpt-4o-mini")
        self.name = f"openai:{self.model}"

    def complete(self, messages: list[dict[str, Any]]) -> str:
        payload = {"model": self.model, "messages": messages, "temperature": 0}
        data = self.endpoint.post(json.dumps(payload).encode(), "application/json")
        try:
            content = data["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise ProcessorError(
                self.code, "the server's reply has no choices[0].message.content"
            ) from exc
        if not isinstance(content, str):
            raise ProcessorError(self.code, "the server's reply content is not text")
        return content
