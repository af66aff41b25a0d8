"""Waking idle workers when jobs become claimable: PostgreSQL LISTEN/NOTIFY.

Services call ``jobcenter.db.notify_jobs_pending()`` in the transaction that makes jobs
pending; PostgreSQL delivers the notification at commit. An idle worker waits on this
listener's socket together with its children's pipes, so a new job is picked up at once.
On SQLite and MongoDB there is no listener and the poll interval applies.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from django.db import connections

from jobcenter.db import NOTIFY_CHANNEL

logger = logging.getLogger("jobcenter.worker")


class Listener:
    """A dedicated autocommit connection that LISTENs (Django's connection cannot: it may
    be inside a transaction, and is closed and reopened on errors)."""

    def __init__(self, using: str = "default") -> None:
        self.using = using
        self.conn: Any = None

    @classmethod
    def create(cls, using: str = "default") -> Listener | None:
        if connections[using].vendor != "postgresql":
            return None
        listener = cls(using)
        listener.connect()
        return listener

    def connect(self) -> None:
        import psycopg

        wrapper = connections[self.using]
        params = wrapper.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        params.pop("prepare_threshold", None)
        self.conn = psycopg.connect(**params, autocommit=True)
        self.conn.execute(f"LISTEN {NOTIFY_CHANNEL}")

    @property
    def connected(self) -> bool:
        return self.conn is not None

    def ensure_connected(self) -> None:
        """Reconnect after a lost connection (a restarted PostgreSQL); failures are logged
        and retried at the next housekeeping round, meanwhile the worker polls."""
        if self.conn is None:
            try:
                self.connect()
                logger.info("LISTEN connection re-established")
            except Exception as exc:
                logger.warning("LISTEN reconnect failed: %s", exc)
                self.close()

    def fileno(self) -> int:
        return int(self.conn.fileno())

    def drain(self) -> int:
        """Consume pending notifications; returns how many."""
        try:
            return sum(1 for _ in self.conn.notifies(timeout=0))
        except Exception as exc:
            logger.warning("LISTEN connection lost (%s); polling until it is back", exc)
            self.close()
            return 1

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()
            self.conn = None
