"""``python -m processors.pdf.native``: build the C helpers (scripts/lib.sh runs it)."""

import sys

from processors.pdf.native import build

try:
    print(f"built {build()}")
except RuntimeError as exc:
    print(
        f"warning: the pdf processor's C helper was not built ({exc}); the pdfium engine "
        "reads its text runs through Python instead, more slowly",
        file=sys.stderr,
    )
