"""The offline default: CMU PocketSphinx from PyPI, with the US English acoustic model,
dictionary and language model that its wheel ships. No download at run time, no server;
English only. Accuracy is modest (docs/benchmarks.md, "Transcription")."""

from __future__ import annotations

import functools
import re
import wave
from pathlib import Path
from typing import Any

from processors.base import ProcessorError
from processors.engines.base import Segment

FRAMES_PER_SECOND = 100
PAUSE_SECONDS = 0.6
"""A silence this long ends a segment."""
MAX_SEGMENT_WORDS = 16
_ALTERNATE = re.compile(r"\(\d+\)$")


@functools.cache
def _decoder() -> Any:
    """One decoder per process: loading the model takes a few tenths of a second."""
    try:
        from pocketsphinx import Decoder
    except ImportError as exc:  # pragma: no cover - the package is a runtime requirement
        raise ProcessorError(
            "TRANSCRIPTION_UNAVAILABLE", f"pocketsphinx is not installed: {exc}"
        ) from exc
    return Decoder(samprate=16000, loglevel="FATAL")


class PocketsphinxEngine:
    name = "pocketsphinx"
    languages: frozenset[str] | None = frozenset({"en"})

    def transcribe(self, wav: Path, *, language: str) -> list[Segment]:
        with wave.open(str(wav)) as audio:
            if (audio.getframerate(), audio.getnchannels(), audio.getsampwidth()) != (16000, 1, 2):
                raise ProcessorError(
                    "TRANSCRIPTION_FAILED", "pocketsphinx needs 16 kHz mono 16-bit audio"
                )
            data = audio.readframes(audio.getnframes())
        decoder = _decoder()
        decoder.start_utt()
        decoder.process_raw(data, full_utt=True)
        decoder.end_utt()
        words: list[tuple[float, float, str]] = []
        # seg() is None, not an empty list, when the decoder has no hypothesis at all (audio
        # too short to decode, e.g. 30 ms): that is no words, not a failure.
        for item in decoder.seg() or ():
            word = _ALTERNATE.sub("", item.word)
            if word.startswith(("<", "[")):
                continue
            words.append(
                (
                    item.start_frame / FRAMES_PER_SECOND,
                    (item.end_frame + 1) / FRAMES_PER_SECOND,
                    word,
                )
            )
        return group(words)


def group(words: list[tuple[float, float, str]]) -> list[Segment]:
    """Words into segments, split at pauses and after MAX_SEGMENT_WORDS words."""
    segments: list[Segment] = []
    current: list[tuple[float, float, str]] = []
    for word in words:
        if current and (
            word[0] - current[-1][1] >= PAUSE_SECONDS or len(current) >= MAX_SEGMENT_WORDS
        ):
            segments.append(_segment(current))
            current = []
        current.append(word)
    if current:
        segments.append(_segment(current))
    return segments


def _segment(words: list[tuple[float, float, str]]) -> Segment:
    text = " ".join(word for _, _, word in words)
    return Segment(round(words[0][0], 3), round(words[-1][1], 3), text)
