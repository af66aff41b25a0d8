"""What ``manage.py submit`` reads (its flags, a JSON-lines jobs file), checked as the API
checks the same jobs, and its errors named as the command line names things: ``--name``
for ``job_name``, ``line 4`` for ``jobs[2]``. The command itself only parses arguments
and calls these and the services."""

from __future__ import annotations

import json
import re
import types
from pathlib import Path
from typing import Annotated, Any, TextIO, Union, get_args, get_origin

import pydantic
from pydantic import TypeAdapter

from batches.schemas import BatchName
from jobcenter.errors import (
    JobCenterError,
    UnknownJobType,
    ValidationError,
    field_path,
    schema_problem,
)
from jobs.schemas import JobCreateIn, JobSpecIn, find_unstorable
from jobs.services import JobSpec
from jobs.validation import INT32, validate_parameters
from processors.registry import get_processor

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
        raise ValidationError(f"--batch: {problem[1]}")
    try:
        BATCH_NAME.validate_python(name)
    except pydantic.ValidationError as exc:
        problems = [f"--batch: {message}" for _, message in schema_problems(exc)]
        raise ValidationError("\n".join(problems)) from None


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
        raise ValidationError(
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
        raise ValidationError(f"--param {text!r}: expected key=value")
    if key in strings:
        return key, raw
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


def read_source(name: str, stdin: TextIO) -> str:
    """A file's text, or standard input's for ``-``; a byte order mark at the start
    (Windows' editors and exports write one) is no text."""
    if name == "-":
        return stdin.read().removeprefix("\ufeff")
    path = Path(name)
    if path.is_dir():
        raise ValidationError(f"{name}: a folder, not a file")
    if not path.is_file():
        raise ValidationError(f"{name}: no such file")
    try:
        return path.read_text(encoding="utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise ValidationError(f"{name}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ValidationError(f"{name}: {exc.strerror}") from None


def parse_jobs_file(text: str) -> tuple[list[dict[str, Any]], list[int]]:
    """The jobs of a JSON-lines file and the line number of each (blank lines skipped)."""
    jobs, line_numbers, problems = [], [], []
    # JSON lines end at "\n" only: str.splitlines() also cuts at U+2028, U+2029 and U+0085,
    # which json.dumps(..., ensure_ascii=False) leaves inside strings
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
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
        raise ValidationError("\n".join(problems))
    if not jobs:
        raise ValidationError("the jobs file holds no jobs")
    return jobs, line_numbers


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
