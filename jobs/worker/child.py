"""The child process: runs one job at a time for its worker, kept warm between jobs.

A child never touches the database. It receives a job over a pipe, runs the processor, and
sends back progress, log lines and the outcome; the worker (the parent) writes them through
the queue services. So a processor that hangs, segfaults, leaks or calls ``sys.exit`` takes
down only this process and its one job: the parent sees the pipe close, records the job's
failure and starts a fresh child.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

PROGRESS_INTERVAL_SECONDS = 0.2


@dataclass(frozen=True)
class Task:
    """A job as the parent hands it to a child."""

    job_id: str
    job_type: str
    parameters: dict[str, Any]
    attempt: int


class ChildContext:
    """The JobContext a processor gets inside a child process."""

    def __init__(self, conn: Connection, task: Task, cancel: Event, media_root: Path) -> None:
        self.job_id = task.job_id
        self.attempt = task.attempt
        self._conn = conn
        self._cancel = cancel
        self._workdir = media_root / task.job_id
        self._last_progress = 0.0
        self._pending_progress: tuple[float, str, str] | None = None

    @property
    def workdir(self) -> Path:
        self._workdir.mkdir(parents=True, exist_ok=True)
        return self._workdir

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def progress(self, percent: float, step: str = "", message: str = "") -> None:
        """Sent to the parent at most every PROGRESS_INTERVAL_SECONDS; the last report
        before the job ends is always sent."""
        self._pending_progress = (float(percent), str(step), str(message))
        now = time.monotonic()
        if now - self._last_progress >= PROGRESS_INTERVAL_SECONDS:
            self.flush_progress()
            self._last_progress = now

    def flush_progress(self) -> None:
        if self._pending_progress is not None:
            self._conn.send(("progress", self.job_id, self._pending_progress))
            self._pending_progress = None

    def log(self, message: str, level: str = "info") -> None:
        level = level if level in {"debug", "info", "warning", "error"} else "info"
        self._conn.send(("log", self.job_id, (level, str(message))))

    def save_file(self, name: str, data: bytes | str) -> Path:
        from processors.files import save_job_file

        return save_job_file(self.workdir, name, data)


def _error(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"code": code, "message": message, "details": details}


def run_task(conn: Connection, task: Task, cancel: Event, media_root: Path) -> tuple[Any, ...]:
    """Run one job; returns the outcome message for the parent."""
    import pydantic

    from jobcenter.errors import UnknownJobType
    from processors.base import ProcessorError
    from processors.registry import get_processor

    try:
        processor = get_processor(task.job_type)
    except UnknownJobType as exc:
        return ("failed", task.job_id, _error("UNKNOWN_JOB_TYPE", exc.message), False)
    try:
        params = processor.Params.model_validate(task.parameters)
    except pydantic.ValidationError as exc:
        details = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        message = "The stored parameters no longer validate for this job type."
        return ("failed", task.job_id, _error("INVALID_PARAMETERS", message, details), False)
    if task.attempt == 1:
        # A first attempt starts from an empty folder: a restarted job (attempts reset) must
        # not serve the files of its earlier run, nor one released before it finished.
        shutil.rmtree(media_root / task.job_id, ignore_errors=True)
    ctx = ChildContext(conn, task, cancel, media_root)
    try:
        results = processor().run(params, ctx)
        ctx.flush_progress()
        if cancel.is_set():
            return ("cancelled", task.job_id, None, False)
        if results is None:
            results = {}
        if not isinstance(results, dict):
            message = f"run() returned {type(results).__name__}, not a dict"
            return ("failed", task.job_id, _error("INVALID_RESULTS", message), False)
        try:
            json.dumps(results)
        except (TypeError, ValueError) as exc:
            message = f"results are not JSON-serialisable: {exc}"
            return ("failed", task.job_id, _error("INVALID_RESULTS", message), False)
        return ("completed", task.job_id, results, False)
    except ProcessorError as exc:
        ctx.flush_progress()
        error = _error(exc.code, exc.message, exc.details)
        return ("failed", task.job_id, error, exc.retryable)
    except Exception as exc:  # anything else: retryable, with the traceback for the operator
        ctx.flush_progress()
        error = _error(
            "PROCESSOR_ERROR", f"{type(exc).__name__}: {exc}", {"traceback": traceback.format_exc()}
        )
        return ("failed", task.job_id, error, True)


def child_main(conn: Connection, cancel: Event, max_memory_mb: int) -> None:
    """Entry point of a child process (spawned: a clean interpreter, no inherited sockets)."""
    # Signals are for the parent: Ctrl-C in a terminal reaches the whole process group, and
    # the parent decides whether running jobs finish or stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jobcenter.settings")
    import django

    django.setup()
    from django.conf import settings

    media_root = Path(settings.JOBCENTER_MEDIA_ROOT)
    conn.send(("ready", os.getpid()))
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        if task is None:
            return
        outcome = run_task(conn, task, cancel, media_root)
        # A processor that leaked memory costs a fresh process, not the worker. Said before
        # the outcome, so that the parent hands this child no further job.
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        recycle = bool(max_memory_mb and peak_mb > max_memory_mb)
        if recycle:
            conn.send(("recycle", os.getpid()))
        conn.send(outcome)
        if recycle:
            return
