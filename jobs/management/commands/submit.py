"""``manage.py submit``: enqueue one job, or a whole batch from a JSON-lines file."""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import Any, TextIO, get_args

from django.core.management.base import BaseCommand, CommandError, CommandParser

from batches import selectors as batch_selectors
from batches.services import create_batch
from jobcenter.errors import JobCenterError, UnknownJobType
from jobs import selectors
from jobs.models import Job
from jobs.services import JobSpec, enqueue
from jobs.states import JobStatus
from processors.registry import get_processor

POLL_SECONDS = 0.5
BAR_WIDTH = 30


def string_fields(job_type: str) -> frozenset[str]:
    """The parameters of ``job_type`` that take text: ``message=42`` means the text "42"."""
    try:
        params = get_processor(job_type).Params
    except UnknownJobType:
        return frozenset()  # enqueue reports the unknown type, naming the field
    return frozenset(
        name
        for name, field in params.model_fields.items()
        if field.annotation is str or str in get_args(field.annotation)
    )


def parse_param(text: str, strings: frozenset[str] = frozenset()) -> tuple[str, Any]:
    """``key=value``; the value is read as JSON when it is JSON (numbers, true, lists…),
    else taken as a string, so ``message=hello`` and ``steps=3`` both do what one means.
    Keys in ``strings`` (text parameters) keep the value as typed."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise CommandError(f"--param {text!r}: expected key=value")
    if key in strings:
        return key, raw
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


def read_source(name: str, stdin: TextIO) -> str:
    if name == "-":
        return stdin.read()
    path = Path(name)
    if not path.is_file():
        raise CommandError(f"{name}: no such file")
    return path.read_text(encoding="utf-8")


def parse_jobs_file(text: str) -> tuple[list[dict[str, Any]], list[int]]:
    """The jobs of a JSON-lines file and the line number of each (blank lines skipped)."""
    jobs, line_numbers = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CommandError(f"line {number}: not valid JSON: {exc.msg}") from None
        if not isinstance(item, dict):
            raise CommandError(f"line {number}: expected a JSON object")
        jobs.append(item)
        line_numbers.append(number)
    if not jobs:
        raise CommandError("the jobs file holds no jobs")
    return jobs, line_numbers


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
        spec = JobSpec(
            job_type=options["job_type"],
            parameters=parameters,
            job_name=options["name"],
            priority=options["priority"],
            unique_key=options["unique_key"],
        )
        batch = None
        if options["batch"]:
            batch = batch_selectors.open_batch_named(options["batch"])
            if batch is None:
                created = create_batch(options["batch"], [spec])
                return selectors.get_job(created.job_ids[0])
        return enqueue(**vars(spec), batch=batch)

    def submit_batch(self, options: dict[str, Any]) -> None:
        if not options["batch"]:
            raise CommandError("--jobs-file needs --batch NAME")
        if options["job_type"] or options["param"] or options["params_json"]:
            raise CommandError("--jobs-file takes the job types and parameters from the file")
        jobs, line_numbers = parse_jobs_file(read_source(options["jobs_file"], sys.stdin))
        try:
            created = create_batch(options["batch"], jobs)
        except JobCenterError as exc:
            raise CommandError(self.with_line_numbers(exc, line_numbers)) from None
        self.stdout.write(created.batch.batch_id)
        self.stderr.write(f"{len(jobs)} jobs in batch {created.batch.batch_name!r}")

    @staticmethod
    def with_line_numbers(exc: JobCenterError, line_numbers: list[int]) -> str:
        """Rewrite ``jobs[i].field`` into ``line N: field`` so the file can be fixed (also
        where a message names another job, as a repeated unique_key does)."""

        def lines(text: str) -> str:
            return re.sub(r"jobs\[(\d+)\]", lambda m: f"line {line_numbers[int(m[1])]}", text)

        problems = []
        for detail in exc.details or []:
            field = str(detail.get("field", ""))
            message = lines(str(detail.get("message")))
            if field.startswith("jobs["):
                index, _, rest = field[len("jobs[") :].partition("]")
                line = line_numbers[int(index)]
                problems.append(f"line {line}: {rest.lstrip('.')}: {message}")
            else:
                problems.append(f"{field}: {message}")
        return "invalid jobs file, nothing was created:\n  " + "\n  ".join(problems)

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
