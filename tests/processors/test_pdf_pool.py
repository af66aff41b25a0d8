"""The page pool's first process describes the document before reading pages
(processors/pdf/pool.py ``PagePool.open``): one process fewer per job, with the guarded
probe's protections (an exception, a crash or a hang is a ``PoolFatal``, not a lost job)."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Callable

import pytest

from processors.pdf import pool as page_pool
from processors.pdf.pool import PagePool, PoolFatal


class PidPages:
    """A page handler factory whose pages answer with the process that read them."""

    def __call__(self) -> Callable[[int], int]:
        return lambda index: os.getpid()


def _pool(describe: Callable[[], object], workers: int = 1) -> PagePool:
    return PagePool(
        PidPages(),
        workers=workers,
        page_seconds=10.0,
        memory_mb=0,
        describe=describe,
        describe_seconds=2.0,
    )


def test_the_process_that_describes_the_document_reads_its_pages() -> None:
    read: dict[int, int] = {}
    with _pool(os.getpid) as pool:
        described = pool.open()
        assert described != os.getpid()  # not the job's own process
        assert pool.run([0, 1, 2], on_result=read.__setitem__, on_failure=pytest.fail)
    assert read == {0: described, 1: described, 2: described}


def test_more_workers_join_the_describing_process_for_the_pages() -> None:
    read: dict[int, int] = {}
    with _pool(os.getpid, workers=2) as pool:
        described = pool.open()
        assert pool.run(list(range(40)), on_result=read.__setitem__, on_failure=pytest.fail)
    assert len(read) == 40
    assert described in set(read.values())
    assert len(set(read.values())) == 2


def test_page_processes_end_with_the_last_page_while_the_job_goes_on() -> None:
    """The job puts the document together while its page processes exit: nothing waits
    for them, and leaving the pool finds them gone."""
    with _pool(os.getpid, workers=2) as pool:
        pool.open()
        assert pool.run(list(range(40)), on_result=lambda *_: None, on_failure=pytest.fail)
        processes = [slot.process for slot in pool.slots]
        assert len(processes) == 2
        for process in processes:
            process.join(timeout=5)
        assert [process.exitcode for process in processes] == [0, 0]


class SlowToExitPages(PidPages):
    """Page processes that take a second to exit, after their last page."""

    def __call__(self) -> Callable[[int], int]:
        from multiprocessing.util import Finalize

        Finalize(None, time.sleep, args=(1.0,), exitpriority=0)
        return super().__call__()


def test_leaving_the_pool_does_not_wait_for_exits_and_a_later_pool_collects_them() -> None:
    pool = PagePool(SlowToExitPages(), workers=2, page_seconds=10.0, memory_mb=0)
    with pool:
        assert pool.run(list(range(40)), on_result=lambda *_: None, on_failure=pytest.fail)
        slots = list(pool.slots)
    assert [slot.process.is_alive() for slot in slots] == [True, True]  # still exiting
    assert all(slot in [waiting for waiting, _ in page_pool._EXITING] for slot in slots)
    for slot in slots:
        slot.process.join(timeout=5)
    page_pool._reap()
    assert not any(slot in [waiting for waiting, _ in page_pool._EXITING] for slot in slots)
    assert [slot.process.exitcode for slot in slots] == [0, 0]  # ended, not killed


def test_a_page_process_that_outstays_its_exit_is_killed() -> None:
    import multiprocessing

    process = multiprocessing.get_context("fork").Process(target=time.sleep, args=(60,))
    process.start()
    parent, _ = multiprocessing.Pipe()
    page_pool._EXITING.append((page_pool._Slot(process, parent), time.monotonic() - 1))
    page_pool._reap()
    assert process.exitcode == -signal.SIGKILL
    assert process not in [slot.process for slot, _ in page_pool._EXITING]


def _raises() -> None:
    raise ValueError("not a PDF at all")


def _crashes() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _hangs() -> None:
    time.sleep(60)


@pytest.mark.parametrize(
    ("describe", "message"),
    [
        (_raises, "ValueError: not a PDF at all"),
        (_crashes, "crashed (signal SIGKILL)"),
        (_hangs, "took more than 2 s"),
    ],
    ids=["raises", "crashes", "hangs"],
)
def test_a_document_that_cannot_be_described_is_a_pool_fatal(
    describe: Callable[[], object], message: str
) -> None:
    started = time.monotonic()
    with pytest.raises(PoolFatal) as raised, _pool(describe) as pool:
        pool.open()
    assert str(raised.value) == message
    assert time.monotonic() - started < 10
    assert pool.slots == []  # leaving the pool ended its process


class SlowPages:
    """Pages that take a while each (OCR, say), answering with their process."""

    def __call__(self) -> Callable[[int], int]:
        def read(index: int) -> int:
            time.sleep(0.3)
            return os.getpid()

        return read


def test_a_short_document_of_fast_pages_is_read_by_one_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Forking another process costs more than the few pages it would take over. (Pages
    count as slow only after WIDEN_AFTER, lengthened here against a loaded machine.)"""
    monkeypatch.setattr("processors.pdf.pool.WIDEN_AFTER", 5.0)
    read: dict[int, int] = {}
    with _pool(os.getpid, workers=2) as pool:
        described = pool.open()
        assert pool.run(list(range(6)), on_result=read.__setitem__, on_failure=pytest.fail)
    assert set(read.values()) == {described}


def test_a_short_document_of_slow_pages_gets_more_processes() -> None:
    read: dict[int, int] = {}
    with PagePool(SlowPages(), workers=2, page_seconds=10.0, memory_mb=0) as pool:
        assert pool.run(list(range(4)), on_result=read.__setitem__, on_failure=pytest.fail)
    assert len(read) == 4
    # the second process joined and took half of the pages: none was kept waiting for
    # the first one in its pipe
    assert sorted(Counter(read.values()).values()) == [2, 2]
