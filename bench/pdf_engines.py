"""Speed of the pdf processor's text engines and OCR: pages per second through the job center
(the processor as the worker runs it, page processes included) against calling the library
directly on the same file in the same run.

    .venv/bin/python bench/pdf_engines.py [--pages 200] [--ocr-pages 4] [--repeat 3] [--no-write]

Direct calls are the usual one-liners: pypdfium2 ``get_text_range()`` per page, pdfminer.six
``extract_text()`` with its default layout analysis, and for OCR a pypdfium2 rendering at
300 dpi piped into the tesseract program, page after page. Best of ``--repeat`` runs each.
Replaces the "PDF engines" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pdf_quality import BENCHMARKS, REPO, machine, run, setup_django, write_section


def best(function: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=200, help="pages of the text document")
    parser.add_argument("--ocr-pages", type=int, default=4, help="scanned A4 pages for OCR")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pdf-engines-") as folder:
        workdir = Path(folder)
        setup_django(workdir)
        body = measure(workdir, args.pages, args.ocr_pages, args.repeat)
    print(body)
    if not args.no_write:
        write_section("PDF engines", body)
        print(f"written to {BENCHMARKS.relative_to(REPO)}")


def measure(workdir: Path, pages: int, ocr_pages: int, repeat: int) -> str:
    import pypdfium2 as pdfium
    from django.conf import settings
    from pdfminer.high_level import extract_text

    from processors.pdf import PdfProcessor
    from tests.processors import corpus

    print(f"generating {pages} pages …", file=sys.stderr)
    document = corpus.one_column(pages, seed=5)
    path = workdir / "large.pdf"
    path.write_bytes(document.pdf)
    jobs = iter(range(1, 10_000))

    def direct_pdfium() -> None:
        pdf = pdfium.PdfDocument(str(path))
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
    for engine, direct in (("pdfium", direct_pdfium), ("pdfminer", direct_pdfminer)):
        print(f"{engine} …", file=sys.stderr)
        runs = repeat if engine == "pdfium" else max(1, repeat - 1)
        t_direct = best(direct, runs)
        t_one = best(through(engine, 1), runs)
        t_two = best(through(engine, 2), runs)
        results = through(engine, 2)()
        quality[engine] = statistics.mean(
            corpus.recall_in_order(truth, text)
            for truth, text in zip(document.truth, results["page_texts"], strict=True)
        )
        rows.append((engine, t_direct, t_one, t_two))

    print("OCR …", file=sys.stderr)
    scan = corpus.scanned(corpus.one_column(ocr_pages, seed=9, furniture=False))
    scan_path = workdir / "scanned.pdf"
    scan_path.write_bytes(scan.pdf)

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
            )
            page.close()
        pdf.close()

    ocr_repeat = max(1, repeat - 2)
    t_ocr_direct = best(direct_ocr, ocr_repeat)
    t_ocr_one = best(through("pdfium", 1, "ocr", scan_path), ocr_repeat)
    t_ocr_two = best(through("pdfium", 2, "ocr", scan_path), ocr_repeat)
    ocr_results = through("pdfium", 2, "ocr", scan_path)()
    ocr_accuracy = statistics.mean(
        corpus.word_accuracy(truth, text)
        for truth, text in zip(scan.truth, ocr_results["page_texts"], strict=True)
    )

    def rate(count: int, seconds: float) -> str:
        return f"{count / seconds:,.0f}" if count / seconds >= 10 else f"{count / seconds:.2f}"

    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()} by `bench/pdf_engines.py` "
        f"(best of {repeat} runs; OCR best of {ocr_repeat}), other work on the machine "
        "possible.",
        "",
        f"Text layer of a generated {pages}-page A4 document (one column, about 3,000 "
        "characters a page). *Direct*: the library called as usual (pypdfium2 "
        "`get_text_range()` per page; pdfminer.six `extract_text()`). *Job center*: the `pdf` "
        "processor with `extraction_method=native` in one or two page processes, including "
        "starting them, layout analysis, reading order, Markdown assembly and writing the "
        "file. Overhead = job center with one process against direct.",
        "",
        "| engine | direct pages/s | job center, 1 process | job center, 2 processes | "
        "overhead (1 process) | words in order |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for engine, t_direct, t_one, t_two in rows:
        overhead = 100 * (t_one / t_direct - 1)
        lines.append(
            f"| {engine} | {rate(pages, t_direct)} | {rate(pages, t_one)} | "
            f"{rate(pages, t_two)} | {overhead:+.0f} % | {100 * quality[engine]:.1f} % |"
        )
    lines += [
        "",
        f"OCR of {ocr_pages} scanned A4 pages (300 dpi, `deu+eng`): direct = render and "
        "tesseract page after page; job center = `extraction_method=ocr`.",
        "",
        "| | direct | job center, 1 process | job center, 2 processes |",
        "| --- | --- | --- | --- |",
        f"| pages/s | {rate(ocr_pages, t_ocr_direct)} | {rate(ocr_pages, t_ocr_one)} | "
        f"{rate(ocr_pages, t_ocr_two)} |",
        f"| seconds per page | {t_ocr_direct / ocr_pages:.2f} | {t_ocr_one / ocr_pages:.2f} | "
        f"{t_ocr_two / ocr_pages:.2f} |",
        "",
        f"OCR word accuracy on these pages: {100 * ocr_accuracy:.1f} %.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
