"""Speed of the pdf processor's text engines and OCR: pages per second through the job center
(the processor as the worker runs it, page processes included) against calling the library
directly on the same file in the same run.

    .venv/bin/python bench/pdf_engines.py [--pages 200] [--ocr-pages 4] [--repeat 3] [--no-write]

Direct calls are the usual one-liners: pypdfium2 ``get_text_range()`` per page, pdfminer.six
``extract_text()`` with its default layout analysis, and for OCR a pypdfium2 rendering at
300 dpi piped into the tesseract program, page after page. The three ways of reading a
document take turns in each of ``--repeat`` rounds (so a noisy neighbour hits them alike);
the table shows medians, and the ratios are medians of the ratios within each round.
Replaces the "PDF engines" section of docs/benchmarks.md (other sections are kept).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REPO, machine, median
from pdf_quality import BENCHMARKS, run, scratch_django, write_section

SMALL_DOCUMENTS = 20


def seconds(function: Callable[[], Any]) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def rounds(functions: list[Callable[[], Any]], repeat: int) -> list[list[float]]:
    """Seconds per function per round; the functions take turns within each round."""
    measured = []
    for number in range(1, repeat + 1):
        measured.append([seconds(function) for function in functions])
        shown = ", ".join(f"{value:.3f}" for value in measured[-1])
        print(f"  round {number}: {shown} s", file=sys.stderr)
    return measured


def spread(values: list[float]) -> str:
    """The median with the range of the rounds, as percentages over 1."""
    low, mid, high = (100 * (v - 1) for v in (min(values), median(values), max(values)))
    return f"{mid:+.0f} % ({low:+.0f} to {high:+.0f} %)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=200, help="pages of the text document")
    parser.add_argument("--ocr-pages", type=int, default=4, help="scanned A4 pages for OCR")
    parser.add_argument(
        "--large-pages", type=int, default=1000, help="pages of the large pdfium document"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pdf-engines-") as folder:
        workdir = Path(folder)
        scratch_django(workdir)
        body = measure(workdir, args.pages, args.ocr_pages, args.large_pages, args.repeat)
    print(body)
    if not args.no_write:
        write_section("PDF engines", body)
        print(f"written to {BENCHMARKS.relative_to(REPO)}")


def measure(workdir: Path, pages: int, ocr_pages: int, large_pages: int, repeat: int) -> str:
    import pypdfium2 as pdfium
    from django.conf import settings
    from pdfminer.high_level import extract_text

    from processors.pdf import PdfProcessor
    from processors.pdf.engines import PdfiumPages, PdfminerPages
    from tests.processors import corpus

    print(f"generating {pages} pages …", file=sys.stderr)
    document = corpus.one_column(pages, seed=5)
    path = workdir / "large.pdf"
    path.write_bytes(document.pdf)
    jobs = iter(range(1, 10_000))

    def direct_pdfium(source: Path = path) -> None:
        pdf = pdfium.PdfDocument(str(source))
        for page in pdf:
            textpage = page.get_textpage()
            textpage.get_text_range()
            textpage.close()
            page.close()
        pdf.close()

    def direct_pdfminer() -> None:
        extract_text(str(path))

    def through(
        engine: str, workers: int, method: str = "native", source: Path = path
    ) -> Callable[[], Any]:
        def call() -> Any:
            settings.JOBCENTER_PDF_WORKERS = workers
            return run(
                PdfProcessor,
                {"source": str(source), "engine": engine, "extraction_method": method},
                workdir,
                f"job-b{next(jobs)}",
            )

        return call

    rows = []
    quality = {}
    variants = (
        ("pdfium", "pdfium", "native", direct_pdfium),
        ("pdfium, `auto`", "pdfium", "auto", direct_pdfium),
        ("pdfminer", "pdfminer", "native", direct_pdfminer),
    )
    for label, engine, method, direct in variants:
        print(f"{label} …", file=sys.stderr)
        results = through(engine, 2, method)()  # warm-up, and the text whose quality is shown
        measured = rounds([direct, through(engine, 1, method), through(engine, 2, method)], repeat)
        rows.append((label, measured))
        quality[label] = statistics.mean(
            corpus.recall_in_order(truth, text)
            for truth, text in zip(document.truth, results["page_texts"], strict=True)
        )

    print(f"pdfium on {large_pages} pages …", file=sys.stderr)
    large = workdir / "larger.pdf"
    large.write_bytes(corpus.one_column(large_pages, seed=6).pdf)
    through("pdfium", 2, source=large)()  # warm-up
    large_rounds = rounds(
        [lambda: direct_pdfium(large), through("pdfium", 1, source=large),
         through("pdfium", 2, source=large)],
        repeat,
    )  # fmt: skip

    print("small documents …", file=sys.stderr)
    smalls = []
    for number in range(SMALL_DOCUMENTS):
        small = workdir / f"small-{number}.pdf"
        small.write_bytes(corpus.one_column(2, seed=100 + number).pdf)
        smalls.append(small)

    def each(function: Callable[[Path], Any]) -> Callable[[], None]:
        def call() -> None:
            for small in smalls:
                function(small)

        return call

    def small_job(small: Path) -> Any:
        return through("pdfium", 0, "auto", small)()

    small_job(smalls[0])  # warm-up
    small_rounds = rounds([each(direct_pdfium), each(small_job)], repeat)

    print("engines alone …", file=sys.stderr)

    def engine_alone(engine: type[PdfiumPages] | type[PdfminerPages]) -> Callable[[], None]:
        def call() -> None:
            pages = engine(path)
            for index in range(len(pages)):
                pages.layout(index)
            pages.close()

        return call

    alone = rounds([engine_alone(PdfiumPages), engine_alone(PdfminerPages)], repeat)

    print("OCR …", file=sys.stderr)
    scan = corpus.scanned(corpus.one_column(ocr_pages, seed=9, furniture=False))
    scan_path = workdir / "scanned.pdf"
    scan_path.write_bytes(scan.pdf)

    # Tesseract's OpenMP threads fight over shared cores; the processor turns them off
    # (processors/pdf/ocr.py), so the direct loop does too, to compare like with like.
    single_thread = {**os.environ, "OMP_THREAD_LIMIT": "1"}

    def direct_ocr() -> None:
        pdf = pdfium.PdfDocument(str(scan_path))
        for page in pdf:
            bitmap = page.render(scale=300 / 72, grayscale=True)
            buffer = io.BytesIO()
            bitmap.to_pil().save(buffer, "PNG")
            bitmap.close()
            subprocess.run(
                ["tesseract", "stdin", "stdout", "-l", "deu+eng", "--dpi", "300"],
                input=buffer.getvalue(),
                capture_output=True,
                check=True,
                env=single_thread,
            )
            page.close()
        pdf.close()

    ocr_results = through("pdfium", 2, "ocr", scan_path)()
    ocr_rounds = rounds(
        [
            direct_ocr,
            through("pdfium", 1, "ocr", scan_path),
            through("pdfium", 2, "ocr", scan_path),
        ],
        repeat,
    )
    t_ocr_direct, t_ocr_one, t_ocr_two = (median([r[i] for r in ocr_rounds]) for i in range(3))
    ocr_speedup = median([r[0] / r[2] for r in ocr_rounds])
    ocr_accuracy = statistics.mean(
        corpus.word_accuracy(truth, text)
        for truth, text in zip(scan.truth, ocr_results["page_texts"], strict=True)
    )

    def rate(count: int, took: float) -> str:
        return f"{count / took:,.0f}" if count / took >= 10 else f"{count / took:.2f}"

    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()} by `bench/pdf_engines.py "
        f"--pages {pages} --ocr-pages {ocr_pages} --repeat {repeat}`: medians of {repeat} "
        "rounds in which direct call and job center take turns, on 2 cores shared with other "
        "sessions (absolute rates are low and vary; the ratios within a round are steadier).",
        "",
        f"Text layer of a generated {pages}-page A4 document (one column, about 3,000 "
        f"characters a page; the last row: {large_pages} pages, pdfium only). *Direct*: the "
        "library called as usual (pypdfium2 `get_text_range()` per page; pdfminer.six "
        "`extract_text()`). *Job center*: the `pdf` "
        "processor with `extraction_method=native` (`auto`, the default, also judges each "
        "page's text layer and would run OCR where it fails) in one or two page processes, "
        "including "
        "opening the file in the first page process, starting the page processes, layout "
        "analysis, "
        "reading order, Markdown assembly and writing the file. *Overhead*: job center with "
        "one process against direct (median of the per-round ratios, minus 1, with the lowest "
        "and highest round); *speed-up*: direct time over job center time with two processes "
        "(median and range of the rounds).",
        "",
        "| engine | direct pages/s | job center, 1 process | job center, 2 processes | "
        "overhead (1 process) | speed-up (2 processes) | words in order |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]

    def row(label: str, count: int, measured: list[list[float]], words: str) -> str:
        t_direct, t_one, t_two = (median([r[i] for r in measured]) for i in range(3))
        speedups = [r[0] / r[2] for r in measured]
        return (
            f"| {label} | {rate(count, t_direct)} | {rate(count, t_one)} | "
            f"{rate(count, t_two)} | {spread([r[1] / r[0] for r in measured])} | "
            f"{median(speedups):.2f} x ({min(speedups):.2f} to {max(speedups):.2f}) | {words} |"
        )

    for label, measured in rows:
        lines.append(row(label, pages, measured, f"{100 * quality[label]:.1f} %"))
    lines.append(row(f"pdfium, {large_pages} pages", large_pages, large_rounds, ""))
    small_direct, small_job_time = (
        1000 * median([r[i] for r in small_rounds]) / SMALL_DOCUMENTS for i in range(2)
    )
    lines += [
        "",
        f"Small documents, as batches bring them: {SMALL_DOCUMENTS} generated two-page "
        "documents read one after the other, with `auto` (the default) and the default "
        "page processes; a job's own costs (forking its page processes, writing its files) "
        "weigh most here. Milliseconds per document, median of the rounds:",
        "",
        "| direct | job center | job center minus direct |",
        "| --- | --- | --- |",
        f"| {small_direct:.1f} | {small_job_time:.1f} | {small_job_time - small_direct:.1f} |",
    ]
    ratios = [r[1] / r[0] for r in alone]
    lines += [
        "",
        "The engines alone, in one process and without the job around them (the same "
        "document, `layout()` of every page: text runs with boxes, sizes and weights, rules, "
        "reading order), which is what the `engine` parameter chooses between:",
        "",
        "| engine | pages/s | ms per page |",
        "| --- | --- | --- |",
    ]
    for name, column in (("pdfium", 0), ("pdfminer", 1)):
        took = median([r[column] for r in alone])
        lines.append(f"| {name} | {rate(pages, took)} | {1000 * took / pages:.1f} |")
    lines += [
        "",
        f"pdfium is {median(ratios):.1f} times as fast as pdfminer here (rounds: "
        f"{min(ratios):.1f} to {max(ratios):.1f}).",
        "",
        f"OCR of {ocr_pages} scanned A4 pages (300 dpi, `deu+eng`): direct = render and "
        "tesseract page after page (both with `OMP_THREAD_LIMIT=1`); job center = "
        "`extraction_method=ocr`.",
        "",
        "| | direct | job center, 1 process | job center, 2 processes |",
        "| --- | --- | --- | --- |",
        f"| pages/s | {rate(ocr_pages, t_ocr_direct)} | {rate(ocr_pages, t_ocr_one)} | "
        f"{rate(ocr_pages, t_ocr_two)} |",
        f"| seconds per page | {t_ocr_direct / ocr_pages:.2f} | {t_ocr_one / ocr_pages:.2f} | "
        f"{t_ocr_two / ocr_pages:.2f} |",
        "",
        f"Speed-up of two page processes over the direct loop: {ocr_speedup:.2f} x. OCR word "
        f"accuracy on these pages: {100 * ocr_accuracy:.1f} %.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
