"""Running real ``manage.py runworker`` processes against the test database.

Each worker starts in a session of its own, so that teardown can kill it together with its
child processes (and any orphans left by a test's ``kill -9``) by its process group id,
never by name. Tests use ``transactional_db`` so that what they write is committed and the
workers see it. Leases are short (3 s, heartbeat 0.5 s) so that lease expiry, reaping and
cancel requests happen within a test's patience.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from jobs.models import Job, Worker
from tests.conftest import REPO, subprocess_env
from tests.worker_processors import ALL

T = TypeVar("T")

WORKER_ENV = {
    "JOBCENTER_PROCESSORS": ",".join(ALL),
    "JOBCENTER_LEASE_SECONDS": "3",
    "JOBCENTER_HEARTBEAT_SECONDS": "0.5",
    "JOBCENTER_CANCEL_GRACE_SECONDS": "1",
    "JOBCENTER_WEBHOOK_RETRY_SECONDS": "0.2",
    "PYTHONUNBUFFERED": "1",
}


def wait_for(
    condition: Callable[[], T],
    *,
    timeout: float,
    message: str | Callable[[], str],
    interval: float = 0.05,
) -> T:
    """Poll ``condition`` until it returns something truthy (returned), or fail after
    ``timeout`` seconds with ``message`` (a callable is evaluated only then)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"after {timeout:g}s: {text}")
        time.sleep(interval)


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _live_processes() -> Iterator[tuple[int, list[str]]]:
    """(pid, the fields of /proc/PID/stat after the command name) of every live process."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if fields[0] != "Z":
            yield int(entry.name), fields


def child_pids(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc)."""
    return [child for child, fields in _live_processes() if int(fields[1]) == pid]


def group_pids(pgid: int) -> list[int]:
    """Live processes of process group ``pgid`` (from /proc)."""
    return [member for member, fields in _live_processes() if int(fields[2]) == pgid]


class WorkerProcess:
    """One ``runworker`` subprocess; its output goes to a file the failure messages show."""

    def __init__(self, process: subprocess.Popen[bytes], output: Path, args: list[str]) -> None:
        self.process = process
        self.output_path = output
        self.args = args

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.output_path.read_text(errors="replace") if self.output_path.exists() else ""

    def describe(self) -> str:
        tail = "\n".join(self.output().splitlines()[-40:])
        return f"worker {self.pid} ({' '.join(self.args)}), output:\n{tail}"

    def alive(self) -> bool:
        return self.process.poll() is None

    def row(self) -> Worker | None:
        return Worker.objects.filter(pid=self.pid).order_by("-started_at").first()

    def wait_ready(self, timeout: float = 60) -> Worker:
        """Until the children are warm and the database thread runs: its first
        housekeeping moves the heartbeat past the registration time."""

        def ready() -> Worker | None:
            assert self.alive(), f"exited with {self.process.returncode}: {self.describe()}"
            row = self.row()
            return row if row is not None and row.heartbeat_at > row.started_at else None

        return wait_for(ready, timeout=timeout, message=lambda: f"not ready: {self.describe()}")

    def wait(self, timeout: float = 60) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running after {timeout:g}s: {self.describe()}") from None

    def send(self, signum: int) -> None:
        if self.alive():
            os.kill(self.pid, signum)

    def children(self) -> list[int]:
        return child_pids(self.pid)

    def kill_group(self) -> None:
        """SIGKILL everything left in the worker's process group (it, its children, and
        orphans of a killed worker), then reap the worker."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)


class Workers:
    """Starts workers for one test and kills whatever is left of them afterwards."""

    def __init__(self, tmp_path: Path, **env: str) -> None:
        self.tmp_path = tmp_path
        self.env = {**WORKER_ENV, "JOBCENTER_MEDIA_ROOT": str(tmp_path / "media"), **env}
        self.started: list[WorkerProcess] = []

    def start(
        self, *args: str, env: dict[str, str] | None = None, ready: bool = True
    ) -> WorkerProcess:
        """``manage.py runworker ARGS``; with ``ready``, returns once it can take jobs."""
        argv = ["runworker", "--poll-interval", "0.2", *args]
        output = self.tmp_path / f"worker-{len(self.started) + 1}.log"
        with output.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, str(REPO / "manage.py"), *argv],
                cwd=REPO,
                env=subprocess_env(**{**self.env, **(env or {})}),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        worker = WorkerProcess(process, output, argv)
        self.started.append(worker)
        if ready:
            worker.wait_ready()
        return worker

    def start_many(
        self, count: int, *args: str, env: dict[str, str] | None = None
    ) -> list[WorkerProcess]:
        """``count`` workers started side by side (their start-ups overlap), all ready."""
        started = [self.start(*args, env=env, ready=False) for _ in range(count)]
        for worker in started:
            worker.wait_ready()
        return started

    def close(self) -> None:
        for worker in self.started:
            worker.kill_group()

    def describe(self) -> str:
        return "\n\n".join(worker.describe() for worker in self.started)


def running_workers(tmp_path: Path, settings: Any, **env: str) -> Iterator[Workers]:
    """Body of the ``workers`` fixture of each test module: the test processors registered
    in this process too (so that enqueue validates their parameters), workers killed at the
    end whatever happened."""
    settings.JOBCENTER_PROCESSORS = ALL
    settings.JOBCENTER_MEDIA_ROOT = tmp_path / "media"
    workers = Workers(tmp_path, **env)
    try:
        yield workers
    finally:
        workers.close()


def job_status(job_id: str) -> str:
    return Job.objects.values_list("status", flat=True).get(pk=job_id)


def wait_for_status(
    job_ids: list[str] | str, statuses: set[str] | str, workers: Workers, timeout: float = 30
) -> list[Job]:
    """Until every job is in one of ``statuses``; returns the jobs, in the given order."""
    ids = [job_ids] if isinstance(job_ids, str) else list(job_ids)
    wanted = {statuses} if isinstance(statuses, str) else set(statuses)

    def done() -> list[Job] | None:
        jobs = Job.objects.in_bulk(ids)
        if len(jobs) == len(ids) and all(job.status in wanted for job in jobs.values()):
            return [jobs[job_id] for job_id in ids]
        return None

    def message() -> str:
        counts = Job.objects.filter(pk__in=ids).values_list("pk", "status", "error")
        states = "; ".join(f"{pk}: {status} {error or ''}" for pk, status, error in counts[:20])
        return f"jobs not {sorted(wanted)}: {states}\n{workers.describe()}"

    return wait_for(done, timeout=timeout, message=message, interval=0.1)
