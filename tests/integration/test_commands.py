"""The command line: ``submit`` (one job, a batch from a JSON-lines file, ``--wait``) and
``recount_batches``' error handling. call_command where only output and data matter; a real
``manage.py`` subprocess where the exit code is the point."""

from __future__ import annotations

import json
import queue
import re
import subprocess
import sys
import threading
import time
import warnings
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from typing import IO, Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from batches import services as batch_services
from batches.models import Batch
from jobcenter.errors import KeyTaken
from jobs import services
from jobs.models import Job
from jobs.submission import string_fields
from tests.conftest import REPO, subprocess_env

ECHO_DEFAULTS = {"message": "", "sleep_seconds": 0, "steps": 1, "fail_with": None}


def submit(*args: str) -> str:
    out = StringIO()
    call_command("submit", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", StringIO(text))


# --- one job ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_submit_prints_the_job_id_and_stores_parsed_params() -> None:
    job_id = submit("echo", "--param", "message=hi", "--param", "steps=3").strip()
    job = Job.objects.get(pk=job_id)
    assert job.parameters == {**ECHO_DEFAULTS, "message": "hi", "steps": 3}
    assert isinstance(job.parameters["steps"], int)
    assert (job.job_type, job.status, job.batch_id) == ("echo", "pending", None)


@pytest.mark.django_db
def test_submit_name_priority_and_unique_key() -> None:
    first = submit("echo", "--name", "smoke", "--priority", "7", "--unique-key", "k").strip()
    again = submit("echo", "--unique-key", "k").strip()
    assert again == first
    job = Job.objects.get(pk=first)
    assert (job.job_name, job.priority, job.unique_key) == ("smoke", 7, "k")


@pytest.mark.django_db
def test_submit_answers_a_unique_key_held_by_an_api_users_job() -> None:
    """From an exploratory run: the command line's jobs have no owner, so a key an API
    user's job held was "held by an unfinished job of another user", where the docs
    promise that job's id. The command line is the operator's; API users still get 409."""
    user = User.objects.create_user("api-user")
    held = services.enqueue("echo", {"message": "api"}, unique_key="shared", user=user)
    assert submit("echo", "--unique-key", "shared").strip() == held.pk
    cli = submit("echo", "--unique-key", "cli-key").strip()
    with pytest.raises(KeyTaken):
        services.enqueue("echo", {"message": "x"}, unique_key="cli-key", user=user)
    assert Job.objects.filter(unique_key="cli-key").get().pk == cli
    # No batch is made for a job that is there already.
    assert submit("echo", "--unique-key", "shared", "--batch", "new").strip() == held.pk
    assert not Batch.objects.filter(batch_name="new").exists()


@pytest.mark.django_db
def test_a_jobs_file_reuses_a_job_an_api_user_holds_the_key_of(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As ``--unique-key`` does: the command line is the operator's."""
    held = services.enqueue(
        "echo", {"message": "api"}, unique_key="k1", user=User.objects.create_user("api")
    )
    stdin(monkeypatch, jobs_file({"job_type": "echo", "unique_key": "k1"}, {"job_type": "echo"}))
    batch = Batch.objects.get(pk=submit("--batch", "b", "--jobs-file", "-").strip())
    assert batch.total_jobs == 1  # the other line's job; the first line's is held.pk
    assert Job.objects.filter(unique_key="k1").get().pk == held.pk


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("param", "expected"),
    [
        ("message=42", {"message": "42"}),  # a string field keeps what was typed
        ("message=true", {"message": "true"}),
        ("message=a=b", {"message": "a=b"}),
        ("message=", {"message": ""}),
        ("sleep_seconds=0.5", {"sleep_seconds": 0.5}),
        ("fail_with=E_BAD", {"fail_with": "E_BAD"}),
    ],
)
def test_submit_param_values(param: str, expected: dict[str, Any]) -> None:
    job = Job.objects.get(pk=submit("echo", "--param", param).strip())
    assert job.parameters == {**ECHO_DEFAULTS, **expected}


@pytest.mark.django_db
def test_submit_params_json_from_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    stdin(monkeypatch, json.dumps({"message": "from stdin", "steps": 4}))
    job = Job.objects.get(pk=submit("echo", "--params-json", "-").strip())
    assert job.parameters == {**ECHO_DEFAULTS, "message": "from stdin", "steps": 4}


@pytest.mark.django_db
def test_submit_params_json_file_and_param_overrides(tmp_path: Path) -> None:
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"message": "file", "steps": 2}), encoding="utf-8")
    job_id = submit("echo", "--params-json", str(params), "--param", "steps=5").strip()
    assert Job.objects.get(pk=job_id).parameters["steps"] == 5
    assert Job.objects.get(pk=job_id).parameters["message"] == "file"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "stdin_text", "message"),
    [
        (["echo", "--param", "steps=0"], None, "parameters.steps"),
        (["echo", "--param", "colour=red"], None, "parameters.colour"),
        (["nope"], None, "Unknown job_type 'nope'"),
        (["echo", "--param", "novalue"], None, "expected key=value"),
        (["echo", "--param", "=x"], None, "expected key=value"),
        (["echo", "--params-json", "-"], "{not json", "--params-json: not valid JSON"),
        (["echo", "--params-json", "-"], "[1, 2]", "expected a JSON object"),
        (["echo", "--params-json", "/nonexistent/p.json"], None, "no such file"),
        ([], None, "give a JOB_TYPE"),
    ],
)
def test_submit_refuses_bad_input_with_a_clear_error(
    args: list[str], stdin_text: str | None, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if stdin_text is not None:
        stdin(monkeypatch, stdin_text)
    with pytest.raises(CommandError, match=message.replace("[", r"\[")):
        submit(*args)
    assert not Job.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_bad_params_exit_non_zero_naming_the_field(manage: Any) -> None:
    result = manage("submit", "echo", "--param", "steps=0")
    assert result.returncode == 1
    assert "parameters.steps" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert not Job.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_submit_in_a_subprocess_prints_only_the_job_id(manage: Any) -> None:
    result = manage("submit", "echo", "--param", "message=hi")
    assert result.returncode == 0, result.stderr
    job_id = result.stdout.strip()
    assert job_id.startswith("job-")
    assert Job.objects.get(pk=job_id).parameters["message"] == "hi"


# --- --batch NAME ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_submit_batch_twice_adds_to_the_same_open_batch() -> None:
    first = submit("echo", "--batch", "nightly", "--param", "message=1").strip()
    second = submit("echo", "--batch", "nightly", "--param", "message=2").strip()
    jobs = Job.objects.filter(pk__in=[first, second])
    assert len({job.batch_id for job in jobs}) == 1
    batch = Batch.objects.get(batch_name="nightly")
    assert (batch.total_jobs, batch.pending_jobs) == (2, 2)
    assert {job.batch_id for job in jobs} == {batch.pk}

    # An archived batch is not "open": the next submit starts a new one.
    services.fail(first, "E", "x")
    services.fail(second, "E", "x")
    batch_services.archive_batch(batch.pk)
    third = submit("echo", "--batch", "nightly").strip()
    assert Job.objects.get(pk=third).batch_id != batch.pk
    assert Batch.objects.filter(batch_name="nightly").count() == 2


# --- --jobs-file -----------------------------------------------------------------------------


def jobs_file(*lines: Any) -> str:
    return "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"


@pytest.mark.django_db
def test_jobs_file_from_stdin_creates_one_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    stdin(
        monkeypatch,
        jobs_file(
            {"job_type": "echo", "parameters": {"message": "a"}, "job_name": "first"},
            "",
            {"job_type": "echo", "parameters": {"steps": 2}},
            "   ",
            {"job_type": "echo"},
        ),
    )
    batch_id = submit("--batch", "from-file", "--jobs-file", "-").strip()
    batch = Batch.objects.get(pk=batch_id)
    assert (batch.batch_name, batch.total_jobs, batch.pending_jobs) == ("from-file", 3, 3)
    jobs = list(Job.objects.filter(batch_id=batch_id))
    assert sorted(job.job_name for job in jobs) == ["", "", "first"]
    assert sorted(job.parameters["steps"] for job in jobs) == [1, 1, 2]
    assert {job.parameters["message"] for job in jobs if job.job_name} == {"a"}


@pytest.mark.django_db
def test_jobs_file_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "jobs.jsonl"
    path.write_text(jobs_file({"job_type": "echo"}, {"job_type": "echo"}), encoding="utf-8")
    batch_id = submit("--batch", "b", "--jobs-file", str(path)).strip()
    assert Batch.objects.get(pk=batch_id).total_jobs == 2


@pytest.mark.django_db
def test_jobs_file_with_a_byte_order_mark_and_bad_files(tmp_path: Path) -> None:
    """Windows' editors and exports start UTF-8 files with a byte order mark, which the
    file's first line refused as "not valid JSON"; a folder or a file that is not UTF-8
    got "no such file" or a traceback."""
    path = tmp_path / "jobs.jsonl"
    path.write_text(jobs_file({"job_type": "echo"}, {"job_type": "echo"}), encoding="utf-8-sig")
    batch_id = submit("--batch", "b", "--jobs-file", str(path)).strip()
    assert Batch.objects.get(pk=batch_id).total_jobs == 2
    with pytest.raises(CommandError, match="a folder, not a file"):
        submit("--batch", "c", "--jobs-file", str(tmp_path))
    path.write_bytes(b'{"job_type": "echo", "job_name": "caf\xe9"}\n')
    with pytest.raises(CommandError, match="not UTF-8 text"):
        submit("--batch", "c", "--jobs-file", str(path))


@pytest.mark.django_db
def test_line_separators_inside_json_strings_do_not_end_a_line(tmp_path: Path) -> None:
    """From an exploratory run: ``json.dumps(..., ensure_ascii=False)`` leaves U+2028,
    U+2029 and U+0085 inside strings; read as line ends, one job became three lines of
    broken JSON. A ``--params-json`` file with a byte order mark is read as a jobs file is."""
    path = tmp_path / "jobs.jsonl"
    job = {"job_type": "echo", "job_name": "a\u2028b", "parameters": {"message": "x\u2029y\x85z"}}
    path.write_text(json.dumps(job, ensure_ascii=False) + "\r\n", encoding="utf-8")
    batch_id = submit("--batch", "seps", "--jobs-file", str(path)).strip()
    [stored] = Job.objects.filter(batch_id=batch_id)
    assert (stored.job_name, stored.parameters["message"]) == ("a\u2028b", "x\u2029y\x85z")
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"message": "from Windows"}), encoding="utf-8-sig")
    job_id = submit("echo", "--params-json", str(params)).strip()
    assert Job.objects.get(pk=job_id).parameters["message"] == "from Windows"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        (
            [
                {"job_type": "echo"},
                "",
                {"job_type": "echo"},
                {"job_type": "echo", "parameters": {"steps": 0}},
            ],
            "line 4: parameters.steps:",
        ),
        (["", "", {"job_type": "nope"}], "line 3: job_type:"),
        (
            [{"job_type": "echo"}, {"job_type": "echo", "colour": "red"}],
            "line 2: colour: unknown field",
        ),
        ([{"parameters": {}}], "line 1: job_type: field required"),
        (
            [{"job_type": "echo", "unique_key": "k"}, "", {"job_type": "echo", "unique_key": "k"}],
            "line 3: unique_key: unique_key 'k' is also given to line 1",
        ),
        ([{"job_type": "echo"}, "", "{oops"], "line 3: not valid JSON"),
        ([{"job_type": "echo"}, "[1]"], "line 2: expected a JSON object"),
        (  # every line that is no JSON object, not only the first
            ["{oops", {"job_type": "echo"}, "[1]", "{no"],
            "line 1: not valid JSON: Expecting property name enclosed in double quotes\n"
            "line 3: expected a JSON object\n"
            "line 4: not valid JSON",
        ),
        (["", "  "], "holds no jobs"),
    ],
)
def test_an_invalid_line_rejects_the_whole_file_naming_its_line(
    lines: list[Any], problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    stdin(monkeypatch, jobs_file(*lines))
    with pytest.raises(CommandError) as refused:
        submit("--batch", "bad", "--jobs-file", "-")
    assert problem in str(refused.value)
    assert not Batch.objects.exists()
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_every_invalid_line_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    stdin(
        monkeypatch,
        jobs_file(
            {"job_type": "echo", "parameters": {"steps": 0}},
            {"job_type": "echo"},
            {"job_type": "echo", "parameters": {"sleep_seconds": -1}},
        ),
    )
    with pytest.raises(CommandError) as refused:
        submit("--batch", "bad", "--jobs-file", "-")
    message = str(refused.value)
    assert "nothing was created" in message
    assert "line 1: parameters.steps" in message
    assert "line 3: parameters.sleep_seconds" in message


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--jobs-file", "-"], "--jobs-file needs --batch NAME"),
        (["echo", "--batch", "b", "--jobs-file", "-"], "takes the job types and parameters"),
        (["--batch", "b", "--jobs-file", "/nonexistent.jsonl"], "no such file"),
    ],
)
def test_jobs_file_argument_errors(args: list[str], problem: str) -> None:
    with pytest.raises(CommandError, match=problem):
        submit(*args)


@pytest.mark.django_db(transaction=True)
def test_invalid_jobs_file_exits_non_zero(manage: Any) -> None:
    text = jobs_file({"job_type": "echo"}, "", {"job_type": "echo", "parameters": {"steps": 0}})
    result = manage("submit", "--batch", "bad", "--jobs-file", "-", input=text)
    assert result.returncode == 1
    assert "line 3: parameters.steps" in result.stderr
    assert "Traceback" not in result.stderr
    assert not Batch.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_jobs_file_in_a_subprocess_prints_the_batch_id(manage: Any) -> None:
    text = jobs_file({"job_type": "echo"}, {"job_type": "echo"})
    result = manage("submit", "--batch", "piped", "--jobs-file", "-", input=text)
    assert result.returncode == 0, result.stderr
    batch_id = result.stdout.strip()
    assert Batch.objects.get(pk=batch_id).total_jobs == 2
    assert "2 jobs in batch 'piped'" in result.stderr


# --- priority: the API's 32-bit range ---------------------------------------------------------

INT32 = 2**31 - 1


@pytest.mark.django_db
@pytest.mark.parametrize("priority", [str(INT32), str(-INT32)])
def test_submit_takes_the_extreme_priorities_the_api_takes(priority: str) -> None:
    job = Job.objects.get(pk=submit("echo", "--priority", priority).strip())
    assert job.priority == int(priority)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "priority", [str(INT32 + 1), str(-INT32 - 1), "99999999999", "-99999999999999999999"]
)
def test_submit_refuses_a_priority_outside_the_api_range(priority: str) -> None:
    with pytest.raises(CommandError) as refused:
        submit("echo", "--priority", priority)
    assert f"must be an integer from {-INT32} to {INT32}" in str(refused.value)
    assert not Job.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_out_of_range_priority_exits_1_without_a_traceback(manage: Any) -> None:
    result = manage("submit", "echo", "--priority", "-99999999999999999999")
    assert result.returncode == 1, result.stderr
    assert f"from {-INT32} to {INT32}" in result.stderr
    assert "Traceback" not in result.stderr and "OverflowError" not in result.stderr
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_jobs_file_refuses_out_of_range_priorities_naming_each_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stdin(
        monkeypatch,
        jobs_file(
            {"job_type": "echo", "priority": INT32},
            {"job_type": "echo", "priority": 99999999999},
            "",
            {"job_type": "echo", "priority": -99999999999999999999},
            {"job_type": "echo", "priority": "high"},
        ),
    )
    with pytest.raises(CommandError) as refused:
        submit("--batch", "bad", "--jobs-file", "-")
    message = str(refused.value)
    assert "nothing was created" in message
    assert f"line 2: priority: must be an integer from {-INT32} to {INT32}" in message
    assert "line 4: priority: must be an integer" in message
    assert "line 5: priority: must be an integer" in message
    assert "line 1:" not in message
    assert not Batch.objects.exists()
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_jobs_file_stores_in_range_priorities(monkeypatch: pytest.MonkeyPatch) -> None:
    stdin(
        monkeypatch,
        jobs_file({"job_type": "echo", "priority": -INT32}, {"job_type": "echo", "priority": 5}),
    )
    batch_id = submit("--batch", "ok", "--jobs-file", "-").strip()
    priorities = sorted(Job.objects.filter(batch_id=batch_id).values_list("priority", flat=True))
    assert priorities == [-INT32, 5]


# --- the API's validation: flags and jobs-file lines -----------------------------------------

LONG = "x" * 300  # the columns hold 255 characters


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ({"run_after": "tomorrow"}, "line 2: run_after: Input should be a valid datetime"),
        ({"run_after": "1000-01-01T00:00:00Z"}, "line 2: run_after: Value error, year must be"),
        ({"max_attempts": 0}, "line 2: max_attempts: Input should be greater than or equal to 1"),
        ({"max_attempts": 100000}, "line 2: max_attempts: Input should be less than or equal"),
        ({"max_attempts": True}, "line 2: max_attempts: Value error, must be a number"),
        ({"job_name": 123}, "line 2: job_name: Input should be a valid string"),
        ({"job_name": LONG}, "line 2: job_name: String should have at most 255 characters"),
        ({"unique_key": LONG}, "line 2: unique_key: String should have at most 255 characters"),
        ({"job_name": "a\x00b"}, "line 2: job_name: must not contain NUL characters"),
        (
            {"parameters": {"message": "a\x00b"}},
            "line 2: parameters.message: must not contain NUL characters",
        ),
        ({"parameters": [1]}, "line 2: parameters: Input should be a valid dictionary"),
        ({"webhook": {"url": "nope"}}, "line 2: webhook.url: Input should be a valid URL"),
        ({"job_type": "e" * 65}, "line 2: job_type: String should have at most 64 characters"),
    ],
)
def test_jobs_file_lines_get_the_api_validation(
    line: dict[str, Any], problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each of these the API refuses with 422; before, the command stored them (max_attempts
    0 as 1), crashed with a traceback (run_after) or left PostgreSQL to refuse them."""
    stdin(monkeypatch, jobs_file({"job_type": "echo"}, {"job_type": "echo", **line}))
    with pytest.raises(CommandError) as refused:
        submit("--batch", "bad", "--jobs-file", "-")
    assert problem in str(refused.value)
    assert "nothing was created" in str(refused.value)
    assert not Batch.objects.exists()
    assert not Job.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["echo", "--name", LONG], "--name: String should have at most 255 characters"),
        (["echo", "--name", "a\x00b"], "--name: must not contain NUL characters"),
        (["echo", "--unique-key", LONG], "--unique-key: String should have at most 255"),
        (["echo", "--param", "message=a\x00"], "parameters.message: must not contain NUL"),
        (["echo", "--batch", LONG], "--batch: String should have at most 255 characters"),
        (["echo", "--batch", "a\x00b"], "--batch: must not contain NUL characters"),
        (["--batch", LONG, "--jobs-file", "-"], "--batch: String should have at most 255"),
        # an empty --batch was read as no --batch (the job went in no batch), a blank one
        # named a batch "   "
        (["echo", "--batch", ""], "--batch: must not be empty or only whitespace"),
        (["echo", "--batch", "   "], "--batch: must not be empty or only whitespace"),
        (["--batch", "", "--jobs-file", "-"], "--batch: must not be empty or only whitespace"),
        (["--batch", " \t", "--jobs-file", "-"], "--batch: must not be empty or only whitespace"),
        (["e" * 65], "JOB_TYPE: String should have at most 64 characters"),
    ],
)
def test_submit_flags_get_the_api_validation(
    args: list[str], problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    stdin(monkeypatch, jobs_file({"job_type": "echo"}))
    with pytest.raises(CommandError) as refused:
        submit(*args)
    assert problem in str(refused.value)
    assert not Batch.objects.exists()
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_a_naive_run_after_is_utc_and_max_attempts_is_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stdin(
        monkeypatch,
        jobs_file({"job_type": "echo", "run_after": "2030-01-01T00:00:00", "max_attempts": 100}),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Django's naive-datetime RuntimeWarning fails the test
        batch_id = submit("--batch", "ok", "--jobs-file", "-").strip()
    job = Job.objects.get(batch_id=batch_id)
    assert job.run_after == datetime(2030, 1, 1, tzinfo=UTC)
    assert job.max_attempts == 100


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("args", "text", "problem"),
    [
        (
            ["--batch", "x", "--jobs-file", "-"],
            jobs_file({"job_type": "echo", "run_after": "tomorrow"}),
            "line 1: run_after:",
        ),
        (["echo", "--name", LONG], None, "--name: String should have at most 255"),
        (["echo", "--batch", LONG], None, "--batch: String should have at most 255"),
    ],
)
def test_invalid_fields_exit_1_without_a_traceback(
    args: list[str], text: str | None, problem: str, manage: Any
) -> None:
    result = manage("submit", *args, input=text)
    assert result.returncode == 1, result.stderr
    assert problem in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert not Batch.objects.exists()
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_errors_after_a_line_with_an_unknown_field_name_their_own_lines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stdin(
        monkeypatch,
        jobs_file(
            {"job_type": "echo", "extra": 1},
            {"job_type": "echo", "parameters": {"steps": 0}},
            "",
            {"job_type": "echo", "parameters": {"steps": 0}},
        ),
    )
    with pytest.raises(CommandError) as refused:
        submit("--batch", "bad", "--jobs-file", "-")
    problems = str(refused.value).splitlines()[1:]
    assert [problem.split(": ")[:2] for problem in problems] == [
        ["  line 1", "extra"],
        ["  line 2", "parameters.steps"],
        ["  line 4", "parameters.steps"],
    ]
    assert not Job.objects.exists()


# --- --param: which parameters are text ------------------------------------------------------

SESSION = ["session", "--param", "event=E", "--param", "session=S", "--param", "url=https://e.org"]


@pytest.mark.django_db
def test_a_list_of_texts_is_read_as_json_and_optional_text_as_typed() -> None:
    job_id = submit(
        *SESSION, "--param", 'speakers=["Jane", "Joe"]', "--param", "filename=2026"
    ).strip()
    parameters = Job.objects.get(pk=job_id).parameters
    assert parameters["speakers"] == ["Jane", "Joe"]
    assert parameters["filename"] == "2026"  # str | None: text as typed, not the number


def test_string_fields_are_str_and_optional_str_only() -> None:
    fields = string_fields("session")
    assert {"event", "session", "url", "filename", "video_url", "target_language"} <= fields
    assert "speakers" not in fields  # list[str]
    assert "use_cache" not in fields


# --- docs/commands.md ------------------------------------------------------------------------


def test_the_command_table_lists_every_command() -> None:
    ours = {path.stem for path in REPO.glob("*/management/commands/*.py")} - {"__init__"}
    text = (REPO / "docs" / "commands.md").read_text(encoding="utf-8")
    table = text.split("## ", 1)[0]
    listed = set(re.findall(r"^\| \[?`([a-z_]+)`", table, flags=re.MULTILINE))
    assert listed == ours


# --- --wait ----------------------------------------------------------------------------------


class Lines:
    """The lines a subprocess writes to one stream, readable with a timeout."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{text!r} never came; saw {self.seen}")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"stream ended before {text!r}; saw {self.seen}")
            self.seen.append(line)
            if text in line:
                return line

    def rest(self, timeout: float = 10.0) -> list[str]:
        while True:
            line = self.lines.get(timeout=timeout)
            if line is None:
                return self.seen
            self.seen.append(line)


def submit_and_wait(*args: str) -> tuple[subprocess.Popen[str], Lines, Lines, str]:
    process = subprocess.Popen(
        [sys.executable, "manage.py", "submit", *args, "--wait"],
        cwd=REPO,
        env=subprocess_env(PYTHONUNBUFFERED="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    out, err = Lines(process.stdout), Lines(process.stderr)
    job_id = out.wait_for("job-")
    return process, out, err, job_id


@pytest.fixture
def processes() -> Any:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.django_db(transaction=True)
def test_wait_shows_progress_and_exits_0_when_the_job_completes(processes: list[Any]) -> None:
    process, out, err, job_id = submit_and_wait("echo", "--param", "steps=2")
    processes.append(process)
    err.wait_for("pending")
    services.claim(job_id, "test-worker")
    services.start(job_id)
    services.report_progress(job_id, 50, "echo", "step 1/2")
    line = err.wait_for("50.0%")
    assert "processing echo step 1/2" in line
    assert "[###############...............]" in line
    services.complete(job_id, {"message": "", "steps_done": 2})
    assert process.wait(timeout=30) == 0
    assert out.rest() == [job_id, "completed"]


@pytest.mark.django_db(transaction=True)
def test_wait_exits_1_when_the_job_fails(processes: list[Any]) -> None:
    process, out, err, job_id = submit_and_wait("echo")
    processes.append(process)
    err.wait_for("pending")
    services.claim(job_id, "test-worker")
    services.start(job_id)
    services.fail(job_id, "BOOM", "it broke")
    assert process.wait(timeout=30) == 1
    assert out.rest() == [job_id, "failed"]
    assert "failed: BOOM: it broke" in err.rest()


@pytest.mark.django_db(transaction=True)
def test_wait_exits_1_when_the_job_is_cancelled(processes: list[Any]) -> None:
    process, out, err, job_id = submit_and_wait("echo")
    processes.append(process)
    err.wait_for("pending")
    services.cancel(job_id)
    assert process.wait(timeout=30) == 1
    assert out.rest() == [job_id, "cancelled"]


# --- recount_batches -------------------------------------------------------------------------


@pytest.mark.django_db
def test_recount_batches_with_a_missing_batch_is_a_clear_error() -> None:
    with pytest.raises(CommandError, match="batch-nope"):
        call_command("recount_batches", "batch-nope", stdout=StringIO())


@pytest.mark.django_db(transaction=True)
def test_recount_batches_in_a_subprocess(manage: Any) -> None:
    created = batch_services.create_batch("b", [{"job_type": "echo"}])
    Batch.objects.filter(pk=created.batch.pk).update(pending_jobs=3)
    result = manage("recount_batches")
    assert result.returncode == 0, result.stderr
    assert f"{created.batch.pk}: pending_jobs 3→1" in result.stdout
    assert Batch.objects.get(pk=created.batch.pk).pending_jobs == 1
    missing = manage("recount_batches", "batch-nope")
    assert missing.returncode == 1
    assert "Traceback" not in missing.stderr and "batch-nope" in missing.stderr
