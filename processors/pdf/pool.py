"""Pages in parallel, each under a time budget and a memory limit.

A PDF is untrusted input: one page can send pdfminer into a loop, inflate a stream to
gigabytes or crash pdfium. So pages never run in the job's own process. A few page processes
(forked, so they start in milliseconds with the libraries already imported) each open the
document once and take pages in small chunks. The job's process only waits: a page that runs
past its budget gets its process (and that process's Tesseract) killed, a process that dies
costs only the page it was on, and in both cases the page gets a warning, a fresh process
takes the rest of the chunk, and the document goes on.
"""

from __future__ import annotations

import contextlib
import faulthandler
import gc
import multiprocessing
import os
import resource
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any, Protocol


class PageHandlerFactory(Protocol):
    """Picklable; called once in each page process to open the document there."""

    def __call__(self) -> Callable[[int], Any]: ...


REPORT_SECONDS = 0.05
"""Page processes send what they did in batches, at least this often and at the end of each
chunk: a fast page costs the job's process less than a message of its own would. Which page
a process is on is in shared memory instead, so a page that hangs or crashes it is still
named exactly (the pages it had done but not yet sent are done again)."""


EAGER_PAGES = 16
"""From this many pages, every page process starts at once. A smaller document starts
with one, and more join only when its pages turn out slow (``WIDEN_AFTER``): forking
another process and its first page cost as much as ten pages of text, so a short text
document is read fastest by one process, while a scanned one still gets them all."""
WIDEN_AFTER = 0.1
"""Seconds after which a small document's pages still waiting go to more processes."""


class PoolFatal(Exception):
    """The document cannot be opened at all in a page process."""


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a document's pages come in and are put
    together: thousands of objects that live to the end made it walk the whole process
    (Django included) again and again, pauses that varied a large document's time by a
    third. Reference counting still frees everything that is not a cycle."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def default_workers(configured: int) -> int:
    if configured > 0:
        return configured
    return max(1, min(4, os.cpu_count() or 1))


def _context() -> multiprocessing.context.BaseContext:
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    return multiprocessing.get_context(method)


def _virtual_memory_bytes() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def _page_process(
    conn: Connection,
    factory: PageHandlerFactory,
    memory_mb: int,
    running: Any,
    describe: Callable[[], Any] | None = None,
) -> None:
    os.setpgid(0, 0)  # its own process group: a timeout kills Tesseract with it
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # What came with the fork stays out of the garbage collector's walks: a full collection
    # would touch (and so copy) every inherited object, for nothing. The collector itself
    # runs (the job's process may have paused it when forking this one).
    gc.freeze()
    gc.enable()
    faulthandler.disable()  # a crash is reported by the job's process, once, as a warning
    if memory_mb > 0:
        limit = _virtual_memory_bytes() + memory_mb * 1024 * 1024
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    if describe is not None:
        try:
            conn.send([("ready", -1, describe())])
        except BaseException as exc:
            conn.send([("fatal", -1, f"{type(exc).__name__}: {exc}")])
            return
    try:
        handler = factory()
    except BaseException as exc:
        conn.send([("fatal", -1, f"{type(exc).__name__}: {exc}")])
        return
    reports: list[tuple[str, int, Any]] = []
    sent = time.monotonic()
    while True:
        try:
            chunk = conn.recv()
        except (EOFError, OSError):
            return
        if chunk is None:
            return
        for index in chunk:
            running.value = index  # read by the job's process if this page never returns
            try:
                reports.append(("done", index, handler(index)))
            except MemoryError:
                limit = f"ran out of memory (page process limit {memory_mb} MB)"
                conn.send([*reports, ("error", index, limit)])
                return
            except RecursionError:
                reports.append(("error", index, "nested too deeply to read"))
            except Exception as exc:
                reports.append(("error", index, f"{type(exc).__name__}: {exc}"))
            if time.monotonic() - sent >= REPORT_SECONDS:
                conn.send(reports)
                reports, sent = [], time.monotonic()
        conn.send(reports)
        reports, sent = [], time.monotonic()


@dataclass
class _Slot:
    process: multiprocessing.process.BaseProcess
    conn: Connection
    running: Any = None
    """The index of the page the process is on (a shared integer)."""
    chunk: deque[int] = field(default_factory=deque)
    deadline: float = float("inf")
    dismissed: bool = False
    """Told to end (sent None)."""

    def kill(self) -> None:
        if self.process.is_alive() and self.process.pid:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


class PagePool:
    """The page processes of one document (a context manager: leaving it ends them).

    ``open()`` starts the first process and returns what ``describe()`` found there (the
    page count, or why the document cannot be read) before any page is given out: the job
    learns it without a process of its own, which cost a small document a fifth of its
    time (a fork of the job's process is a few milliseconds). ``run()`` reads the pages.
    """

    def __init__(
        self,
        factory: PageHandlerFactory,
        *,
        workers: int,
        page_seconds: float,
        memory_mb: int,
        describe: Callable[[], Any] | None = None,
        describe_seconds: float | None = None,
    ) -> None:
        self.factory = factory
        self.workers = max(1, workers)
        self.page_seconds = page_seconds
        self.memory_mb = memory_mb
        self.describe = describe
        self.describe_seconds = page_seconds if describe_seconds is None else describe_seconds
        self.context = _context()
        self.slots: list[_Slot] = []
        self.queue: deque[list[int]] = deque()
        self.remaining: set[int] = set()
        self.size = 1
        self.target = 1
        """How many page processes the pages are read by now."""
        self.ahead = 1
        """Chunks kept waiting in a process's pipe beyond the one it is on."""

    def __enter__(self) -> PagePool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _start(self, describe: Callable[[], Any] | None = None) -> _Slot:
        parent, child = self.context.Pipe()
        running = self.context.Value("q", -1, lock=False)
        process = self.context.Process(
            target=_page_process,
            args=(child, self.factory, self.memory_mb, running, describe),
            name="jobcenter-pdf-page",
            daemon=True,
        )
        process.start()
        child.close()
        slot = _Slot(process, parent, running)
        self.slots.append(slot)
        return slot

    def open(self) -> Any:
        """``describe()``'s answer from the first page process. Raises ``PoolFatal`` when it
        raised, crashed (the process's exit is named) or took longer than
        ``describe_seconds``."""
        if self.describe is None:
            raise ValueError("PagePool.open() needs a describe function")
        slot = self._start(self.describe)
        if not slot.conn.poll(self.describe_seconds):
            raise PoolFatal(f"took more than {self.describe_seconds:g} s")
        try:
            ((kind, _, payload),) = slot.conn.recv()
        except (EOFError, OSError):
            slot.process.join(timeout=1)
            raise PoolFatal(f"crashed ({_exit_reason(slot.process.exitcode)})") from None
        if kind != "ready":
            raise PoolFatal(payload)
        return payload

    def _give_work(self, slot: _Slot) -> None:
        """Keep a second chunk waiting in each process's pipe, so that it goes on with the
        next pages at once instead of waiting for the job's process to read its report
        (not while more processes may still join: they would find nothing left)."""
        while self.queue and len(slot.chunk) <= self.size * self.ahead:
            chunk = self.queue.popleft()
            if not slot.chunk:
                slot.deadline = time.monotonic() + self.page_seconds
            slot.chunk.extend(chunk)
            slot.conn.send(chunk)

    def _replace(self, slot: _Slot, rest: list[int]) -> None:
        """``slot``'s process is gone: the pages it had left go first to a fresh one."""
        if rest:
            self.queue.appendleft(rest)
        self.slots.remove(slot)
        if self.remaining and len(self.slots) < self.target:
            self._give_work(self._start())

    def run(
        self,
        indices: list[int],
        *,
        on_result: Callable[[int, Any], None],
        on_failure: Callable[[int, str], None],
        cancelled: Callable[[], bool] = lambda: False,
        deadline: float | None = None,
    ) -> bool:
        """Run ``factory()(index)`` for every index in page processes; results and
        failures are reported through the callbacks, in completion order. Returns False
        when stopped early (cancelled, or past ``deadline``, a ``time.monotonic()``
        value)."""
        if not indices:
            return True
        workers = max(1, min(self.workers, len(indices)))
        self.size = size = max(1, min(16, len(indices) // (workers * 4)))
        self.queue = deque(list(indices[i : i + size]) for i in range(0, len(indices), size))
        remaining = self.remaining = set(indices)

        def lose_page(slot: _Slot, message: str) -> None:
            """The page ``slot`` was on is lost; the rest of its chunk goes to a fresh
            process."""
            running = slot.running.value
            chunk = slot.chunk
            index = running if running in chunk else (chunk[0] if chunk else None)
            rest = [other for other in chunk if other != index]
            slot.kill()
            if index is not None and index in remaining:
                remaining.discard(index)
                on_failure(index, message)
            self._replace(slot, rest)

        eager = len(indices) >= EAGER_PAGES
        self.target = workers if eager else 1
        self.ahead = 1 if eager or workers == 1 else 0
        widen_at = None if self.target == workers else time.monotonic() + WIDEN_AFTER
        while len(self.slots) < self.target:
            self._start()
        for slot in self.slots:
            self._give_work(slot)
        slots = self.slots
        while remaining:
            if cancelled() or (deadline is not None and time.monotonic() > deadline):
                return False
            now = time.monotonic()
            if widen_at is not None and now >= widen_at:
                widen_at = None  # slow pages: no chunk waits in a pipe, none is hoarded
                self.target = workers
                while self.queue and len(slots) < workers:
                    self._give_work(self._start())
            for slot in list(slots):
                if slot.chunk and now > slot.deadline:
                    lose_page(slot, f"took more than {self.page_seconds:g} s and was stopped")
            busy = [slot for slot in slots if slot.chunk]
            if not busy:
                for slot in slots:
                    self._give_work(slot)
                if not any(slot.chunk for slot in slots):
                    break  # nothing left to give: every page was reported
                continue
            timeout = min(min(slot.deadline for slot in busy) - now, 0.5)
            if widen_at is not None:
                timeout = min(timeout, widen_at - now)
            timeout = max(0.0, timeout)
            ready = wait([slot.conn for slot in busy], timeout=timeout)
            for conn in ready:
                slot = next((s for s in slots if s.conn is conn), None)
                if slot is None:
                    continue
                try:
                    reports = conn.recv()
                except (EOFError, OSError):
                    slot.process.join(timeout=1)
                    reason = _exit_reason(slot.process.exitcode)
                    lose_page(slot, f"crashed the page process ({reason})")
                    continue
                slot.deadline = time.monotonic() + self.page_seconds
                for kind, index, payload in reports:
                    if kind == "fatal":
                        raise PoolFatal(payload)
                    if slot.chunk and slot.chunk[0] == index:
                        slot.chunk.popleft()
                    else:
                        slot.chunk = deque(i for i in slot.chunk if i != index)
                    if index in remaining:
                        remaining.discard(index)
                        if kind == "done":
                            on_result(index, payload)
                        else:
                            on_failure(index, payload)
                    if kind == "error" and "out of memory" in str(payload):
                        rest = list(slot.chunk)
                        slot.chunk.clear()
                        slot.kill()
                        self._replace(slot, rest)
                        break
                else:
                    self._give_work(slot)
        self._dismiss()
        return True

    def _dismiss(self) -> None:
        """Tell every page process to end. After the last page this is not waited for:
        the processes exit while the job puts the document together, and ``close()`` then
        finds them gone (waiting cost a 200-page document 4 ms, a thirtieth of its time)."""
        for slot in self.slots:
            if not slot.dismissed and slot.process.is_alive():
                slot.dismissed = True
                with contextlib.suppress(OSError):
                    slot.conn.send(None)

    def close(self) -> None:
        """End the page processes. Those told to end after the last page are not waited
        for (an exit took 2 to 3 ms, a sixth of a two-page document's job): a later pool
        reaps them, and kills one that outstays ``EXIT_SECONDS``."""
        _reap()
        self._dismiss()
        now = time.monotonic()
        for slot in self.slots:
            if slot.dismissed and not slot.chunk and slot.process.is_alive():
                slot.conn.close()
                _EXITING.append((slot, now + EXIT_SECONDS))
            else:
                slot.process.join(timeout=0.5)
                slot.kill()
        self.slots = []


EXIT_SECONDS = 5.0
_EXITING: list[tuple[_Slot, float]] = []
"""Page processes told to end and not waited for, with the time by which they must be gone."""


def _reap() -> None:
    """Join the page processes of earlier pools that have exited (``is_alive`` collects
    them), and kill those still there past their time."""
    now = time.monotonic()
    for entry in list(_EXITING):
        slot, deadline = entry
        if not slot.process.is_alive():
            slot.process.join(timeout=0)
            _EXITING.remove(entry)
        elif now > deadline:
            slot.kill()
            _EXITING.remove(entry)


def run_pages(
    factory: PageHandlerFactory,
    indices: list[int],
    *,
    workers: int,
    page_seconds: float,
    memory_mb: int,
    on_result: Callable[[int, Any], None],
    on_failure: Callable[[int, str], None],
    cancelled: Callable[[], bool] = lambda: False,
    deadline: float | None = None,
) -> bool:
    """``PagePool.run`` in a pool of its own, for a job that learnt about its document
    before (the ``image`` job reads a frame's header in a guarded process first)."""
    with PagePool(factory, workers=workers, page_seconds=page_seconds, memory_mb=memory_mb) as pool:
        return pool.run(
            indices,
            on_result=on_result,
            on_failure=on_failure,
            cancelled=cancelled,
            deadline=deadline,
        )


def _guarded_child(
    conn: Connection, function: Callable[..., Any], args: tuple[Any, ...], memory_mb: int
) -> None:
    os.setpgid(0, 0)
    if memory_mb > 0:
        limit = _virtual_memory_bytes() + memory_mb * 1024 * 1024
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        conn.send(("done", function(*args)))
    except BaseException as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))


class GuardFailed(Exception):
    """The guarded call raised, ran out of time or died; the message says which."""


def run_guarded(function: Callable[..., Any], *args: Any, seconds: float, memory_mb: int) -> Any:
    """``function(*args)`` in a forked process with a time and memory limit."""
    context = _context()
    parent, child = context.Pipe()
    process = context.Process(
        target=_guarded_child, args=(child, function, args, memory_mb), daemon=True
    )
    process.start()
    child.close()
    slot = _Slot(process, parent)
    try:
        if not parent.poll(seconds):
            raise GuardFailed(f"took more than {seconds:g} s")
        try:
            kind, payload = parent.recv()
        except (EOFError, OSError):
            process.join(timeout=1)
            raise GuardFailed(f"crashed ({_exit_reason(process.exitcode)})") from None
        if kind == "error":
            raise GuardFailed(payload)
        return payload
    finally:
        slot.kill()


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "no exit code"
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"
