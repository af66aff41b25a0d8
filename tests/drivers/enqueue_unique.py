"""Enqueue jobs with one unique_key, several times, racing the other processes doing the same.

Usage: python -m tests.drivers.enqueue_unique KEY GO_FILE REPEATS
Prints {"ids": [job id returned by each enqueue]}.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tests.drivers import report, setup_and_wait


def main(argv: list[str]) -> None:
    key, go_file, repeats = argv[0], Path(argv[1]), int(argv[2])
    setup_and_wait(go_file)
    from jobs.services import enqueue

    ids = [
        enqueue("echo", {"message": f"pid {os.getpid()}"}, unique_key=key).job_id
        for _ in range(repeats)
    ]
    report({"ids": ids})


if __name__ == "__main__":
    main(sys.argv[1:])
