"""Drive the jobs of one batch through random transitions, racing other processes doing the
same, through the public services only (tests/integration/test_counters_concurrency.py).

Usage: python -m tests.drivers.churn_batch BATCH_ID GO_FILE SEED STEPS SECONDS [--batch-actions]

Each step picks a job (half the time from a small "hot" set that every process shares, so
processes collide on the same jobs), reads its status and tries what fits it: claim, start,
then complete, fail, retry, release or cancel-and-confirm; an operator's fail, set_pending or
cancel of a job someone else runs; restart or set_pending of a finished job. Losing a race
is an InvalidTransition, expected and counted. With --batch-actions this process also runs
a batch-wide action every BATCH_ACTION_EVERY steps. Stops after STEPS steps or SECONDS.
Prints {"steps", "done": {service: successes}, "refused": n, "seconds"}.
"""

from __future__ import annotations

import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.drivers import report, setup_and_wait

HOT_JOBS = 60
BATCH_ACTION_EVERY = 40


def main(argv: list[str]) -> None:
    batch_id, go_file = argv[0], Path(argv[1])
    seed, steps, seconds = int(argv[2]), int(argv[3]), float(argv[4])
    batch_actions = "--batch-actions" in argv[5:]
    setup_and_wait(go_file)

    from batches import services as batch_services
    from jobcenter.errors import InvalidTransition
    from jobs import selectors, services
    from jobs.models import Job

    rng = random.Random(seed)
    job_ids = sorted(Job.objects.filter(batch_id=batch_id).values_list("pk", flat=True))
    hot = job_ids[:HOT_JOBS]
    worker = f"churn-{seed}"
    done: Counter[str] = Counter()
    refused = 0

    def attempt(name: str, service: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
        nonlocal refused
        try:
            service(*args, **kwargs)
        except InvalidTransition:
            refused += 1
            return False
        done[name] += 1
        return True

    def run_it(job_id: str) -> None:
        if not attempt("claim", services.claim, job_id, worker):
            return
        if not attempt("start", services.start, job_id):
            return
        roll = rng.random()
        if roll < 0.45:
            attempt("complete", services.complete, job_id, {"by": worker})
        elif roll < 0.70:
            attempt("fail", services.fail, job_id, "CHURN", "failed on purpose")
        elif roll < 0.80:
            attempt("retry", services.retry, job_id, "CHURN", "again", delay_seconds=0)
        elif roll < 0.90:
            attempt("release", services.release, job_id)
        elif attempt("cancel", services.cancel, job_id):
            attempt("confirm_cancel", services.confirm_cancel, job_id)

    def interfere(job_id: str) -> None:
        """What an operator does to a job someone else is running."""
        roll = rng.random()
        if roll < 0.3:
            attempt("fail", services.fail, job_id, "OPERATOR", "stopped")
        elif roll < 0.5:
            attempt("set_pending", services.set_pending, job_id)
        elif roll < 0.7:
            attempt("cancel", services.cancel, job_id)

    def rerun(job_id: str) -> None:
        roll = rng.random()
        if roll < 0.6:
            attempt("restart", services.restart, job_id)
        elif roll < 0.8:  # refused for completed jobs: set_pending is not allowed from there
            attempt("set_pending", services.set_pending, job_id)

    batch_calls: list[tuple[str, Callable[[], Any]]] = [
        ("restart_batch", lambda: batch_services.restart_batch(batch_id)),
        ("cancel_batch", lambda: batch_services.cancel_batch(batch_id)),
        ("set_pending_batch", lambda: batch_services.set_pending_batch(batch_id)),
        ("fail_batch", lambda: batch_services.fail_batch(batch_id)),
        ("restart_batch", lambda: batch_services.restart_batch(batch_id, include_completed=True)),
    ]

    started = time.monotonic()
    step = 0
    while step < steps and time.monotonic() - started < seconds:
        step += 1
        # batch-wide actions only in the first 80 % of the run: a restart of the whole batch
        # as the very last step left every job pending, and the run proved nothing
        early = step < 0.8 * steps and time.monotonic() - started < 0.8 * seconds
        if batch_actions and early and step % BATCH_ACTION_EVERY == 0:
            name, call = batch_calls[(step // BATCH_ACTION_EVERY) % len(batch_calls)]
            call()
            done[name] += 1
            continue
        job_id = rng.choice(hot if rng.random() < 0.5 else job_ids)
        status = selectors.job_status(job_id)
        if status == "pending":
            roll = rng.random()
            if roll < 0.85:
                run_it(job_id)
            elif roll < 0.93:
                attempt("fail", services.fail, job_id, "OPERATOR", "never mind")
            else:
                attempt("cancel", services.cancel, job_id)
        elif status == "processing":
            interfere(job_id)
        else:
            rerun(job_id)
    report(
        {
            "steps": step,
            "done": dict(done),
            "refused": refused,
            "seconds": round(time.monotonic() - started, 2),
        }
    )


if __name__ == "__main__":
    main(sys.argv[1:])
