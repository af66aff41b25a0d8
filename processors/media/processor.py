"""``audio`` and ``video``: a file (upload, allowed path or URL) to a transcript, as Markdown,
JSON segments, SubRip and WebVTT files. See docs/processors/media.md."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

from django.conf import settings
from pydantic import AliasChoices, Field, field_validator

from jobcenter.uploads import safe_name
from processors.base import JobContext, Processor, ProcessorParams
from processors.media import transcript as forms
from processors.media.pipeline import Cancelled, transcribe_file
from processors.sources import check_source_syntax, open_source

LANGUAGE_PATTERN = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?$"


class MediaParams(ProcessorParams):
    source: str = Field(
        validation_alias=AliasChoices("source", "file_path", "url"),
        description="upload:<id>, an http(s) URL, or an absolute path under "
        "JOBCENTER_ALLOWED_INPUT_DIRS (older names file_path and url accepted).",
    )
    language: str = Field(
        "en",
        pattern=LANGUAGE_PATTERN,
        description="Spoken language (ISO 639-1, e.g. en); the engine must support it.",
    )

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        return check_source_syntax(value)


def max_bytes() -> int:
    return int(getattr(settings, "JOBCENTER_MEDIA_MAX_BYTES", 2 * 1024**3))


def save_transcript(
    ctx: JobContext, stem: str, title: str, found: Any, *, prefix: str = ""
) -> dict[str, Any]:
    """Write the four forms of ``found`` (a pipeline.Transcript); the result fields."""
    names = {
        "markdown_file": f"{prefix}{stem}.md",
        "segments_file": f"{prefix}{stem}.segments.json",
        "srt_file": f"{prefix}{stem}.srt",
        "vtt_file": f"{prefix}{stem}.vtt",
    }
    text = forms.markdown(title, found.segments, language=found.language, engine=found.engine)
    ctx.save_file(names["markdown_file"], text)
    ctx.save_file(names["segments_file"], forms.segments_json(found.segments))
    ctx.save_file(names["srt_file"], forms.srt(found.segments))
    ctx.save_file(names["vtt_file"], forms.vtt(found.segments))
    return {
        "markdown_content": text,
        **names,
        "transcript": forms.plain_text(found.segments),
        "segments": [segment.as_dict() for segment in found.segments],
        "duration_seconds": found.duration,
        "language": found.language,
        "engine": found.engine,
        "chunks": found.chunks,
        "assets": list(names.values()),
    }


class MediaProcessor(Processor):
    Params = MediaParams
    timeout = 4 * 3600.0
    max_attempts = 2
    kind: ClassVar[str] = "media"

    def run(self, params: MediaParams, ctx: JobContext) -> dict[str, Any]:
        started = time.monotonic()
        with open_source(
            params.source, max_bytes=max_bytes(), too_large_code="MEDIA_TOO_LARGE"
        ) as source:
            ctx.progress(0, "decode", f"decoding {source.name}")
            ctx.log(f"{source.name}: {source.size} bytes, language {params.language}")
            try:
                found = transcribe_file(
                    source.path, ctx, language=params.language, timeout=self.timeout
                )
            except Cancelled:
                ctx.log("cancelled; the transcript so far is discarded", "warning")
                return {"cancelled": True}
            if not found.segments:
                # A completed job with an empty transcript looks like a bug unless it says
                # why: the recording held no speech the engine could find (silence, a tone,
                # or too short to decode).
                ctx.log(
                    f"no speech was recognised in {found.duration:.2f} s of {self.kind}; "
                    "the transcript is empty",
                    "warning",
                )
            stem = safe_name(Path(source.name).stem or self.kind)
            results = save_transcript(ctx, stem, source.name, found)
            results["source"] = source.describe()
        results["seconds"] = round(time.monotonic() - started, 3)
        ctx.log(
            f"{len(found.segments)} segments from {found.duration:.1f} s of {self.kind} "
            f"in {found.chunks} chunks with {found.engine}"
        )
        ctx.progress(100, "done", f"{found.chunks} chunks")
        return results


class AudioProcessor(MediaProcessor):
    job_type = "audio"
    kind = "audio"
    description = "Audio (upload, URL or allowed path) to a transcript: Markdown, JSON, SRT, VTT."


class VideoProcessor(MediaProcessor):
    job_type = "video"
    kind = "video"
    description = "A video's sound track to a transcript (ffmpeg first): Markdown, JSON, SRT, VTT."
