"""``image``: OCR of an image (PNG, JPEG, TIFF incl. multi-page, WebP, BMP, GIF) to Markdown
with Tesseract's confidence. Same sources, languages, limits and error rules as ``pdf``; each
frame of a multi-page TIFF is a page and runs in a page process of its own
(processors/pdf/pool.py), under the same time and memory limits."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from pydantic import AliasChoices, Field, field_validator

from jobcenter.uploads import safe_name
from processors.base import JobContext, Processor, ProcessorError, ProcessorParams
from processors.pdf.params import (
    LANGUAGES_PATTERN,
    SOURCE_DESCRIPTION,
    describe_ranges,
    parse_pages,
)
from processors.sources import check_source_syntax

FORMATS = {"PNG", "JPEG", "MPO", "TIFF", "WEBP", "BMP", "GIF"}


class ImageParams(ProcessorParams):
    source: str = Field(
        validation_alias=AliasChoices("source", "file_path", "url"), description=SOURCE_DESCRIPTION
    )
    languages: str = Field(
        "deu+eng", pattern=LANGUAGES_PATTERN, description="Tesseract languages, e.g. deu+eng."
    )
    pages: str | None = Field(None, description="Frames of a multi-page TIFF, e.g. 1-3.")
    dpi: int | None = Field(
        None,
        ge=50,
        le=1200,
        description="Resolution of the scan; default: the file's own, else 300.",
    )
    use_cache: bool = Field(
        True,
        description="Reuse the results of an earlier job on the "
        "same file with the same parameters.",
    )

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        return check_source_syntax(value)

    @field_validator("pages")
    @classmethod
    def _pages(cls, value: str | None) -> str | None:
        parse_pages(value)
        return value


DECODING_ERRORS = ("OSError:", "SyntaxError:", "ValueError:", "UnidentifiedImageError:")
"""How a page's failure starts when Pillow could not decode its pixels (page processes
report ``"<exception type>: <message>"``)."""


def probe_image(path: str, max_pixels: int) -> dict[str, Any]:
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with Image.open(path) as image:
            info = {
                "format": image.format,
                "width": image.width,
                "height": image.height,
                "mode": image.mode,
                "frames": getattr(image, "n_frames", 1),
                "dpi": _dpi(image.info.get("dpi")),
            }
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        # PIL names the file by its path on the server: the job knows it by its name
        return {"error": "invalid", "message": str(exc).replace(path, Path(path).name)}
    except Image.DecompressionBombError as exc:
        return {"error": "too_large", "message": str(exc)}
    if info["format"] not in FORMATS:
        return {"error": "invalid", "message": f"{info['format']} images are not supported"}
    if info["width"] * info["height"] > max_pixels:
        return {"error": "too_large", "message": f"{info['width']}x{info['height']} pixels"}
    return info


def _dpi(value: Any) -> int | None:
    try:
        dpi = round(float(value[0]))
    except (TypeError, ValueError, IndexError):
        return None
    return dpi if 50 <= dpi <= 1200 else None


@dataclass(frozen=True)
class FrameOptions:
    """The page-process side: one handler per process opens the image once."""

    path: str
    languages: str
    dpi: int
    page_seconds: float
    max_pixels: int
    tesseract: str

    def __call__(self) -> FrameHandler:
        return FrameHandler(self)


class FrameHandler:
    def __init__(self, options: FrameOptions) -> None:
        from PIL import Image

        Image.MAX_IMAGE_PIXELS = options.max_pixels
        self.options = options
        self.image = Image.open(options.path)

    def __call__(self, index: int) -> Any:
        from PIL import ImageOps

        from processors.pdf.ocr import ocr_image

        started = time.monotonic()
        self.image.seek(index)
        width, height = self.image.size
        if width * height > self.options.max_pixels:  # the first frame was checked, not this
            raise ValueError(
                f"{width}x{height} pixels, more than the limit of {self.options.max_pixels} "
                "(JOBCENTER_OCR_MAX_PIXELS)"
            )
        frame = ImageOps.exif_transpose(self.image)  # a photo taken sideways, upright
        result = ocr_image(
            frame,
            languages=self.options.languages,
            dpi=self.options.dpi,
            timeout=self.options.page_seconds,
            command=self.options.tesseract,
        )
        return result, frame.size, round(time.monotonic() - started, 4)


class ImageProcessor(Processor):
    job_type = "image"
    description = "OCR of an image (PNG, JPEG, TIFF incl. multi-page) to Markdown."
    Params = ImageParams
    timeout = 3600.0
    max_attempts = 2

    def run(self, params: ImageParams, ctx: JobContext) -> dict[str, Any]:
        from processors.pdf import cache
        from processors.pdf.ocr import check_ocr
        from processors.sources import open_source

        tesseract = check_ocr(params.languages)
        with open_source(
            params.source,
            max_bytes=settings.JOBCENTER_PDF_MAX_BYTES,
            too_large_code="IMAGE_TOO_LARGE",
        ) as source:
            sha256 = cache.file_sha256(source.path)
            key = cache.cache_key(
                "image", sha256, params.model_dump(exclude={"source", "use_cache"})
            )
            markdown_file = safe_name(Path(source.name).stem or "image") + ".md"
            if params.use_cache and (
                hit := cache.reuse("image", key, ctx, source, sha256, markdown_file)
            ):
                ctx.log(
                    f"Cache hit: this image (sha256 {sha256[:16]}…) was read before with "
                    "the same parameters; its results were reused without OCR."
                )
                return hit
            results, complete = self._ocr(params, ctx, source, tesseract, markdown_file)
            results["source"] = source.describe(sha256)
            if params.use_cache and complete:
                cache.store("image", key, results, ctx.workdir, [results["markdown_file"]])
            return results

    def _ocr(
        self, params: ImageParams, ctx: JobContext, source: Any, tesseract: str, markdown_file: str
    ) -> tuple[dict[str, Any], bool]:
        from processors.pdf.markdown import page_markdown, page_text, plain_text, settle
        from processors.pdf.pool import GuardFailed, default_workers, run_guarded, run_pages

        seconds = float(settings.JOBCENTER_PDF_PAGE_SECONDS)
        memory = int(settings.JOBCENTER_PDF_PAGE_MEMORY_MB)
        max_pixels = int(settings.JOBCENTER_OCR_MAX_PIXELS)
        try:
            info = run_guarded(
                probe_image, str(source.path), max_pixels, seconds=seconds, memory_mb=memory
            )
        except GuardFailed as exc:
            raise ProcessorError("IMAGE_INVALID", f"the image cannot be opened: {exc}") from exc
        if info.get("error") == "too_large":
            raise ProcessorError(
                "IMAGE_TOO_LARGE",
                f"the image is too large to OCR "
                f"({info['message']}; limit {max_pixels} pixels, "
                "JOBCENTER_OCR_MAX_PIXELS)",
            )
        if info.get("error"):
            raise ProcessorError(
                "IMAGE_INVALID",
                f"{source.name} is not a readable image: {info['message']}",
                {"source": source.reference},
            )
        indexes, beyond = parse_pages(params.pages, info["frames"])
        if not indexes:
            raise ProcessorError(
                "PAGES_OUT_OF_RANGE",
                f"none of the pages {params.pages!r} exist (the image has {info['frames']})",
                {"pages": params.pages, "page_count": info["frames"]},
            )
        warnings = []
        if len(indexes) > settings.JOBCENTER_PDF_MAX_PAGES:
            raise ProcessorError(
                "IMAGE_TOO_LARGE",
                f"{len(indexes)} pages to read, more than the limit of "
                f"{settings.JOBCENTER_PDF_MAX_PAGES} (JOBCENTER_PDF_MAX_PAGES); select fewer "
                "with pages",
                {"page_count": info["frames"], "limit": settings.JOBCENTER_PDF_MAX_PAGES},
            )
        if beyond:
            warnings.append(
                f"pages {describe_ranges(beyond)} asked for, but the image has {info['frames']}"
            )
            ctx.log(warnings[-1], "warning")
        dpi = params.dpi or info["dpi"] or 300
        options = FrameOptions(
            str(source.path), params.languages, dpi, seconds, max_pixels, tesseract
        )
        done: dict[int, Any] = {}
        failed: dict[int, str] = {}

        def report() -> None:
            count = len(done) + len(failed)
            ctx.progress(100.0 * count / len(indexes), "pages", f"page {count}/{len(indexes)}")

        def on_result(index: int, payload: Any) -> None:
            done[index] = payload
            report()

        def on_failure(index: int, message: str) -> None:
            failed[index] = message
            ctx.log(f"page {index + 1}: {message}", "warning")
            report()

        ctx.log(
            f"{source.name}: {info['format']} {info['width']}x{info['height']}, "
            f"{info['frames']} page(s), OCR at {dpi} dpi ({params.languages})"
        )
        finished = run_pages(
            options,
            indexes,
            workers=default_workers(settings.JOBCENTER_PDF_WORKERS),
            page_seconds=seconds,
            memory_mb=memory,
            on_result=on_result,
            on_failure=on_failure,
            cancelled=lambda: ctx.cancelled,
        )
        if not finished:
            return {"cancelled": True, "pages_done": len(done)}, False
        if not done:
            first = next(iter(failed.values()), "no result")
            if failed and all(message.startswith(DECODING_ERRORS) for message in failed.values()):
                # the header was fine (probe_image), the pixels are not: a truncated file
                raise ProcessorError(
                    "IMAGE_INVALID",
                    f"{source.name} is not a readable image: {first}",
                    {"source": source.reference},
                )
            raise ProcessorError("OCR_FAILED", f"no page could be read (first: {first})")
        indexes_read = sorted(done)
        kept, styles = settle(
            [[page_text(done[index][0].layout)] for index in indexes_read],
            [index + 1 for index in indexes_read],
        )
        page_texts = {index: texts[0] for index, texts in zip(indexes_read, kept, strict=True)}
        sections, texts, pages = [], [], []
        for index in indexes:
            number = index + 1
            if index not in done:
                sections.append(
                    f"## Page {number}\n\n> This page could not be read: {failed.get(index)}."
                )
                texts.append("")
                pages.append(
                    {
                        "page": number,
                        "method": "failed",
                        "chars": 0,
                        "ocr_confidence": None,
                        "warnings": [failed.get(index, "")],
                    }
                )
                continue
            result, size, took = done[index]
            sections.append(f"## Page {number}\n\n{page_markdown(page_texts[index], styles)}")
            text = plain_text(page_texts[index])
            texts.append(text)
            pages.append(
                {
                    "page": number,
                    "method": "ocr",
                    "chars": len(text.replace(" ", "")),
                    "ocr_confidence": result.confidence,
                    "words": result.words,
                    "width": size[0],
                    "height": size[1],
                    "warnings": [],
                    "seconds": took,
                }
            )
        confidences = [
            (p["ocr_confidence"], p["chars"]) for p in pages if p.get("ocr_confidence") is not None
        ]
        weight = sum(chars for _, chars in confidences)
        markdown = "\n\n".join(sections).strip() + "\n"
        ctx.save_file(markdown_file, markdown)
        ctx.progress(100, "done", f"page {len(indexes)}/{len(indexes)}")
        results = {
            "markdown_content": markdown,
            "markdown_file": markdown_file,
            "page_texts": texts,
            "pages": pages,
            "ocr_confidence": round(sum(c * n for c, n in confidences) / weight, 1)
            if weight
            else None,
            "metadata": {
                key: info[key] for key in ("format", "width", "height", "mode", "frames", "dpi")
            },
            "assets": [],
            "warnings": warnings + [f"page {i + 1}: {m}" for i, m in sorted(failed.items())],
            "cached": False,
        }
        return results, not failed
