"""Media file → WAV → chunks → engine → one list of segments, with progress per chunk.

Shared by the ``audio``/``video`` processors and the ``session`` processor's video step.
Long media is cut into chunks of about JOBCENTER_MEDIA_CHUNK_SECONDS, each cut placed at the
quietest moment of the few seconds before the nominal boundary, so words are rarely split;
an engine sees one chunk at a time, so memory stays flat and progress moves.
"""

from __future__ import annotations

import array
import tempfile
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from processors.base import JobContext, ProcessorError
from processors.engines.base import Segment, TranscriptionEngine, check_language
from processors.engines.base import transcription_engine as configured_engine
from processors.media.ffmpeg import SAMPLE_RATE, to_wav

SEARCH_SECONDS = 5.0
"""How far before a nominal chunk boundary to look for a pause to cut at."""
WINDOW = SAMPLE_RATE // 20
"""50 ms: the unit of loudness when looking for that pause."""
SILENCE_PEAK = 328
"""Audio whose loudest sample stays under this (-40 dBFS, where speech peaks 20 dB and more
higher) is silence. Engines make words up in silence (pocketsphinx heard "dog" in 30 s of
digital silence; Whisper is known for "Thank you."): a silent chunk is not sent, and a
segment that lies wholly in silence is left out."""


def _silent(samples: array.array[int]) -> bool:
    return bool(samples) and max(max(samples), -min(samples)) < SILENCE_PEAK


class Cancelled(Exception):
    """The job was cancelled between two chunks."""


@dataclass
class Transcript:
    segments: list[Segment]
    duration: float
    language: str
    engine: str
    chunks: int
    chunk_bounds: list[tuple[float, float]] = field(default_factory=list)


def chunk_seconds() -> float:
    return float(getattr(settings, "JOBCENTER_MEDIA_CHUNK_SECONDS", 60.0))


def _quietest(audio: wave.Wave_read, start: int, end: int) -> int:
    """The frame in [start, end) that begins the quietest 50 ms window."""
    audio.setpos(start)
    samples = array.array("h", audio.readframes(end - start))
    best, best_energy = end, None
    for offset in range(0, max(len(samples) - WINDOW, 0), WINDOW // 2):
        window = samples[offset : offset + WINDOW]
        energy = sum(abs(value) for value in window)
        if best_energy is None or energy < best_energy:
            best, best_energy = start + offset + WINDOW // 2, energy
    return best


def chunk_bounds(audio: wave.Wave_read, seconds: float) -> list[tuple[int, int]]:
    total = audio.getnframes()
    size = max(int(seconds * SAMPLE_RATE), SAMPLE_RATE)
    search = min(int(SEARCH_SECONDS * SAMPLE_RATE), size // 3)
    bounds: list[tuple[int, int]] = []
    start = 0
    while start < total:
        nominal = start + size
        if nominal >= total - SAMPLE_RATE:  # the rest is short: one last chunk
            bounds.append((start, total))
            break
        cut = _quietest(audio, nominal - search, nominal)
        bounds.append((start, cut))
        start = cut
    return bounds


def transcribe_file(
    path: Path,
    ctx: JobContext,
    *,
    language: str,
    step: str = "transcribe",
    report: Callable[[float, str], None] | None = None,
    engine: TranscriptionEngine | None = None,
    timeout: float = 3600.0,
) -> Transcript:
    """The whole file's segments. ``report(fraction, message)`` is called after each chunk
    (default: ``ctx.progress`` over 0 to 100 % with ``step``)."""
    engine = engine or configured_engine()
    check_language(engine, language)

    def default_report(fraction: float, message: str) -> None:
        ctx.progress(round(100.0 * fraction, 1), step, message)

    report = report or default_report
    with tempfile.TemporaryDirectory(prefix="jobcenter-media-") as folder:
        wav = Path(folder) / "audio.wav"
        to_wav(path, wav, timeout=timeout)
        report(0.05, "decoded to 16 kHz mono WAV")
        with wave.open(str(wav)) as audio:
            duration = audio.getnframes() / SAMPLE_RATE
            bounds = chunk_bounds(audio, chunk_seconds())
            segments: list[Segment] = []
            silent_chunks = invented = 0
            for number, (start, end) in enumerate(bounds, 1):
                if ctx.cancelled:
                    raise Cancelled
                audio.setpos(start)
                frames = audio.readframes(end - start)
                samples = array.array("h", frames)
                if _silent(samples):
                    silent_chunks += 1
                    found = []
                else:
                    found = _transcribe_chunk(engine, Path(folder), number, frames, language)
                offset, length = start / SAMPLE_RATE, (end - start) / SAMPLE_RATE
                for segment in found:
                    segment = segment.shifted(0.0, length)
                    heard = samples[
                        int(segment.start * SAMPLE_RATE) : int(segment.end * SAMPLE_RATE)
                    ]
                    if _silent(heard):
                        invented += 1
                    else:
                        segments.append(segment.shifted(offset))
                fraction = 0.05 + 0.95 * number / len(bounds)
                report(fraction, f"chunk {number}/{len(bounds)} ({100 * fraction:.0f} %)")
    if silent_chunks:
        ctx.log(f"{silent_chunks} of {len(bounds)} chunk(s) silent: not sent to the engine")
    if invented:
        ctx.log(f"{invented} segment(s) the engine found in silence left out")
    return Transcript(
        segments,
        round(duration, 3),
        language,
        engine.name,
        len(bounds),
        [(round(a / SAMPLE_RATE, 3), round(b / SAMPLE_RATE, 3)) for a, b in bounds],
    )


def _transcribe_chunk(
    engine: TranscriptionEngine, folder: Path, number: int, frames: bytes, language: str
) -> list[Segment]:
    """The engine's segments for one chunk, its times from the chunk's start."""
    chunk = folder / f"chunk-{number:05d}.wav"
    with wave.open(str(chunk), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(frames)
    try:
        return engine.transcribe(chunk, language=language)
    except ProcessorError:
        raise
    except Exception as exc:
        raise ProcessorError(
            "TRANSCRIPTION_FAILED", f"the engine {engine.name!r} failed on chunk {number}: {exc}"
        ) from exc
    finally:
        chunk.unlink(missing_ok=True)
