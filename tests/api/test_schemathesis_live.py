"""Schemathesis against the live OpenAPI schema of a uvicorn server on 127.0.0.1: a bounded
number of generated requests per operation, valid and invalid ones, authenticated with an
API key. No response may be a 5xx, every response must match the schema (status code,
content type, body, headers), and invalid input must be refused with a 4xx.

One test per operation; the list of operations comes from the same API in-process (so it is
known at collection time), the schema each test uses from the live server.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core.management import call_command
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from jobcenter.api import api
from jobs.api_keys import create_api_key

pytestmark = [pytest.mark.slow]

EXAMPLES_PER_OPERATION = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
HTTP_METHODS = {"get", "post", "put", "patch", "delete"}
SCHEMA = api.get_openapi_schema(path_prefix="/api")
OPERATIONS = sorted(
    (method.upper(), path)
    for path, item in SCHEMA["paths"].items()
    for method in item
    if method in HTTP_METHODS
)
CASES = [
    (method, path, mode)
    for method, path in OPERATIONS
    for mode in [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    # Without any input there is nothing to make invalid.
    if mode is GenerationMode.POSITIVE
    or SCHEMA["paths"][path][method.lower()].get("parameters")
    or SCHEMA["paths"][path][method.lower()].get("requestBody")
]


@pytest.fixture(scope="module")
def api_schema(live_server_url: str) -> Any:
    return schemathesis.openapi.from_url(f"{live_server_url}/api/openapi.json")


@pytest.fixture(scope="module")
def api_key(live_server_url: str, django_db_blocker: Any) -> Iterator[str]:
    """One key for the whole module, committed so the server sees it; the module ends by
    emptying the database (once, instead of once per test as transactional_db would)."""
    with django_db_blocker.unblock():
        user = User.objects.create_user("schemathesis")
        key = create_api_key(user, "schemathesis").raw_key
    yield key
    with django_db_blocker.unblock():
        call_command("flush", interactive=False, verbosity=0)


# django_db here, not on the module: pytest-django sets up only the databases that collected
# tests are marked for, so this module run alone needs one marked test; the generated tests
# stay unmarked, since a test transaction would hold SQLite's write lock against the server.
@pytest.mark.django_db
def test_every_operation_is_tested() -> None:
    assert len(OPERATIONS) >= 30
    assert ("POST", "/api/jobs") in OPERATIONS and ("GET", "/api/health") in OPERATIONS


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_operation_conforms_to_the_schema(
    api_schema: Any, api_key: str, method: str, path: str, mode: GenerationMode
) -> None:
    operation = (
        api_schema[path][method].ok()
        if hasattr(api_schema[path][method], "ok")
        else api_schema[path][method]
    )
    checks = CHECKS + ([negative_data_rejection] if mode is GenerationMode.NEGATIVE else [])

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        case.call_and_validate(
            headers={"Authorization": f"Bearer {api_key}"}, checks=checks, timeout=30
        )

    run()
