"""The README's first command, ./scripts/run.sh, as a user runs it: it installs (here:
finds everything installed), migrates a fresh SQLite database, prints the admin password
once, serves the admin, the API and static files, runs a worker that completes a job, and
stops both on SIGTERM. A worker killed with SIGKILL is started again while the web server
keeps serving, and left stopped after several crashes in a row. Always on its own SQLite
file, whatever database the suite runs on: run.sh is about the embedded default."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.acceptance.workers import child_pids, pid_alive, wait_for
from tests.conftest import REPO

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["bash", "scripts/run.sh"],
        cwd=REPO,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_healthy(base: str, process: subprocess.Popen[bytes], log: Path) -> dict[str, object]:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            status, body = get(base + "/api/health")
            if status == 200:
                return dict(json.loads(body))
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError("run.sh did not serve /api/health in time:\n" + log.read_text())


def stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


def run_env(tmp_path: Path, port: int) -> dict[str, str]:
    """run.sh's environment: its own port and its own SQLite file under ``tmp_path``."""
    env = dict(os.environ)
    env.pop("MONGODB_URI", None)
    env.update(
        HOST="127.0.0.1",
        PORT=str(port),
        JOBCENTER_VAR_DIR=str(tmp_path / "var"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'var' / 'jobcenter.sqlite3'}",
    )
    return env


def submit_echo(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``manage.py submit echo --wait``: exits 0 once a worker completed the job."""
    return subprocess.run(
        [sys.executable, "manage.py", "submit", "echo", "--param", "message=hi", "--wait"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_run_script_serves_admin_api_and_a_worker_then_stops(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = run_env(tmp_path, port)
    first_log = tmp_path / "first.log"
    process = start(env, first_log)
    try:
        health = wait_healthy(base, process, first_log)
        assert health["database"] == "sqlite"
        submit = submit_echo(env)
        assert submit.returncode == 0, submit.stderr
        assert submit.stdout.strip().endswith("completed")
        assert get(base + "/admin/login/")[0] == 200
        assert get(base + "/static/admin/css/base.css")[0] == 200
        assert get(base + "/api/openapi.json")[0] == 200
        # The API docs with the Swagger UI that django-ninja bundles, collected and served
        # here (a CDN copy left the page blank without internet access).
        status, docs = get(base + "/api/docs")
        assert status == 200 and b"cdn" not in docs
        bundle = re.search(rb'src="(/static/ninja/swagger-ui-bundle\.[0-9a-f]+\.js)"', docs)
        assert bundle, docs
        assert get(base + bundle.group(1).decode())[0] == 200
    finally:
        code = stop(process)
    output = first_log.read_text()
    assert code == 0, output
    assert "username: admin" in output
    assert "password: " in output
    assert "Stopped." in output
    assert "stopped after 1 jobs" in output

    # A second start reuses everything and does not print a password again.
    second_log = tmp_path / "second.log"
    process = start(env, second_log)
    try:
        wait_healthy(base, process, second_log)
    finally:
        code = stop(process)
    assert code == 0
    assert "password: " not in second_log.read_text()


def run_script_worker(process: subprocess.Popen[bytes]) -> int | None:
    """The pid of run.sh's worker: the child of the run.sh process this test started (never
    a process found by name) whose command line runs ``runworker``."""
    for pid in child_pids(process.pid):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            if b"runworker" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"):
                return pid
    return None


def worker_status(env: dict[str, str], pid: int) -> str | None:
    """The status of the newest Worker row of ``pid``, read from run.sh's SQLite file."""
    path = env["DATABASE_URL"].removeprefix("sqlite:///")
    with contextlib.closing(sqlite3.connect(path, timeout=5)) as database:
        row = database.execute(
            "SELECT status FROM jobs_worker WHERE pid = ? ORDER BY started_at DESC LIMIT 1",
            [pid],
        ).fetchone()
    return row[0] if row else None


def restarted_or_given_up(
    process: subprocess.Popen[bytes], log: Path, killed: int
) -> int | str | None:
    """After run.sh's worker ``killed`` was killed: the pid of the worker started in its
    place, or "given up" once run.sh said it will not start another."""
    if "not starting it again" in log.read_text(errors="replace"):
        return "given up"
    pid = run_script_worker(process)
    return pid if pid not in (None, killed) else None


def test_a_crashed_worker_is_restarted_while_the_web_server_keeps_serving(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = run_env(tmp_path, port)
    log = tmp_path / "run.log"
    process = start(env, log)
    started: set[int] = set()  # every process group run.sh started, killed at the end

    def output() -> str:
        return log.read_text(errors="replace")

    def new_worker(old: int | None, timeout: float = 30) -> int:
        def found() -> int | None:
            assert process.poll() is None, output()
            pid = run_script_worker(process)
            return pid if pid is not None and pid != old else None

        pid = wait_for(found, timeout=timeout, message=lambda: f"no new worker:\n{output()}")
        started.add(pid)
        return pid

    try:
        assert wait_healthy(base, process, log)["database"] == "sqlite"
        started.update(child_pids(process.pid))
        first = new_worker(None)
        wait_for(
            lambda: worker_status(env, first) == "running",
            timeout=60,
            message=lambda: f"worker {first} not running:\n{output()}",
        )

        os.kill(first, signal.SIGKILL)
        # Through the crash and the pause before the restart, the API answers.
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            assert get(base + "/api/health")[0] == 200, output()
            time.sleep(0.1)
        second = new_worker(first)
        wait_for(
            lambda: worker_status(env, second) == "running",
            timeout=60,
            message=lambda: f"restarted worker {second} not running:\n{output()}",
        )
        assert not pid_alive(first)
        submit = submit_echo(env)
        assert submit.returncode == 0, submit.stderr + output()
        assert submit.stdout.strip().endswith("completed")
        assert (
            f"The worker (pid {first}) stopped unexpectedly (killed by signal 9); "
            "starting a new one in 2 s." in output()
        )

        # A worker that keeps crashing soon after its start is left stopped, after a clear
        # message; the web server keeps serving.
        worker = second
        for _ in range(6):
            os.kill(worker, signal.SIGKILL)
            step = wait_for(
                functools.partial(restarted_or_given_up, process, log, worker),
                timeout=30,
                message=lambda: f"neither restarted nor given up:\n{output()}",
            )
            if not isinstance(step, int):
                break
            worker = step
            started.add(worker)
        assert "crashed 5 times in a row" in output()
        assert "not starting it again" in output()
        time.sleep(0.5)
        assert run_script_worker(process) is None
        status, body = get(base + "/api/health")
        assert status == 200, body
        assert process.poll() is None
    finally:
        code = stop(process)
        for pid in started:  # anything of run.sh's still alive: uvicorn, a worker, its children
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
    text = output()
    assert code == 0, text
    assert "Stopped." in text
