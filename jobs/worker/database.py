"""The worker's database side: one thread that does all of the worker's database work.

The dispatcher (jobs/worker/runner.py) never waits on the database: it posts outcomes,
progress and log lines here and takes claimed jobs from ``buffer``. This thread writes
what was posted several jobs per transaction, keeps ``buffer`` filled ahead of free
children, renews leases, reaps expired ones and keeps the Worker row fresh. While the
database is unreachable it keeps everything posted and retries with backoff, so nothing
is lost; the compare-and-set in every write means nothing is recorded twice.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import queue as thread_queue
import socket
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any

from django.db import DatabaseError, InterfaceError, OperationalError, connections

from jobs import queue
from jobs.queue import ClaimedJob, Outcome, Start
from jobs.worker.wakeup import Listener

logger = logging.getLogger("jobcenter.worker")

PROGRESS_FLUSH_SECONDS = 0.5
MAX_DB_BACKOFF_SECONDS = 30.0
HAND_BACK_SECONDS = 2.0
"""The least time claimed jobs wait without any child taking one before the surplus goes
back to pending (else two heartbeats)."""


@dataclass(frozen=True)
class Progress:
    job_id: str
    value: dict[str, Any]


@dataclass(frozen=True)
class LogLine:
    job_id: str
    level: str
    message: str


@dataclass(frozen=True)
class Stopped:
    """The attempt of a job that is no longer ours (an operator took it) has stopped here:
    the job's hold is released (``queue.release_holds``)."""

    job_id: str


class DatabaseSide(threading.Thread):
    def __init__(self, worker: Any) -> None:
        super().__init__(name="jobcenter-db", daemon=True)
        self.worker = worker
        self.config = worker.config
        self.inbox: thread_queue.SimpleQueue[Outcome | Start | Progress | LogLine | Stopped] = (
            thread_queue.SimpleQueue()
        )
        self.buffer: collections.deque[ClaimedJob] = collections.deque()
        """Claimed jobs waiting for a free child (filled here, emptied by the dispatcher)."""
        self.events: thread_queue.SimpleQueue[tuple[str, str]] = thread_queue.SimpleQueue()
        """("cancel" | "lost", job_id) for the dispatcher."""
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_w.setblocking(False)
        self.claiming = True
        self.nothing_to_claim = False
        self.claimed_total = 0
        self.busy = False
        """True while posted items are not yet written (burst mode waits for it)."""
        self._finish = False
        self._stopped = False
        self._starts: list[Start] = []
        self._outcomes: list[Outcome] = []
        self._progress: dict[str, dict[str, Any]] = {}
        self._logs: list[tuple[str, str, str]] = []
        self._holds: list[str] = []
        self._next_housekeeping = 0.0
        self._started_seen = 0
        self._waiting_since = time.monotonic()
        self._next_progress_flush = 0.0
        self._backoff = 0.0
        self._retry_at = 0.0
        self._listener: Listener | None = None

    # --- called by the dispatcher -----------------------------------------------------------

    def post(self, item: Outcome | Start | Progress | LogLine | Stopped) -> None:
        self.busy = True
        self.inbox.put(item)
        self.wake()

    def wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):  # full: already woken
            self._wake_w.send(b"x")

    def finish(self) -> None:
        """Write what is posted, mark the worker stopped, and end the thread."""
        self.claiming = False
        self._finish = True
        self.wake()

    # --- the thread -------------------------------------------------------------------------

    def run(self) -> None:
        try:
            self._listener = Listener.create()
        except Exception as exc:  # the worker still works by polling
            logger.warning("cannot LISTEN for new jobs (%s); polling", exc)
        try:
            while True:
                self._wait(self._timeout())
                self._drain_inbox()
                if time.monotonic() >= self._retry_at:
                    try:
                        self._sync()
                        self._backoff = 0.0
                    except (OperationalError, InterfaceError) as exc:
                        self._database_down(exc)
                # _stopped, not _finish: finish() may come from the main thread after
                # _sync() ran, and the worker row must still be marked stopped.
                if self._stopped and not self._outcomes and self.inbox.empty():
                    break
                if self._finish and self._backoff >= MAX_DB_BACKOFF_SECONDS:
                    logger.warning("giving up on the database; leases cover the rest")
                    break
        finally:
            if self._listener is not None:
                self._listener.close()
            connections.close_all()

    def _timeout(self) -> float:
        now = time.monotonic()
        if not self.inbox.empty() or self._finish:
            return 0.0
        timeouts = [self._next_housekeeping - now]
        if self._retry_at > now:
            return max(0.0, self._retry_at - now)
        if self._progress:
            timeouts.append(self._next_progress_flush - now)
        if self._starts or self._outcomes or self._logs or self._holds:
            timeouts.append(0.0)
        if self.claiming and self._wanted() > 0:
            timeouts.append(self.config.poll_interval if self.nothing_to_claim else 0.0)
        return max(0.0, min(timeouts))

    def _wait(self, timeout: float) -> None:
        sources: list[Any] = [self._wake_r]
        if self._listener is not None and self._listener.connected:
            sources.append(self._listener)
        for ready in wait(sources, timeout):
            if ready is self._wake_r:
                self._wake_r.recv(4096)
            elif self._listener is not None and self._listener.drain():
                self.nothing_to_claim = False

    def _drain_inbox(self) -> None:
        while True:
            try:
                item = self.inbox.get_nowait()
            except thread_queue.Empty:
                return
            if isinstance(item, Outcome):
                self._outcomes.append(item)
                self._progress.pop(item.job_id, None)
            elif isinstance(item, Start):
                self._starts.append(item)
            elif isinstance(item, Progress):
                self._progress[item.job_id] = item.value
            elif isinstance(item, Stopped):
                self._holds.append(item.job_id)
            else:
                self._logs.append((item.job_id, item.level, item.message))

    def _sync(self) -> None:
        # Log lines first: a processor's last lines belong before its "Completed." (they are
        # timestamped when written) and are there by the time the job shows as ended.
        if self._logs:
            queue.save_logs(self._logs)
            self._logs = []
        # Starts before outcomes: a job's start is stamped before its attempt's end, and
        # a worker that dies after a child took a job has spent that attempt.
        if self._starts:
            queue.start_jobs(self.worker.worker_id, self._starts)
            self._starts = []
        if self._outcomes:
            queue.finish_jobs(self.worker.worker_id, self._outcomes)
            self._outcomes = []
        if self._holds:
            queue.release_holds(self.worker.worker_id, self._holds)
            self._holds = []
        now = time.monotonic()
        if self._progress and now >= self._next_progress_flush:
            queue.save_progress(self.worker.worker_id, self._progress)
            self._progress = {}
            self._next_progress_flush = now + PROGRESS_FLUSH_SECONDS
        if self._finish:
            queue.stop_worker(self.worker.worker_id, self.worker.jobs_done)
            self._stopped = True
            return
        if now >= self._next_housekeeping:
            self._housekeeping()
            self._next_housekeeping = now + self.config.heartbeat_seconds
        if self.claiming:
            self._claim()
        self.busy = not self.inbox.empty() or bool(self._progress)

    def _wanted(self) -> int:
        """Jobs to claim: enough for every idle child plus the prefetch."""
        config = self.config
        wanted = self.worker.idle_children + self.worker.prefetch() - len(self.buffer)
        if config.max_jobs is not None:
            wanted = min(wanted, config.max_jobs - self.claimed_total)
        return wanted

    def _claim(self) -> None:
        wanted = self._wanted()
        if wanted <= 0:
            return
        config = self.config
        claimed = queue.claim_jobs(
            self.worker.worker_id,
            limit=wanted,
            lease_seconds=config.lease_seconds,
            job_types=config.job_types or None,
            exclude_types=config.exclude_types,
            # The jobs the children run (a handful): one set back to pending waits for its
            # attempt to stop. Waiting ones are not listed (the prefetch can hold hundreds,
            # and the list costs every claim); one claimed anew replaces its stale copy.
            exclude_ids=self.worker.held_jobs(),
        )
        fresh = {job.job_id for job in claimed}
        for stale in [job for job in list(self.buffer) if job.job_id in fresh]:
            with contextlib.suppress(ValueError):  # the runner may have taken it meanwhile
                self.buffer.remove(stale)
        for job in claimed:
            logger.debug("job %s claimed (%s, attempt %d)", job.job_id, job.job_type, job.attempt)
        self.claimed_total += len(claimed)
        self.buffer.extend(claimed)
        was_empty, self.nothing_to_claim = self.nothing_to_claim, not claimed
        if claimed or not was_empty:
            self.worker.wake()  # jobs to hand out, or (burst mode) nothing left

    def _hand_back_waiting(self) -> None:
        """Jobs claimed ahead wait here for a free child. When no child took one for two
        heartbeats (at least HAND_BACK_SECONDS), the estimate that claimed them was wrong
        (short jobs before, long ones now): all but one per child go back to pending,
        without spending an attempt, where other workers can take them, a paused batch or
        job type holds them, and a crash of this worker cannot cost them their attempt."""
        started, now = self.worker.started_total, time.monotonic()
        surplus = len(self.buffer) - self.config.concurrency
        if started != self._started_seen or surplus <= 0:
            self._started_seen, self._waiting_since = started, now
            return
        waited = now - self._waiting_since
        if waited < max(2 * self.config.heartbeat_seconds, HAND_BACK_SECONDS):
            return  # not for a moment without a start (a busy machine, a slow fork)
        if self.worker.stop_requested:
            return
        self._waiting_since = now
        waiting: list[ClaimedJob] = []
        for _ in range(surplus):
            try:
                waiting.append(self.buffer.pop())  # the newest claims; the runner takes the oldest
            except IndexError:
                break
        self.worker.expect_long_jobs(waited)
        for job in waiting:
            logger.info("job %s handed back to pending (no free child)", job.job_id)
            self.post(Outcome(job.job_id, "released", attempt=job.attempt, reason="no free child"))

    def _hand_back_held(self) -> None:
        """Jobs claimed ahead whose batch or job type an operator paused (or whose batch
        was archived) since they were claimed go back to pending without spending an
        attempt, as a claim now would not take them. Those a child took meanwhile run:
        pausing lets running jobs finish."""
        waiting = {job.job_id: job for job in list(self.buffer)}
        for job_id, reason in queue.held_back(self.worker.worker_id, list(waiting)).items():
            job = waiting[job_id]
            try:
                self.buffer.remove(job)
            except ValueError:
                continue  # the dispatcher handed it to a child meanwhile
            logger.info("job %s handed back to pending (%s)", job_id, reason)
            self.post(Outcome(job_id, "released", attempt=job.attempt, reason=reason))

    def _housekeeping(self) -> None:
        self._hand_back_waiting()
        self._hand_back_held()
        config = self.config
        held = self.worker.held_jobs() + [job.job_id for job in list(self.buffer)]
        state = queue.renew_leases(self.worker.worker_id, held, config.lease_seconds)
        for job_id in sorted(state.lost):
            self.events.put(("lost", job_id))
        for job_id in sorted(state.cancel_requested):
            self.events.put(("cancel", job_id))
        if state.lost or state.cancel_requested:
            self.worker.wake()
        status = "stopping" if self.worker.stop_requested else "running"
        queue.heartbeat(self.worker.worker_id, held, self.worker.jobs_done, status)
        requeued, failed = queue.reap_expired_leases()
        for job_id in requeued:
            logger.warning("job %s: its worker's lease expired; back to pending", job_id)
        for job_id in failed:
            logger.warning("job %s: its worker's lease expired on the last attempt; failed", job_id)
        if requeued:
            self.nothing_to_claim = False
        stale = max(config.lease_seconds, 3 * config.heartbeat_seconds)
        queue.mark_gone_workers(stale_after_seconds=stale)
        if self._listener is not None:
            self._listener.ensure_connected()

    def _database_down(self, exc: DatabaseError) -> None:
        self._backoff = min(MAX_DB_BACKOFF_SECONDS, max(0.5, self._backoff * 2))
        self._retry_at = time.monotonic() + self._backoff
        logger.warning("database unavailable (%s); retrying in %.1fs", exc, self._backoff)
        for connection in connections.all():
            with contextlib.suppress(DatabaseError):
                connection.close()
