"""The job state machine: every allowed status change, in one table.

Services look transitions up here; anything not listed raises InvalidTransition.
docs/architecture.md draws the same table as a diagram (a test keeps the two in step).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models


class JobStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


UNFINISHED = frozenset({JobStatus.PENDING, JobStatus.PROCESSING})
FINISHED = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})


@dataclass(frozen=True)
class Transition:
    name: str
    sources: frozenset[str]
    target: str
    description: str


def _t(name: str, sources: set[str], target: str, description: str) -> Transition:
    return Transition(name, frozenset(sources), target, description)


P, R, C, F, X = (
    JobStatus.PENDING,
    JobStatus.PROCESSING,
    JobStatus.COMPLETED,
    JobStatus.FAILED,
    JobStatus.CANCELLED,
)

TRANSITIONS: dict[str, Transition] = {
    t.name: t
    for t in [
        _t("claim", {P}, R, "a worker takes the job (lease)"),
        _t("start", {R}, R, "the worker begins an attempt"),
        _t("complete", {R}, C, "the processor returned results"),
        _t("fail", {P, R}, F, "an error, or an operator failed it"),
        _t("retry", {R}, P, "an attempt failed, attempts remain: back to the queue later"),
        _t("release", {R}, P, "the worker hands the job back without spending an attempt"),
        _t("cancel", {P}, X, "cancelled before it ran"),
        _t("request_cancel", {R}, R, "cancel asked while running: the worker stops it"),
        _t("confirm_cancel", {R}, X, "the worker stopped a job whose cancel was requested"),
        _t("restart", {C, F, X}, P, "run again from scratch: attempts, results, error reset"),
        _t("set_pending", {R, F, X}, P, "back to the queue as it is (e.g. a stuck job)"),
    ]
}


def transition(name: str) -> Transition:
    return TRANSITIONS[name]
