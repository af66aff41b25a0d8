"""Quality of the pdf processor on the generated test corpus (tests/processors/corpus.py):
words recovered in reading order per layout and engine, OCR word accuracy on 300 dpi scans,
and whether ``auto`` chose OCR for exactly the scanned pages.

    .venv/bin/python bench/pdf_quality.py [--no-write]

Prints a table and replaces the "PDF quality" section of docs/benchmarks.md (other sections
are kept). Runs the processor in-process (processors.testing.run_processor) on a throw-away
SQLite database and media folder.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REPO, machine, setup_django

BENCHMARKS = REPO / "docs" / "benchmarks.md"


def scratch_django(workdir: Path) -> None:
    """Django on a scratch database and media folder, with paths under ``workdir`` allowed;
    the processor runs in-process, so the database is never migrated or touched."""
    os.environ.pop("MONGODB_URI", None)
    setup_django(
        {
            "DJANGO_SETTINGS_MODULE": "jobcenter.settings",
            "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
            "JOBCENTER_MEDIA_ROOT": str(workdir / "media"),
            "JOBCENTER_ALLOWED_INPUT_DIRS": str(workdir),
        }
    )


def write_section(title: str, body: str) -> None:
    """Replace (or append) the ``## title`` section of docs/benchmarks.md, keeping the rest."""
    text = BENCHMARKS.read_text(encoding="utf-8") if BENCHMARKS.exists() else "# Benchmarks\n"
    section = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + section
    BENCHMARKS.write_text(text, encoding="utf-8")


def run(processor: Any, parameters: dict[str, Any], workdir: Path, job: str) -> dict[str, Any]:
    from processors.testing import RecordingContext, run_processor

    ctx = RecordingContext(workdir / "media", job_id=job)
    return run_processor(processor, {"use_cache": False, **parameters}, ctx)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pdf-quality-") as folder:
        workdir = Path(folder)
        scratch_django(workdir)
        body = measure(workdir)
    print(body)
    if not args.no_write:
        write_section("PDF quality", body)
        print(f"written to {BENCHMARKS.relative_to(REPO)}")


def direct_texts(path: Path, count: int) -> list[list[str]]:
    """Per page text from pypdfium2 and from pdfminer.six, called the usual way."""
    import pypdfium2 as pdfium
    from pdfminer.high_level import extract_text

    def unhyphenate(text: str) -> str:
        return re.sub(r"[-\ufffe\x02]\r?\n", "", text).replace("\ufffe", "")

    document = pdfium.PdfDocument(str(path))
    pdfium_pages = [unhyphenate(document[i].get_textpage().get_text_range()) for i in range(count)]
    document.close()
    pdfminer_pages = [unhyphenate(extract_text(str(path), page_numbers=[i])) for i in range(count)]
    return [pdfium_pages, pdfminer_pages]


def measure(workdir: Path) -> str:
    from processors.pdf import PdfProcessor
    from tests.processors import corpus

    small = corpus.one_column(2, seed=7, pagesize=corpus.PAGE_A6, size=10)
    small.name = "small"
    small_scan = corpus.scanned(small)
    a4_scan = corpus.scanned(corpus.one_column(1, seed=11, furniture=False))
    a4_scan.name = "a4_scanned"
    documents = [
        corpus.one_column(),
        corpus.two_columns(),
        corpus.two_columns(interleaved=True),
        corpus.table(),
        corpus.lists(),
    ]
    for document in [*documents, small, small_scan, a4_scan]:
        (workdir / f"{document.name}.pdf").write_bytes(document.pdf)
    mixed = corpus.merge("mixed", [(small, 0), (small_scan, 1), (small, 1), (small_scan, 0)])
    (workdir / "mixed.pdf").write_bytes(mixed.pdf)
    garbage_lines = ["Die Verwaltung prüft den Antrag", "und entscheidet über die Förderung"]
    (workdir / "garbage.pdf").write_bytes(corpus.garbage_text_layer(garbage_lines))

    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()} by `bench/pdf_quality.py` "
        "on the corpus the tests generate (`tests/processors/corpus.py`).",
        "",
        "Native text: share of the known words found in reading order (headers, footers and "
        "bullets are not part of the known text). Target: at least 99 %.",
        "",
        "The last two columns show the libraries called directly (pypdfium2 "
        "`get_text_range()`, pdfminer.six `extract_text()` with its default layout analysis) "
        "on the same pages, with line-end hyphens removed: what the shared reading-order and "
        "clean-up layer adds.",
        "",
        "| document | pages | pdfium | pdfminer | pdfium direct | pdfminer direct |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    job = iter(range(1, 1000))
    for document in documents:
        cells = []
        for engine in ("pdfium", "pdfminer"):
            results = run(
                PdfProcessor,
                {
                    "source": str(workdir / f"{document.name}.pdf"),
                    "extraction_method": "native",
                    "engine": engine,
                },
                workdir,
                f"job-q{next(job)}",
            )
            scores = [
                corpus.recall_in_order(truth, text)
                for truth, text in zip(document.truth, results["page_texts"], strict=True)
            ]
            cells.append(f"{100 * min(scores):.1f} %")
        for direct in direct_texts(workdir / f"{document.name}.pdf", len(document.truth)):
            scores = [
                corpus.recall_in_order(truth, text)
                for truth, text in zip(document.truth, direct, strict=True)
            ]
            cells.append(f"{100 * min(scores):.1f} %")
        lines.append(f"| {document.name} | {len(document.truth)} | {' | '.join(cells)} |")

    lines += [
        "",
        "OCR (Tesseract, `deu+eng`, 300 dpi renderings wrapped as image-only PDFs): "
        "word accuracy (1 - word error rate). Target: at least 95 %.",
        "",
        "| document | page | word accuracy | Tesseract confidence |",
        "| --- | --- | --- | --- |",
    ]
    for document in (small_scan, a4_scan):
        results = run(
            PdfProcessor,
            {"source": str(workdir / f"{document.name}.pdf"), "extraction_method": "ocr"},
            workdir,
            f"job-q{next(job)}",
        )
        for number, (truth, text, page) in enumerate(
            zip(document.truth, results["page_texts"], results["pages"], strict=True), 1
        ):
            accuracy = corpus.word_accuracy(truth, text)
            lines.append(
                f"| {document.name} | {number} | {100 * accuracy:.1f} % | "
                f"{page['ocr_confidence']} |"
            )

    results = run(
        PdfProcessor, {"source": str(workdir / "mixed.pdf")}, workdir, f"job-q{next(job)}"
    )
    chosen = [page["method"] for page in results["pages"]]
    expected = ["ocr" if i in mixed.scanned else "native" for i in range(len(mixed.truth))]
    garbage = run(
        PdfProcessor, {"source": str(workdir / "garbage.pdf")}, workdir, f"job-q{next(job)}"
    )
    lines += [
        "",
        "`auto` (the default method) on a document of born-digital and scanned pages: "
        f"chose {chosen} for {expected} ({'exact' if chosen == expected else 'WRONG'}); on a "
        "page whose text layer maps every character into the private use area: "
        f"`{garbage['pages'][0]['method']}` (text layer judged "
        f"`{garbage['pages'][0]['text_layer']}`), word accuracy "
        f"{100 * corpus.word_accuracy(' '.join(garbage_lines), garbage['page_texts'][0]):.1f} %.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
