"""Read latency of the REST API on a million jobs: p50/p95 of ``GET /api/jobs`` (first page,
page 100 by cursor, a status+type filter, searches) and ``GET /api/batches/{id}`` of the
10,000-job batch.

    .venv/bin/python bench/api_queries.py               # 100 timed requests per query
    .venv/bin/python bench/api_queries.py --runs 300 --users bench,bench-admin

Through real HTTP: uvicorn serving ``jobcenter.asgi`` (as ``scripts/run.sh`` does: one
process, ``--lifespan off --no-access-log``) on 127.0.0.1, requests with an API key over one
kept-alive connection (``http.client``), timed from sending the request to having read the
whole body, so JSON rendering and the access-control filter are included. Each query runs
once untimed first (warm caches), then ``--runs`` times.

Users: ``bench`` is a plain user (owner of 60 % of the jobs, in the group other owners
grant read access to), so its lists carry the access-control filter; ``bench-admin`` is
staff with every permission and sees everything without it.

The database comes from ``fill.py`` (created and filled on first use, minutes; kept after).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import time
import urllib.parse
from typing import Any

from common import REPO, machine, percentile, setup_django
from fill import ensure_filled


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "jobcenter.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--lifespan",
            "off",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=REPO,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/api/health")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit("uvicorn did not start")


class Api:
    def __init__(self, port: int, key: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Bearer {key}"}

    def get(self, path: str) -> tuple[float, dict[str, Any]]:
        started = time.perf_counter()
        self.connection.request("GET", path, headers=self.headers)
        response = self.connection.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - started
        if response.status != 200:
            raise SystemExit(f"GET {path}: {response.status} {body[:300]!r}")
        return elapsed, json.loads(body)


def page_100_path(api: Api, base: str) -> str:
    """The path of page 100 of ``base``, found by following next_cursor (untimed)."""
    path = base
    for _ in range(99):
        _, body = api.get(path)
        cursor = body["next_cursor"]
        assert cursor, "fewer than 100 pages"
        path = f"{base}&cursor={urllib.parse.quote(cursor)}"
    return path


def measure(api: Api, path: str, runs: int) -> tuple[float, float, int]:
    _, body = api.get(path)
    timings = []
    for _ in range(runs):
        elapsed, body = api.get(path)
        timings.append(elapsed * 1000)
    items = len(body.get("items", [])) if isinstance(body, dict) else 0
    return percentile(timings, 0.5), percentile(timings, 0.95), items


def rare_term() -> str:
    """The ``session`` parameter of a session job from about half a year ago: a search
    that matches a handful of jobs, deep in the table."""
    from datetime import timedelta

    from django.utils import timezone

    from jobs.models import Job

    job = (
        Job.objects.filter(job_type="session", created_at__lt=timezone.now() - timedelta(days=180))
        .order_by("-created_at")
        .values_list("parameters", flat=True)
        .first()
    )
    assert job is not None
    return str(job["session"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--users", default="bench,bench-admin")
    parser.add_argument("--only", default="", help="run only queries whose label contains this")
    args = parser.parse_args()
    filled = ensure_filled()
    env = dict(filled.env, JOBCENTER_PROCESSORS="processors.echo.EchoProcessor")
    setup_django(env)
    print(machine())
    from django.contrib.auth.models import User
    from django.db import connection

    from jobs.api_keys import create_api_key
    from jobs.models import ApiKey

    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        print(cursor.fetchone()[0])
    rare = rare_term()
    server = start_server(env, args.port)
    keys = []
    try:
        for username in args.users.split(","):
            created = create_api_key(User.objects.get(username=username), "bench api_queries")
            keys.append(created.api_key.pk)
            api = Api(args.port, created.raw_key)
            queries = {
                "GET /api/jobs (first page, 50)": "/api/jobs?limit=50",
                "GET /api/jobs page 100 by cursor": page_100_path(api, "/api/jobs?limit=50"),
                "GET /api/jobs?ordering=-priority (first page)": (
                    "/api/jobs?ordering=-priority&limit=50"
                ),
                "GET /api/jobs?status=failed&job_type=pdf": (
                    "/api/jobs?status=failed&job_type=pdf&limit=50"
                ),
                "GET /api/jobs?search=keynote (common word)": "/api/jobs?search=keynote&limit=50",
                f"GET /api/jobs?search={rare} (rare)": f"/api/jobs?search={rare}&limit=50",
                "GET /api/jobs?include_total=true (first page + count)": (
                    "/api/jobs?limit=50&include_total=true"
                ),
                "GET /api/batches/{id} (10,000 jobs)": f"/api/batches/{filled.big_batch_id}",
                "GET /api/batches/{id}/jobs (first page)": (
                    f"/api/batches/{filled.big_batch_id}/jobs?limit=50"
                ),
            }
            print(f"\nuser {username} ({args.runs} runs each):")
            print("| query | p50 ms | p95 ms | items |")
            print("|---|---:|---:|---:|")
            for label, path in queries.items():
                if args.only and args.only not in label:
                    continue
                p50, p95, items = measure(api, path, args.runs)
                print(f"| {label} | {p50:.1f} | {p95:.1f} | {items} |", flush=True)
    finally:
        ApiKey.objects.filter(pk__in=keys).delete()
        server.terminate()
        server.wait(timeout=10)
    print(f"\nworkers: uvicorn 1 process; pid {os.getpid()} client; runs={args.runs}")


if __name__ == "__main__":
    main()
