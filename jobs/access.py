"""Who may see and steer a job or a batch.

Each job and batch has an owner (``user``) and ``access_control = {visibility, read_access,
write_access, admin_access}`` whose lists hold user names or group names:

* read: the owner, anyone when ``visibility`` is ``public``, or a read/write/admin grant;
* act (restart, cancel, …): the owner, or a write/admin grant;
* change access control: the owner, or an admin grant;
* staff users with the model's Django permission (``view_*`` to read, ``change_*`` to act
  and to change access) may do it on every job and batch.

Something a user may not read is reported as missing (404), so that ids cannot be probed;
something readable but not writable is a 403.

The same rules exist twice: as Python checks on one object, and as a queryset filter for the
lists. Grants are JSON lists, and the membership test differs per backend: JSON containment
on PostgreSQL; on SQLite (no JSON containment) a case-sensitive search for the quoted name in
the list's JSON text; on MongoDB an equality on the array path, which MongoDB matches against
any element.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connections
from django.db.models import Model, Q, QuerySet, Value
from django.db.models.fields.json import KT
from django.db.models.functions import StrIndex
from django.utils import timezone

from batches.models import Batch
from jobcenter import uploads
from jobcenter.db import atomic
from jobcenter.errors import JobCenterError, NotFound
from jobs.models import Job, JobLog, Upload
from jobs.validation import normalize_access_control

Level = Literal["read", "write", "admin"]
GRANT_LISTS: dict[Level, tuple[str, ...]] = {
    "read": ("read_access", "write_access", "admin_access"),
    "write": ("write_access", "admin_access"),
    "admin": ("admin_access",),
}
PERMISSIONS: dict[str, dict[Level, str]] = {
    "job": {"read": "jobs.view_job", "write": "jobs.change_job", "admin": "jobs.change_job"},
    "batch": {
        "read": "batches.view_batch",
        "write": "batches.change_batch",
        "admin": "batches.change_batch",
    },
}

M = TypeVar("M", bound=Model)


class Forbidden(JobCenterError):
    code = "FORBIDDEN"
    status_code = 403


@dataclass(frozen=True)
class Principal:
    """The caller as the rules see it: the user, and the names that grants may use."""

    user: AbstractBaseUser
    names: frozenset[str]

    @property
    def pk(self) -> Any:
        return self.user.pk


def principal(user: AbstractBaseUser | AnonymousUser) -> Principal:
    """The user's name and group names, looked up once per user object (i.e. per request)."""
    cached = getattr(user, "_jobcenter_principal", None)
    if cached is not None:
        return cached
    names = {user.get_username()}
    if getattr(user, "pk", None) is not None and hasattr(user, "groups"):
        names.update(user.groups.values_list("name", flat=True))
    result = Principal(user=user, names=frozenset(name for name in names if name))  # type: ignore[arg-type]
    user._jobcenter_principal = result  # type: ignore[union-attr]
    return result


def _kind(obj_or_model: Model | type[Model]) -> str:
    model = obj_or_model if isinstance(obj_or_model, type) else type(obj_or_model)
    return "batch" if issubclass(model, Batch) else "job"


def staff_may(user: AbstractBaseUser | AnonymousUser, kind: str, level: Level) -> bool:
    return bool(
        user.is_active
        and getattr(user, "is_staff", False)
        and user.has_perm(PERMISSIONS[kind][level])
    )


def allowed(user: AbstractBaseUser | AnonymousUser, obj: Job | Batch, level: Level) -> bool:
    """May ``user`` do ``level`` on ``obj``? (``read`` < ``write`` < ``admin``)."""
    if not user.is_authenticated or not user.is_active:
        return False
    if obj.user_id is not None and obj.user_id == user.pk:
        return True
    if staff_may(user, _kind(obj), level):
        return True
    access = obj.access_control if isinstance(obj.access_control, dict) else {}
    if level == "read" and access.get("visibility") == "public":
        return True
    names = principal(user).names
    for key in GRANT_LISTS[level]:
        granted = access.get(key) or []
        if isinstance(granted, list) and names.intersection(str(name) for name in granted):
            return True
    return False


def can_read(user: AbstractBaseUser | AnonymousUser, obj: Job | Batch) -> bool:
    return allowed(user, obj, "read")


def can_act(user: AbstractBaseUser | AnonymousUser, obj: Job | Batch) -> bool:
    return allowed(user, obj, "write")


def can_change_access(user: AbstractBaseUser | AnonymousUser, obj: Job | Batch) -> bool:
    return allowed(user, obj, "admin")


def check(user: AbstractBaseUser | AnonymousUser, obj: M, level: Level) -> M:
    """``obj`` if ``user`` may do ``level`` on it; NotFound when they may not even read it,
    Forbidden when they may read it but not more."""
    if allowed(user, obj, level):  # type: ignore[arg-type]
        return obj
    kind = _kind(obj)
    if not can_read(user, obj):  # type: ignore[arg-type]
        raise not_found(kind, str(obj.pk))
    what = "change its access control" if level == "admin" else "act on it"
    raise Forbidden(
        f"You may read {kind} {obj.pk} but not {what}.",
        details={f"{kind}_id": obj.pk, "needs": level},
    )


def _upload_refs(value: Any, field: str) -> Iterator[tuple[str, str]]:
    """(field, reference) of every ``upload:<id>`` string in parameter values, nested or
    not (processors name their file parameters as they like)."""
    if isinstance(value, str):
        if uploads.is_upload_ref(value):
            yield field, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _upload_refs(item, f"{field}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _upload_refs(item, f"{field}[{index}]")


def check_uploads(
    user: AbstractBaseUser | AnonymousUser, parameters: Iterable[tuple[str, Any]]
) -> None:
    """Every upload the jobs name must exist and be the caller's own (a superuser may name
    any). ``parameters``: (field prefix, parameters) per job. An upload of someone else is
    reported exactly like a missing one, so references cannot be probed."""
    found = [
        (field, ref)
        for prefix, params in parameters
        for field, ref in _upload_refs(params, f"{prefix}parameters")
    ]
    if not found:
        return
    ids = {uploads.upload_id(ref) for _, ref in found} - {None}
    usable = Upload.objects.filter(pk__in=sorted(ids))  # type: ignore[misc]
    if not getattr(user, "is_superuser", False):
        usable = usable.filter(owner_id=getattr(user, "pk", None))
    known = set(usable.values_list("pk", flat=True))
    for field, ref in found:
        if uploads.upload_id(ref) not in known:
            raise NotFound(
                f"Upload {ref!r} does not exist (or is not yours).",
                details={"field": field, "source": ref},
            )


def not_found(kind: str, pk: str) -> NotFound:
    """The same error whether the object is missing or hidden from the caller."""
    return NotFound(f"{kind.capitalize()} {pk!r} does not exist.", details={f"{kind}_id": pk})


def get_job(user: AbstractBaseUser | AnonymousUser, job_id: str, level: Level = "read") -> Job:
    job = Job.objects.select_related("user").filter(pk=job_id).first()
    if job is None:
        raise not_found("job", job_id)
    return check(user, job, level)


def get_batch(
    user: AbstractBaseUser | AnonymousUser, batch_id: str, level: Level = "read"
) -> Batch:
    batch = Batch.objects.select_related("user").filter(pk=batch_id).first()
    if batch is None:
        raise not_found("batch", batch_id)
    return check(user, batch, level)


# --- querysets ------------------------------------------------------------------------------


def _grant_filter(queryset: QuerySet[M], names: frozenset[str]) -> tuple[QuerySet[M], Q]:
    """A condition true when one of ``names`` is in a read/write/admin list (and the
    queryset, with the aliases the SQLite form needs)."""
    connection = connections[queryset.db]
    condition = Q()
    aliases: dict[str, Any] = {}
    for name in sorted(names):
        for field in GRANT_LISTS["read"]:
            if connection.features.supports_json_field_contains:
                condition |= Q(**{f"access_control__{field}__contains": [name]})
            elif connection.vendor == "mongodb":
                condition |= Q(**{f"access_control__{field}": name})
            else:
                # The list's JSON text holds the JSON-quoted name; INSTR is case-sensitive
                # (SQLite's LIKE is not), and the quotes keep "ann" from matching "anne".
                alias = f"_grant_{len(aliases)}"
                aliases[alias] = StrIndex(KT(f"access_control__{field}"), Value(json.dumps(name)))
                condition |= Q(**{f"{alias}__gt": 0})
    if aliases:
        queryset = queryset.alias(**aliases)
    return queryset, condition


def readable(queryset: QuerySet[M], user: AbstractBaseUser | AnonymousUser) -> QuerySet[M]:
    """``queryset`` narrowed to what ``user`` may read (one WHERE clause, no joins)."""
    if not user.is_authenticated or not user.is_active:
        return queryset.none()
    if staff_may(user, _kind(queryset.model), "read"):
        return queryset
    queryset, granted = _grant_filter(queryset, principal(user).names)
    return queryset.filter(Q(user_id=user.pk) | Q(access_control__visibility="public") | granted)


# --- changing access ------------------------------------------------------------------------


def set_job_access(job: Job, access_control: Any) -> Job:
    """Replace a job's access control (the caller checked ``can_change_access``)."""
    access = normalize_access_control(access_control)
    now = timezone.now()
    with atomic():
        Job.objects.filter(pk=job.pk).update(access_control=access, updated_at=now)
        JobLog.objects.create(job_id=job.pk, timestamp=now, message="Access control changed.")
    job.access_control, job.updated_at = access, now
    return job


def set_batch_access(batch: Batch, access_control: Any) -> Batch:
    """Replace a batch's access control and its jobs' (jobs take their batch's access control
    when the batch is created, so the two stay in step)."""
    access = normalize_access_control(access_control)
    now = timezone.now()
    with atomic():
        Batch.objects.filter(pk=batch.pk).update(access_control=access, updated_at=now)
        Job.objects.filter(batch_id=batch.pk).update(access_control=access, updated_at=now)
    batch.access_control, batch.updated_at = access, now
    return batch
