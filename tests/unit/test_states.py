"""The state machine table and the models' derived values (no database needed).

The transition table is the contract the admin, the API, the worker and docs/architecture.md
rely on: a change to it must be deliberate, so it is pinned here in full.
"""

from __future__ import annotations

import os
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from batches.models import Batch
from jobcenter import ids
from jobcenter.ids import new_batch_id, new_job_id, uuid7
from jobs.models import Job
from jobs.states import FINISHED, TRANSITIONS, UNFINISHED, JobStatus, transition

P, R, C, F, X = "pending", "processing", "completed", "failed", "cancelled"

EXPECTED = {
    "claim": ({P}, R),
    "start": ({R}, R),
    "complete": ({R}, C),
    "fail": ({P, R}, F),
    "retry": ({R}, P),
    "release": ({R}, P),
    "cancel": ({P}, X),
    "request_cancel": ({R}, R),
    "confirm_cancel": ({R}, X),
    "restart": ({C, F, X}, P),
    "set_pending": ({R, F, X}, P),
}


def test_table_is_exactly_the_documented_state_machine() -> None:
    actual = {name: (set(t.sources), t.target) for name, t in TRANSITIONS.items()}
    assert actual == EXPECTED


def test_every_transition_is_named_after_its_key_and_uses_known_statuses() -> None:
    statuses = set(JobStatus.values)
    for name, t in TRANSITIONS.items():
        assert t.name == name
        assert t.sources <= statuses
        assert t.target in statuses
        assert t.description
        assert transition(name) is t


def test_finished_and_unfinished_partition_the_statuses() -> None:
    assert set(JobStatus.values) == FINISHED | UNFINISHED
    assert not FINISHED & UNFINISHED
    assert {P, R} == UNFINISHED


def test_finished_jobs_leave_their_status_only_back_to_pending() -> None:
    for name, t in TRANSITIONS.items():
        if t.sources & FINISHED:
            assert t.target == P, name
            assert name in {"restart", "set_pending"}


def test_every_status_is_reachable_and_every_status_can_get_back_to_pending() -> None:
    edges = {(s, t.target) for t in TRANSITIONS.values() for s in t.sources}

    def reachable(start: str) -> set[str]:
        seen, todo = {start}, [start]
        while todo:
            here = todo.pop()
            for source, target in edges:
                if source == here and target not in seen:
                    seen.add(target)
                    todo.append(target)
        return seen

    assert reachable(P) == set(JobStatus.values)
    for status in JobStatus.values:
        assert P in reachable(status), status


def test_unknown_transition_name_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        transition("explode")


# --- models: ids and derived values ----------------------------------------------------------


def test_ids_are_prefixed_time_ordered_uuid7() -> None:
    job_id, batch_id = new_job_id(), new_batch_id()
    assert job_id.startswith("job-") and batch_id.startswith("batch-")
    parsed = uuid.UUID(job_id.removeprefix("job-"))
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
    first, second = uuid7(), uuid7()
    assert first != second
    assert (first.int >> 80) <= (second.int >> 80)  # millisecond timestamps never go back


def test_ids_made_one_after_the_other_sort_in_that_order() -> None:
    """Most of these share a millisecond: their random parts count on, so a batch's jobs
    (which share their created_at) list in the order they were submitted."""
    made = [uuid7() for _ in range(20_000)]
    assert made == sorted(made) and len(set(made)) == len(made)
    assert {(u.version, u.variant) for u in made} == {(7, uuid.RFC_4122)}
    job_ids = [new_job_id() for _ in range(2_000)]
    assert job_ids == sorted(job_ids)


def test_a_forked_process_does_not_count_on_from_its_parents_last_id() -> None:
    """Both would count on from the same id in the same millisecond, and could make the
    same id; the child starts from fresh random bits."""
    uuid7()
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: reports the state it starts from
        os.close(reader)
        os.write(writer, repr(ids._last).encode())
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as pipe:
        started_from = pipe.read()
    os.waitpid(pid, 0)
    assert ids._last != (0, 0) and started_from == "(0, 0)"


def test_new_model_instances_get_their_portable_primary_keys() -> None:
    assert Job().pk.startswith("job-")
    assert Batch().pk.startswith("batch-")
    assert Job().pk != Job().pk


@pytest.mark.parametrize("status", JobStatus.values)
def test_job_is_finished_follows_the_state_sets(status: str) -> None:
    assert Job(status=status).is_finished == (status in FINISHED)


def test_job_defaults_match_the_older_systems_shapes() -> None:
    job = Job()
    assert job.status == P
    assert job.progress == {"step": "", "percent": 0, "message": ""}
    assert job.access_control == {
        "visibility": "private",
        "read_access": [],
        "write_access": [],
        "admin_access": [],
    }
    assert job.parameters == {} and job.results is None and job.error is None
    assert job.unique_key is None and not job.archived and not job.cancel_requested


def test_job_duration() -> None:
    now = timezone.now()
    assert Job().duration is None
    ended = Job(started_at=now - timedelta(seconds=90), completed_at=now)
    assert ended.duration == 90.0
    running = Job(started_at=now - timedelta(seconds=5))
    assert running.duration is not None and running.duration >= 5.0


def test_batch_progress_and_old_api_spelling() -> None:
    batch = Batch(total_jobs=8, completed_jobs=3, failed_jobs=1, cancelled_jobs=2)
    assert batch.finished_jobs == 6
    assert batch.progress_percent == 75.0
    assert Batch().progress_percent == 0.0
    assert Batch(is_active=False).isActive is False
    assert Batch().status == P and Batch().is_active
