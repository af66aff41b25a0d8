"""A PostgreSQL database with a million jobs, for timing reads (API lists, admin pages) at a
realistic size. Filling takes minutes, so it is kept between runs and shared by the
benchmarks that only read.

    .venv/bin/python bench/fill.py              # create, migrate and fill (skips when filled)
    .venv/bin/python bench/fill.py --force      # empty it and fill again
    .venv/bin/python bench/fill.py --jobs 200000   # a smaller database (same name)

From another benchmark script (in bench/, so ``from fill import ...`` works)::

    from fill import ensure_filled
    filled = ensure_filled()        # migrates, fills if needed, returns quickly if filled
    setup_django(filled.env)        # common.setup_django: Django now uses that database
    filled.big_batch_id             # the 10,000-job batch, for detail pages
    filled.users                    # user names: owner, other, staff (see below)

What is in it (deterministic: a fixed random seed, the same on every fill):

* ``--jobs`` jobs (1,000,000 by default) of the types ``pdf``, ``session``, ``audio``,
  ``video``, ``echo`` and ``image``, created over the 365 days before the fill, with the
  names and common text parameters (``event``, ``session``, ``url``, ``filename``) that the
  API's search looks at;
* statuses by age: older jobs completed (85 %), failed (10 %) or cancelled (5 %); the newest
  3 % mostly pending, some processing (leased to ``bench-worker`` for ten years, so no
  reaper touches them); jobs older than 270 days are half archived;
* about 40 % of the jobs in batches of 2 to 3,000 jobs, plus one batch of 10,000 jobs
  (``BIG_BATCH_NAME``, mixed statuses, so it is ``processing``); batch counters, status and
  ``completed_at`` match their jobs;
* owners: ``bench`` (60 %) and ``bench-other`` (40 %); 10 % are public; a quarter of
  ``bench-other``'s grant read access to the group ``bench-team``, which ``bench`` is in;
  ``bench-admin`` is a superuser (password: ``$BENCH_ADMIN_PASSWORD``, default
  ``bench-admin``; a local benchmark database, nothing else);
* one "Created." log line per job of the 10,000-job batch and per job of the newest 3 %.

Rows go in with the project's bulk insert (``jobcenter.bulk.bulk_insert``, the one
``batches.services.create_batch`` uses) rather than through ``create_batch`` itself,
because the statuses, timestamps and owners above are history that no service call
creates. ``VACUUM ANALYZE`` runs at the end so the planner sees the real sizes.

The database is ``jobcenter_bench_million`` on the server of ``BENCH_PG_ADMIN_URL``
(default ``postgres://postgres@127.0.0.1:5432/postgres``). It is migrated on every call,
so new migrations (indexes) apply to it without a refill.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from common import PG_ADMIN_URL, REPO, setup_django

DB_NAME = "jobcenter_bench_million"
DEFAULT_JOBS = 1_000_000
BIG_BATCH_SIZE = 10_000
BIG_BATCH_NAME = "bench: the 10,000-job batch"
JOB_TYPES = ("pdf", "session", "audio", "video", "echo", "image")
TYPE_WEIGHTS = (30, 30, 15, 10, 10, 5)
USERS = {"owner": "bench", "other": "bench-other", "staff": "bench-admin"}
GROUP = "bench-team"
FLUSH_JOBS = 20_000
SEED = 20_260_101
WORDS = [
    "keynote",
    "plenary",
    "workshop",
    "panel",
    "lightning",
    "poster",
    "tutorial",
    "opening",
    "closing",
    "climate",
    "energy",
    "health",
    "data",
    "privacy",
    "security",
    "cloud",
    "edge",
    "network",
    "storage",
    "search",
    "language",
    "vision",
    "audio",
    "robotics",
    "ethics",
    "policy",
    "education",
    "finance",
    "transport",
]


def database_url() -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + DB_NAME


def environment() -> dict[str, str]:
    env = dict(os.environ, DATABASE_URL=database_url(), DJANGO_SETTINGS_MODULE="jobcenter.settings")
    env.pop("MONGODB_URI", None)
    return env


@dataclass
class Filled:
    """What a caller needs to use the filled database."""

    env: dict[str, str]
    jobs: int
    big_batch_id: str
    users: dict[str, str] = field(default_factory=lambda: dict(USERS))


def create_and_migrate() -> dict[str, str]:
    """Create the database if it is missing and apply every migration (in a subprocess, so
    this process can still point Django elsewhere)."""
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone()
        if not exists:
            conn.execute(f"CREATE DATABASE {DB_NAME}")
    env = environment()
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=REPO, env=env, check=True
    )
    return env


def ensure_filled(jobs: int = DEFAULT_JOBS, *, force: bool = False) -> Filled:
    """Create, migrate and (unless already filled with ``jobs`` jobs) fill the database.
    Runs the fill in a subprocess, so the caller's Django is not set up by it."""
    env = create_and_migrate()
    command = [sys.executable, str(REPO / "bench" / "fill.py"), "--jobs", str(jobs), "--no-migrate"]
    if force:
        command.append("--force")
    subprocess.run(command, cwd=REPO, env=env, check=True)
    import psycopg

    with psycopg.connect(database_url()) as conn:
        row = conn.execute(
            "SELECT batch_id FROM batches_batch WHERE batch_name = %s", [BIG_BATCH_NAME]
        ).fetchone()
    assert row is not None, "the fill did not create the big batch"
    return Filled(env=env, jobs=jobs, big_batch_id=row[0])


# --- the fill (runs with Django set up against the database) -------------------------------


def uuid7_at(moment: datetime, rng: random.Random) -> uuid.UUID:
    """A UUIDv7 for a past moment, so ids sort like creation times, as real ones do."""
    millis = int(moment.timestamp() * 1000)
    value = (millis & ((1 << 48) - 1)) << 80 | rng.getrandbits(80)
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return uuid.UUID(int=value)


class Filler:
    def __init__(self, total: int, now: datetime) -> None:
        self.total = total
        self.now = now
        self.start = now - timedelta(days=365)
        self.step = timedelta(days=365) / total
        self.rng = random.Random(SEED)
        self.job_rows: list[dict[str, Any]] = []
        self.batch_rows: list[dict[str, Any]] = []
        self.log_rows: list[dict[str, Any]] = []
        self.done = 0
        self.batches = 0
        self.big_batch_id = ""

    def setup_users(self) -> dict[str, int]:
        from django.contrib.auth.models import Group, User

        group, _ = Group.objects.get_or_create(name=GROUP)
        ids = {}
        for role, name in USERS.items():
            user, _ = User.objects.get_or_create(username=name)
            if role == "staff":
                user.is_staff = user.is_superuser = True
                user.set_password(os.environ.get("BENCH_ADMIN_PASSWORD", "bench-admin"))
                user.save()
            if role == "owner":
                user.groups.add(group)
            ids[role] = user.pk
        return ids

    def access(self, role: str) -> dict[str, Any]:
        public = self.rng.random() < 0.10
        grant = role == "other" and self.rng.random() < 0.25
        return {
            "visibility": "public" if public else "private",
            "read_access": [GROUP] if grant else [],
            "write_access": [],
            "admin_access": [],
        }

    def status(self, position: int) -> str:
        roll = self.rng.random()
        if position >= self.total * 0.97:
            if roll < 0.70:
                return "pending"
            if roll < 0.72:
                return "processing"
            return "completed" if roll < 0.92 else "failed"
        if roll < 0.85:
            return "completed"
        return "failed" if roll < 0.95 else "cancelled"

    def job(
        self,
        position: int,
        created: datetime,
        job_type: str,
        owner: tuple[str, int],
        access: dict[str, Any],
        batch_id: str | None,
        status: str | None = None,
    ) -> dict[str, Any]:
        rng = self.rng
        status = status or self.status(position)
        number = position + 1
        event = f"event-{number // 5000:03d}"
        words = f"{rng.choice(WORDS)} {rng.choice(WORDS)}"
        if job_type == "session":
            name = f"Session {number}: {words}"
            parameters: dict[str, Any] = {
                "event": event,
                "session": f"session-{number}",
                "url": f"https://events.example.org/{event}/session-{number}",
            }
        elif job_type in ("pdf", "image"):
            extension = "pdf" if job_type == "pdf" else "png"
            name = f"{words.replace(' ', '-')}-{number}.{extension}"
            parameters = {
                "url": f"https://files.example.org/{event}/{name}",
                "filename": name,
                "ocr": rng.random() < 0.3,
            }
        elif job_type in ("audio", "video"):
            extension = "mp3" if job_type == "audio" else "mp4"
            name = f"{event} {words} recording {number}"
            parameters = {"filename": f"recording-{number}.{extension}", "event": event}
        else:
            name = f"echo {number}"
            parameters = {"message": f"{words} {number}"}
        started = created + timedelta(seconds=rng.uniform(1, 600))
        ended = started + timedelta(seconds=rng.uniform(2, 1800))
        finished = status in ("completed", "failed", "cancelled")
        old = (self.now - created).days > 270
        return {
            "job_id": f"job-{uuid7_at(created, rng)}",
            "job_type": job_type,
            "job_name": name,
            "status": status,
            "priority": rng.choice((0, 0, 0, 0, 5, 10)),
            "parameters": parameters,
            "progress": {
                "step": "done" if finished else ("working" if status == "processing" else ""),
                "percent": 100 if status == "completed" else (40 if status == "processing" else 0),
                "message": "",
            },
            "results": {"markdown_file": f"{number}.md", "pages": rng.randint(1, 40)}
            if status == "completed"
            else None,
            "error": {"code": "PROCESSOR_ERROR", "message": "source unreachable", "details": None}
            if status == "failed"
            else None,
            "batch_id": batch_id,
            "user_id": owner[1],
            "access_control": access,
            "archived": finished and old and rng.random() < 0.5,
            "attempts": 0 if status == "pending" else 1,
            "worker_id": "bench-worker" if status == "processing" else None,
            "lease_expires_at": self.now + timedelta(days=3650) if status == "processing" else None,
            "created_at": created,
            "updated_at": ended if finished else created,
            "started_at": started if status != "pending" else None,
            "completed_at": ended if finished else None,
        }

    def owner(self, users: dict[str, int]) -> tuple[str, int]:
        role = "owner" if self.rng.random() < 0.60 else "other"
        return role, users[role]

    def add_batch(self, size: int, users: dict[str, int], name: str | None = None) -> None:
        from batches.counters import COUNTER_FIELDS, batch_status

        created = self.start + self.step * self.done
        role, user_id = self.owner(users)
        access = self.access(role)
        main_type = self.rng.choices(JOB_TYPES, TYPE_WEIGHTS)[0]
        batch_id = f"batch-{uuid7_at(created, self.rng)}"
        if name == BIG_BATCH_NAME:
            self.big_batch_id = batch_id
        counts = dict.fromkeys(COUNTER_FIELDS, 0)
        jobs = []
        for index in range(size):
            job_type = main_type if self.rng.random() < 0.9 else self.rng.choice(JOB_TYPES)
            status = None
            if name == BIG_BATCH_NAME:
                status = self.rng.choices(
                    ("completed", "failed", "cancelled", "processing", "pending"),
                    (55, 8, 2, 5, 30),
                )[0]
            row = self.job(
                self.done + index, created, job_type, (role, user_id), access, batch_id, status
            )
            counts[row["status"]] += 1
            jobs.append(row)
        status = batch_status(counts)
        ended = status in ("completed", "failed", "cancelled")
        self.batch_rows.append(
            {
                "batch_id": batch_id,
                "batch_name": name
                or f"{jobs[0]['parameters'].get('event', 'misc')} {main_type} #{self.batches + 1}",
                "status": status,
                "total_jobs": size,
                **{COUNTER_FIELDS[key]: value for key, value in counts.items()},
                "archived": all(job["archived"] for job in jobs),
                "is_active": self.rng.random() < 0.95 or name == BIG_BATCH_NAME,
                "user_id": user_id,
                "access_control": access,
                "created_at": created,
                "updated_at": max(job["updated_at"] for job in jobs),
                "completed_at": max(job["completed_at"] for job in jobs) if ended else None,
            }
        )
        self.add_jobs(jobs)
        self.batches += 1

    def add_single(self, users: dict[str, int]) -> None:
        created = self.start + self.step * self.done
        role, user_id = self.owner(users)
        job_type = self.rng.choices(JOB_TYPES, TYPE_WEIGHTS)[0]
        row = self.job(self.done, created, job_type, (role, user_id), self.access(role), None)
        self.add_jobs([row])

    def add_jobs(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self.job_rows.append(row)
            if self.done >= self.total * 0.97 or row["batch_id"] == self.big_batch_id:
                self.log_rows.append(
                    {
                        "id": uuid7_at(row["created_at"], self.rng),
                        "job_id": row["job_id"],
                        "timestamp": row["created_at"],
                        "message": "Created."
                        + (f" In batch {row['batch_id']}." if row["batch_id"] else ""),
                    }
                )
            self.done += 1

    def flush(self) -> None:
        from batches.models import Batch
        from jobcenter.bulk import bulk_insert
        from jobcenter.db import atomic
        from jobs.models import Job, JobLog

        with atomic():
            bulk_insert(Batch, self.batch_rows, {})
            bulk_insert(Job, self.job_rows, {})
            bulk_insert(JobLog, self.log_rows, {"level": "info"})
        self.job_rows, self.batch_rows, self.log_rows = [], [], []

    def run(self) -> None:
        users = self.setup_users()
        big_at = (
            max(0, min(int(self.total * 0.985), self.total - BIG_BATCH_SIZE))
            if self.total >= BIG_BATCH_SIZE
            else None
        )
        started = time.monotonic()
        while self.done < self.total:
            big_pending = big_at is not None and not self.big_batch_id
            if big_pending and self.done >= big_at:
                self.add_batch(BIG_BATCH_SIZE, users, BIG_BATCH_NAME)
            elif self.rng.random() < 0.012:
                large = self.rng.random() < 0.03
                size = self.rng.randint(1000, 3000) if large else self.rng.randint(2, 500)
                room = (big_at if big_pending else self.total) - self.done
                self.add_batch(max(1, min(size, room)), users)
            else:
                self.add_single(users)
            if len(self.job_rows) >= FLUSH_JOBS:
                self.flush()
                rate = self.done / (time.monotonic() - started)
                print(f"  {self.done:,} jobs ({rate:,.0f}/s)", flush=True)
        self.flush()


def fill(total: int, force: bool) -> None:
    from django.db import connection

    from batches.models import Batch
    from jobs.models import Job

    filled = Job.objects.count()
    if filled == total and Batch.objects.filter(batch_name=BIG_BATCH_NAME).exists() and not force:
        print(f"{DB_NAME}: already filled with {filled:,} jobs; nothing to do.")
        return
    if filled or force:
        print(f"{DB_NAME}: {filled:,} jobs; emptying it before the fill.")
        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE jobs_joblog, jobs_webhookdelivery, jobs_job, batches_batch CASCADE"
            )
    print(f"{DB_NAME}: filling with {total:,} jobs.")
    started = time.monotonic()
    filler = Filler(total, datetime.now(UTC))
    filler.run()
    print(f"  inserted in {time.monotonic() - started:.0f} s; VACUUM ANALYZE …", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(
        f"{DB_NAME}: {Job.objects.count():,} jobs, {Batch.objects.count():,} batches "
        f"(big batch {filler.big_batch_id}) in {time.monotonic() - started:.0f} s."
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=DEFAULT_JOBS)
    parser.add_argument("--force", action="store_true", help="empty and fill again")
    parser.add_argument("--no-migrate", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    env = environment() if args.no_migrate else create_and_migrate()
    setup_django(env)
    fill(args.jobs, args.force)


if __name__ == "__main__":
    main()
