"""The queue services the worker calls (jobs/queue.py), on a real database: what is claimed
and in which order, per-type limits, the PostgreSQL SKIP LOCKED path against the portable
compare-and-set path (same jobs, same order, never one job twice under a race), finishing
outcomes, leases and reaping, and the worker rows."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from batches.models import Batch
from batches.services import (
    archive_batch,
    create_batch,
    recount_batch,
    set_active,
    unarchive_batch,
)
from jobs import queue, services
from jobs.models import Job, JobLog, JobTypeSetting, Worker, default_progress
from jobs.queue import Outcome, Start
from jobs.states import JobStatus
from tests.drivers import run_together
from tests.worker_processors import ALL

# None: the backend's own path (SKIP LOCKED on PostgreSQL); False: the portable one.
PATHS = pytest.mark.parametrize("skip_locked", [None, False], ids=["default", "portable"])
# Elsewhere the default path is the portable one: racing processes once is enough.
PROCESS_PATHS = ["default", "portable"] if connection.vendor == "postgresql" else ["portable"]
P, R = JobStatus.PENDING, JobStatus.PROCESSING


@pytest.fixture(autouse=True)
def test_processors(settings: Any) -> None:
    settings.JOBCENTER_PROCESSORS = ALL


def claim(worker_id: str = "w1", limit: int = 100, **kwargs: Any) -> list[str]:
    return [
        job.job_id for job in queue.claim_jobs(worker_id, limit=limit, lease_seconds=60, **kwargs)
    ]


def make(job_type: str = "echo", *, age: float = 0, **kwargs: Any) -> str:
    """A pending job created ``age`` seconds ago (set-up: created_at moved by the ORM)."""
    params = {"path": "/dev/null"} if job_type == "limited" else {}
    job = services.enqueue(job_type, params, **kwargs)
    if age:
        Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(seconds=age))
    return job.pk


def assert_counters_exact(batch_id: str) -> None:
    assert recount_batch(batch_id, dry_run=True) == {}


@pytest.mark.django_db
class TestWhatIsClaimed:
    @PATHS
    def test_priority_then_age(self, skip_locked: bool | None) -> None:
        old_low = make(age=50, priority=0)
        new_high = make(age=10, priority=5)
        old_high = make(age=40, priority=5)
        newest_low = make(age=1, priority=0)
        negative = make(age=60, priority=-3)
        top = make(age=5, priority=9)
        expected = [top, old_high, new_high, old_low, newest_low, negative]
        assert claim(limit=2, skip_locked=skip_locked) == expected[:2]
        assert claim(limit=10, skip_locked=skip_locked) == expected[2:]
        assert claim(skip_locked=skip_locked) == []

    def test_a_claim_takes_the_job_and_counts_the_attempt(self) -> None:
        created = create_batch("b", [{"job_type": "record", "parameters": {"seconds": 1}}] * 3)
        before = timezone.now()
        (job,) = queue.claim_jobs("w1", limit=1, lease_seconds=30)
        assert (job.job_type, job.parameters, job.attempt, job.max_attempts) == (
            "record",
            {"path": "", "seconds": 1.0, "save_file": False},
            1,
            3,
        )
        assert job.batch_id == created.batch.pk
        row = Job.objects.get(pk=job.job_id)
        assert (row.status, row.worker_id, row.attempts) == (R, "w1", 1)
        assert (
            before + timedelta(seconds=29) < row.lease_expires_at < before + timedelta(seconds=40)
        )
        # Claimed is not started: the job may wait in the worker's prefetch (start_jobs).
        assert row.started_at is None and not row.cancel_requested
        last_log = JobLog.objects.filter(job_id=job.job_id).last()
        assert last_log.message == "Claimed by worker w1 (attempt 1/3)."
        batch = Batch.objects.get(pk=created.batch.pk)
        assert (batch.pending_jobs, batch.processing_jobs, batch.status) == (2, 1, R)
        assert_counters_exact(created.batch.pk)

    def test_a_claim_of_a_later_attempt_clears_the_earlier_start(self) -> None:
        job_id = make()
        claim("w1")
        earlier = timezone.now() - timedelta(minutes=5)
        assert queue.start_jobs("w1", [Start(job_id, 1, earlier)]) == 1
        finished = queue.finish_jobs(
            "w1", [Outcome(job_id, "retry", error={"code": "X", "message": "x"}, attempt=1)]
        )
        assert finished == [job_id]
        Job.objects.filter(pk=job_id).update(run_after=None)
        assert claim("w2") == [job_id]
        row = Job.objects.get(pk=job_id)
        assert (row.attempts, row.started_at) == (2, None)


@pytest.mark.django_db
class TestStart:
    def test_start_stamps_when_a_child_took_the_job(self) -> None:
        """started_at is the time the worker handed the job to a child (Start.at), written
        once, only for the worker and attempt that hold the job."""
        first, second, third = make(age=3), make(age=2), make(age=1)
        assert claim("w1") == [first, second, third]
        at = timezone.now() + timedelta(seconds=7)  # a prefetched job starts later
        later = at + timedelta(seconds=5)
        stamped = queue.start_jobs(
            "w1",
            [
                Start(first, 1, at),
                Start(second, 2, at),  # not its attempt
            ],
        )
        assert stamped == 1
        assert queue.start_jobs("w2", [Start(third, 1, at)]) == 0  # not its worker
        assert queue.start_jobs("w1", [Start(first, 1, later)]) == 0  # written once
        rows = Job.objects.in_bulk([first, second, third])
        assert rows[first].started_at == at
        assert rows[second].started_at is None and rows[third].started_at is None
        assert queue.start_jobs("w1", []) == 0

    def test_many_starts_in_one_call(self) -> None:
        ids = [make(age=300 - n) for n in range(250)]
        assert claim("w1", limit=300) == ids
        base = timezone.now()
        starts = [Start(job_id, 1, base + timedelta(seconds=n)) for n, job_id in enumerate(ids)]
        assert queue.start_jobs("w1", starts) == 250
        rows = Job.objects.in_bulk(ids)
        assert [rows[job_id].started_at for job_id in ids] == [start.at for start in starts]

    @PATHS
    def test_run_after(self, skip_locked: bool | None) -> None:
        now = timezone.now()
        later = make(run_after=now + timedelta(minutes=1))
        due = make(run_after=now - timedelta(seconds=1))
        assert claim(skip_locked=skip_locked) == [due]
        Job.objects.filter(pk=later).update(run_after=timezone.now())
        assert claim(skip_locked=skip_locked) == [later]

    @PATHS
    def test_inactive_and_archived_batches(self, skip_locked: bool | None) -> None:
        inactive = create_batch("off", [{"job_type": "echo"}] * 2, is_active=False)
        archived = create_batch("old", [{"job_type": "echo"}])
        archive_batch(archived.batch.pk)
        loose = make()
        assert claim(skip_locked=skip_locked) == [loose]
        set_active(inactive.batch.pk, True)
        # jobs of one batch share their created_at: the order among them is not set
        assert sorted(claim(skip_locked=skip_locked)) == sorted(inactive.job_ids)
        unarchive_batch(archived.batch.pk)
        assert claim(skip_locked=skip_locked) == archived.job_ids

    @PATHS
    def test_paused_type_and_type_filters(self, skip_locked: bool | None) -> None:
        echo, record, flaky = make("echo", age=3), make("record", age=2), make("flaky", age=1)
        JobTypeSetting.objects.create(job_type="echo", paused=True)
        assert claim(job_types=["echo"], skip_locked=skip_locked) == []
        assert claim(exclude_types=["record"], skip_locked=skip_locked) == [flaky]
        assert claim(job_types=["echo", "record"], skip_locked=skip_locked) == [record]
        JobTypeSetting.objects.filter(job_type="echo").update(paused=False)
        assert claim(skip_locked=skip_locked) == [echo]


@pytest.mark.django_db
class TestTypeLimits:
    def test_limit_counts_jobs_running_anywhere(self) -> None:
        limited = [make("limited", age=100 - n) for n in range(5)]
        echo = make("echo", age=1)
        assert claim("w1", limit=10) == [*limited[:2], echo]
        assert claim("w2", limit=10) == []
        queue.finish_jobs("w1", [Outcome(limited[0], "completed", results={}, attempt=1)])
        assert claim("w2", limit=10) == [limited[2]]

    def test_operator_and_settings_overrides(self, settings: Any) -> None:
        limited = [make("limited", age=100 - n) for n in range(5)]
        settings.JOBCENTER_PROCESSOR_LIMITS = {"limited": {"concurrency": 3}, "echo": {}}
        assert claim("w1", limit=10) == limited[:3]
        JobTypeSetting.objects.update_or_create(job_type="limited", defaults={"concurrency": 4})
        assert claim("w2", limit=10) == limited[3:4]
        records = [make("record", age=10 - n) for n in range(3)]
        JobTypeSetting.objects.create(job_type="record", concurrency=1)
        assert claim("w3", limit=10) == records[:1]

    def test_a_type_at_its_limit_does_not_block_the_queue_behind_it(self) -> None:
        """Many limited jobs at the head of the queue must not hide the other types queued
        behind them once the limited type is at its limit."""
        limited = [make("limited", age=1000 - n) for n in range(30)]
        echoes = [make("echo", age=1) for _ in range(3)]
        first = claim("w1", limit=2)
        assert first == limited[:2]
        assert sorted(claim("w2", limit=2)) == sorted(echoes[:2])
        assert claim("w3", limit=5) == echoes[2:]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL only")
def test_skip_locked_path_passes_over_locked_rows() -> None:
    """A job locked by another transaction is skipped at once, not waited for."""
    first, second = make(age=2), make(age=1)
    locked = threading.Event()
    release = threading.Event()

    def hold_lock() -> None:
        try:
            with transaction.atomic():
                list(Job.objects.select_for_update().filter(pk=first))
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        assert locked.wait(10)
        assert claim(limit=2) == [second]
    finally:
        release.set()
        holder.join()
    assert claim(limit=2) == [first]


@pytest.mark.django_db
def test_both_paths_choose_the_same_jobs_in_the_same_order() -> None:
    """On the same queue (rolled back between the two), the SKIP LOCKED path and the
    portable path claim the same jobs in the same order, limits and filters included."""
    for n in range(12):
        make("limited" if n % 3 == 0 else "echo", age=100 - n, priority=n % 4)
    make("record", run_after=timezone.now() + timedelta(hours=1))
    create_batch("off", [{"job_type": "echo", "priority": 9}], is_active=False)

    class Rollback(Exception):
        pass

    def rounds(skip_locked: bool | None) -> list[list[str]]:
        result: list[list[str]] = []
        try:
            with transaction.atomic():
                for worker, limit in [("a", 3), ("b", 4), ("c", 100)]:
                    result.append(claim(worker, limit=limit, skip_locked=skip_locked))
                raise Rollback
        except Rollback:
            pass
        return result

    default, portable = rounds(None), rounds(False)
    assert default == portable
    assert sum(len(ids) for ids in default) == 10  # 12 - 2 limited beyond the limit of 2


@pytest.mark.django_db(transaction=True)
class TestRaces:
    @PATHS
    def test_threads_never_claim_a_job_twice(self, skip_locked: bool | None) -> None:
        created = create_batch("race", [{"job_type": "echo"}] * 300)
        claimed = self.race_threads(4, skip_locked=skip_locked, limit=7, finish=True)
        everything = [job_id for ids in claimed.values() for job_id in ids]
        assert Counter(everything).most_common(1)[0][1] == 1
        assert sorted(everything) == sorted(created.job_ids)
        assert sum(bool(ids) for ids in claimed.values()) >= 2, "no race happened"
        assert Job.objects.filter(status=JobStatus.COMPLETED).count() == 300
        assert_counters_exact(created.batch.pk)

    @PATHS
    def test_type_limit_holds_under_a_race(self, skip_locked: bool | None) -> None:
        for n in range(20):
            make("limited", age=100 - n)
        claimed = self.race_threads(4, skip_locked=skip_locked, limit=3, finish=False, rounds=3)
        assert sum(len(ids) for ids in claimed.values()) == 2
        assert Job.objects.filter(status=R).count() == 2

    @staticmethod
    def race_threads(
        count: int,
        *,
        skip_locked: bool | None,
        limit: int,
        finish: bool,
        rounds: int | None = None,
    ) -> dict[str, list[str]]:
        """``count`` threads (each its own connection) claim at once, released together."""
        barrier = threading.Barrier(count)
        claimed: dict[str, list[str]] = {f"t{n}": [] for n in range(count)}
        errors: list[BaseException] = []

        def work(worker_id: str) -> None:
            try:
                barrier.wait(10)
                done = 0
                while rounds is None or done < rounds:
                    done += 1
                    jobs = claim(worker_id, limit=limit, skip_locked=skip_locked)
                    claimed[worker_id] += jobs
                    if done == 1:
                        # Every thread's first claim is in before any goes on: those first
                        # claims race, and SQLite's busy handler (no fairness) cannot let one
                        # thread take every job before the others got the lock once.
                        barrier.wait(30)
                    if finish and jobs:
                        outcomes = [
                            Outcome(job_id, "completed", results={}, attempt=1) for job_id in jobs
                        ]
                        assert queue.finish_jobs(worker_id, outcomes) == jobs
                    if not jobs and not Job.objects.filter(status=P).exists():
                        break
                    # A worker runs jobs between claims.
                    time.sleep(0.002)
                held = set(Job.objects.filter(worker_id=worker_id).values_list("pk", flat=True))
                if not finish:
                    assert held == set(claimed[worker_id])
            except BaseException as exc:
                errors.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=work, args=(name,)) for name in claimed]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors, errors
        return claimed

    @pytest.mark.slow
    @pytest.mark.parametrize("path", PROCESS_PATHS)
    def test_processes_never_claim_a_job_twice(self, path: str, tmp_path: Path) -> None:
        created = create_batch("race", [{"job_type": "echo"}] * 400)
        results = run_together(
            "claim_jobs",
            [
                [f"p{n}", str(tmp_path / "go"), "5", path, "--finish", "--peers", "3"]
                for n in range(3)
            ],
            tmp_path / "go",
        )
        everything = [job_id for result in results for job_id in result["claimed"]]
        assert Counter(everything).most_common(1)[0][1] == 1
        assert sorted(everything) == sorted(created.job_ids)
        assert sorted(job_id for r in results for job_id in r["recorded"]) == sorted(everything)
        assert sum(bool(result["claimed"]) for result in results) >= 2, "no race happened"
        assert_counters_exact(created.batch.pk)
        assert Batch.objects.get(pk=created.batch.pk).status == JobStatus.COMPLETED


@pytest.mark.django_db
class TestFinishing:
    @pytest.fixture
    def held(self) -> Iterator[tuple[str, list[str]]]:
        created = create_batch("b", [{"job_type": "record"}] * 6)
        claimed = claim("w1", limit=6)
        assert sorted(claimed) == sorted(created.job_ids)  # one created_at: any order
        yield created.batch.pk, claimed

    def test_every_outcome(self, held: tuple[str, list[str]]) -> None:
        batch_id, (done, failed, retried, cancelled, released, other) = held
        error = {"code": "E", "message": "m", "details": None}
        before = timezone.now()
        queue.save_progress("w1", {released: {"step": "s", "percent": 40.0, "message": "m"}})
        recorded = queue.finish_jobs(
            "w1",
            [
                Outcome(done, "completed", results={"answer": 42}, attempt=1),
                Outcome(failed, "failed", error=error, attempt=1),
                Outcome(retried, "retry", error=error, retry_delay=30, attempt=1),
                Outcome(cancelled, "cancelled", attempt=1),
                Outcome(released, "released", attempt=1),
            ],
        )
        assert sorted(recorded) == sorted([done, failed, retried, cancelled, released])
        jobs = Job.objects.in_bulk()
        assert (jobs[done].status, jobs[done].results, jobs[done].error) == (
            "completed",
            {"answer": 42},
            None,
        )
        assert jobs[done].progress["percent"] == 100.0 and jobs[done].completed_at >= before
        assert (jobs[failed].status, jobs[failed].error) == ("failed", error)
        assert jobs[retried].status == P and jobs[retried].error == error
        assert jobs[retried].attempts == 1
        delay = (jobs[retried].run_after - before).total_seconds()
        assert 29 < delay < 35
        assert jobs[cancelled].status == "cancelled"
        assert (jobs[released].status, jobs[released].attempts) == (P, 0)
        assert jobs[released].progress == default_progress()
        for job_id in recorded:
            assert (jobs[job_id].worker_id, jobs[job_id].lease_expires_at) == (None, None)
        assert jobs[other].status == R
        assert JobLog.objects.filter(job_id=retried, level="warning").last().message == (
            "Attempt failed (E: m); retrying in 30.0s."
        )
        assert_counters_exact(batch_id)
        # The retried job is not claimable before its run_after; the released one is.
        assert claim("w2") == [released]

    def test_a_retry_waits_pending_and_runs_without_the_previous_error(
        self, held: tuple[str, list[str]]
    ) -> None:
        """Between attempts the job is pending, due at run_after, with the failed attempt's
        error; once the retry is claimed it is processing, and that error no longer shows
        as the job's (it stays in the log): processing with an error read as broken."""
        _, (retried, *_) = held
        error = {"code": "FLAKY", "message": "attempt 1 fails", "details": None}
        before = timezone.now()
        queue.finish_jobs("w1", [Outcome(retried, "retry", error=error, retry_delay=30, attempt=1)])
        waiting = Job.objects.get(pk=retried)
        assert (waiting.status, waiting.error, waiting.attempts) == (P, error, 1)
        assert waiting.run_after is not None and waiting.run_after > before
        assert claim("w2") == []  # not before run_after
        Job.objects.filter(pk=retried).update(run_after=timezone.now())
        assert claim("w2") == [retried]
        running = Job.objects.get(pk=retried)
        assert (running.status, running.error, running.attempts) == (R, None, 2)
        assert JobLog.objects.filter(
            job_id=retried, message__startswith="Attempt failed (FLAKY: attempt 1 fails)"
        ).exists()

    def test_jobs_ending_in_an_archived_batch_are_archived(
        self, held: tuple[str, list[str]]
    ) -> None:
        batch_id, (done, failed, retried, *_) = held
        archive_batch(batch_id)
        error = {"code": "E", "message": "m", "details": None}
        queue.finish_jobs(
            "w1",
            [
                Outcome(done, "completed", results={}, attempt=1),
                Outcome(failed, "failed", error=error, attempt=1),
                Outcome(retried, "retry", error=error, retry_delay=30, attempt=1),
            ],
        )
        archived = set(Job.objects.filter(archived=True).values_list("pk", flat=True))
        assert archived == {done, failed}  # the retried job is pending again, not ended
        # claims skip archived batches: the retry brings the batch back, or it would wait
        assert not Batch.objects.get(pk=batch_id).archived
        Job.objects.filter(pk=retried).update(run_after=timezone.now())
        assert claim("w2") == [retried]
        assert JobLog.objects.filter(
            job_id=retried,
            message__endswith="its archived batch is unarchived, so that the job runs.",
        ).exists()

    def test_outcomes_for_jobs_no_longer_held_are_dropped(
        self, held: tuple[str, list[str]]
    ) -> None:
        batch_id, (kept, failed_by_operator, reclaimed, cancelled, *_) = held
        services.fail(failed_by_operator, "STOPPED", "an operator failed it")
        services.set_pending(reclaimed)
        assert claim("w2") == []  # w1 may still be running it
        queue.release_holds("w1", [reclaimed])  # it has stopped it
        assert claim("w2") == [reclaimed]
        services.cancel(cancelled)  # a cancel request leaves the job ours until we confirm
        recorded = queue.finish_jobs(
            "w1",
            [
                Outcome(job_id, "completed", results={"by": "w1"}, attempt=1)
                for job_id in (kept, failed_by_operator, reclaimed)
            ]
            + [
                Outcome(cancelled, "cancelled", attempt=1),
                Outcome("job-does-not-exist", "failed", attempt=1),
            ],
        )
        assert sorted(recorded) == sorted([kept, cancelled])
        jobs = Job.objects.in_bulk()
        assert jobs[kept].results == {"by": "w1"}
        assert (jobs[failed_by_operator].status, jobs[failed_by_operator].error["code"]) == (
            "failed",
            "STOPPED",
        )
        # its attempt ended here: w1 let go of it with the dropped outcome
        assert jobs[failed_by_operator].worker_id is None
        assert (jobs[reclaimed].status, jobs[reclaimed].worker_id) == (R, "w2")
        assert jobs[reclaimed].results is None
        assert jobs[cancelled].status == "cancelled"
        assert_counters_exact(batch_id)

    def test_an_earlier_attempt_of_a_job_claimed_again_is_dropped(
        self, held: tuple[str, list[str]]
    ) -> None:
        """Set back to pending while running and claimed again by the same worker: the first
        attempt's outcome must not end the second attempt."""
        _, (job_id, *_) = held
        services.set_pending(job_id)
        queue.release_holds("w1", [job_id])
        assert claim("w1", limit=1) == [job_id]
        first = Outcome(job_id, "completed", results={"attempt": 1}, attempt=1)
        assert queue.finish_jobs("w1", [first]) == []
        job = Job.objects.get(pk=job_id)
        assert (job.status, job.attempts, job.results) == (R, 2, None)
        second = Outcome(job_id, "completed", results={"attempt": 2}, attempt=2)
        assert queue.finish_jobs("w1", [second]) == [job_id]
        assert Job.objects.get(pk=job_id).results == {"attempt": 2}

    def test_a_job_set_back_while_it_runs_waits_until_its_worker_stopped_it(
        self, held: tuple[str, list[str]]
    ) -> None:
        """No other worker takes it while the one running it has not yet heard (it does
        at its next heartbeat): the job would run twice side by side."""
        _, (running, restarted, expired, *_) = held
        services.set_pending(running)
        services.fail(restarted, "STOPPED", "an operator failed it")
        services.restart(restarted)
        services.set_pending(expired)
        Job.objects.filter(pk=expired).update(
            lease_expires_at=timezone.now() - timedelta(seconds=1)
        )
        assert claim("w2", limit=5) == [expired]  # its worker is gone: the lease ran out
        assert queue.release_holds("w2", [running, restarted]) == 0  # not w2's to release
        assert queue.release_holds("w1", [running, restarted]) == 2
        # the operator's line came first; this one says when the attempt really ended
        for job_id in (running, restarted):
            assert JobLog.objects.filter(job_id=job_id).last().message == (
                "Worker w1 stopped the attempt."
            )
        assert not JobLog.objects.filter(message__startswith="Worker w2 stopped").exists()
        assert sorted(claim("w2", limit=5)) == sorted([running, restarted])

    def test_a_held_job_takes_its_types_slot(self) -> None:
        JobTypeSetting.objects.create(job_type="record", concurrency=1)
        first = make(job_type="record")
        assert claim("w1") == [first]
        services.set_pending(first)  # w1 is still stopping it
        make(job_type="record")
        assert claim("w2", limit=5) == []  # the one slot is taken until w1 lets go
        queue.release_holds("w1", [first])
        assert len(claim("w2", limit=5)) == 1


@pytest.mark.django_db
class TestLeases:
    def test_renew_reports_cancel_requests_and_lost_jobs(self) -> None:
        ids = [make(age=3 - n) for n in range(3)]
        running, cancel_me, lost = claim("w1", limit=3)
        assert [running, cancel_me, lost] == ids
        Job.objects.filter(pk__in=[running, cancel_me, lost]).update(
            lease_expires_at=timezone.now() + timedelta(seconds=1)
        )
        services.cancel(cancel_me)
        services.fail(lost, "GONE", "failed by an operator")
        state = queue.renew_leases("w1", [running, cancel_me, lost], lease_seconds=120)
        assert state.cancel_requested == {cancel_me}
        assert state.lost == {lost}
        for job_id in (running, cancel_me):
            lease = Job.objects.get(pk=job_id).lease_expires_at
            assert lease > timezone.now() + timedelta(seconds=100)
        assert queue.renew_leases("w2", [running], 120).lost == {running}

    def test_jobs_claimed_ahead_that_an_operator_held_since(self) -> None:
        """``held_back``: of a worker's claimed jobs no child has started, those whose
        batch was paused or archived or whose type was paused since the claim, with why."""
        paused, archived, open_batch = (
            create_batch(name, [{"job_type": "echo"}] * 2) for name in "pao"
        )
        typed = make("limited")
        assert len(claim("w1")) == 7
        ran, waits = paused.job_ids
        queue.start_jobs("w1", [Start(ran, 1, timezone.now())])
        set_active(paused.batch.pk, False)
        archive_batch(archived.batch.pk)
        services.set_type_paused("limited", True)
        everything = [*paused.job_ids, *archived.job_ids, *open_batch.job_ids, typed]
        assert queue.held_back("w1", everything) == {
            waits: "not started: its batch is paused",
            archived.job_ids[0]: "not started: its batch is archived",
            archived.job_ids[1]: "not started: its batch is archived",
            typed: "not started: job type limited is paused",
        }
        assert queue.held_back("w2", everything) == {}  # not its jobs
        queue.finish_jobs(
            "w1", [Outcome(waits, "released", attempt=1, reason="not started: its batch is paused")]
        )
        job = Job.objects.get(pk=waits)
        assert (job.status, job.attempts, job.worker_id) == (P, 0, None)
        assert JobLog.objects.filter(job_id=waits).last().message == (
            "Released by its worker (not started: its batch is paused); back to pending."
        )

    def test_reap_requeues_or_fails_after_the_last_attempt(self) -> None:
        created = create_batch(
            "b",
            [
                {"job_type": "echo", "max_attempts": 3},
                {"job_type": "echo", "max_attempts": 1},
                {"job_type": "echo", "max_attempts": 3},
            ],
        )
        again, last, fresh = created.job_ids
        assert sorted(claim("dead")) == sorted([again, last, fresh])  # one created_at: any order
        started = timezone.now()
        assert queue.start_jobs("dead", [Start(pk, 1, started) for pk in (again, last, fresh)])
        expired = timezone.now() - timedelta(seconds=1)
        Job.objects.filter(pk__in=[again, last]).update(lease_expires_at=expired)

        requeued, failed = queue.reap_expired_leases()
        assert (requeued, failed) == ([again], [last])
        jobs = Job.objects.in_bulk()
        assert (jobs[again].status, jobs[again].attempts, jobs[again].worker_id) == (P, 1, None)
        assert (jobs[last].status, jobs[last].error["code"]) == ("failed", "WORKER_LOST")
        assert "Lease of worker dead expired (attempt 1/1)" in jobs[last].error["message"]
        # The dead worker is named in the error and the log, not kept as if it held the job.
        assert jobs[last].worker_id is None and jobs[last].lease_expires_at is None
        assert jobs[fresh].status == R
        assert JobLog.objects.filter(job_id=again).last().message == (
            "Lease of worker dead expired (attempt 1/3); back to pending."
        )
        assert_counters_exact(created.batch.pk)
        assert queue.reap_expired_leases() == ([], [])
        (job,) = queue.claim_jobs("alive", limit=5, lease_seconds=60)
        assert (job.job_id, job.attempt) == (again, 2)

    def test_a_lost_job_in_a_batch_archived_meanwhile_runs_again(self) -> None:
        """The batch was archived while its job ran; the worker died. Claims skip archived
        batches, so the job back in the queue brings its batch back."""
        created = create_batch("b", [{"job_type": "echo", "max_attempts": 2}])
        (job_id,) = created.job_ids
        assert claim("dead") == [job_id]
        assert queue.start_jobs("dead", [Start(job_id, 1, timezone.now())]) == 1
        archive_batch(created.batch.pk)
        assert not Job.objects.get(pk=job_id).archived  # running jobs follow when they end
        expired = timezone.now() - timedelta(seconds=1)
        Job.objects.filter(pk=job_id).update(lease_expires_at=expired)
        assert queue.reap_expired_leases() == ([job_id], [])
        assert not Batch.objects.get(pk=created.batch.pk).archived
        assert JobLog.objects.filter(job_id=job_id).last().message == (
            "Lease of worker dead expired (attempt 1/2); back to pending; its archived batch "
            "is unarchived, so that the job runs."
        )
        assert claim("alive") == [job_id]

    def test_a_job_its_dead_worker_never_started_keeps_its_attempt(self) -> None:
        """A job that only waited in a dead worker's prefetch goes back to pending with its
        attempt given back, even on its last attempt; one a child had started spends it."""
        created = create_batch("b", [{"job_type": "echo", "max_attempts": 1}] * 2)
        ran, waited = created.job_ids
        assert sorted(claim("dead")) == sorted([ran, waited])
        Job.objects.filter(pk=waited).update(progress={"step": "x", "percent": 5, "message": ""})
        assert queue.start_jobs("dead", [Start(ran, 1, timezone.now())]) == 1
        expired = timezone.now() - timedelta(seconds=1)
        Job.objects.filter(pk__in=[ran, waited]).update(lease_expires_at=expired)

        assert queue.reap_expired_leases() == ([waited], [ran])
        jobs = Job.objects.in_bulk()
        assert (jobs[ran].status, jobs[ran].attempts) == ("failed", 1)
        assert jobs[ran].error["code"] == "WORKER_LOST"
        back = jobs[waited]
        assert (back.status, back.attempts, back.worker_id, back.lease_expires_at) == (
            P,
            0,
            None,
            None,
        )
        assert (back.error, back.started_at, back.progress) == (None, None, default_progress())
        line = JobLog.objects.filter(job_id=waited).last()
        assert (line.level, line.message) == (
            "warning",
            "Lease of worker dead expired before the job started; back to pending, "
            "attempt 1/1 not spent.",
        )
        assert_counters_exact(created.batch.pk)
        (job,) = queue.claim_jobs("alive", limit=5, lease_seconds=60)
        assert (job.job_id, job.attempt, job.max_attempts) == (waited, 1, 1)

    def test_a_start_written_after_the_read_is_not_undone(self) -> None:
        """The refund is a compare-and-set on the empty started_at: a worker that was only
        cut off and wrote its start meanwhile has spent the attempt."""
        job_id = make(max_attempts=1)
        claim("slow")
        Job.objects.filter(pk=job_id).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
        real_filter = Job.objects.filter

        def start_meanwhile(*args: Any, **kwargs: Any) -> Any:
            if kwargs.get("lease_expires_at__lt") is not None and "pk" in kwargs:
                queue.start_jobs("slow", [Start(job_id, 1, timezone.now())])
            return real_filter(*args, **kwargs)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(Job.objects, "filter", start_meanwhile)
            assert queue.reap_expired_leases() == ([], [])
        row = Job.objects.get(pk=job_id)
        assert (row.status, row.attempts) == (R, 1) and row.started_at is not None
        assert queue.reap_expired_leases() == ([], [job_id])


@pytest.mark.django_db
def test_worker_rows() -> None:
    row = queue.register_worker(
        "host:1:abc",
        name="one",
        host="host",
        pid=1,
        job_types=["echo"],
        exclude_types=["pdf"],
        concurrency=4,
    )
    assert (row.status, row.job_types, row.exclude_types, row.concurrency) == (
        "running",
        ["echo"],
        ["pdf"],
        4,
    )
    queue.register_worker(
        "host:2:def", name="two", host="host", pid=2, job_types=[], exclude_types=[], concurrency=1
    )
    queue.heartbeat("host:1:abc", ["job-1", "job-2"], jobs_done=7, status="stopping")
    row.refresh_from_db()
    assert (row.running_jobs, row.jobs_done, row.status) == (["job-1", "job-2"], 7, "stopping")
    assert row.heartbeat_at > row.started_at

    Worker.objects.filter(pk="host:2:def").update(
        heartbeat_at=timezone.now() - timedelta(seconds=120)
    )
    assert queue.mark_gone_workers(stale_after_seconds=60) == 1
    assert Worker.objects.get(pk="host:2:def").status == Worker.Status.GONE
    assert Worker.objects.get(pk="host:1:abc").status == "stopping"

    queue.stop_worker("host:1:abc", jobs_done=9)
    row.refresh_from_db()
    assert (row.status, row.running_jobs, row.jobs_done) == ("stopped", [], 9)
    assert row.stopped_at is not None
    Worker.objects.filter(pk="host:1:abc").update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert queue.mark_gone_workers(stale_after_seconds=60) == 0, "stopped is not gone"
