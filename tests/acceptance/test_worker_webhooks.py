"""Webhooks delivered by running workers to a real HTTP receiver on 127.0.0.1: signed with
HMAC-SHA256 of the exact body, retried with backoff, refused for private addresses unless
the deployment allows them, and a refusal written to the job's log and the worker's."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from batches.services import create_batch
from jobs import services
from jobs.models import JobLog, WebhookDelivery
from tests.acceptance.workers import Workers, wait_for, wait_for_status

pytestmark = pytest.mark.slow

SECRET = "s3cret-for-tests"


class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST and answers with the next status
    of ``statuses`` (then 200)."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.requests: list[tuple[str, dict[str, str], bytes, float]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {key.lower(): value for key, value in self.headers.items()}
                receiver.requests.append((self.path, headers, body, time.monotonic()))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def flaky_receiver() -> Iterator[Receiver]:
    server = Receiver([500, 500])
    yield server
    server.close()


def expected_signature(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def received(receiver: Receiver, count: int, workers: Workers, timeout: float = 20) -> Any:
    return wait_for(
        lambda: len(receiver.requests) >= count and receiver.requests,
        timeout=timeout,
        message=lambda: f"{len(receiver.requests)} of {count} webhooks: {workers.describe()}",
    )


def test_signed_job_and_batch_webhooks_and_retries(
    workers: Workers, receiver: Receiver, flaky_receiver: Receiver, tmp_path: Path
) -> None:
    workers.start("--concurrency", "2", env={"JOBCENTER_WEBHOOK_ALLOW_PRIVATE": "1"})
    hook = {"url": receiver.url("/jobs"), "secret": SECRET}
    completed = services.enqueue("echo", {"message": "hi"}, webhook=hook).pk
    failed = services.enqueue("echo", {"fail_with": "NOPE"}, webhook=hook).pk
    wait_for_status([completed, failed], {"completed", "failed"}, workers)
    requests = received(receiver, 2, workers)

    by_job = {}
    for path, headers, body, _ in requests:
        assert path == "/jobs"
        assert headers["content-type"] == "application/json"
        # The signature is of the exact bytes sent.
        assert hmac.compare_digest(headers["x-jobcenter-signature"], expected_signature(body))
        payload = json.loads(body)
        by_job[payload["job_id"]] = payload
        assert headers["x-jobcenter-event"] == payload["event"]
    assert set(by_job) == {completed, failed}

    ok = by_job[completed]
    assert (ok["event"], ok["job_type"], ok["status"]) == ("job.completed", "echo", "completed")
    assert ok["results"] == {"message": "hi", "steps_done": 1}
    assert ok["error"] is None
    created, started, ended = (
        datetime.fromisoformat(ok[key]) for key in ("created_at", "started_at", "completed_at")
    )
    assert created <= started <= ended
    bad = by_job[failed]
    assert (bad["event"], bad["status"]) == ("job.failed", "failed")
    assert bad["error"]["code"] == "NOPE"
    # The receiver answers before the worker records the delivery: wait for the rows.
    wait_for(
        lambda: WebhookDelivery.objects.filter(status="delivered", attempts=1).count() == 2,
        timeout=10,
        message=lambda: (
            f"deliveries: {list(WebhookDelivery.objects.values())}\n" + workers.describe()
        ),
    )

    # A batch's webhook fires once, when its last job ends; without a secret, no signature.
    batch = create_batch(
        "hooked",
        [{"job_type": "echo", "parameters": {"message": str(n)}} for n in range(3)],
        webhook={"url": receiver.url("/batches")},
    )
    wait_for_status(batch.job_ids, "completed", workers)
    requests = received(receiver, 3, workers)
    time.sleep(1.5)  # a second batch delivery would have come by now
    batch_requests = [item for item in receiver.requests if item[0] == "/batches"]
    assert len(batch_requests) == 1
    _, headers, body, _ = batch_requests[0]
    assert "x-jobcenter-signature" not in headers
    payload = json.loads(body)
    assert (payload["event"], payload["batch_id"], payload["status"]) == (
        "batch.completed",
        batch.batch.pk,
        "completed",
    )
    assert (payload["total_jobs"], payload["completed_jobs"], payload["failed_jobs"]) == (3, 3, 0)

    # A receiver failing twice gets the same signed body three times, with growing pauses.
    retried = services.enqueue(
        "echo", {"message": "again"}, webhook={"url": flaky_receiver.url(), "secret": SECRET}
    ).pk
    requests = received(flaky_receiver, 3, workers)
    times = [at for *_, at in requests]
    assert times[1] - times[0] >= 0.2 and times[2] - times[1] >= 0.4
    bodies = {body for _, _, body, _ in requests}
    assert len(bodies) == 1
    assert json.loads(bodies.pop())["job_id"] == retried
    assert all(
        headers["x-jobcenter-signature"] == expected_signature(body)
        for _, headers, body, _ in requests
    )
    delivery = wait_for(
        lambda: WebhookDelivery.objects.filter(job_id=retried, status="delivered").first(),
        timeout=10,
        message="delivery not marked delivered",
    )
    assert delivery.attempts == 3
    assert delivery.delivered_at is not None
    time.sleep(0.5)
    assert len(flaky_receiver.requests) == 3


def test_private_address_refused_without_permission(workers: Workers, receiver: Receiver) -> None:
    worker = workers.start("--concurrency", "1")
    job_id = services.enqueue(
        "echo", {"message": "x"}, webhook={"url": receiver.url(), "secret": SECRET}
    ).pk
    wait_for_status(job_id, "completed", workers)
    delivery = wait_for(
        lambda: WebhookDelivery.objects.filter(job_id=job_id, status="failed").first(),
        timeout=15,
        message=lambda: f"delivery not refused: {list(WebhookDelivery.objects.values())}",
    )
    assert "127.0.0.1" in delivery.last_error and "non-public" in delivery.last_error
    assert delivery.attempts == 1
    time.sleep(0.5)
    assert receiver.requests == []
    # Refused is not silent: one warning in the job's log (API, admin) and in the worker's.
    [line] = JobLog.objects.filter(job_id=job_id, message__startswith="Webhook")
    assert line.level == "warning"
    assert line.message.startswith(f"Webhook to {receiver.url()} failed: ")
    assert "non-public" in line.message
    warnings = [
        text
        for text in worker.output().splitlines()
        if " WARNING " in text and "webhook" in text and job_id in text
    ]
    assert len(warnings) == 1 and receiver.url() in warnings[0], worker.describe()
