"""Bulk inserts of many rows that share most of their values (a batch's jobs and their log
lines): the one backend-specific module for inserts.

Django's ``bulk_create`` prepares every field of every row one value at a time; for a
10,000-job batch that is 260,000 preparations, most of them of values the rows share
(timestamps, owner, access control, defaults). Here shared values are prepared once and
only the varying ones per row. Per backend:

* PostgreSQL: ``INSERT … SELECT u.*, <shared scalars> FROM UNNEST(<one array per varying
  column>)``: a handful of parameters instead of one per value (Django 5.2's bulk_create
  uses UNNEST for the same reason), so neither the driver nor the planner pays per value.
* SQLite: multi-row ``VALUES`` in chunks within the parameter limit; binding is cheap.
* MongoDB: Django's ``bulk_create`` (``insert_many``, one round trip per chunk).

Measured in bench/bulk_enqueue.py (docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field

CHUNK_ROWS = 1000


def bulk_insert(
    model: type[models.Model],
    rows: Sequence[Mapping[str, Any]],
    shared: Mapping[str, Any],
    *,
    using: str = "default",
) -> None:
    """Insert ``rows`` (per-row values by attname, the primary key included; every row has
    the same keys), each completed by ``shared`` values and then by the fields' defaults."""
    if not rows:
        return
    if model._meta.pk.attname not in rows[0]:
        raise ValueError("bulk_insert needs each row's primary key")
    connection = connections[using]
    if connection.vendor == "mongodb":
        model._default_manager.using(using).bulk_create(
            [model(**shared, **row) for row in rows], batch_size=CHUNK_ROWS
        )
        return
    fields = list(model._meta.concrete_fields)
    varying = [field for field in fields if field.attname in rows[0]]
    constant = {
        field: field.get_db_prep_save(
            shared[field.attname] if field.attname in shared else field.get_default(), connection
        )
        for field in fields
        if field.attname not in rows[0]
    }
    columns = [
        [field.get_db_prep_save(row[field.attname], connection) for row in rows]
        for field in varying
    ]
    if connection.vendor == "postgresql":
        _insert_unnest(connection, model, varying, columns, constant)
    else:
        _insert_values(connection, model, varying, columns, constant)


def _insert_unnest(
    connection: BaseDatabaseWrapper,
    model: type[models.Model],
    varying: list[Field[Any, Any]],
    columns: list[list[Any]],
    constant: dict[Field[Any, Any], Any],
) -> None:
    quote = connection.ops.quote_name

    def db_type(field: Field[Any, Any]) -> str:
        # varchar(64)[] would truncate silently; the column's own type checks the length.
        return str(field.db_type(connection)).split("(")[0]

    names = ", ".join(quote(field.column) for field in [*varying, *constant])
    scalars = "".join(f", %s::{db_type(field)}" for field in constant)
    arrays = ", ".join(f"%s::{db_type(field)}[]" for field in varying)
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({names}) "
        f"SELECT u.*{scalars} FROM UNNEST({arrays}) AS u"
    )
    with connection.cursor() as cursor:
        for start in range(0, len(columns[0]), CHUNK_ROWS * 10):
            part = [column[start : start + CHUNK_ROWS * 10] for column in columns]
            cursor.execute(sql, [*constant.values(), *part])


def _insert_values(
    connection: BaseDatabaseWrapper,
    model: type[models.Model],
    varying: list[Field[Any, Any]],
    columns: list[list[Any]],
    constant: dict[Field[Any, Any], Any],
) -> None:
    quote = connection.ops.quote_name
    fields = [*varying, *constant]
    head = "INSERT INTO {} ({}) VALUES ".format(
        quote(model._meta.db_table), ", ".join(quote(field.column) for field in fields)
    )
    placeholders = "({})".format(", ".join(["%s"] * len(fields)))
    shared = list(constant.values())
    chunk = max(1, min(CHUNK_ROWS, connection.ops.bulk_batch_size(fields, columns[0])))
    with connection.cursor() as cursor:
        for start in range(0, len(columns[0]), chunk):
            params: list[Any] = []
            for index in range(start, min(start + chunk, len(columns[0]))):
                params.extend(column[index] for column in columns)
                params.extend(shared)
            count = len(params) // len(fields)
            cursor.execute(head + ", ".join([placeholders] * count), params)
