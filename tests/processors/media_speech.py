"""Speech with known words for the transcription tests: English sentences spoken by
espeak-ng, joined with pauses, and turned into WAV, MP3 and MP4 with ffmpeg."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

SENTENCES = [
    "Welcome to the conference session about open source software.",
    "Today we will talk about the future of public transport in large cities.",
    "Please remember to turn off your phone before the meeting starts.",
    "The weather was cold and rainy for most of the week.",
    "Our team measured the results and wrote a short report.",
    "Thank you very much for listening and have a good evening.",
]
VOICE = ["-v", "en-us", "-s", "165"]


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]", " ", text.lower()).split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words: word-level Levenshtein."""
    ref, hyp = words(reference), words(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, word in enumerate(ref, 1):
        current = [i] + [0] * len(hyp)
        for j, other in enumerate(hyp, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (word != other))
        previous = current
    return previous[-1] / max(len(ref), 1)


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args], check=True)


def make_speech(folder: Path, sentences: list[str] = SENTENCES, pause: float = 0.8) -> Path:
    """One WAV (espeak-ng's own 22.05 kHz) with the sentences and ``pause`` s between them."""
    folder.mkdir(parents=True, exist_ok=True)
    parts: list[Path] = []
    for number, sentence in enumerate(sentences):
        part = folder / f"sentence-{number}.wav"
        subprocess.run(["espeak-ng", *VOICE, "-w", str(part), sentence], check=True)
        parts.append(part)
    listing = folder / "parts.txt"
    silence = folder / "silence.wav"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=22050:cl=mono", "-t", str(pause), silence.as_posix())
    lines = []
    for part in parts:
        lines += [f"file '{part.name}'", f"file '{silence.name}'"]
    listing.write_text("\n".join(lines) + "\n")
    speech = folder / "speech.wav"
    ffmpeg(
        "-f",
        "concat",
        "-safe",
        "0",
        "-i",
        listing.as_posix(),
        "-c:a",
        "pcm_s16le",
        speech.as_posix(),
    )
    return speech


def to_mp3(wav: Path) -> Path:
    target = wav.with_suffix(".mp3")
    ffmpeg("-i", wav.as_posix(), "-codec:a", "libmp3lame", "-b:a", "64k", target.as_posix())
    return target


def to_mp4(wav: Path, seconds: float | None = None, *, sound_from: float = 0.0) -> Path:
    """A small video: a test pattern at 160x120, the speech as AAC, starting ``sound_from``
    seconds into the video."""
    target = wav.with_suffix(".mp4")
    limit = ["-t", str(seconds)] if seconds else ["-shortest"]
    offset = ["-itsoffset", str(sound_from)] if sound_from else []
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10",
        *offset, "-i", wav.as_posix(),
        *limit,
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "64k",
        target.as_posix(),
    )  # fmt: skip
    return target


def silent_video(folder: Path) -> Path:
    target = folder / "silent.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-t", "2",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", target.as_posix(),
    )  # fmt: skip
    return target
