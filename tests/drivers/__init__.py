"""Small programs that tests run in subprocesses (``python -m tests.drivers.NAME``), to get
real concurrency against the committed test database, plus the test-side launcher.

Every driver prints ``ready`` once Django is set up and its database connection is open,
then waits for a "go" file, so that all processes start their work within milliseconds of
each other instead of one after another as they finish importing Django. A driver prints
its result as one line of JSON on stdout.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

READY = "ready"


def setup_and_wait(go_file: Path, timeout: float = 120.0) -> None:
    """Driver side: set Django up, open the connection, say ready, wait for the go file."""
    import django

    django.setup()
    from django.db import connection

    connection.ensure_connection()
    print(READY, flush=True)
    deadline = time.monotonic() + timeout
    while not go_file.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"no go file {go_file} after {timeout}s")
        time.sleep(0.002)


def report(result: dict[str, Any]) -> None:
    print(json.dumps(result), flush=True)


def run_together(
    module: str, argv_per_process: list[list[str]], go_file: Path, *, timeout: float = 120.0
) -> list[dict[str, Any]]:
    """Test side: start one ``python -m tests.drivers.<module>`` per argument list against
    the test database, release them all at once, and return each one's JSON result.

    Fails (AssertionError with the child's stderr) if any child exits non-zero, so an
    unexpected exception in a child (a deadlock, a lock timeout) fails the test."""
    from tests.conftest import REPO, subprocess_env

    env = subprocess_env(PYTHONUNBUFFERED="1")
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", f"tests.drivers.{module}", *argv],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for argv in argv_per_process
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            line = process.stdout.readline().strip()
            if line != READY:
                _, err = process.communicate(timeout=timeout)
                raise AssertionError(f"driver {module} did not get ready: {line!r}\n{err}")
        go_file.touch()
        results = []
        for process in processes:
            out, err = process.communicate(timeout=timeout)
            assert process.returncode == 0, f"driver {module} exited {process.returncode}:\n{err}"
            results.append(json.loads(out.strip().splitlines()[-1]))
        return results
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
