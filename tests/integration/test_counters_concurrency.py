"""Batch counters stay exact under concurrency: 4 processes drive the 2,000 jobs of one
batch through claim/start/complete/fail/retry/release/cancel/restart/set_pending at random,
at once, racing each other on the same jobs (and one of them running batch-wide actions);
afterwards every counter, the total, the status and completed_at equal a recount from the
jobs. Runs on whichever database the suite runs on (SQLite and PostgreSQL in CI).

Bounded by STEPS per process and by SECONDS of wall time per process (about 20 s in all on
either database on the 2-core development machine).
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from batches import selectors as batch_selectors
from batches import services as batch_services
from batches.counters import batch_status
from batches.services import create_batch
from jobs.models import Job
from jobs.states import JobStatus
from tests.drivers import run_together

PROCESSES = 4
JOBS = 2_000
STEPS = 1_000
SECONDS = 20.0


def assert_counters_exact(batch_id: str) -> None:
    batch = batch_selectors.get_batch(batch_id)
    actual = batch_selectors.recounted(batch_id)
    assert batch_selectors.stored_counts(batch) == actual
    assert batch.total_jobs == sum(actual.values()) == JOBS
    assert batch.status == batch_status(actual)
    ended = not (actual[JobStatus.PENDING] or actual[JobStatus.PROCESSING])
    assert (batch.completed_at is not None) == ended
    assert batch_services.recount_batch(batch_id, dry_run=True) == {}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_counters_stay_exact_when_four_processes_race_over_one_batch(tmp_path: Path) -> None:
    created = create_batch("churn", [{"job_type": "echo"} for _ in range(JOBS)])
    batch_id = created.batch.pk
    go = tmp_path / "go"
    started = time.monotonic()
    results = run_together(
        "churn_batch",
        [
            [batch_id, str(go), str(seed), str(STEPS), str(SECONDS)]
            + (["--batch-actions"] if seed == 0 else [])
            for seed in range(PROCESSES)
        ],
        go,
        timeout=SECONDS + 90,
    )
    elapsed = time.monotonic() - started

    done: Counter[str] = Counter()
    for result in results:
        done.update(result["done"])
    refused = sum(result["refused"] for result in results)
    steps = sum(result["steps"] for result in results)
    print(f"\nchurn: {steps} steps in {elapsed:.1f}s, {dict(done)}, {refused} refused")

    # The processes really did drive the jobs through every kind of transition.
    for name in ("claim", "start", "complete", "fail", "restart"):
        assert done[name] > 10, (name, dict(done))
    for name in ("retry", "release", "cancel", "confirm_cancel", "set_pending"):
        assert done[name] > 0, (name, dict(done))
    assert done["restart_batch"] + done["fail_batch"] + done["cancel_batch"] > 0
    # Each step is a few transactions; a loaded machine does fewer steps in the time box.
    assert steps >= PROCESSES * 50, "too few steps to prove anything"
    assert Job.objects.filter(batch_id=batch_id).exclude(status=JobStatus.PENDING).exists()

    assert_counters_exact(batch_id)

    # Ending every job leaves an ended batch with completed_at, still exact.
    batch_services.fail_batch(batch_id)
    assert_counters_exact(batch_id)
