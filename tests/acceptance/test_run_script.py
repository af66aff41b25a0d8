"""The README's first command, ./scripts/run.sh, as a user runs it: it installs (here:
finds everything installed), migrates a fresh SQLite database, prints the admin password
once, serves the admin, the API and static files, runs a worker that completes a job, and
stops both on SIGTERM. Always on its own SQLite file, whatever database the suite runs on:
run.sh is about the embedded default."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

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


def test_run_script_serves_admin_api_and_a_worker_then_stops(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ)
    env.pop("MONGODB_URI", None)
    env.update(
        HOST="127.0.0.1",
        PORT=str(port),
        JOBCENTER_VAR_DIR=str(tmp_path / "var"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'var' / 'jobcenter.sqlite3'}",
    )
    first_log = tmp_path / "first.log"
    process = start(env, first_log)
    try:
        health = wait_healthy(base, process, first_log)
        assert health["database"] == "sqlite"
        submit = subprocess.run(
            [sys.executable, "manage.py", "submit", "echo", "--param", "message=hi", "--wait"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
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
