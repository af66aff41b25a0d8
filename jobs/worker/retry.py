"""Retry strategies are objects (as in Procrastinate): the worker asks one whether and when
a failed attempt runs again."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryStrategy:
    """Exponential backoff with jitter: ``base * 2**(attempt-1)``, capped, +/- ``jitter``."""

    base_seconds: float = 2.0
    max_seconds: float = 600.0
    jitter: float = 0.2

    def should_retry(self, attempt: int, max_attempts: int, retryable: bool) -> bool:
        return retryable and attempt < max_attempts

    def delay(self, attempt: int) -> float:
        delay = min(self.max_seconds, self.base_seconds * 2 ** max(0, attempt - 1))
        return max(0.0, delay * (1 + random.uniform(-self.jitter, self.jitter)))
