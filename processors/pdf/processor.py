"""``pdf``: a whole document to Markdown, page by page, with OCR where the text layer fails.

The job's own process only orchestrates: it fetches the source, checks the file, has the
first page process open it (encrypted? how many pages?), hands the pages to the page
processes (processors/pdf/pool.py), saves the files they produce as they arrive, and
assembles the Markdown once every page is in. See docs/processors/pdf.md.
"""

from __future__ import annotations

import contextlib
import functools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

from jobcenter.uploads import safe_name
from processors.base import JobContext, Processor, ProcessorError
from processors.pdf import cache
from processors.pdf.llm import LLM_METHODS, get_engine
from processors.pdf.params import PdfParams, describe_ranges, parse_pages
from processors.pdf.pool import PagePool, PoolFatal, collector_paused

PDF_MAGIC = b"%PDF-"
OCR_USING_METHODS = {"ocr", "both", "llm_and_ocr"}


def _page_seconds() -> float:
    return float(settings.JOBCENTER_PDF_PAGE_SECONDS)


def _memory_mb() -> int:
    return int(settings.JOBCENTER_PDF_PAGE_MEMORY_MB)


@dataclass
class Outcome:
    """What came back for the selected pages, in document order."""

    indexes: list[int]
    results: dict[int, Any] = field(default_factory=dict)
    failures: dict[int, str] = field(default_factory=dict)
    assets: dict[int, list[str]] = field(default_factory=dict)
    previews: dict[int, str] = field(default_factory=dict)


class PdfProcessor(Processor):
    job_type = "pdf"
    description = (
        "A PDF (upload, URL or allowed path) to Markdown page by page: text layer, OCR where "
        "needed, page previews and embedded images as files."
    )
    Params = PdfParams
    timeout = 3600.0
    max_attempts = 2

    def run(self, params: PdfParams, ctx: JobContext) -> dict[str, Any]:
        from processors.sources import open_source

        llm = get_engine() if (params.extraction_method in LLM_METHODS or params.template) else None
        tesseract = self._tesseract(params, ctx)
        with open_source(
            params.source,
            max_bytes=settings.JOBCENTER_PDF_MAX_BYTES,
            too_large_code="PDF_TOO_LARGE",
        ) as source:
            return self.run_source(params, ctx, source, tesseract, llm)

    def run_source(
        self, params: PdfParams, ctx: JobContext, source: Any, tesseract: str | None, llm: Any
    ) -> dict[str, Any]:
        """The extraction of a file already at hand (``source`` is a sources.Source)."""
        ctx.progress(0, "opening", f"reading {source.name}")
        with source.path.open("rb") as handle:
            head = handle.read(1024)
        if PDF_MAGIC not in head:
            shown = head[:16].decode("latin-1", "replace")
            why = f"it starts with {shown!r}" if head else "the file is empty (0 bytes)"
            raise ProcessorError(
                "PDF_INVALID", f"{source.name} is not a PDF ({why})", {"source": source.reference}
            )
        sha256 = cache.file_sha256(source.path)
        key = cache.cache_key("pdf", sha256, params.model_dump(exclude={"source", "use_cache"}))
        if params.use_cache:
            hit = cache.reuse("pdf", key, ctx, source, sha256, f"{_stem(source)}.md")
            if hit is not None:
                ctx.log(
                    f"Cache hit: this file (sha256 {sha256[:16]}…) was extracted before with "
                    "the same parameters; its results were reused without extracting again."
                )
                ctx.progress(100, "done", "taken from the cache")
                return hit
        with collector_paused():
            results, complete = self._extract(params, ctx, source, sha256, tesseract, llm)
        if results.get("cancelled"):
            return results
        if params.use_cache and complete:
            names = [results["markdown_file"], *results["assets"]]
            cache.store("pdf", key, results, ctx.workdir, names)
        return results

    # -- steps ------------------------------------------------------------------------------

    def _tesseract(self, params: PdfParams, ctx: JobContext) -> str | None:
        from processors.pdf.ocr import check_ocr

        method = params.extraction_method
        if method in OCR_USING_METHODS:
            return check_ocr(params.languages)
        if method == "auto":
            try:
                return check_ocr(params.languages)
            except ProcessorError as exc:
                if exc.code != "OCR_UNAVAILABLE":
                    raise
                ctx.log(f"{exc.message} Pages without a usable text layer stay empty.", "warning")
        return None

    def _opened(self, pool: PagePool, reference: str) -> dict[str, Any]:
        """The document as the first page process found it (``pages.probe``)."""
        try:
            info = pool.open()
        except PoolFatal as exc:
            raise ProcessorError(
                "PDF_INVALID", f"the PDF cannot be opened: {exc}", {"source": reference}
            ) from exc
        if info.get("error") == "encrypted":
            raise ProcessorError(
                "PDF_ENCRYPTED",
                "the PDF is encrypted with a password; only PDFs that open without one can be read",
                {"source": reference},
            )
        if info.get("error") == "empty":
            raise ProcessorError("PDF_EMPTY", "the PDF has no pages", {"source": reference})
        if info.get("error"):
            raise ProcessorError(
                "PDF_INVALID", f"the PDF cannot be opened: {info['message']}", {"source": reference}
            )
        if info["pages"] == 0:
            raise ProcessorError("PDF_EMPTY", "the PDF has no pages", {"source": reference})
        return info

    def _extract(
        self,
        params: PdfParams,
        ctx: JobContext,
        source: Any,
        sha256: str,
        tesseract: str | None,
        llm: Any,
    ) -> tuple[dict[str, Any], bool]:
        from processors.pdf.pages import PageOptions, probe
        from processors.pdf.pool import default_workers
        from processors.registry import limits

        started = time.monotonic()
        workers = default_workers(settings.JOBCENTER_PDF_WORKERS)
        options = PageOptions(
            path=str(source.path),
            method=params.extraction_method,
            engine=params.engine,
            languages=params.languages,
            ocr_dpi=params.ocr_dpi,
            preview_dpi=params.preview_dpi,
            include_previews=params.include_previews,
            include_images=params.include_images,
            max_pixels=settings.JOBCENTER_OCR_MAX_PIXELS,
            page_seconds=_page_seconds(),
            tesseract=tesseract,
        )
        pool = PagePool(
            options,
            workers=workers,
            page_seconds=_page_seconds(),
            memory_mb=_memory_mb(),
            describe=functools.partial(probe, str(source.path)),
            describe_seconds=min(_page_seconds(), 120),
        )
        with pool:
            info = self._opened(pool, source.reference)
            count = info["pages"]
            indexes, beyond = parse_pages(params.pages, count)
            warnings: list[str] = []
            if beyond:
                warnings.append(
                    f"pages {describe_ranges(beyond)} asked for, but the document has {count}"
                )
            if not indexes:
                raise ProcessorError(
                    "PAGES_OUT_OF_RANGE",
                    f"none of the pages {params.pages!r} exist (the document has {count})",
                    {"pages": params.pages, "page_count": count},
                )
            if len(indexes) > settings.JOBCENTER_PDF_MAX_PAGES:
                raise ProcessorError(
                    "PDF_TOO_LARGE",
                    f"{len(indexes)} pages to read, more than the limit of "
                    f"{settings.JOBCENTER_PDF_MAX_PAGES} (JOBCENTER_PDF_MAX_PAGES); select fewer "
                    "with pages",
                    {"page_count": count, "limit": settings.JOBCENTER_PDF_MAX_PAGES},
                )
            ctx.log(
                f"{source.name}: {count} pages, reading {len(indexes)} with "
                f"{params.extraction_method} ({params.engine}) in up to {workers} processes"
            )
            outcome = Outcome(indexes)
            stem = _stem(source)
            total = len(indexes)

            def report() -> None:
                done = len(outcome.results) + len(outcome.failures)
                ctx.progress(
                    100.0 * done / total * (0.97 if llm else 1.0), "pages", f"page {done}/{total}"
                )

            def on_result(index: int, page: Any) -> None:
                number = index + 1
                names: list[str] = []
                if page.preview is not None:
                    name = f"previews/page-{number:04d}.png"
                    ctx.save_file(name, page.preview)
                    outcome.previews[index] = name
                    names.append(name)
                    page.preview = None
                for position, data in enumerate(page.images, 1):
                    name = f"images/page-{number:04d}-{position:02d}.png"
                    ctx.save_file(name, data)
                    names.append(name)
                page.images = []
                outcome.assets[index] = names
                outcome.results[index] = page
                for warning in page.warnings:
                    ctx.log(f"page {number}: {warning}", "warning")
                report()

            def on_failure(index: int, message: str) -> None:
                outcome.failures[index] = message
                ctx.log(f"page {index + 1}: {message}; the page is left out", "warning")
                report()

            timeout = float(limits(type(self)).get("timeout") or self.timeout)
            deadline = started + max(timeout - 30.0, timeout * 0.9)
            try:
                finished = pool.run(
                    indexes,
                    on_result=on_result,
                    on_failure=on_failure,
                    cancelled=lambda: ctx.cancelled,
                    deadline=deadline,
                )
            except PoolFatal as exc:
                raise ProcessorError(
                    "PDF_INVALID", f"the PDF cannot be read: {exc}", {"source": source.reference}
                ) from exc
            if not finished:
                if ctx.cancelled:
                    return _discarded(ctx, outcome), False
                raise ProcessorError(
                    "PDF_TIMEOUT",
                    f"the document was not read within {timeout:g} s (the job's timeout)",
                    {"pages_done": len(outcome.results)},
                )
            if len(outcome.failures) == len(indexes):
                first = next(iter(outcome.failures.values()))
                slow = all(
                    message.startswith("took more than") for message in outcome.failures.values()
                )
                raise ProcessorError(
                    # every page ran out of time: a valid document too slow for the page budget
                    "PDF_TIMEOUT" if slow else "PDF_INVALID",
                    f"no page could be read (first: {first})"
                    + (
                        "; raise JOBCENTER_PDF_PAGE_SECONDS for documents this slow" if slow else ""
                    ),
                    {"failures": {str(i + 1): m for i, m in outcome.failures.items()}},
                )
            results = self._assemble(params, ctx, outcome, info, stem, llm, warnings)
            if ctx.cancelled:  # while a vision model read the pages
                return _discarded(ctx, outcome, results["markdown_file"]), False
            results["source"] = source.describe(sha256)
            results["seconds"] = round(time.monotonic() - started, 3)
            ctx.progress(100, "done", f"page {total}/{total}")
            complete = not outcome.failures and not any(
                page.warnings for page in outcome.results.values()
            )
            return results, complete

    def _assemble(
        self,
        params: PdfParams,
        ctx: JobContext,
        outcome: Outcome,
        info: dict[str, Any],
        stem: str,
        llm: Any,
        warnings: list[str],
    ) -> dict[str, Any]:
        from processors.pdf.markdown import page_markdown, plain_text, settle

        method = params.extraction_method
        # in document order: pages come in as their processes finish them
        read = [outcome.results[index] for index in outcome.indexes if index in outcome.results]
        kept, styles = settle(
            [[page.native, page.ocr] for page in read], [page.index + 1 for page in read]
        )
        for page, (native, ocr) in zip(read, kept, strict=True):
            page.native, page.ocr = native, ocr
        sections: list[str] = []
        page_texts: list[str] = []
        pages: list[dict[str, Any]] = []
        assets: list[str] = []
        for index in outcome.indexes:
            number = index + 1
            page = outcome.results.get(index)
            if page is None:
                reason = outcome.failures.get(index, "not read")
                sections.append(f"## Page {number}\n\n> This page could not be read: {reason}.")
                page_texts.append("")
                pages.append(
                    {
                        "page": number,
                        "method": "failed",
                        "engine": None,
                        "chars": 0,
                        "ocr_confidence": None,
                        "warnings": [reason],
                    }
                )
                continue
            assets.extend(outcome.assets.get(index, []))
            parts: list[str] = []
            texts: list[str] = []
            both = page.native is not None and page.ocr is not None
            for label, text in (("Text layer", page.native), ("OCR", page.ocr)):
                if text is None:
                    continue
                # side by side, the page's own headings go a level below the two labels
                body = page_markdown(text, styles, below=1 if both else 0)
                if both and not body:
                    body = "_No text on this page._"
                parts.append(f"### {label}\n\n{body}" if both else body)
                texts.append(plain_text(text))
            if llm is not None and page.page_image is not None:
                try:
                    body = llm.page_to_markdown(
                        page.page_image,
                        page=number,
                        languages=params.languages,
                        text_hint="\n\n".join(texts),
                    )
                except ProcessorError:
                    raise  # the engine's own code (a retryable server error stays retryable)
                except Exception as exc:
                    raise ProcessorError(
                        "LLM_FAILED", f"the LLM engine failed on page {number}: {exc}"
                    ) from exc
                parts = [body.strip()]
                texts = [body.strip()]
                page.used.append("llm")
                page.page_image = None
            if index in outcome.previews and method in {"preview", "preview_and_native"}:
                parts.append(f"![Page {number}]({outcome.previews[index]})")
            sections.append(f"## Page {number}\n\n" + "\n\n".join(p for p in parts if p))
            page_texts.append("\n\n".join(texts))
            chars = sum(len(text) - text.count(" ") - text.count("\n") for text in texts)
            pages.append(
                {
                    "page": number,
                    "method": "+".join(page.used) or "preview",
                    "engine": page.engine if page.native is not None else None,
                    "chars": chars,
                    "ocr_confidence": page.ocr_confidence,
                    "text_layer": page.reason,
                    "warnings": page.warnings,
                    "seconds": page.seconds,
                }
            )
            if ctx.cancelled:
                break
        markdown = "\n\n".join(sections).strip() + "\n"
        metadata = {
            key: info["metadata"].get(key)
            for key in (
                "title",
                "author",
                "subject",
                "creator",
                "producer",
                "creation_date",
                "modification_date",
                "page_count",
                "pdf_version",
                "encrypted",
            )
        }
        results: dict[str, Any] = {
            "markdown_content": markdown,
            "page_texts": page_texts,
            "pages": pages,
            "metadata": metadata,
            "assets": assets,
            "extraction_method": method,
            "engine": params.engine,
            "warnings": warnings + [f"page {p['page']}: {w}" for p in pages for w in p["warnings"]],
            "cached": False,
        }
        if params.template:
            try:
                rewritten = llm.rewrite(markdown, template=params.template, context=params.context)
            except ProcessorError:
                raise
            except Exception as exc:
                raise ProcessorError("LLM_FAILED", f"the LLM engine failed: {exc}") from exc
            results["extracted_markdown"] = markdown
            results["markdown_content"] = markdown = rewritten
        name = f"{stem}.md"
        ctx.save_file(name, markdown)
        results["markdown_file"] = name
        return results


def _discarded(ctx: JobContext, outcome: Outcome, *saved: str) -> dict[str, Any]:
    """A cancelled job's results: the files it saved so far are deleted, so that what it
    leaves is what its log says."""
    names = [name for names in outcome.assets.values() for name in names] + list(saved)
    for name in names:
        (ctx.workdir / name).unlink(missing_ok=True)
    for folder in ("previews", "images"):
        with contextlib.suppress(OSError):  # not there, or holds files of an earlier attempt
            (ctx.workdir / folder).rmdir()
    ctx.log(
        f"cancelled; the {len(outcome.results)} pages read so far and {len(names)} files "
        "saved are discarded",
        "warning",
    )
    return {"cancelled": True, "pages_done": len(outcome.results)}


def _stem(source: Any) -> str:
    """The name of the job's Markdown file, without ``.md``."""
    return safe_name(Path(source.name).stem or "document")


def extract_pdf_file(
    path: Path, ctx: JobContext, *, name: str = "", **parameters: Any
) -> dict[str, Any]:
    """The pdf job's extraction for a local file another processor already holds (the session
    processor's attachments): same checks, cache, error codes and results; files are saved
    through ``ctx``. ``parameters`` are pdf parameters (``source`` is ``path``)."""
    from processors.sources import Source

    params = PdfParams.model_validate({"source": str(path.resolve()), **parameters})
    processor = PdfProcessor()
    tesseract = processor._tesseract(params, ctx)
    source = Source(path, name or path.name, "path", str(path), path.stat().st_size)
    return processor.run_source(params, ctx, source, tesseract, None)
