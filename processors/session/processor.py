"""``session``: a conference session's page, video and attachments to one Markdown dossier.

Steps, each reported as progress: ``page`` (the job fails only here), ``attachments i/n``,
``transcribe N %``, ``translate``, ``write``. Any other part that fails is recorded with its
error code in the dossier, the log and ``results.errors``, and the rest is still produced.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jobcenter.uploads import safe_name
from processors.base import JobContext, Processor, ProcessorError
from processors.engines.base import (
    Segment,
    chat_engine,
    chat_engine_path,
    check_language,
    transcription_engine,
)
from processors.engines.chat import translate
from processors.fetch import Fetcher, FetchTooLarge
from processors.media import transcript as forms
from processors.media.pipeline import Cancelled, Transcript, transcribe_file
from processors.media.processor import max_bytes as media_max_bytes
from processors.media.processor import save_transcript
from processors.pdf import cache
from processors.session import attachments as attaching
from processors.session.page import fetch_page
from processors.session.params import SessionParams
from processors.session.render import demote, front_matter, render

# Where each step's progress runs, in percent.
PAGE, ATTACHMENTS, TRANSCRIBE, TRANSLATE, WRITE = 0, 10, 40, 85, 95


def dossier_name(params: SessionParams) -> str:
    """``filename`` as a file name; else the session's title, whose slashes are part of it
    ("CI/CD pipelines" is "CI_CD pipelines.md", not "CD pipelines.md")."""
    if params.filename:
        name = safe_name(params.filename)
    else:
        name = safe_name((params.session or "session").replace("/", "_").replace("\\", "_"))
    return name if name.lower().endswith(".md") else f"{name}.md"


class SessionProcessor(Processor):
    job_type = "session"
    description = (
        "A conference session (page, video, slides) to one Markdown dossier with front matter, "
        "abstract, transcript and attachment texts."
    )
    Params = SessionParams
    timeout = 4 * 3600.0
    max_attempts = 3

    def run(self, params: SessionParams, ctx: JobContext) -> dict[str, Any]:
        started = time.monotonic()
        problems: list[dict[str, Any]] = []

        def problem(part: str, exc: ProcessorError, url: str | None = None) -> None:
            entry = {"part": part, "code": exc.code, "message": exc.message, "url": url}
            problems.append(entry)
            ctx.log(f"{part}: {exc.code}: {exc.message}; the rest is still produced", "warning")

        # 1. page: the one part without which there is no dossier
        ctx.progress(PAGE, "page", f"fetching {params.url}")
        page = fetch_page(params.url)
        ctx.log(f"page {page.url}: {len(page.text)} characters of main text")
        if not page.text.strip():  # a page its scripts fill in: worth finding in a batch
            empty = ProcessorError("PAGE_EMPTY", "the page has no main text to read")
            problem("page", empty, page.url)
        ctx.progress(ATTACHMENTS, "page", "page text extracted")
        assets: list[str] = []

        # 2. attachments
        found: list[attaching.Attachment] = []
        skipped: list[attaching.Skipped] = []
        if params.attachments_url:
            found, skipped = self._attachments(params, ctx, problem)
            for attachment in found:
                assets.extend(attachment.assets)
                if attachment.error:
                    problem(
                        f"attachment {attachment.name}",
                        ProcessorError(attachment.error["code"], attachment.error["message"]),
                        attachment.url,
                    )
        if ctx.cancelled:
            return {"cancelled": True}

        # 3. video
        video: Transcript | None = None
        video_files: dict[str, Any] = {}
        if params.video_url:
            try:
                video = self._video(params, ctx)
            except Cancelled:
                return {"cancelled": True}
            except ProcessorError as exc:
                problem("video", exc, params.video_url)
            except Exception as exc:  # the video must not cost the dossier
                failure = ProcessorError("TRANSCRIPTION_FAILED", f"{type(exc).__name__}: {exc}")
                problem("video", failure, params.video_url)
            else:
                video_files = save_transcript(
                    ctx, "transcript", params.session, video, prefix="video/"
                )
                assets.extend(video_files["assets"])

        web_text = page.text
        video_transcript = forms.timestamped(video.segments) if video else ""
        attachments_text = "\n\n".join(
            f"## {a.name}\n\n{a.text}" for a in found if a.text and not a.error
        )

        # 4. translation
        ctx.progress(TRANSLATE, "translate", "")
        translation, texts = self._translate(
            params, ctx, problem, web_text, video_transcript, [a.text for a in found]
        )

        # 5. write
        ctx.progress(WRITE, "write", "rendering the dossier")
        name = dossier_name(params)
        processed_at = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        matter = front_matter(
            {
                "event": params.event,
                "session": params.session,
                "track": params.track,
                "day": params.day,
                "starttime": params.starttime,
                "endtime": params.endtime,
                "speakers": params.speakers,
                "language": texts["language"],
                "source_language": params.source_language,
                "target_language": params.target_language or params.source_language,
                "translation": translation["status"],
                "url": page.url,
                "video_url": params.video_url,
                "attachments_url": params.attachments_url,
                "title": page.title,
                "processed_at": processed_at,
                "errors": [f"{p['part']}: {p['code']}" for p in problems],
            }
        )
        shown = [
            {"name": a.name, "text": demote(text, 2), "error": a.error, "file": a.file}
            for a, text in zip(found, texts["attachments"], strict=True)
        ]
        video_error = next((p for p in problems if p["part"] == "video"), None)
        context = {
            **params.model_dump(),
            "front_matter": matter,
            "page_title": page.title,
            "page_metadata": page.metadata,
            "web_text": demote(texts["web_text"], 2),
            "video_transcript": texts["video_transcript"],
            "video_error": f"`{video_error['code']}` {video_error['message']}"
            if video_error
            else "",
            "segments": [s.as_dict() for s in video.segments] if video else [],
            "attachments": shown,
            "skipped_attachments": [item.as_result() for item in skipped],
            "attachments_text": texts["attachments_text"],
            "problems": problems,
            "translation": translation,
            "untranslated_note": translation.get("note", ""),
            "language": texts["language"],
            "processed_at": processed_at,
        }
        markdown = render(params.template, context)
        ctx.save_file(name, markdown)
        ctx.log(f"dossier {name}: {len(markdown)} characters, {len(problems)} problem(s)")
        ctx.progress(100, "write", name)
        return {
            "markdown_file": name,
            "markdown_content": markdown,
            "web_text": web_text,
            "video_transcript": video_transcript,
            "attachments_text": attachments_text,
            "assets": assets,
            "attachments_url": params.attachments_url,
            "page": {"url": page.url, "title": page.title, "metadata": page.metadata},
            "attachments": [a.as_result() for a in found],
            "skipped_attachments": [item.as_result() for item in skipped],
            "video": {
                key: video_files[key]
                for key in ("markdown_file", "segments_file", "srt_file", "vtt_file")
            }
            | {"duration_seconds": video.duration, "engine": video.engine, "chunks": video.chunks}
            if video
            else None,
            "translation": {k: v for k, v in translation.items() if k != "texts"},
            "errors": problems,
            "seconds": round(time.monotonic() - started, 3),
        }

    # -- steps --------------------------------------------------------------------------------

    def _attachments(
        self, params: SessionParams, ctx: JobContext, problem: Any
    ) -> tuple[list[attaching.Attachment], list[attaching.Skipped]]:
        """The attachments read (or failed), and the files not taken, each logged."""
        assert params.attachments_url
        folder = Path(tempfile.mkdtemp(prefix="jobcenter-attachments-"))
        try:
            try:
                collected = attaching.collect(params.attachments_url, folder)
            except attaching.NoPdf as exc:
                problem("attachments", exc, params.attachments_url)
                self._log_skipped(ctx, exc.skipped)
                return [], exc.skipped
            except ProcessorError as exc:
                problem("attachments", exc, params.attachments_url)
                return [], []
            found, skipped = collected.attachments, collected.skipped
            self._log_skipped(ctx, skipped)
            total = len(found)
            span = TRANSCRIBE - ATTACHMENTS
            for number, attachment in enumerate(found, 1):
                if ctx.cancelled:
                    break
                label = f"attachments {number}/{total}"

                def report(fraction: float, number: int = number, label: str = label) -> None:
                    done = (number - 1 + fraction) / total
                    ctx.progress(ATTACHMENTS + span * done, "attachments", label)

                report(0.0)
                if attachment.path is not None and attachment.error is None:
                    attaching.extract(attachment, ctx, use_cache=params.use_cache, report=report)
                report(1.0)
            not_taken = f", {len(skipped)} not taken" if skipped else ""
            ctx.log(
                f"attachments: {sum(1 for a in found if not a.error)} of {total} read "
                f"from {params.attachments_url}{not_taken}"
            )
            return found, skipped
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    @staticmethod
    def _log_skipped(ctx: JobContext, skipped: list[attaching.Skipped]) -> None:
        for item in skipped:
            ctx.log(f"attachment {item.name} not taken: {item.reason} ({item.url})", "warning")

    def _video(self, params: SessionParams, ctx: JobContext) -> Transcript:
        assert params.video_url
        engine = transcription_engine()
        language = params.source_language
        check_language(engine, language)  # before a long download that would be in vain
        folder = Path(tempfile.mkdtemp(prefix="jobcenter-video-"))
        try:
            name = safe_name(urlsplit(params.video_url).path.rsplit("/", 1)[-1] or "video")
            ctx.progress(TRANSCRIBE, "transcribe", f"downloading {name}")
            fetcher = Fetcher(max_bytes=media_max_bytes(), timeout=30, total_timeout=3600)
            try:
                fetcher.download(params.video_url, folder / name)
            except FetchTooLarge as exc:  # as an audio or video job's would be
                raise ProcessorError("MEDIA_TOO_LARGE", exc.message, exc.details) from exc
            key = cache.cache_key(
                "transcript",
                cache.file_sha256(folder / name),
                {"engine": engine.name, "language": language},
            )
            if params.use_cache:
                hit = cache.load("transcript", key)
                if hit is not None:
                    ctx.log("video: transcript taken from the cache (same file, engine, language)")
                    data = hit[0]
                    return Transcript(
                        [Segment(**s) for s in data["segments"]],
                        data["duration"],
                        language,
                        engine.name,
                        data["chunks"],
                    )
            span = TRANSLATE - TRANSCRIBE

            def report(fraction: float, message: str) -> None:
                ctx.progress(
                    TRANSCRIBE + span * fraction, "transcribe", f"transcribe {100 * fraction:.0f} %"
                )

            found = transcribe_file(
                folder / name, ctx, language=language, report=report, engine=engine
            )
            if params.use_cache:
                payload = {
                    "segments": [s.as_dict() for s in found.segments],
                    "duration": found.duration,
                    "chunks": found.chunks,
                }
                cache.store("transcript", key, payload, folder, [])
            ctx.log(
                f"video: {len(found.segments)} segments from {found.duration:.1f} s "
                f"with {found.engine}"
            )
            return found
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _translate(
        self,
        params: SessionParams,
        ctx: JobContext,
        problem: Any,
        web_text: str,
        video_transcript: str,
        attachment_texts: list[str],
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The texts the dossier shows, and what happened to them."""

        def joined(texts: list[str]) -> str:
            return "\n\n".join(t for t in texts if t)

        original = {
            "web_text": web_text,
            "video_transcript": video_transcript,
            "attachments": attachment_texts,
            "attachments_text": joined(attachment_texts),
            "language": params.source_language,
        }
        if not params.wants_translation:
            return {"status": "not_needed"}, original
        target = params.target_language or ""
        source = params.source_language
        try:
            engine = chat_engine()
        except ProcessorError as exc:
            problem("translation", exc)
            engine = None
            reason = f"the translation engine failed to load ({exc.code})"
        else:
            reason = "no translation engine is configured (JOBCENTER_CHAT_ENGINE is empty)"
        if engine is None:
            note = f"this dossier is in {source}; {target} was asked for, but {reason}."
            ctx.log(f"translation: untranslated: {reason}", "warning")
            return (
                {"status": "untranslated", "reason": reason, "note": note, "target": target},
                original,
            )
        try:
            pieces = [web_text, video_transcript, *attachment_texts]
            done: list[str] = []
            for number, text in enumerate(pieces, 1):
                done.append(translate(engine, text, source=source, target=target) if text else "")
                ctx.progress(
                    TRANSLATE + (WRITE - TRANSLATE) * number / len(pieces),
                    "translate",
                    f"translate {number}/{len(pieces)}",
                )
        except ProcessorError as exc:
            problem("translation", exc)
            note = (
                f"this dossier is in {source}; the translation into {target} failed ({exc.code})."
            )
            return (
                {"status": "untranslated", "reason": exc.message, "note": note, "target": target},
                original,
            )
        ctx.log(f"translation: {source} -> {target} with {engine.name} ({chat_engine_path()})")
        translated = {
            "web_text": done[0],
            "video_transcript": done[1],
            "attachments": done[2:],
            "attachments_text": joined(done[2:]),
            "language": target,
        }
        return {"status": "translated", "engine": engine.name, "target": target}, translated
