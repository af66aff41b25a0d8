"""Backend differences that services must not care about.

Django's own ``transaction.atomic()`` is a no-op on django-mongodb-backend, which brings an
``atomic`` of its own (a MongoDB transaction; needs a replica set). Services call
``jobcenter.db.atomic()`` so that a transition is one transaction on every backend.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from django.db import connections, transaction
from django.db.models import QuerySet

NOTIFY_CHANNEL = "jobcenter_jobs"


def vendor(using: str = "default") -> str:
    return connections[using].vendor


def atomic(using: str = "default") -> AbstractContextManager[Any]:
    if vendor(using) == "mongodb":
        from django_mongodb_backend import transaction as mongo_transaction

        return mongo_transaction.atomic(using)
    return transaction.atomic(using=using)


def lock_rows(queryset: QuerySet[Any]) -> QuerySet[Any]:
    """Row locks where the backend has them (PostgreSQL). SQLite needs none: its IMMEDIATE
    transactions hold the database write lock from BEGIN. MongoDB has no SELECT FOR UPDATE;
    callers re-check the status in the UPDATE's filter and count what changed."""
    if connections[queryset.db].features.has_select_for_update:
        return queryset.select_for_update()
    return queryset


def notify_jobs_pending(using: str = "default") -> None:
    """Wake idle workers: PostgreSQL delivers a NOTIFY when the current transaction commits
    (see jobs/worker/wakeup.py). Elsewhere workers poll, and this does nothing."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, '')", [NOTIFY_CHANNEL])
