"""ffmpeg: any audio or video in, 16 kHz mono 16-bit WAV out (what every engine takes)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from django.conf import settings

from processors.base import ProcessorError

SAMPLE_RATE = 16000


def ffmpeg_command() -> str:
    """The ffmpeg executable; FFMPEG_UNAVAILABLE when it is not installed."""
    configured = str(getattr(settings, "JOBCENTER_FFMPEG_COMMAND", "") or "ffmpeg")
    found = shutil.which(configured)
    if not found:
        raise ProcessorError(
            "FFMPEG_UNAVAILABLE",
            f"ffmpeg ({configured!r}, JOBCENTER_FFMPEG_COMMAND) is not installed or not "
            "executable; install the Debian package ffmpeg",
            {"command": configured},
        )
    return found


def to_wav(source: Path, destination: Path, *, timeout: float) -> None:
    """Decode ``source``'s first audio stream to ``destination``, from the media's time 0:
    a track that starts late (a video whose sound begins after 6 s) or has gaps is padded
    with silence, so that the transcript's times are the video's.

    MEDIA_UNDECODABLE when ffmpeg cannot read it (not media, corrupt, truncated), NO_AUDIO
    when it has no audio stream (a silent video)."""
    command = [
        ffmpeg_command(),
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-i",
        os.fspath(source),
        "-map",
        "0:a:0",
        "-vn",
        "-af",
        "aresample=async=1:first_pts=0",
        "-ac",
        "1",
        "-ar",
        str(SAMPLE_RATE),
        "-sample_fmt",
        "s16",
        "-f",
        "wav",
        os.fspath(destination),
    ]
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        destination.unlink(missing_ok=True)
        raise ProcessorError(
            "MEDIA_TIMEOUT", f"ffmpeg did not finish decoding {source.name} within {timeout:g} s"
        ) from exc
    if done.returncode == 0 and destination.is_file():
        return
    destination.unlink(missing_ok=True)
    # ffmpeg names the file by its path, which is the server's business: the name will do
    errors = done.stderr.decode("utf-8", "replace").strip().replace(str(source), source.name)
    tail = errors.splitlines()[-3:]
    if "matches no streams" in errors or "does not contain any stream" in errors:
        raise ProcessorError(
            "NO_AUDIO",
            f"{source.name} has no audio stream to transcribe",
            {"ffmpeg": tail},
        )
    reason = tail[-1] if tail else "ffmpeg failed"
    raise ProcessorError(
        "MEDIA_UNDECODABLE",
        f"{source.name} cannot be decoded as audio or video: {reason}",
        {"ffmpeg": tail, "exit_code": done.returncode},
    )
