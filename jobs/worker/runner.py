"""The worker: a dispatcher that hands claimed jobs to warm child processes.

Two threads. The dispatcher (this module, the main thread) owns the children and the
signals: it waits on the children's pipes, a signal pipe and a wake-up pipe with
``multiprocessing.connection.wait``, so it sleeps when there is nothing to do and reacts at
once when a child reports, jobs arrive or a signal comes. It enforces timeouts and cancel
requests by killing children, and never touches the database: everything it learns goes to
the database thread (jobs/worker/database.py), which claims ahead and writes outcomes
several per transaction. So children never wait for a database round trip.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from typing import Any

from django.conf import settings
from django.utils import timezone

from jobs import queue
from jobs.queue import ClaimedJob, Outcome, Start
from jobs.worker.database import DatabaseSide, LogLine, Progress, Stopped
from jobs.worker.pool import Pool, Slot
from jobs.worker.retry import RetryStrategy
from jobs.worker.webhooks import DeliveryThread
from processors.registry import get_registry, limits

logger = logging.getLogger("jobcenter.worker")

PREFETCH_WINDOW_SECONDS = 0.1
MAX_PREFETCH = 100


@dataclass
class WorkerConfig:
    concurrency: int = field(default_factory=lambda: os.cpu_count() or 1)
    job_types: list[str] = field(default_factory=list)
    exclude_types: list[str] = field(default_factory=list)
    poll_interval: float = 1.0
    burst: bool = False
    max_jobs: int | None = None
    shutdown_timeout: float = 30.0
    name: str = ""
    lease_seconds: float = 60.0
    heartbeat_seconds: float = 5.0
    cancel_grace_seconds: float = 10.0
    child_max_memory_mb: int = 2048
    retry: RetryStrategy = field(default_factory=RetryStrategy)

    @classmethod
    def from_settings(cls, **overrides: Any) -> WorkerConfig:
        values: dict[str, Any] = {
            "lease_seconds": settings.JOBCENTER_LEASE_SECONDS,
            "heartbeat_seconds": settings.JOBCENTER_HEARTBEAT_SECONDS,
            "cancel_grace_seconds": settings.JOBCENTER_CANCEL_GRACE_SECONDS,
            "child_max_memory_mb": settings.JOBCENTER_CHILD_MAX_MEMORY_MB,
        }
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)


class JobWorker:
    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.host = socket.gethostname()
        self.worker_id = f"{self.host}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.name = config.name or self.worker_id
        self.jobs_done = 0
        self.idle_children = 0
        self.started_total = 0
        """Jobs taken from the buffer to a child, ever (read by the database thread)."""
        self.stop_requested = 0
        self.shutdown_deadline = float("inf")
        self._avg_runtime: float | None = None
        self._held_lock = threading.Lock()
        self._held: set[str] = set()
        self._signal_r, self._signal_w = socket.socketpair()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_w.setblocking(False)
        self.pool: Pool | None = None
        self.db = DatabaseSide(self)
        self.deliveries = DeliveryThread()

    # --- shared with the database thread ----------------------------------------------------

    def wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            self._wake_w.send(b"x")

    def held_jobs(self) -> list[str]:
        with self._held_lock:
            return list(self._held)

    def expect_long_jobs(self, seconds: float) -> None:
        """Claimed jobs waited ``seconds`` for a free child: the jobs run now are longer
        than the average of the earlier ones, so claim ahead as for jobs this long."""
        self._avg_runtime = max(self._avg_runtime or 0.0, seconds)

    def prefetch(self) -> int:
        """Claim ahead enough jobs to keep the children busy for PREFETCH_WINDOW_SECONDS:
        many for tiny jobs, none beyond one per child for long ones (which would only sit
        here while other workers idle)."""
        if self._avg_runtime is None:
            return self.config.concurrency
        per_child = PREFETCH_WINDOW_SECONDS / max(self._avg_runtime, 1e-4)
        return max(0, min(MAX_PREFETCH, int(per_child * self.config.concurrency)))

    # --- lifecycle --------------------------------------------------------------------------

    def run(self) -> int:
        config = self.config
        queue.register_worker(
            self.worker_id,
            name=self.name,
            host=self.host,
            pid=os.getpid(),
            job_types=config.job_types,
            exclude_types=config.exclude_types,
            concurrency=config.concurrency,
        )
        self._install_signal_handlers()
        logger.info(
            "worker %s started: concurrency %d, job types %s",
            self.name,
            config.concurrency,
            ",".join(config.job_types) or "all",
        )
        self.pool = Pool(config.concurrency, config.child_max_memory_mb)
        try:
            self.pool.wait_for_ready(timeout=120)
            self.db.start()
            self.deliveries.start()
            while not self._finished():
                self._step()
        finally:
            self._shutdown()
        return 0

    def _finished(self) -> bool:
        assert self.pool is not None
        running = bool(self.pool.busy())
        if self.stop_requested >= 2:
            return True
        if self.stop_requested:
            return not running
        if not self.db.is_alive():
            logger.error("the database thread stopped; stopping the worker")
            return True
        if self.config.max_jobs is not None and self.jobs_done >= self.config.max_jobs:
            return not running
        return (
            self.config.burst
            and self.db.nothing_to_claim
            and not running
            and not self.db.buffer
            and not self.db.busy
        )

    def _step(self) -> None:
        assert self.pool is not None
        self._wait_and_read(self._wait_timeout())
        self._handle_events()
        self._check_children()
        if self.stop_requested and time.monotonic() >= self.shutdown_deadline:
            self._stop_running_jobs()
        self._dispatch()

    def _wait_timeout(self) -> float:
        assert self.pool is not None
        if self.db.buffer and self.pool.idle() and not self.stop_requested:
            return 0.0
        now = time.monotonic()
        timeouts = [self.config.poll_interval]
        for slot in self.pool.busy():
            timeouts.append(slot.deadline - now)
            if slot.stop_deadline is not None:
                timeouts.append(slot.stop_deadline - now)
        if self.stop_requested:
            timeouts.append(self.shutdown_deadline - now)
        return max(0.0, min(timeouts))

    # --- children ---------------------------------------------------------------------------

    def _wait_and_read(self, timeout: float) -> None:
        assert self.pool is not None
        sources: list[Any] = [slot.conn for slot in self.pool.slots if not slot.conn.closed]
        sources += [self._signal_r, self._wake_r]
        for ready in wait(sources, timeout):
            if ready is self._signal_r:
                self._signal_r.recv(64)
            elif ready is self._wake_r:
                self._wake_r.recv(4096)
            else:
                slot = self.pool.by_connection(ready)
                if slot is not None:
                    self._read_child(slot)

    def _read_child(self, slot: Slot) -> None:
        assert self.pool is not None
        while True:
            try:
                if not slot.conn.poll():
                    return
                message = slot.conn.recv()
            except (EOFError, OSError):
                self._child_died(slot)
                return
            kind = message[0]
            if kind == "ready":
                slot.ready = True
            elif kind == "progress":
                percent, step, text = message[2]
                value = {"percent": percent, "step": step, "message": text}
                self.db.post(Progress(message[1], value))
            elif kind == "log":
                level, text = message[2]
                self.db.post(LogLine(message[1], level, text))
            elif kind == "recycle":
                logger.info("child %s passed its memory limit; replacing it", message[1])
                slot.ready = False  # no new job for it; replaced once its outcome is in
            else:
                self._attempt_ended(slot, kind, message)
                if not slot.ready:
                    self.pool.replace(slot, fresh=not self.stop_requested)
                    return
                self._dispatch()

    def _attempt_ended(self, slot: Slot, kind: str, message: tuple[Any, ...]) -> None:
        _, job_id, payload, retryable = message
        job, lost, cancelled = slot.job, slot.lost, slot.cancel.is_set()
        elapsed = time.monotonic() - slot.started
        self._release(slot)
        if job is None or job.job_id != job_id:
            return
        self._avg_runtime = (
            elapsed if self._avg_runtime is None else 0.8 * self._avg_runtime + 0.2 * elapsed
        )
        if lost:
            logger.info("job %s ended (%s) but is no longer ours; dropped", job_id, kind)
            self.db.post(Stopped(job_id))
        elif cancelled or kind == "cancelled":
            self._record(
                Outcome(job_id, "cancelled", attempt=job.attempt), f"cancelled after {elapsed:.2f}s"
            )
        elif kind == "completed":
            self._record(
                Outcome(job_id, "completed", results=payload, attempt=job.attempt),
                f"completed in {elapsed:.3f}s",
            )
        else:
            self._failed(job, payload, retryable)

    def _failed(self, job: ClaimedJob, error: dict[str, Any], retryable: bool) -> None:
        strategy = self.config.retry
        if strategy.should_retry(job.attempt, job.max_attempts, retryable):
            delay = strategy.delay(job.attempt)
            self._record(
                Outcome(job.job_id, "retry", error=error, retry_delay=delay, attempt=job.attempt),
                f"failed with {error['code']}; retry in {delay:.1f}s "
                f"(attempt {job.attempt}/{job.max_attempts})",
            )
        else:
            self._record(
                Outcome(job.job_id, "failed", error=error, attempt=job.attempt),
                f"failed with {error['code']} (attempt {job.attempt}/{job.max_attempts})",
            )

    def _record(self, outcome: Outcome, description: str) -> None:
        logger.info("job %s %s", outcome.job_id, description)
        self.db.post(outcome)

    def _release(self, slot: Slot, *, ended: bool = True) -> ClaimedJob | None:
        """The slot's job, no longer held; ``ended``: its attempt ended here (a job handed
        back at shutdown did not, and is not counted as done)."""
        job = slot.release()
        if job is not None:
            self.jobs_done += ended
            with self._held_lock:
                self._held.discard(job.job_id)
        return job

    def _child_died(self, slot: Slot) -> None:
        """The child exited or crashed: segfault, sys.exit, the OOM killer."""
        assert self.pool is not None
        slot.process.join(timeout=1)
        code = slot.process.exitcode
        lost = slot.lost
        job = self._release(slot)
        self.pool.replace(slot, fresh=not self.stop_requested)
        if job is None:
            logger.warning("an idle child exited (code %s); replaced", code)
            return
        if lost:
            self.db.post(Stopped(job.job_id))
            return
        how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        error = {
            "code": "PROCESSOR_CRASHED",
            "message": f"The processor's process ended unexpectedly ({how}).",
            "details": {"exitcode": code},
        }
        self._failed(job, error, retryable=True)

    def _check_children(self) -> None:
        """Enforce timeouts and stop requests by killing the child."""
        assert self.pool is not None
        now = time.monotonic()
        for slot in list(self.pool.busy()):
            if slot.stop_deadline is not None and now >= slot.stop_deadline:
                cancelled, lost = slot.cancel.is_set(), slot.lost
                job = self._release(slot)
                self.pool.replace(slot)
                if job is not None and lost:
                    self.db.post(Stopped(job.job_id))
                elif job is not None and cancelled:
                    logger.warning("job %s did not stop in time; killed", job.job_id)
                    self._record(
                        Outcome(job.job_id, "cancelled", attempt=job.attempt), "cancelled (killed)"
                    )
            elif now >= slot.deadline:
                timeout = slot.deadline - slot.started
                job = self._release(slot)
                self.pool.replace(slot)
                if job is not None:
                    error = {
                        "code": "TIMEOUT",
                        "message": f"The job ran longer than its timeout of {timeout:g}s.",
                        "details": {"timeout_seconds": timeout},
                    }
                    self._failed(job, error, retryable=True)

    def _handle_events(self) -> None:
        """Cancel requests and lost jobs found by the database thread."""
        assert self.pool is not None
        while not self.db.events.empty():
            kind, job_id = self.db.events.get_nowait()
            slot = next((s for s in self.pool.busy() if s.job and s.job.job_id == job_id), None)
            if slot is not None:
                if not (slot.lost or slot.cancel.is_set()):  # asked once is enough to say
                    logger.info("job %s: %s; asking it to stop", job_id, kind)
                slot.ask_to_stop(self.config.cancel_grace_seconds, lost=kind == "lost")
                continue
            queued = next((job for job in list(self.db.buffer) if job.job_id == job_id), None)
            if queued is not None:
                try:
                    self.db.buffer.remove(queued)
                except ValueError:  # the database thread handed it back meanwhile
                    continue
                if kind == "cancel":
                    self._record(
                        Outcome(job_id, "cancelled", attempt=queued.attempt),
                        "cancelled before it started",
                    )
                else:
                    self.db.post(Stopped(job_id))

    def _dispatch(self) -> None:
        assert self.pool is not None
        if not self.stop_requested:
            for slot in self.pool.idle():
                try:
                    job = self.db.buffer.popleft()
                except IndexError:
                    break
                self.started_total += 1
                processor = get_registry().processors.get(job.job_type)
                timeout = float(limits(processor)["timeout"] or 3600) if processor else 60.0
                with self._held_lock:
                    self._held.add(job.job_id)
                # Its attempt begins now, not when it was claimed: it may have waited in
                # the prefetch. Posted before the task is sent, so that it is written before
                # any outcome of the attempt.
                self.db.post(Start(job.job_id, job.attempt, timezone.now()))
                try:
                    slot.assign(job, timeout)
                except OSError:
                    self._child_died(slot)
        idle = len(self.pool.idle())
        if idle != self.idle_children:
            self.idle_children = idle
            self.db.wake()

    # --- stopping ---------------------------------------------------------------------------

    def _install_signal_handlers(self) -> None:
        self._signal_w.setblocking(False)
        signal.set_wakeup_fd(self._signal_w.fileno(), warn_on_full_buffer=False)
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, frame: object) -> None:
        self.stop_requested += 1
        name = signal.Signals(signum).name
        if self.stop_requested == 1:
            self.db.claiming = False
            self.shutdown_deadline = time.monotonic() + self.config.shutdown_timeout
            logger.info(
                "%s: no new jobs; running ones may finish for %gs (send again to stop now)",
                name,
                self.config.shutdown_timeout,
            )
        else:
            logger.info("%s again: stopping now", name)

    def _stop_running_jobs(self) -> None:
        """Kill children still running jobs and hand the jobs back to pending without
        spending an attempt."""
        assert self.pool is not None
        for slot in list(self.pool.busy()):
            lost = slot.lost
            job = self._release(slot, ended=False)
            self.pool.replace(slot, fresh=False)
            if job is not None and lost:
                self.db.post(Stopped(job.job_id))
            elif job is not None:
                self._record(
                    Outcome(job.job_id, "released", attempt=job.attempt),
                    "handed back to pending (shutdown)",
                )

    def _shutdown(self) -> None:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        self.db.claiming = False
        # A second signal means "now": the children are killed at once instead of after the
        # shutdown timeout, and the database gets seconds, not a minute, to take the jobs
        # back (when it does not answer, their leases cover them).
        immediate = self.stop_requested >= 2
        if self.pool is not None:
            self._stop_running_jobs()
        while self.db.buffer:
            job = self.db.buffer.popleft()
            self._record(
                Outcome(job.job_id, "released", attempt=job.attempt),
                "handed back to pending (not started)",
            )
        if self.db.is_alive():
            self.db.finish()
            self.db.join(timeout=5 if immediate else 60)
        self.deliveries.stop()
        if self.pool is not None:
            self.pool.close(timeout=0 if immediate else 5)
        logger.info("worker %s stopped after %d jobs", self.name, self.jobs_done)
