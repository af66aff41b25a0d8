"""Warm child processes, one job at a time each, replaced when they die or are killed.

Children are started with the ``spawn`` method: a clean interpreter that inherits neither
the parent's database connections nor its threads, so a child can never corrupt the
parent's connection and ``fork``-unsafe libraries behave.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnContext, SpawnProcess
from multiprocessing.synchronize import Event

from jobs.queue import ClaimedJob
from jobs.worker.child import Task, child_main

logger = logging.getLogger("jobcenter.worker")


@dataclass
class Slot:
    """One child process and the job it is running, if any."""

    process: SpawnProcess
    conn: Connection
    cancel: Event
    ready: bool = False
    job: ClaimedJob | None = None
    started: float = 0.0
    deadline: float = float("inf")
    stop_deadline: float | None = None
    """Set when the job was asked to stop (cancelled, or no longer ours): kill after it."""
    lost: bool = False
    """The job is no longer ours (an operator failed it, or its lease was lost)."""

    @property
    def idle(self) -> bool:
        return self.ready and self.job is None

    def assign(self, job: ClaimedJob, timeout: float) -> None:
        self.cancel.clear()
        self.job = job
        self.started = time.monotonic()
        self.deadline = self.started + timeout
        self.stop_deadline = None
        self.lost = False
        self.conn.send(Task(job.job_id, job.job_type, job.parameters, job.attempt))

    def release(self) -> ClaimedJob | None:
        job, self.job = self.job, None
        self.deadline = float("inf")
        self.stop_deadline = None
        return job

    def ask_to_stop(self, grace_seconds: float, *, lost: bool = False) -> None:
        """Turn ctx.cancelled on; the child is killed if still running after the grace."""
        self.cancel.set()
        self.lost = self.lost or lost
        if self.stop_deadline is None:
            self.stop_deadline = time.monotonic() + grace_seconds

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


class Pool:
    def __init__(self, size: int, max_memory_mb: int) -> None:
        self.context: SpawnContext = multiprocessing.get_context("spawn")
        self.max_memory_mb = max_memory_mb
        self.slots: list[Slot] = [self._start() for _ in range(size)]

    def _start(self) -> Slot:
        parent_conn, child_conn = self.context.Pipe()
        cancel = self.context.Event()
        process = self.context.Process(
            target=child_main,
            args=(child_conn, cancel, self.max_memory_mb),
            name="jobcenter-child",
        )
        process.start()
        child_conn.close()
        return Slot(process=process, conn=parent_conn, cancel=cancel)

    def replace(self, slot: Slot, *, fresh: bool = True) -> None:
        """Kill ``slot``'s child and, unless shutting down, start a fresh one in its place."""
        slot.kill()
        slot.ready = False
        if fresh:
            self.slots[self.slots.index(slot)] = self._start()

    def idle(self) -> list[Slot]:
        return [slot for slot in self.slots if slot.idle]

    def busy(self) -> list[Slot]:
        return [slot for slot in self.slots if slot.job is not None]

    def by_connection(self, conn: object) -> Slot | None:
        return next((slot for slot in self.slots if slot.conn is conn), None)

    def wait_for_ready(self, timeout: float) -> None:
        """Block until every child reported ready (imports done), so that a burst run or
        a benchmark measures jobs, not interpreter start-up."""
        deadline = time.monotonic() + timeout
        for slot in self.slots:
            remaining = max(0.0, deadline - time.monotonic())
            if not slot.ready and slot.conn.poll(remaining):
                message = slot.conn.recv()
                slot.ready = message[0] == "ready"

    def close(self, timeout: float = 5.0) -> None:
        """Ask idle children to exit, kill the rest."""
        for slot in self.slots:
            if slot.job is None and slot.process.is_alive():
                with contextlib.suppress(OSError):
                    slot.conn.send(None)
        deadline = time.monotonic() + timeout
        for slot in self.slots:
            slot.process.join(timeout=max(0.0, deadline - time.monotonic()))
            slot.kill()
