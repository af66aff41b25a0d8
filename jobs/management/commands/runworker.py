"""``manage.py runworker``: claim jobs from the database and run them (docs/worker.md)."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jobs.worker.runner import JobWorker, WorkerConfig
from processors.registry import job_types


def type_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


class Command(BaseCommand):
    help = "Run a worker: claim jobs and run them in child processes until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--concurrency",
            type=int,
            default=os.cpu_count() or 1,
            help="jobs at once (default: the number of CPU cores)",
        )
        parser.add_argument("--job-types", type=type_list, default=[], help="only these, a,b")
        parser.add_argument("--exclude-types", type=type_list, default=[], help="never these")
        parser.add_argument(
            "--poll-interval",
            type=float,
            default=1.0,
            metavar="SECONDS",
            help="how often an idle worker looks for jobs (PostgreSQL wakes it at once)",
        )
        parser.add_argument(
            "--burst", action="store_true", help="exit 0 when nothing is left to claim"
        )
        parser.add_argument("--max-jobs", type=int, help="exit after this many jobs")
        parser.add_argument(
            "--shutdown-timeout",
            type=float,
            default=30.0,
            metavar="SECONDS",
            help="on SIGTERM/SIGINT, how long running jobs may finish",
        )
        parser.add_argument("--name", default="", help="shown in the admin and the API")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["concurrency"] < 1:
            raise CommandError("--concurrency must be at least 1")
        if options["max_jobs"] is not None and options["max_jobs"] < 1:
            raise CommandError("--max-jobs must be at least 1")
        if not options["poll_interval"] > 0:
            raise CommandError("--poll-interval must be more than 0 seconds")
        if not options["shutdown_timeout"] >= 0:
            raise CommandError("--shutdown-timeout must be 0 seconds or more")
        both = sorted(set(options["job_types"]) & set(options["exclude_types"]))
        if both:
            raise CommandError(
                f"--job-types and --exclude-types both name {', '.join(both)}: "
                "the worker would never claim them"
            )
        known = set(job_types())
        for option in ("job_types", "exclude_types"):
            unknown = sorted(set(options[option]) - known)
            if unknown:
                flag = "--" + option.replace("_", "-")
                raise CommandError(
                    f"{flag}: no job type {', '.join(unknown)} (known: {', '.join(sorted(known))})"
                )
        self.setup_logging(options["verbosity"])
        config = WorkerConfig.from_settings(
            concurrency=options["concurrency"],
            job_types=options["job_types"],
            exclude_types=options["exclude_types"],
            poll_interval=options["poll_interval"],
            burst=options["burst"],
            max_jobs=options["max_jobs"],
            shutdown_timeout=options["shutdown_timeout"],
            name=options["name"],
        )
        sys.exit(JobWorker(config).run())

    @staticmethod
    def setup_logging(verbosity: int) -> None:
        """One readable line per event on stdout."""
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger = logging.getLogger("jobcenter.worker")
        logger.handlers = [handler]
        logger.propagate = False
        logger.setLevel(logging.DEBUG if verbosity >= 2 else logging.INFO)
