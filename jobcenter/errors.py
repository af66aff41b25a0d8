"""The project-wide error type. Services raise these; the API maps them to its error shape
``{"error": {"code", "message", "details"}}`` and the admin shows their message."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def field_path(parts: Iterable[Any]) -> str:
    """``("jobs", 3, "job_type")`` -> ``jobs[3].job_type``: how error details name a field."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def schema_problem(error: Mapping[str, Any], field: str) -> tuple[str, str]:
    """``(field, message)`` of one error of a pydantic schema at ``field``; a value no
    database stores (``unstorable_value``, jobs/schemas.py) is named by its own place
    inside the field. Shared by the API's 422 answer and ``manage.py submit``."""
    if error.get("type") == "unstorable_value":
        context = error.get("ctx") or {}
        return ".".join(filter(None, [field, context["field"]])), context["problem"]
    return field, str(error.get("msg", "invalid"))


class JobCenterError(Exception):
    """Base of every error the job center reports to a caller."""

    code = "ERROR"
    status_code = 400

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class ValidationError(JobCenterError):
    """Input that cannot be accepted; ``details`` lists ``{"field", "message"}`` items."""

    code = "VALIDATION_ERROR"
    status_code = 422


class UnknownJobType(ValidationError):
    code = "UNKNOWN_JOB_TYPE"


class DuplicateUniqueKey(ValidationError):
    """One submission names a unique_key for two of its jobs: which of them is meant cannot
    be told, so neither is guessed."""

    code = "DUPLICATE_UNIQUE_KEY"


class NotFound(JobCenterError):
    code = "NOT_FOUND"
    status_code = 404


class InvalidTransition(JobCenterError):
    """A state change the state machine does not allow from the current status."""

    code = "INVALID_TRANSITION"
    status_code = 409


class KeyTaken(JobCenterError):
    """A unique_key another user's unfinished job holds."""

    code = "UNIQUE_KEY_TAKEN"
    status_code = 409
