"""Instructions a page of the ``pdf`` processor's page process costs with the ``pdfium``
engine, against pypdfium2's ``get_text_range()``: counted by ``valgrind --tool=callgrind``,
which gives the same count run after run whatever else the machine does (seconds on these
shared 2-core machines vary by half between runs).

    .venv/bin/python bench/pdf_instructions.py [--pages 30] [--no-write]

Each variant runs twice in a fresh interpreter under valgrind, reading no page and then
``--pages`` pages of a generated one-column A4 document; the difference divided by the
pages is the cost of a page, without Python's start-up. Variants: the direct call
(``get_text_range()`` per page, as bench/pdf_engines.py calls it), the page process's work
for ``extraction_method=native`` (text runs, rules, reading order, paragraphs) with the C
helper (processors/pdf/native), and the same with the helper switched off (ctypes).
Needs valgrind (``apt-get install valgrind``). Replaces the "PDF instructions" section of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REPO, machine
from pdf_quality import BENCHMARKS, write_section

VARIANTS = {
    "direct": "pypdfium2 `get_text_range()`",
    "helper": "page process, with the C helper",
    "ctypes": "page process, calls through ctypes",
}
FIRST_PAGE = 10
"""Pages before this one are read untimed, so that caches and imports are warm."""


def child(variant: str, path: str, count: int) -> None:
    """What valgrind runs: ``count`` pages of ``variant`` after a warm-up."""
    sys.path.insert(0, str(REPO))
    import pypdfium2 as pdfium

    from processors.pdf import native
    from processors.pdf.pages import PageOptions

    if variant == "ctypes":
        native.pdfium = lambda: None  # type: ignore[assignment]
    options = PageOptions(path, "native", "pdfium", "eng", 300, 72, False, False, 10**8, 60.0, None)
    handler = options()
    document = pdfium.PdfDocument(path)
    for index in range(FIRST_PAGE):
        handler(index)
    for index in range(FIRST_PAGE, FIRST_PAGE + count):
        if variant == "direct":
            page = document[index]
            textpage = page.get_textpage()
            textpage.get_text_range()
            textpage.close()
            page.close()
        else:
            handler(index)
    document.close()


def instructions(variant: str, path: Path, count: int, folder: Path) -> int:
    output = folder / f"callgrind.{variant}.{count}"
    command = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={output}",
        sys.executable,
        __file__,
        "--child",
        variant,
        str(path),
        str(count),
    ]
    finished = subprocess.run(command, capture_output=True, text=True, check=True)
    match = re.search(r"Collected : (\d+)", finished.stderr)
    if match is None:
        raise SystemExit(f"valgrind gave no count:\n{finished.stderr[-2000:]}")
    return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=30)
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        variant, path, count = args.child
        child(variant, path, int(count))
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed: apt-get install valgrind")
    sys.path.insert(0, str(REPO))
    from processors.pdf import native
    from tests.processors import corpus

    if native.pdfium() is None:
        raise SystemExit("the C helper is not built: python -m processors.pdf.native")
    with tempfile.TemporaryDirectory(prefix="pdf-instructions-") as name:
        folder = Path(name)
        path = folder / "document.pdf"
        path.write_bytes(corpus.one_column(FIRST_PAGE + args.pages, seed=5).pdf)
        per_page = {}
        for variant in VARIANTS:
            base = instructions(variant, path, 0, folder)
            full = instructions(variant, path, args.pages, folder)
            per_page[variant] = (full - base) / args.pages
            print(f"  {variant}: {per_page[variant] / 1e6:.2f} M a page", file=sys.stderr)
    direct = per_page["direct"]
    lines = [
        f"Counted {_today()} on {machine()} by `bench/pdf_instructions.py --pages "
        f"{args.pages}`: instructions a page (`valgrind --tool=callgrind`, the same count "
        "run after run), for pages of a generated one-column A4 document (about 3,000 "
        "characters and 40 text runs a page). The page process's work is what "
        "`extraction_method=native` does in a page process with the `pdfium` engine: text "
        "runs with boxes, sizes and weights, rules, reading order and paragraphs; the job's "
        "process (headers and footers, Markdown, files) is not counted.",
        "",
        "| variant | million instructions a page | against the direct call |",
        "| --- | --- | --- |",
    ]
    for variant, label in VARIANTS.items():
        ratio = per_page[variant] / direct
        lines.append(f"| {label} | {per_page[variant] / 1e6:.2f} | {ratio:.2f} x |")
    saved = 1 - per_page["helper"] / per_page["ctypes"]
    lines += ["", f"The C helper saves {100 * saved:.0f} % of a page process's instructions."]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_section("PDF instructions", body)
        print(f"written to {BENCHMARKS.relative_to(REPO)}")


def _today() -> str:
    import datetime

    return datetime.date.today().isoformat()


if __name__ == "__main__":
    main()
