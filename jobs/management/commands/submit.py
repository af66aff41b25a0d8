"""``manage.py submit``: enqueue one job, or a whole batch from a JSON-lines file."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from batches import selectors as batch_selectors
from batches.services import create_batch
from jobcenter.errors import JobCenterError
from jobs import selectors
from jobs.models import Job
from jobs.services import enqueue
from jobs.states import JobStatus
from jobs.submission import (
    check_batch_name,
    line_problems,
    parse_jobs_file,
    parse_param,
    read_source,
    string_fields,
    validate_job,
    validate_line,
    with_line_numbers,
)

POLL_SECONDS = 0.5
BAR_WIDTH = 30


class Command(BaseCommand):
    help = "Enqueue a job (or, with --jobs-file, a batch of jobs) and print its id."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("job_type", nargs="?", help="e.g. echo, pdf, session")
        parser.add_argument(
            "--param", action="append", default=[], metavar="KEY=VALUE", help="repeatable"
        )
        parser.add_argument("--params-json", metavar="FILE|-", help="parameters as a JSON object")
        parser.add_argument("--name", default="", help="the job's name")
        parser.add_argument("--priority", type=int, default=0, help="higher runs first")
        parser.add_argument(
            "--batch",
            metavar="NAME",
            help="add the job to the newest open batch of this name (created if none); "
            "with --jobs-file, the new batch's name",
        )
        parser.add_argument(
            "--jobs-file",
            metavar="FILE|-",
            help='JSON lines, one {"job_type", "parameters", "job_name"} per line',
        )
        parser.add_argument("--unique-key", help="return the unfinished job holding this key")
        parser.add_argument("--wait", action="store_true", help="show progress until the job ends")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["jobs_file"]:
                self.submit_batch(options)
            else:
                job = self.submit_job(options)
                self.stdout.write(job.job_id)
                if options["wait"]:
                    status = self.wait(job.job_id)
                    if status != JobStatus.COMPLETED:
                        sys.exit(1)
        except JobCenterError as exc:
            raise CommandError(exc.message) from None

    def submit_job(self, options: dict[str, Any]) -> Job:
        if not options["job_type"]:
            raise CommandError("give a JOB_TYPE, or --jobs-file with --batch")
        parameters: dict[str, Any] = {}
        if options["params_json"]:
            try:
                loaded = json.loads(read_source(options["params_json"], sys.stdin))
            except json.JSONDecodeError as exc:
                raise CommandError(f"--params-json: not valid JSON: {exc.msg}") from None
            if not isinstance(loaded, dict):
                raise CommandError("--params-json: expected a JSON object")
            parameters.update(loaded)
        strings = string_fields(options["job_type"])
        parameters.update(parse_param(text, strings) for text in options["param"])
        spec = validate_job(options, parameters)
        batch = None
        if options["batch"] is not None:  # an empty --batch is refused, not read as none
            check_batch_name(options["batch"])
            holder = spec.unique_key and selectors.unfinished_job_with_key(spec.unique_key)
            if holder:  # that job is the answer: no batch is made for nothing
                return holder
            batch = batch_selectors.open_batch_named(options["batch"])
            if batch is None:
                created = create_batch(options["batch"], [spec])
                return selectors.get_job(created.job_ids[0])
        return enqueue(**vars(spec), batch=batch)

    def submit_batch(self, options: dict[str, Any]) -> None:
        if options["batch"] is None:
            raise CommandError("--jobs-file needs --batch NAME")
        if options["job_type"] or options["param"] or options["params_json"]:
            raise CommandError("--jobs-file takes the job types and parameters from the file")
        check_batch_name(options["batch"])
        jobs, line_numbers = parse_jobs_file(read_source(options["jobs_file"], sys.stdin))
        checked = [validate_line(item) for item in jobs]
        specs = [job for job, _ in checked if job is not None]
        if len(specs) < len(jobs):
            raise CommandError(line_problems(checked, line_numbers))
        try:
            created = create_batch(options["batch"], [job.spec_dict() for job in specs])
        except JobCenterError as exc:
            raise CommandError(with_line_numbers(exc, line_numbers)) from None
        self.stdout.write(created.batch.batch_id)
        self.stderr.write(f"{len(jobs)} jobs in batch {created.batch.batch_name!r}")

    def wait(self, job_id: str) -> str:
        """Draw a progress bar until the job ends; return its final status."""
        tty = self.stderr.isatty()
        last = ""
        while True:
            job = selectors.get_job(job_id)
            progress = job.progress or {}
            percent = float(progress.get("percent") or 0)
            filled = int(BAR_WIDTH * percent / 100)
            line = (
                f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {percent:5.1f}% "
                f"{job.status} {progress.get('step', '')} {progress.get('message', '')}".rstrip()
            )
            if line != last:
                self.stderr.write(("\r" + line) if tty else line, ending="" if tty else "\n")
                last = line
            if job.is_finished:
                if tty:
                    self.stderr.write("")
                if job.status == JobStatus.FAILED and job.error:
                    self.stderr.write(
                        f"failed: {job.error.get('code')}: {job.error.get('message')}"
                    )
                self.stdout.write(job.status)
                return job.status
            time.sleep(POLL_SECONDS)
