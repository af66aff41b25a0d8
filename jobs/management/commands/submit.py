"""``manage.py submit``: enqueue one job, or a whole batch from a JSON-lines file."""

from __future__ import annotations

import json
import re
import sys
import time
import types
from pathlib import Path
from typing import Annotated, Any, TextIO, Union, get_args, get_origin

import pydantic
from django.core.management.base import BaseCommand, CommandError, CommandParser
from pydantic import TypeAdapter

from batches import selectors as batch_selectors
from batches.schemas import BatchName
from batches.services import create_batch
from jobcenter.errors import JobCenterError, UnknownJobType, field_path, schema_problem
from jobs import selectors
from jobs.models import Job
from jobs.schemas import JobCreateIn, JobSpecIn, find_unstorable
from jobs.services import JobSpec, enqueue
from jobs.states import JobStatus
from jobs.validation import INT32, validate_parameters
from processors.registry import get_processor

POLL_SECONDS = 0.5
BAR_WIDTH = 30

# The options a field of the API's job schema comes from, so that an error names what to fix.
FLAGS = {
    "job_type": "JOB_TYPE",
    "job_name": "--name",
    "priority": "--priority",
    "unique_key": "--unique-key",
}
# pydantic's wording where the services (and so this command, before it used the API's
# schema) say it more plainly; priority gets check_priority's message, whatever the mistake.
MESSAGES = {"extra_forbidden": "unknown field", "missing": "field required"}
PRIORITY_MESSAGE = f"must be an integer from {-INT32} to {INT32}"
BATCH_NAME: TypeAdapter[str] = TypeAdapter(BatchName)


def is_text(annotation: Any) -> bool:
    """``str``, or a union of ``str`` with ``None`` (``str | None``); ``list[str]`` is not
    text, so ``speakers=["Jane"]`` stays a list."""
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if annotation is str:
        return True
    if get_origin(annotation) in (Union, types.UnionType):
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        return len(members) == 1 and is_text(members[0])
    return False


def string_fields(job_type: str) -> frozenset[str]:
    """The parameters of ``job_type`` that take text: ``message=42`` means the text "42"."""
    try:
        params = get_processor(job_type).Params
    except UnknownJobType:
        return frozenset()  # enqueue reports the unknown type, naming the field
    return frozenset(
        name for name, field in params.model_fields.items() if is_text(field.annotation)
    )


def schema_problems(exc: pydantic.ValidationError) -> list[tuple[str, str]]:
    """``(field, message)`` per error of the API's schema, the field named as the API names
    it (``webhook.url``, ``parameters.tags[0]``)."""
    problems = []
    for error in exc.errors():
        field, message = schema_problem(error, field_path(error["loc"]))
        if field == "priority":
            message = PRIORITY_MESSAGE
        problems.append((field, MESSAGES.get(error["type"], message)))
    return problems


def flag_for(field: str) -> str:
    """``job_name`` -> ``--name``: the API's field as the command line spells it."""
    head, sep, rest = field.partition(".")
    return FLAGS.get(head, head) + sep + rest


def check_batch_name(name: str) -> None:
    """``--batch`` is stored as the batch's name: the API's rules apply (not empty or only
    whitespace, 255 characters, no NUL), checked here rather than left to the database to
    refuse with a traceback."""
    problem = find_unstorable(name)
    if problem:
        raise CommandError(f"--batch: {problem[1]}")
    try:
        BATCH_NAME.validate_python(name)
    except pydantic.ValidationError as exc:
        problems = [f"--batch: {message}" for _, message in schema_problems(exc)]
        raise CommandError("\n".join(problems)) from None


def validate_job(options: dict[str, Any], parameters: dict[str, Any]) -> JobSpec:
    """The job the flags describe, checked with the schema of ``POST /api/jobs`` so the
    command refuses what the API refuses (too long a name, NUL characters…)."""
    try:
        payload = JobCreateIn.model_validate(
            {
                "job_type": options["job_type"],
                "parameters": parameters,
                "job_name": options["name"],
                "priority": options["priority"],
                "unique_key": options["unique_key"],
            }
        )
    except pydantic.ValidationError as exc:
        problems = [f"{flag_for(field)}: {message}" for field, message in schema_problems(exc)]
        raise CommandError(
            "invalid job, nothing was created:\n  " + "\n  ".join(problems)
        ) from None
    return JobSpec(**payload.spec_dict())


def validate_line(item: dict[str, Any]) -> tuple[JobSpecIn | None, list[tuple[str, str]]]:
    """One line of a jobs file checked as the API checks one job of ``POST /api/jobs/batch``
    (its schema, and the body-wide refusal of values no database stores)."""
    problem = find_unstorable(item)
    if problem:
        return None, [problem]
    try:
        return JobSpecIn.model_validate(item), []
    except pydantic.ValidationError as exc:
        return None, schema_problems(exc)


def parameter_problems(job: JobSpecIn) -> list[tuple[str, str]]:
    """The service's verdict on a line's job type and parameters, for the report of a file
    that is refused anyway (otherwise create_batch checks them)."""
    try:
        validate_parameters(job.job_type, job.parameters)
    except JobCenterError as exc:
        return [(str(d.get("field", "")), str(d.get("message"))) for d in exc.details or []]
    return []


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
    if path.is_dir():
        raise CommandError(f"{name}: a folder, not a file")
    if not path.is_file():
        raise CommandError(f"{name}: no such file")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CommandError(f"{name}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise CommandError(f"{name}: {exc.strerror}") from None


def parse_jobs_file(text: str) -> tuple[list[dict[str, Any]], list[int]]:
    """The jobs of a JSON-lines file and the line number of each (blank lines skipped). A
    byte order mark at the start (Windows' editors and exports write one) is no text."""
    jobs, line_numbers, problems = [], [], []
    for number, line in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: not valid JSON: {exc.msg}")
            continue
        if not isinstance(item, dict):
            problems.append(f"line {number}: expected a JSON object")
            continue
        jobs.append(item)
        line_numbers.append(number)
    if problems:  # every line to fix at once, not one per run
        raise CommandError("\n".join(problems))
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
        spec = validate_job(options, parameters)
        batch = None
        if options["batch"] is not None:  # an empty --batch is refused, not read as none
            check_batch_name(options["batch"])
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
            raise CommandError(self.line_problems(checked, line_numbers))
        try:
            created = create_batch(options["batch"], [job.spec_dict() for job in specs])
        except JobCenterError as exc:
            raise CommandError(self.with_line_numbers(exc, line_numbers)) from None
        self.stdout.write(created.batch.batch_id)
        self.stderr.write(f"{len(jobs)} jobs in batch {created.batch.batch_name!r}")

    @staticmethod
    def line_problems(
        checked: list[tuple[JobSpecIn | None, list[tuple[str, str]]]], line_numbers: list[int]
    ) -> str:
        """The schema errors of the file, with the parameter errors of its other lines: the
        file is refused anyway, and one run should show everything there is to fix."""
        problems = []
        for (job, found), number in zip(checked, line_numbers, strict=True):
            if job is not None:
                found = parameter_problems(job)
            problems.extend(f"line {number}: {field}: {message}" for field, message in found)
        return "invalid jobs file, nothing was created:\n  " + "\n  ".join(problems)

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
