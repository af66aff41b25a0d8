"""Offline transcription: word error rate and speed of the default engine (pocketsphinx) on
speech with known words (espeak-ng, English), as WAV, MP3 and MP4, whole and in 12 s chunks.

    .venv/bin/python bench/transcription.py [--runs 3]

Prints a Markdown table for the "Transcription" section of docs/benchmarks.md. WER is
deterministic (same input, same engine); the real-time factor (processing seconds per second
of audio, decoding included) is the median of ``--runs``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REPO, machine, median, setup_django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-transcription-"))
    os.environ.pop("MONGODB_URI", None)
    setup_django(
        {
            "DJANGO_SETTINGS_MODULE": "jobcenter.settings",
            "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
            "JOBCENTER_MEDIA_ROOT": str(workdir / "media"),
        }
    )
    sys.path.insert(0, str(REPO))
    from django.test.utils import override_settings

    from processors.media.pipeline import transcribe_file
    from processors.media.transcript import plain_text
    from processors.testing import RecordingContext
    from tests.processors.media_speech import (
        SENTENCES,
        make_speech,
        to_mp3,
        to_mp4,
        word_error_rate,
    )

    speech = make_speech(workdir / "speech")
    forms = {"WAV (PCM)": speech, "MP3 (64 kbit/s)": to_mp3(speech), "MP4 (AAC)": to_mp4(speech)}
    truth = " ".join(SENTENCES)
    rows = []
    for chunk in (60, 12):
        for label, path in forms.items():
            rates: list[float] = []
            wers: set[float] = set()
            duration = 0.0
            for _ in range(args.runs):
                ctx = RecordingContext(workdir / "media")
                with override_settings(JOBCENTER_MEDIA_CHUNK_SECONDS=chunk):
                    started = time.perf_counter()
                    found = transcribe_file(path, ctx, language="en")
                    rates.append((time.perf_counter() - started) / found.duration)
                duration = found.duration
                wers.add(round(word_error_rate(truth, plain_text(found.segments)), 3))
            wer = ", ".join(f"{value:.3f}" for value in sorted(wers))
            rows.append(
                f"| {label} | {chunk} s ({found.chunks}) | {duration:.1f} s | {wer} | "
                f"{median(rates):.2f} |"
            )
    print(machine())
    print()
    print("| input | chunk size (chunks) | audio | WER | real-time factor (median) |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
