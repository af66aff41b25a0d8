"""The engine contracts and their loading from settings."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from django.conf import settings
from django.utils.module_loading import import_string

from processors.base import ProcessorError


@dataclass(frozen=True)
class Segment:
    """A stretch of speech: seconds from the start of the medium, and what was said."""

    start: float
    end: float
    text: str

    def shifted(self, seconds: float, length: float | None = None) -> Segment:
        """Moved by ``seconds``; with ``length``, kept within the chunk of that many seconds
        it came from (a server may answer with an end past the audio)."""
        start, end = self.start, self.end
        if length is not None:
            start, end = min(max(start, 0.0), length), min(max(end, 0.0), length)
        return Segment(round(start + seconds, 3), round(max(start, end) + seconds, 3), self.text)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@runtime_checkable
class TranscriptionEngine(Protocol):
    name: str
    languages: frozenset[str] | None
    """ISO 639-1 codes the engine can transcribe; None when the server decides."""

    def transcribe(self, wav: Path, *, language: str) -> list[Segment]:
        """Segments of a 16 kHz mono 16-bit WAV file, times relative to its start."""
        ...


@runtime_checkable
class ChatEngine(Protocol):
    name: str

    def complete(self, messages: list[dict[str, str]]) -> str:
        """The assistant's reply to ``messages`` (OpenAI chat format)."""
        ...


def _load(path: str, setting: str, code: str) -> Any:
    try:
        return import_string(path)()
    except Exception as exc:
        raise ProcessorError(
            code, f"the engine {path!r} ({setting}) cannot be loaded: {exc}", {"engine": path}
        ) from exc


def transcription_engine() -> TranscriptionEngine:
    """The configured transcription engine; TRANSCRIPTION_UNAVAILABLE when it cannot load."""
    path = str(getattr(settings, "JOBCENTER_TRANSCRIPTION_ENGINE", "") or "")
    if not path:
        raise ProcessorError(
            "TRANSCRIPTION_UNAVAILABLE",
            "no transcription engine is configured (JOBCENTER_TRANSCRIPTION_ENGINE is empty)",
        )
    engine = _load(path, "JOBCENTER_TRANSCRIPTION_ENGINE", "TRANSCRIPTION_UNAVAILABLE")
    if not isinstance(engine, TranscriptionEngine):
        raise ProcessorError(
            "TRANSCRIPTION_UNAVAILABLE", f"{path!r} did not return a transcription engine"
        )
    return engine


def chat_engine_path() -> str:
    return str(getattr(settings, "JOBCENTER_CHAT_ENGINE", "") or "")


def chat_engine() -> ChatEngine | None:
    """The configured chat engine, or None when there is none (the default)."""
    path = chat_engine_path()
    if not path:
        return None
    engine = _load(path, "JOBCENTER_CHAT_ENGINE", "CHAT_UNAVAILABLE")
    if not isinstance(engine, ChatEngine):
        raise ProcessorError("CHAT_UNAVAILABLE", f"{path!r} did not return a chat engine")
    return engine


def check_language(engine: TranscriptionEngine, language: str) -> None:
    """Refuse a language the engine cannot transcribe, before any audio is decoded."""
    supported = engine.languages
    if supported is not None and language.split("-")[0].lower() not in supported:
        raise ProcessorError(
            "LANGUAGE_UNSUPPORTED",
            f"the transcription engine {engine.name!r} supports {', '.join(sorted(supported))}, "
            f"not {language!r}",
            {"language": language, "supported": sorted(supported), "engine": engine.name},
        )
