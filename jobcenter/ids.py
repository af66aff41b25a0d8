"""Primary keys that are portable across SQLite, PostgreSQL and MongoDB (strings and UUIDs),
and time-ordered where rows are mostly read in insertion order."""

from __future__ import annotations

import os
import threading
import time
import uuid

_RANDOM_BITS = 74
"""A UUIDv7's bits that are neither its timestamp nor its version and variant."""
_lock = threading.Lock()
_last = (0, 0)
"""The millisecond and the random part of the last id made in this process."""


def _forget_last() -> None:
    """A forked process starts from fresh random bits: counting on from its parent's last
    id, the two could make the same id within one millisecond."""
    global _last
    _last = (0, 0)


os.register_at_fork(after_in_child=_forget_last)


def uuid7() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): 48-bit millisecond timestamp then random bits, so new rows
    append to the end of the primary-key index instead of landing at random pages.

    Within one millisecond the random part counts on from the last id's (RFC 9562, 6.2,
    method 2), so ids made one after the other sort in that order: the thousands of jobs
    of a batch share their created_at, and a list ordered by it and then by id shows them
    in the order they were submitted."""
    global _last
    millis = time.time_ns() // 1_000_000
    random = int.from_bytes(os.urandom(10), "big") >> (80 - _RANDOM_BITS + 1)  # room to count
    with _lock:
        last_millis, last_random = _last
        if millis <= last_millis:  # the same millisecond (or the clock went back)
            millis, random = last_millis, last_random + 1 + (random & 0xFFFF)
            if random >> _RANDOM_BITS:  # counted past the random part: the next millisecond
                millis, random = millis + 1, random & ((1 << (_RANDOM_BITS - 1)) - 1)
        _last = (millis, random)
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version 7
    value |= (random >> 62) << 64  # rand_a: 12 bits
    value |= 0x2 << 62  # RFC 4122 variant
    value |= random & ((1 << 62) - 1)  # rand_b: 62 bits
    return uuid.UUID(int=value)


def new_job_id() -> str:
    return f"job-{uuid7()}"


def new_batch_id() -> str:
    return f"batch-{uuid7()}"
