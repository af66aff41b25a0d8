"""C helpers for the pdf processor: optional, built when the job center is installed
(``python -m processors.pdf.native``, which ``scripts/run.sh`` and ``scripts/test.sh`` run).

Without them every result is the same, only slower: the ``pdfium`` engine reads its text
runs and page objects through Python's ctypes instead (docs/benchmarks.md).
A built library is named after a hash of its source, so an edited source is never served
by a stale build: it is simply not found until built again (system check
``jobcenter.W001`` says so).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pypdfium2.raw as pdfium_c

SOURCE = Path(__file__).with_name("pdfium.c")
BUILD_DIR = Path(__file__).with_name("build")

RUN_VALUES = 11
"""Numbers per text run in ``PdfiumHelper.runs``'s answer: first and last character index, the
run's box (left, top, right, bottom in PDF space), font size (scaled by the character's
matrix), bold (0 or 1), whether it has
an origin, the origin's y and the first character's angle (pdfium.c's enum)."""


class _Pdfium(ctypes.Structure):
    """pdfium.c's ``Pdfium``: the pdfium functions it calls, in its order."""

    _fields_ = [
        (name, ctypes.c_void_p)
        for name in (
            "FPDFText_CountRects",
            "FPDFText_GetRect",
            "FPDFText_GetFontSize",
            "FPDFText_GetFontWeight",
            "FPDFText_GetCharOrigin",
            "FPDFText_GetCharAngle",
            "FPDFText_GetFontInfo",
            "FPDFPage_CountObjects",
            "FPDFPage_GetObject",
            "FPDFPageObj_GetType",
            "FPDFText_GetMatrix",
        )
    ]


def library_path() -> Path:
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:16]
    return BUILD_DIR / f"pdfium-{digest}.so"


def build(compiler: str | None = None) -> Path:
    """Compile the library unless this source's build is there; older builds are removed.
    Raises ``RuntimeError`` when no C compiler is found or it fails."""
    target = library_path()
    if target.exists():
        return target
    compiler = compiler or os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not compiler:
        raise RuntimeError("no C compiler (cc or gcc) found")
    BUILD_DIR.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=BUILD_DIR) as folder:
        built = Path(folder) / target.name
        command = [compiler, "-O2", "-shared", "-fPIC", "-o", str(built), str(SOURCE), "-lm"]
        finished = subprocess.run(command, capture_output=True, text=True, check=False)
        if finished.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{finished.stderr.strip()}")
        built.replace(target)  # whole or not at all, for processes loading it meanwhile
    for old in BUILD_DIR.glob("pdfium-*.so"):
        if old != target:
            old.unlink(missing_ok=True)
    return target


class PdfiumHelper:
    """pdfium.c's functions bound to pypdfium2's pdfium, with answer buffers that grow to
    the largest page seen (one helper per process: page processes each load their own)."""

    def __init__(self, library: ctypes.CDLL) -> None:
        pointer, integer = ctypes.c_void_p, ctypes.c_int
        self._runs = library.jc_pdfium_runs
        self._runs.argtypes = [pointer, pointer, pointer, integer, pointer, integer]
        self._runs.restype = integer
        self._drawn = library.jc_pdfium_drawn_objects
        self._drawn.argtypes = [pointer, pointer, pointer, integer]
        self._drawn.restype = integer
        self.pdfium = _Pdfium(
            *(
                ctypes.cast(getattr(pdfium_c, name), ctypes.c_void_p).value
                for name, _ in _Pdfium._fields_
            )
        )
        self._pdfium = ctypes.byref(self.pdfium)
        self.grow_runs(256)
        self.objects = (ctypes.c_int * 256)()

    def grow_runs(self, runs: int) -> None:
        self.capacity = runs
        self.values = (ctypes.c_double * (runs * RUN_VALUES))()

    def runs(self, textpage: object, text: ctypes.Array[Any], count: int) -> list[float]:
        """The text page's runs as one flat list, ``RUN_VALUES`` numbers a run; ``text``
        holds the page's ``count`` characters as UTF-16."""
        page = ctypes.cast(textpage, ctypes.c_void_p)
        found = self._runs(self._pdfium, page, text, count, self.values, self.capacity)
        if found < 0:
            self.grow_runs(-found)
            found = self._runs(self._pdfium, page, text, count, self.values, self.capacity)
        return memoryview(self.values).cast("B").cast("d")[: found * RUN_VALUES].tolist()

    def drawn_objects(self, page: object) -> list[int]:
        """The indexes of the page's objects that are not text (a raw ``FPDF_PAGE``)."""
        page = ctypes.cast(page, ctypes.c_void_p)
        found = self._drawn(self._pdfium, page, self.objects, len(self.objects))
        if found < 0:
            self.objects = (ctypes.c_int * -found)()
            found = self._drawn(self._pdfium, page, self.objects, len(self.objects))
        return self.objects[:found]


@functools.cache
def pdfium() -> PdfiumHelper | None:
    """The helper, or None when it is not built for this source (or cannot be loaded)."""
    path = library_path()
    if not path.exists():
        return None
    try:
        return PdfiumHelper(ctypes.CDLL(str(path)))
    except (OSError, AttributeError):
        return None
