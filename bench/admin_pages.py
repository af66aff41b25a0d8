"""Render time of the Job Center admin pages on a million jobs: p50/p95 of the dashboard,
the jobs list (first page, filtered, searched), the batches list and the detail page of the
10,000-job batch, as the superuser ``bench-admin``.

    .venv/bin/python bench/admin_pages.py              # 30 timed renders per page
    .venv/bin/python bench/admin_pages.py --runs 100 --only dashboard

With Django's test client in this process (no HTTP server: what is timed is the view, its
queries and the template rendering, from request to full response body). Each page renders
once untimed first (warm caches), then ``--runs`` times. The queries of each page are
counted on the last render.

The database comes from ``fill.py`` (created and filled on first use, minutes; kept after).
"""

from __future__ import annotations

import argparse
import time

from common import machine, percentile, setup_django
from fill import ensure_filled


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--only", default="", help="run only pages whose label contains this")
    args = parser.parse_args()
    filled = ensure_filled()
    setup_django(dict(filled.env))
    print(machine())
    from api_queries import rare_term
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    setup_test_environment()  # the test client's host, nothing else
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        print(cursor.fetchone()[0])
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'jobs_job'")
        print(f"jobs (estimate): {cursor.fetchone()[0]:,}")
    client = Client()
    client.force_login(User.objects.get(username=filled.users["staff"]))
    rare = rare_term()
    pages = {
        "dashboard": "/admin/jobs/job/dashboard/",
        "jobs list, first page": "/admin/jobs/job/",
        "jobs list, status=failed & type=pdf": "/admin/jobs/job/?status__exact=failed&job_type=pdf",
        "jobs list, error code filter": "/admin/jobs/job/?error_code=PROCESSOR_ERROR",
        "jobs list, batch filter (10,000-job batch)": (
            f"/admin/jobs/job/?batch={filled.big_batch_id}"
        ),
        "jobs list, search 'keynote' (common word)": "/admin/jobs/job/?q=keynote",
        f"jobs list, search '{rare}' (rare)": f"/admin/jobs/job/?q={rare}",
        "jobs list, page 50": "/admin/jobs/job/?p=50",
        "batches list, first page": "/admin/batches/batch/",
        "batch detail (10,000 jobs)": f"/admin/batches/batch/{filled.big_batch_id}/change/",
        "live refresh JSON (50 jobs)": None,
    }
    from jobs.models import Job

    ids = ",".join(Job.objects.filter(status="processing").values_list("pk", flat=True)[:50])
    pages["live refresh JSON (50 jobs)"] = f"/admin/jobs/job/live/?jobs={ids}&dashboard=1"
    print(f"\n{args.runs} renders each, user {filled.users['staff']} (superuser):")
    print("| page | p50 ms | p95 ms | queries |")
    print("|---|---:|---:|---:|")
    plain = {"staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    with override_settings(
        STORAGES={"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}, **plain}
    ):
        for label, path in pages.items():
            if args.only and args.only not in label:
                continue
            assert path is not None
            response = client.get(path)
            assert response.status_code == 200, (label, response.status_code)
            timings = []
            for _ in range(args.runs):
                start = time.perf_counter()
                response = client.get(path)
                timings.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200
            with CaptureQueriesContext(connection) as queries:
                client.get(path)
            p50, p95 = percentile(timings, 0.5), percentile(timings, 0.95)
            print(f"| {label} | {p50:.1f} | {p95:.1f} | {len(queries)} |", flush=True)


if __name__ == "__main__":
    main()
