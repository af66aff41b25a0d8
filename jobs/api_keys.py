"""API keys: created once (the raw key is shown to its owner a single time), stored only as
a SHA-256 hash with a short prefix to tell keys apart, revoked at once, optionally expiring.

The key is 256 bits of randomness, so a plain (unsalted) SHA-256 is enough: there is no
dictionary to attack, and a hash lets authentication find the key with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q
from django.utils import timezone

from jobcenter.errors import JobCenterError, NotFound, ValidationError
from jobs.models import ApiKey

KEY_PREFIX = "jc_"
PREFIX_LENGTH = 12
"""Characters of the key kept in clear (``jc_`` + 9): enough to tell keys apart in lists."""
LAST_USED_RESOLUTION = timedelta(minutes=1)
"""last_used_at is written at most once a minute per key, so that busy integrations do not
turn every request into a write."""


class InvalidApiKey(JobCenterError):
    """The bearer token is unknown, revoked or expired (401, with a message saying which,
    which tells the holder nothing they could not find out anyway)."""

    code = "UNAUTHENTICATED"
    status_code = 401


@dataclass(frozen=True)
class CreatedKey:
    api_key: ApiKey
    raw_key: str
    """The key itself: shown once, never stored."""


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode("utf-8", "surrogatepass")).hexdigest()


def create_api_key(
    user: AbstractBaseUser, name: str, *, expires_in: timedelta | None = None
) -> CreatedKey:
    name = (name or "").strip()
    if not name or len(name) > 128:
        raise ValidationError(
            "An API key needs a name of 1 to 128 characters.",
            details=[{"field": "name", "message": "1 to 128 characters"}],
        )
    if expires_in is not None and expires_in <= timedelta(0):
        raise ValidationError(
            "An API key must expire in the future.",
            details=[{"field": "expires_in", "message": "must be positive"}],
        )
    raw_key = KEY_PREFIX + secrets.token_urlsafe(32)
    now = timezone.now()
    api_key = ApiKey.objects.create(
        name=name,
        user=user,
        prefix=raw_key[:PREFIX_LENGTH],
        key_hash=hash_key(raw_key),
        created_at=now,
        expires_at=now + expires_in if expires_in is not None else None,
    )
    return CreatedKey(api_key=api_key, raw_key=raw_key)


def revoke_api_key(key_id: object) -> ApiKey:
    """Revoke a key; it stops working with the next request (nothing caches keys)."""
    api_key = ApiKey.objects.filter(pk=key_id).first()
    if api_key is None:
        raise NotFound(f"API key {key_id!r} does not exist.", details={"id": str(key_id)})
    if api_key.revoked_at is None:
        now = timezone.now()
        ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=now)
        api_key.revoked_at = now
    return api_key


def authenticate(raw_key: str) -> AbstractBaseUser:
    """The active user a bearer key belongs to; InvalidApiKey (401) otherwise."""
    if not raw_key or len(raw_key) > 256:
        raise InvalidApiKey("Invalid API key.")
    api_key = ApiKey.objects.select_related("user").filter(key_hash=hash_key(raw_key)).first()
    if api_key is None:
        raise InvalidApiKey("Invalid API key.")
    now = timezone.now()
    if api_key.revoked_at is not None:
        raise InvalidApiKey("This API key has been revoked.")
    if api_key.expires_at is not None and api_key.expires_at <= now:
        raise InvalidApiKey("This API key has expired.")
    if not api_key.user.is_active:
        raise InvalidApiKey("The owner of this API key is inactive.")
    stale = now - LAST_USED_RESOLUTION
    if api_key.last_used_at is None or api_key.last_used_at < stale:
        # Conditional, so concurrent requests write once, and never move it backwards.
        ApiKey.objects.filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale), pk=api_key.pk
        ).update(last_used_at=now)
    return api_key.user
