"""A transcript's forms: Markdown for reading, JSON segments for tools, SubRip and WebVTT
for players."""

from __future__ import annotations

import json
from collections.abc import Sequence

from processors.engines.base import Segment


def clock(seconds: float, separator: str = ".") -> str:
    """``HH:MM:SS.mmm`` (``,`` before the milliseconds for SubRip)."""
    millis = round(max(seconds, 0.0) * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def short_clock(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:d}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def plain_text(segments: Sequence[Segment]) -> str:
    return " ".join(segment.text for segment in segments).strip()


def timestamped(segments: Sequence[Segment]) -> str:
    """One line per segment with its start time: the transcript body of Markdown dossiers."""
    return "\n\n".join(f"**[{short_clock(s.start)}]** {s.text}" for s in segments)


def markdown(title: str, segments: Sequence[Segment], *, language: str, engine: str) -> str:
    body = timestamped(segments) or "_No speech was recognised._"
    return f"# {title}\n\n_Transcribed with {engine}, language {language}._\n\n{body}\n"


def srt(segments: Sequence[Segment]) -> str:
    blocks = [
        f"{number}\n{clock(s.start, ',')} --> {clock(s.end, ',')}\n{s.text}\n"
        for number, s in enumerate(segments, 1)
    ]
    return "\n".join(blocks)


def vtt(segments: Sequence[Segment]) -> str:
    blocks = [f"{clock(s.start)} --> {clock(s.end)}\n{s.text}\n" for s in segments]
    return "WEBVTT\n\n" + "\n".join(blocks)


def segments_json(segments: Sequence[Segment]) -> str:
    return json.dumps([s.as_dict() for s in segments], ensure_ascii=False, indent=1)
