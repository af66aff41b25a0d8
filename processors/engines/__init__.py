"""Engines: the exchangeable parts behind the media and session processors.

Two kinds, each chosen by a setting that names a zero-argument factory by dotted path (like
JOBCENTER_PROCESSORS names processors), so a deployment swaps in another engine without
touching the processors:

- transcription (``JOBCENTER_TRANSCRIPTION_ENGINE``): audio to timestamped segments; the
  default runs offline with pocketsphinx, ``processors.engines.openai.OpenAITranscription``
  talks to any OpenAI-compatible ``/v1/audio/transcriptions`` server;
- chat (``JOBCENTER_CHAT_ENGINE``): translation and template-driven rewriting through any
  OpenAI-compatible ``/v1/chat/completions`` server; none by default.
"""

from processors.engines.base import (
    ChatEngine,
    Segment,
    TranscriptionEngine,
    chat_engine,
    chat_engine_path,
    transcription_engine,
)

__all__ = [
    "ChatEngine",
    "Segment",
    "TranscriptionEngine",
    "chat_engine",
    "chat_engine_path",
    "transcription_engine",
]
