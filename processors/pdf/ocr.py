"""OCR with the Tesseract command line program (Debian: tesseract-ocr and one package per
language, e.g. tesseract-ocr-deu).

The command line is used rather than a binding: nothing to compile, a hard timeout per page
from ``subprocess``, and a crash in Tesseract cannot take the worker with it. Tesseract's TSV
output keeps its blocks, paragraphs, lines and per-word confidences, which become the same
lines the text engines produce, so OCR text gets the same Markdown treatment.
"""

from __future__ import annotations

import functools
import io
import os
import re
import shutil
import statistics
import subprocess
from dataclasses import dataclass

from django.conf import settings
from PIL import Image

from processors.base import ProcessorError
from processors.pdf.layout import Line, PageLayout, clean_text

INSTALL_HINT = "apt-get install tesseract-ocr tesseract-ocr-deu tesseract-ocr-eng"
_LANGUAGE = re.compile(r"^[A-Za-z0-9_]+(\+[A-Za-z0-9_]+)*$")


@dataclass
class OcrResult:
    layout: PageLayout
    confidence: float | None
    """Mean word confidence, 0-100, weighted by word length; None when no word was found."""
    words: int


def tesseract_command() -> str | None:
    return shutil.which(getattr(settings, "JOBCENTER_TESSERACT_COMMAND", "tesseract"))


@functools.cache
def _languages(command: str) -> frozenset[str]:
    done = subprocess.run(
        [command, "--list-langs"], capture_output=True, text=True, timeout=30, check=False
    )
    lines = (done.stdout or done.stderr).splitlines()
    return frozenset(line.strip() for line in lines[1:] if line.strip())


def check_ocr(languages: str) -> str:
    """The Tesseract command, after making sure it and every requested language exist."""
    command = tesseract_command()
    if command is None:
        raise ProcessorError(
            "OCR_UNAVAILABLE",
            f"Tesseract is not installed, so this job cannot run OCR ({INSTALL_HINT}).",
            {"install": INSTALL_HINT},
        )
    if not _LANGUAGE.match(languages):
        raise ProcessorError(
            "OCR_LANGUAGE_UNAVAILABLE",
            f"{languages!r} is not a Tesseract language list like deu+eng",
        )
    try:
        installed = _languages(command)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ProcessorError("OCR_UNAVAILABLE", f"Tesseract does not run: {exc}") from exc
    missing = [code for code in languages.split("+") if code not in installed]
    if missing:
        folded = {found.lower(): found for found in installed}
        cased = {code: folded[code.lower()] for code in missing if code.lower() in folded}
        if cased:  # "Deu": installed, but language codes are case-sensitive
            written = ", ".join(f"{code} is written {found}" for code, found in cased.items())
            raise ProcessorError(
                "OCR_LANGUAGE_UNAVAILABLE",
                f"Tesseract has no data for {', '.join(missing)}: {written}.",
                {"missing": missing, "installed": sorted(installed)},
            )
        packages = " ".join(f"tesseract-ocr-{code.lower().replace('_', '-')}" for code in missing)
        raise ProcessorError(
            "OCR_LANGUAGE_UNAVAILABLE",
            f"Tesseract has no data for {', '.join(missing)} (installed: "
            f"{', '.join(sorted(installed)) or 'none'}; apt-get install {packages}).",
            {"missing": missing, "installed": sorted(installed)},
        )
    return command


def flatten(image: Image.Image) -> Image.Image:
    """An image Tesseract reads as it is seen: transparent parts on white paper (a plain
    conversion to RGB makes them black, and black text on them disappears), other modes
    (CMYK, 16-bit, palettes) as RGB."""
    if image.mode in {"L", "RGB", "1"}:
        return image
    if image.mode in {"RGBA", "LA", "PA"} or "transparency" in image.info:
        rgba = image.convert("RGBA")
        paper = Image.new("RGB", rgba.size, "white")
        paper.paste(rgba, mask=rgba.getchannel("A"))
        return paper
    return image.convert("RGB")


def ocr_image(
    image: Image.Image, *, languages: str, dpi: float, timeout: float, command: str | None = None
) -> OcrResult:
    """OCR one image; coordinates are returned in points (1/72 inch) at ``dpi``."""
    command = command or tesseract_command()
    if command is None:
        raise ProcessorError("OCR_UNAVAILABLE", f"Tesseract is not installed ({INSTALL_HINT}).")
    image = flatten(image)
    buffer = io.BytesIO()
    image.save(buffer, "PPM")  # uncompressed: far quicker to write than PNG
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    done = subprocess.run(
        [
            command,
            "stdin",
            "stdout",
            "-l",
            languages,
            "--dpi",
            str(round(dpi)),
            "--psm",
            "3",
            "tsv",
        ],
        input=buffer.getvalue(),
        capture_output=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["?"]
        raise RuntimeError(f"tesseract exited with {done.returncode}: {message[0]}")
    return parse_tsv(done.stdout.decode("utf-8", "replace"), image.size, dpi)


def parse_tsv(tsv: str, size: tuple[int, int], dpi: float) -> OcrResult:
    scale = 72.0 / dpi
    grouped: dict[tuple[int, int, int], list[tuple[int, int, int, int, float, str]]] = {}
    order: list[tuple[int, int, int]] = []
    for row in tsv.splitlines()[1:]:
        cells = row.split("\t")
        if len(cells) < 12 or cells[0] != "5":
            continue
        text = cells[11].strip()
        if not text:
            continue
        key = (int(cells[2]), int(cells[3]), int(cells[4]))
        if key not in grouped:
            grouped[key] = []
            order.append(key)
        left, top, width, height = (int(cells[i]) for i in (6, 7, 8, 9))
        grouped[key].append((left, top, width, height, float(cells[10]), text))
    lines: list[Line] = []
    regions: dict[tuple[int, int], int] = {}
    weighted = 0.0
    weight = 0
    words = 0
    for key in order:
        members = grouped[key]
        text = clean_text(" ".join(word[5] for word in members))
        if not text:
            continue
        x0 = min(word[0] for word in members)
        top = min(word[1] for word in members)
        x1 = max(word[0] + word[2] for word in members)
        bottom = max(word[1] + word[3] for word in members)
        height = statistics.median(word[3] for word in members)
        region = regions.setdefault(key[:2], len(regions))
        lines.append(
            Line(
                text,
                x0 * scale,
                top * scale,
                x1 * scale,
                bottom * scale,
                bottom * scale,
                height * scale,
                False,
                region,
            )
        )
        for word in members:
            if word[4] >= 0:
                weighted += word[4] * len(word[5])
                weight += len(word[5])
                words += 1
    confidence = round(weighted / weight, 1) if weight else None
    layout = PageLayout(size[0] * scale, size[1] * scale, join_split_lines(lines), "ocr")
    return OcrResult(layout, confidence, words)


def join_split_lines(lines: list[Line]) -> list[Line]:
    """Put back together the lines Tesseract cut at a wide word gap: where several lines have
    such a gap at the same place (``Label: value`` rows), its page segmentation makes the
    halves two blocks and reads all of the left block before the right one. A piece that
    sits on another line's baseline and starts less than a line height after it ends is
    that line's continuation (a column gutter is wider). Tesseract's order is kept, and a
    line already written is never taken again (when Tesseract read the right piece first,
    as on a page turned sideways, the two stay apart)."""
    absorbed: set[int] = set()
    joined: list[Line] = []
    for index, line in enumerate(lines):
        if index in absorbed:
            continue
        absorbed.add(index)
        while True:
            reach = max(line.size, line.height, 1.0)
            follower = next(
                (
                    number
                    for number, other in enumerate(lines)
                    if number not in absorbed
                    and abs(other.baseline - line.baseline) <= 0.3 * reach
                    and 0 <= other.x0 - line.x1 <= reach
                ),
                None,
            )
            if follower is None:
                break
            absorbed.add(follower)
            other = lines[follower]
            line = Line(
                f"{line.text} {other.text}",
                line.x0,
                min(line.top, other.top),
                other.x1,
                max(line.bottom, other.bottom),
                line.baseline,
                line.size,
                False,
                line.region,
            )
        joined.append(line)
    return joined
