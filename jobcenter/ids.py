"""Primary keys that are portable across SQLite, PostgreSQL and MongoDB (strings and UUIDs),
and time-ordered where rows are mostly read in insertion order."""

from __future__ import annotations

import os
import time
import uuid


def uuid7() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): 48-bit millisecond timestamp then random bits, so new rows
    append to the end of the primary-key index instead of landing at random pages."""
    millis = time.time_ns() // 1_000_000
    value = (millis & ((1 << 48) - 1)) << 80 | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return uuid.UUID(int=value)


def new_job_id() -> str:
    return f"job-{uuid7()}"


def new_batch_id() -> str:
    return f"batch-{uuid7()}"
