"""Legacy import: N jobs of the older system (in batches of 1,000, with log lines and
results as its session jobs had them) from mongoexport files into a fresh database.
Measures documents/s and the importing process's peak memory (RSS), at each size given,
so that flat memory shows as the same peak for 10x the documents; then a second run over
the same files (nothing changed: everything skipped).

    .venv/bin/python bench/import_legacy.py --database sqlite --sizes 10000,100000 --runs 3
    .venv/bin/python bench/import_legacy.py --database postgresql --format array

Uses a database of its own (var/bench_legacy.sqlite3, or the PostgreSQL database
jobcenter_bench_legacy), so it can run beside the other benchmarks.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import PG_ADMIN_URL, REPO, machine, setup_django

SQLITE_PATH = REPO / "var" / "bench_legacy.sqlite3"
PG_DB = "jobcenter_bench_legacy"
T0 = datetime(2025, 1, 1, tzinfo=UTC)
STATUSES = ["completed"] * 7 + ["failed", "pending", "processing"]


def fresh_database(kind: str) -> dict[str, str]:
    if kind == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{SQLITE_PATH}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{SQLITE_PATH}"
    else:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {PG_DB}")
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + PG_DB
    env = dict(os.environ, DATABASE_URL=url, DJANGO_SETTINGS_MODULE="jobcenter.settings")
    env.setdefault("JOBCENTER_PROCESSORS", "processors.echo.EchoProcessor")
    env.pop("MONGODB_URI", None)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=REPO, env=env, check=True
    )
    return env


def date(moment: datetime) -> dict[str, Any]:
    return {"$date": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")}


def legacy_job(number: int) -> dict[str, Any]:
    created = T0 + timedelta(seconds=number)
    status = STATUSES[number % len(STATUSES)]
    return {
        "_id": {"$oid": f"{number:024x}"},
        "job_id": f"job-{number:08d}-0000-4000-8000-000000000000",
        "job_type": "event",
        "job_name": f"Event - Track {number % 7} - Session {number}",
        "status": status,
        "parameters": {
            "event": "Event 2025",
            "session": f"Session {number}",
            "url": f"https://event.example/2025/session-{number}",
            "filename": f"session-{number}.md",
            "track": f"Track {number % 7}",
            "day": "2025-02-01",
            "starttime": "10:00",
            "endtime": "10:50",
            "speakers": ["Ada Lovelace", "Grace Hopper"],
            "video_url": f"https://video.example/{number}.mp4",
            "attachments_url": None,
            "source_language": "en",
            "target_language": "de",
            "use_cache": True,
        },
        "progress": {"step": "done", "percent": 100, "message": ""},
        "logs": [
            {
                "timestamp": {
                    "$date": {"$numberLong": str(int(created.timestamp() * 1000) + step)}
                },
                "level": "info",
                "message": f"step {step} of session {number}",
            }
            for step in range(5)
        ],
        "results": {
            "markdown_file": f"session-{number}.md",
            "markdown_content": f"# Session {number}\n\n" + "Lorem ipsum dolor sit amet. " * 40,
            "assets": [f"session-{number}/slide-{page}.png" for page in range(3)],
            "web_text": "Web page text. " * 20,
            "video_transcript": "Transcript. " * 40,
            "attachments_text": "",
            "context": {"event": "Event 2025"},
            "attachments_url": None,
        }
        if status == "completed"
        else None,
        "error": {"code": "FAILED", "message": "video 404", "details": None}
        if status == "failed"
        else None,
        "batch_id": f"batch-{number // 1000:05d}",
        "user_id": f"user{number % 20}@example.org",
        "access_control": {
            "visibility": "private",
            "read_access": [],
            "write_access": [],
            "admin_access": [],
        },
        "archived": False,
        "created_at": date(created),
        "updated_at": date(created + timedelta(minutes=3)),
        "completed_at": date(created + timedelta(minutes=3))
        if status in ("completed", "failed")
        else None,
    }


def legacy_batch(number: int, size: int) -> dict[str, Any]:
    return {
        "batch_id": f"batch-{number:05d}",
        "batch_name": f"Import {number}",
        "status": "completed",
        "total_jobs": {"$numberLong": str(size)},
        "completed_jobs": {"$numberLong": str(size)},
        "failed_jobs": {"$numberLong": "0"},
        "isActive": True,
        "archived": False,
        "user_id": "user0@example.org",
        "created_at": date(T0),
        "updated_at": date(T0),
    }


def write_export(folder: Path, jobs: int, fmt: str) -> int:
    """The files, written as mongoexport writes them; returns the jobs file's size."""
    batches = [legacy_batch(n, min(1000, jobs - n * 1000)) for n in range((jobs + 999) // 1000)]
    (folder / "event_batches.json").write_text(json.dumps(batches))
    path = folder / ("event_jobs.jsonl" if fmt == "jsonl" else "event_jobs.json")
    with path.open("w") as out:
        if fmt == "array":
            out.write("[")
        for number in range(jobs):
            if fmt == "array" and number:
                out.write(",")
            out.write(json.dumps(legacy_job(number)))
            if fmt == "jsonl":
                out.write("\n")
        if fmt == "array":
            out.write("]")
    return path.stat().st_size


def child(folder: str) -> None:
    """One import in this process: prints its time, counts and peak RSS as JSON."""
    setup_django(dict(os.environ))
    from legacy.importer import ImportOptions, import_legacy
    from legacy.sources import DirectorySource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    report = import_legacy(DirectorySource(folder), ImportOptions())
    seconds = time.perf_counter() - start
    jobs = report.collections["event_jobs"]
    print(
        json.dumps(
            {
                "seconds": seconds,
                "read": jobs.read,
                "created": jobs.created,
                "skipped": jobs.skipped,
                "errors": report.errors,
                "rss_before_mb": before / 1024,
                "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def run_child(folder: Path, env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(folder)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--sizes", default="100000", help="comma-separated job counts")
    parser.add_argument("--format", choices=["jsonl", "array"], default="jsonl")
    parser.add_argument("--runs", type=int, default=3, help="runs per size (median reported)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    print(machine())
    for size in (int(part) for part in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="legacy-bench-") as tmp:
            folder = Path(tmp)
            file_size = write_export(folder, size, args.format)
            firsts, agains = [], []
            for _ in range(args.runs):
                env = fresh_database(args.database)  # every run imports into an empty database
                first = run_child(folder, env)
                again = run_child(folder, env)
                assert first["created"] == size and first["errors"] == 0, first
                assert again["skipped"] == size and again["created"] == 0, again
                firsts.append(first)
                agains.append(again)
        rates = [size / run["seconds"] for run in firsts]
        again_rates = [size / run["seconds"] for run in agains]
        print(
            f"database={args.database} format={args.format} jobs={size:,} "
            f"({file_size / 1e6:.0f} MB, {size * 5:,} log lines), {args.runs} runs: "
            f"import median {statistics.median(rates):,.0f} docs/s "
            f"(runs: {', '.join(f'{rate:,.0f}' for rate in rates)}), "
            f"peak RSS median {statistics.median(r['rss_peak_mb'] for r in firsts):.0f} MB "
            f"(max {max(r['rss_peak_mb'] for r in firsts):.0f}; after Django start-up "
            f"{statistics.median(r['rss_before_mb'] for r in firsts):.0f} MB); "
            f"re-run (all unchanged) median {statistics.median(again_rates):,.0f} docs/s, "
            f"peak RSS {statistics.median(r['rss_peak_mb'] for r in agains):.0f} MB"
        )


if __name__ == "__main__":
    main()
