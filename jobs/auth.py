"""Who is calling the API: an API key (``Authorization: Bearer <key>``) or a logged-in
Django session (the admin's user, e.g. the browser of an operator), the latter with Django's
CSRF check on unsafe methods so that a third-party page cannot act with the cookie."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from jobcenter.errors import JobCenterError
from jobs import api_keys


class CsrfFailed(JobCenterError):
    code = "CSRF_FAILED"
    status_code = 403


class ApiKeyAuth(HttpBearer):
    """``Authorization: Bearer jc_…``. A wrong, revoked or expired key is a 401 at once
    (never silently retried as a session), so integrations see why they are refused."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        return api_keys.authenticate(token.strip())


class SessionAuth(APIKeyCookie):
    """The Django session of a logged-in user. Unlike ninja's ``django_auth`` the CSRF check
    runs only once a session user is found: a request without any credentials is a 401
    (``UNAUTHENTICATED``), not a confusing CSRF 403."""

    param_name: str = settings.SESSION_COOKIE_NAME

    def __init__(self) -> None:
        super().__init__(csrf=True)

    def __call__(self, request: HttpRequest) -> Any:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.is_active:
            return None
        if not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request):
            raise CsrfFailed(
                "CSRF check failed: send the X-CSRFToken header with the csrftoken cookie's "
                "value (session authentication), or use an API key."
            )
        return user

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        return self(request)  # pragma: no cover  (__call__ does the work)


API_AUTH = [ApiKeyAuth(), SessionAuth()]
"""What every endpoint but health and the docs requires."""
