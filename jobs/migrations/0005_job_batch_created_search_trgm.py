"""Indexes for the REST API's lists on a million jobs (bench/api_queries.py, numbers in
docs/benchmarks.md):

* ``job_created`` and ``job_status_type_created`` end with ``job_id`` now: the lists page by
  (created_at, job_id), and the jobs of one batch share created_at, so without it page 100
  of ``GET /api/jobs`` sorted a 10,000-job tie (13 ms in the database) to return 50 rows.

* ``job_batch_created`` (batch, created_at, job_id): a batch's jobs in keyset order, so
  the first page of a 10,000-job batch reads 51 index entries instead of sorting the batch.
* ``job_priority_created`` (priority, created_at, job_id): ``ordering=-priority`` (and
  ``priority``) in keyset order, instead of sorting every job for each page.
* ``job_search_trgm``, PostgreSQL only: a trigram GIN index on the text that ``search``
  looks into (job name and the common text parameters), so a search for a rare word is an
  index lookup, not a scan of every job. pg_trgm is a trusted extension (PostgreSQL 13+):
  the database owner may create it. Other backends search without it, as before.

The expression must stay the one ``jobs.selectors.job_search_text`` builds, or PostgreSQL
will not use the index (tests/api/test_jobs.py checks the plan).
"""

from django.conf import settings
from django.db import migrations, models
from django.db.models import F, TextField, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Concat, Upper

SEARCH_KEYS = ("event", "session", "url", "filename", "title", "source")
SEARCH_INDEX = "job_search_trgm"


def search_text():  # type: ignore[no-untyped-def]
    parts = [F("job_name")]
    for key in SEARCH_KEYS:
        parts += [Value("\n"), KT(f"parameters__{key}")]
    return Upper(Cast(Concat(*parts, output_field=TextField()), TextField()))


def add_search_index(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    from django.db.models.sql import Query

    job = apps.get_model("jobs", "Job")
    # Compiled by the ORM, as the search query will be (GinIndex(OpClass(...)) would wrap
    # the expression in one pair of parentheses too many for the operator class).
    query = Query(job, alias_cols=False)
    compiler = query.get_compiler(connection=schema_editor.connection)
    sql, params = compiler.compile(search_text().resolve_expression(query))
    expression = sql % tuple(schema_editor.quote_value(param) for param in params)
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f"CREATE INDEX {SEARCH_INDEX} ON {job._meta.db_table} USING gin "
        f"(({expression}) gin_trgm_ops)"
    )
    # Statistics of the indexed expression, at once: without them the planner guesses that
    # a common word is rare and reads thousands of matches through the index instead of
    # walking created_at until a page is full (600 ms instead of 2 ms on a million jobs).
    # Only on a table that already holds jobs: statistics taken of an (almost) empty table
    # made the next big create_batch commit take seconds, growing with every batch (its
    # foreign-key checks planned for a tiny table; bench/bulk_enqueue.py: 0.9 s -> 4, 12,
    # 37 s). Autovacuum analyzes a table that grows from empty.
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM (SELECT 1 FROM {job._meta.db_table} LIMIT 10000) t")
        if cursor.fetchone()[0] >= 10000:
            schema_editor.execute(f"ANALYZE {job._meta.db_table}")


def remove_search_index(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {SEARCH_INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("batches", "0001_initial"),
        ("jobs", "0004_job_completed_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(model_name="job", name="job_status_type_created"),
        migrations.RemoveIndex(model_name="job", name="job_created"),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(
                fields=["status", "job_type", "created_at", "job_id"],
                name="job_status_type_created",
            ),
        ),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(fields=["created_at", "job_id"], name="job_created"),
        ),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(fields=["batch", "created_at", "job_id"], name="job_batch_created"),
        ),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(
                fields=["priority", "created_at", "job_id"], name="job_priority_created"
            ),
        ),
        migrations.RunPython(add_search_index, remove_search_index, elidable=False),
    ]
