"""PostgreSQL only: LISTEN/NOTIFY wake-ups, and the database going away under running
workers (connections killed; the server restarted) without a job lost or run twice."""

from __future__ import annotations

import os
import shlex
import signal
import statistics
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connection, connections

from batches.models import Batch
from batches.services import create_batch, recount_batch
from jobs import services
from jobs.models import Job
from jobs.states import JobStatus
from tests.acceptance.workers import Workers, wait_for_status
from tests.conftest import database_url
from tests.worker_processors import read_records

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only"),
]


def test_idle_worker_is_woken_by_notify(workers: Workers, tmp_path: Path) -> None:
    """With a 30 s poll interval and a 30 s heartbeat, the only way a job starts within a
    second or two is the NOTIFY sent when it was enqueued."""
    runs = tmp_path / "runs.txt"
    workers.start(
        "--concurrency",
        "1",
        "--poll-interval",
        "30",
        env={"JOBCENTER_HEARTBEAT_SECONDS": "30", "JOBCENTER_LEASE_SECONDS": "90"},
    )
    time.sleep(1)  # idle: its last claim found nothing
    latencies = []
    for n in range(5):
        enqueued = time.time()
        job_id = services.enqueue("record", {"path": str(runs)}).pk
        wait_for_status(job_id, "completed", workers, timeout=10)
        latencies.append(read_records(runs)[n].at - enqueued)
        time.sleep(0.3)
    print(f"NOTIFY pickup latencies: {[round(x, 3) for x in latencies]}")
    assert max(latencies) < 3, latencies
    assert statistics.median(latencies) < 1, latencies


def drain(
    workers: Workers, tmp_path: Path, disrupt: Any, jobs: int, *, lease_seconds: str = "3"
) -> None:
    """Two workers drain a batch while ``disrupt()`` takes the database away; every job
    must run exactly once, the counters be exact, and the workers still stop cleanly."""
    runs = tmp_path / "runs.txt"
    created = create_batch(
        "outage",
        [
            {"job_type": "record", "parameters": {"path": str(runs), "seconds": 0.01}}
            for _ in range(jobs)
        ],
    )
    processes = workers.start_many(
        2, "--concurrency", "2", env={"JOBCENTER_LEASE_SECONDS": lease_seconds}
    )
    disrupt()
    connections.close_all()  # the test's own connection may have been cut too
    unfinished = Job.objects.filter(batch=created.batch).exclude(status="completed").count()
    assert unfinished > 0, "the outage came too late to test anything"
    wait_for_status(created.job_ids, "completed", workers, timeout=90)

    executions = Counter(item.job_id for item in read_records(runs))
    assert set(executions) == set(created.job_ids)
    assert [job_id for job_id, count in executions.items() if count != 1] == []
    assert recount_batch(created.batch.pk, dry_run=True) == {}
    batch = Batch.objects.get(pk=created.batch.pk)
    assert (batch.completed_jobs, batch.status) == (jobs, JobStatus.COMPLETED)
    assert Job.objects.filter(batch=created.batch, status="completed").count() == jobs
    for worker in processes:
        assert worker.alive(), worker.describe()
        worker.send(signal.SIGTERM)
    for worker in processes:
        assert worker.wait(30) == 0, worker.describe()
    assert "database unavailable" in "".join(worker.output() for worker in processes)


def terminate_backends() -> int:
    """Kill every connection to the test database but this one (what a restart does to
    them), without touching other databases on the shared server."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return int(cursor.fetchone()[0])


def test_connections_killed_mid_drain(workers: Workers, tmp_path: Path) -> None:
    def disrupt() -> None:
        killed = []
        for _ in range(4):
            time.sleep(0.4)
            killed.append(terminate_backends())
        # Some rounds find no connection: the workers are still backing off from the last.
        assert sum(bool(count) for count in killed) >= 2, killed

    drain(workers, tmp_path, disrupt, jobs=1000)


def _restart_enabled(config: pytest.Config) -> bool:
    expression = config.getoption("markexpr") or ""
    return "pg_restart" in expression and "not pg_restart" not in expression


@pytest.mark.pg_restart
def test_server_restarted_mid_drain(
    workers: Workers, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The real thing: ``pg_ctlcluster … restart`` while workers drain. Restarts the whole
    server, so it runs only when selected with ``-m pg_restart`` (CI), never by default.
    Leases are longer than the outage so that no running job is reaped meanwhile."""
    if not _restart_enabled(request.config):
        pytest.skip("restarts the PostgreSQL server: select it with -m pg_restart")
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"]

    def disrupt() -> None:
        # Restart mid-drain: once the workers are up and have finished some jobs.
        deadline = time.monotonic() + 30
        while Job.objects.filter(status="completed").count() < 100:
            assert time.monotonic() < deadline, "the workers never started"
            time.sleep(0.1)
        connections.close_all()
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"{shlex.join(command)}: {result.stderr}"
        deadline = time.monotonic() + 60
        while True:
            try:
                psycopg.connect(database_url(), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    drain(workers, tmp_path, disrupt, jobs=2000, lease_seconds="30")
