"""The legacy import service: the one place that writes the older system's history into the
Job Center.

Importing history is not enqueueing: the rows are written as they were (finished jobs stay
finished, with their results, logs and times), in bulk, whatever their job type, including
types with no processor registered here. Per chunk of documents, in one transaction: the
jobs (or batches), their log lines, missing owners (inactive users) and the record of what
was imported (``ImportedDocument``: id and content digest). Re-running therefore writes
only documents that are new or changed in the older system, and never duplicates a row.
Batch counters are recounted from the jobs once the jobs are in, and compared with the
counters the older system had stored.

Memory stays flat: documents stream from the source one chunk at a time; what is kept for
the whole run grows with the number of batches and users, not of jobs.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import nullcontext, suppress
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import DatabaseError
from django.utils import timezone

from batches.counters import COUNTER_FIELDS, set_counts
from batches.models import Batch
from batches.selectors import recounted
from jobcenter.bulk import bulk_insert
from jobcenter.db import atomic
from jobs.models import Job, JobLog
from jobs.selectors import status_counts
from legacy.convert import (
    ACCESS_LISTS,
    BATCH_COLUMNS,
    COUNTERS,
    JOB_COLUMNS,
    JOB_RESET_COLUMNS,
    ConversionError,
    Converted,
    ConvertOptions,
    convert,
    digest,
)
from legacy.models import ImportedDocument
from legacy.sources import COLLECTIONS, Item, MissingCollection, Source, Stream, document_id

DEFAULT_CHUNK = 1000
MAX_KEPT = 1000  # problems, users and batches listed in the report; all are counted
UPDATE_CHUNK = 200
PLACEHOLDER_NAME = "(imported: not in event_batches)"


class ImportAborted(Exception):
    """The import cannot start (e.g. a user map that names unknown users)."""


@dataclass(frozen=True)
class ImportOptions:
    dry_run: bool = False
    stale_as: str = "pending"
    sessions_as: str = "completed"
    skip_sessions: bool = False
    user_map: Mapping[str, str] = field(default_factory=dict)
    chunk_size: int = DEFAULT_CHUNK
    collections: Sequence[str] = COLLECTIONS

    def convert_options(self) -> ConvertOptions:
        mapping = json.dumps(dict(sorted(self.user_map.items())), ensure_ascii=False)
        return ConvertOptions(
            stale_as=self.stale_as,
            sessions_as=self.sessions_as,
            user_map_digest=hashlib.blake2b(mapping.encode(), digest_size=8).hexdigest()
            if self.user_map
            else "",
        )


@dataclass(frozen=True)
class Problem:
    """A document that was not imported, with where it was and its id when one was read."""

    collection: str
    where: str
    legacy_id: str | None
    message: str

    def __str__(self) -> str:
        ident = f" ({self.legacy_id})" if self.legacy_id else ""
        return f"{self.where}{ident}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "collection": self.collection,
            "where": self.where,
            "id": self.legacy_id,
            "message": self.message,
        }


@dataclass
class CollectionStats:
    name: str
    read: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    errors: int = 0
    state: str = "not read"  # imported · missing · skipped
    note: str = ""


@dataclass
class ImportReport:
    source: str
    dry_run: bool
    collections: dict[str, CollectionStats]
    problems: list[Problem] = field(default_factory=list)
    notes: Counter[tuple[str, str]] = field(default_factory=Counter)
    users_created: list[str] = field(default_factory=list)
    users_created_count: int = 0
    placeholder_batches: list[str] = field(default_factory=list)
    placeholder_count: int = 0
    counter_differences: list[tuple[str, dict[str, tuple[int, int]]]] = field(default_factory=list)
    counter_difference_count: int = 0
    counters_compared: bool = False
    status_legacy: Counter[str] = field(default_factory=Counter)
    status_imported: Counter[str] = field(default_factory=Counter)
    status_database: dict[str, int] | None = None
    batches_recounted: int = 0
    seconds: float = 0.0

    @property
    def errors(self) -> int:
        return sum(stats.errors for stats in self.collections.values())


class ImportListener:
    """Hooks for the command's progress bar and error log; these do nothing."""

    def started(self, stream: Stream) -> None: ...

    def advanced(self, stream: Stream, stats: CollectionStats) -> None: ...

    def finished(self, stream: Stream, stats: CollectionStats) -> None: ...

    def problem(self, problem: Problem) -> None: ...


@dataclass
class _Outcome:
    created: int
    updated: int
    skipped: int
    users: list[str] = field(default_factory=list)
    placeholders: list[str] = field(default_factory=list)


@dataclass
class _Entry:
    item: Item
    converted: Converted
    digest: str

    @property
    def key(self) -> str:
        return f"{self.converted.collection}:{self.converted.legacy_id}"


class _Users:
    """Legacy user ids -> Django user pks: through the user map, else by username; users
    that do not exist are created inactive (no usable password: an admin activates them)."""

    def __init__(self, user_map: Mapping[str, str], dry_run: bool) -> None:
        self.model = get_user_model()
        self.field = self.model.USERNAME_FIELD
        self.max_length = self.model._meta.get_field(self.field).max_length or 150
        self.user_map = dict(user_map)
        self.dry_run = dry_run
        self.cache: dict[str, Any] = {}

    def check_map(self) -> None:
        targets = set(self.user_map.values())
        found = set(self._pks(targets))
        missing = sorted(targets - found)
        if missing:
            raise ImportAborted(
                f"the user map names {len(missing)} user(s) that do not exist: "
                f"{', '.join(missing[:10])}{' …' if len(missing) > 10 else ''}"
            )

    def username(self, legacy_id: str) -> str:
        return self.user_map.get(legacy_id, legacy_id)

    def problem(self, legacy_id: str) -> str | None:
        if len(self.username(legacy_id)) > self.max_length:
            return f"user_id longer than {self.max_length} characters: map it with --user-map"
        return None

    def _pks(self, names: Iterable[str]) -> dict[str, Any]:
        names = list(names)
        found: dict[str, Any] = {}
        for start in range(0, len(names), DEFAULT_CHUNK):
            lookup = {f"{self.field}__in": names[start : start + DEFAULT_CHUNK]}
            found.update(self.model._default_manager.filter(**lookup).values_list(self.field, "pk"))
        return found

    def resolve(self, legacy_ids: set[str]) -> tuple[dict[str, Any], list[str]]:
        """The pks, and the usernames created (in the caller's transaction, so they commit
        with the rows; in a dry run they are only named, with None as pk)."""
        wanted = {legacy_id: self.username(legacy_id) for legacy_id in legacy_ids}
        unknown = {name for legacy_id, name in wanted.items() if legacy_id not in self.cache}
        missing: list[str] = []
        if unknown:
            found = self._pks(unknown)
            missing = sorted(unknown - set(found))
            if missing and not self.dry_run:
                self.model._default_manager.bulk_create(
                    [
                        self.model(
                            **{self.field: name}, is_active=False, password=make_password(None)
                        )
                        for name in missing
                    ]
                )
                found.update(self._pks(missing))
            for legacy_id, name in wanted.items():
                if legacy_id not in self.cache:
                    self.cache[legacy_id] = found.get(name)
        return {legacy_id: self.cache[legacy_id] for legacy_id in legacy_ids}, missing


class LegacyImporter:
    def __init__(
        self,
        source: Source,
        options: ImportOptions | None = None,
        listener: ImportListener | None = None,
    ) -> None:
        self.source = source
        self.options = options or ImportOptions()
        self.listener = listener or ImportListener()
        self.convert_options = self.options.convert_options()
        self.report = ImportReport(
            source=source.description,
            dry_run=self.options.dry_run,
            collections={name: CollectionStats(name) for name in self.options.collections},
        )
        self.users = _Users(self.options.user_map, self.options.dry_run)
        self.now = timezone.now()
        # Per batch, for the whole run (grows with batches, not jobs):
        self.known_batches: set[str] = set()
        self.touched_batches: set[str] = set()
        self.legacy_counters: dict[str, dict[str, int]] = {}
        self.imported_counts: dict[str, Counter[str]] = defaultdict(Counter)
        self._new_placeholders: list[str] = []

    # --- the run ---------------------------------------------------------------------------

    def run(self) -> ImportReport:
        started = time.monotonic()
        self.users.check_map()
        try:
            for name in self.options.collections:
                stats = self.report.collections[name]
                if name == "event_sessions" and self.options.skip_sessions:
                    stats.state, stats.note = "skipped", "--skip-sessions"
                    continue
                try:
                    stream = self.source.open(name)
                except MissingCollection as exc:
                    stats.state, stats.note = "missing", str(exc)
                    continue
                stats.state = "imported"
                self._import(stream, stats)
        except BaseException:
            self.source.close()
            if not self.options.dry_run:
                # Interrupted: still give the batches written so far counters that match
                # their jobs (a re-run skips unchanged batches and would not recount them).
                with suppress(Exception):
                    self._recount()
            raise
        self.source.close()
        self._compare_counters()
        if not self.options.dry_run:
            self._recount()
            self.report.status_database = status_counts(Job.objects.all())
        self.report.seconds = time.monotonic() - started
        return self.report

    def _import(self, stream: Stream, stats: CollectionStats) -> None:
        self.listener.started(stream)
        chunk: dict[str, _Entry] = {}
        try:
            for item in stream:
                stats.read += 1
                entry = self._entry(stream.name, item, stats)
                if entry is not None:
                    previous = chunk.pop(entry.converted.target_id, None)
                    if previous is not None:
                        stats.skipped += 1
                        self._note(stream.name, "duplicate id in the source: the later one used")
                    chunk[entry.converted.target_id] = entry
                if len(chunk) >= self.options.chunk_size:
                    self._write(stream.name, list(chunk.values()), stats)
                    chunk.clear()
                    self.listener.advanced(stream, stats)
                elif stats.read % 100 == 0:
                    self.listener.advanced(stream, stats)
            if chunk:
                self._write(stream.name, list(chunk.values()), stats)
        finally:
            stream.close()
        self.listener.finished(stream, stats)

    def _entry(self, collection: str, item: Item, stats: CollectionStats) -> _Entry | None:
        if item.error is not None or item.document is None:
            self._problem(stats, Problem(collection, item.where, item.legacy_id, item.error or ""))
            return None
        try:
            converted = convert(collection, item.document, self.convert_options, self.now)
            if converted.owner is not None and (reason := self.users.problem(converted.owner)):
                raise ConversionError(reason)
        except ConversionError as exc:
            legacy_id = document_id(item.document)
            self._problem(stats, Problem(collection, item.where, legacy_id, str(exc)))
            return None
        if self.users.user_map:
            _map_grants(converted.values, self.users.username)
        for note in converted.notes:
            self._note(collection, note)
        for name in converted.unknown_fields:
            self._note(collection, f"field {name!r} is not part of the contract: not imported")
        signature = self.convert_options.signature(collection)
        return _Entry(item, converted, digest(item.document, signature))

    def _problem(self, stats: CollectionStats, problem: Problem) -> None:
        stats.errors += 1
        if len(self.report.problems) < MAX_KEPT:
            self.report.problems.append(problem)
        self.listener.problem(problem)

    def _note(self, collection: str, note: str) -> None:
        self.report.notes[(collection, note)] += 1

    # --- one chunk ------------------------------------------------------------------------

    def _write(self, collection: str, entries: list[_Entry], stats: CollectionStats) -> None:
        """Write a chunk in one transaction. Should the database refuse it, each document is
        tried alone, so that only the ones it refuses are reported and the rest go in."""
        self._new_placeholders = []
        try:
            outcome = self._write_chunk(collection, entries)
        except DatabaseError as exc:
            # Rolled back: forget what this chunk created.
            self.known_batches.difference_update(self._new_placeholders)
            self.users.cache.clear()
            if len(entries) == 1:
                entry = entries[0]
                message = f"could not be written: {str(exc).strip()[:300]}"
                self._problem(
                    stats,
                    Problem(collection, entry.item.where, entry.converted.legacy_id, message),
                )
                return
            for entry in entries:
                self._write(collection, [entry], stats)
            return
        stats.created += outcome.created
        stats.updated += outcome.updated
        stats.skipped += outcome.skipped
        for entry in entries:
            self._count(entry)
        for name in outcome.users:
            self.report.users_created_count += 1
            if len(self.report.users_created) < MAX_KEPT:
                self.report.users_created.append(name)
        for batch_id in outcome.placeholders:
            self.report.placeholder_count += 1
            if len(self.report.placeholder_batches) < MAX_KEPT:
                self.report.placeholder_batches.append(batch_id)

    def _write_chunk(self, collection: str, entries: list[_Entry]) -> _Outcome:
        is_batch = collection == "event_batches"
        model: type[Job] | type[Batch] = Batch if is_batch else Job
        targets = [entry.converted.target_id for entry in entries]
        existing = set(model._default_manager.filter(pk__in=targets).values_list("pk", flat=True))
        records = dict(
            ImportedDocument.objects.filter(pk__in=[entry.key for entry in entries]).values_list(
                "pk", "digest"
            )
        )
        create: list[_Entry] = []
        update: list[_Entry] = []
        for entry in entries:
            if entry.converted.target_id not in existing:
                create.append(entry)
            elif records.get(entry.key) != entry.digest:
                update.append(entry)
        outcome = _Outcome(len(create), len(update), len(entries) - len(create) - len(update))
        changed = create + update
        if not changed:
            return outcome
        dry_run = self.options.dry_run
        with nullcontext() if dry_run else atomic():
            owners, outcome.users = self.users.resolve(
                {entry.converted.owner for entry in changed if entry.converted.owner}
            )
            for entry in changed:
                owner = entry.converted.owner
                entry.converted.values["user_id"] = owners[owner] if owner else None
            if is_batch:
                self.touched_batches.update(entry.converted.target_id for entry in changed)
                if not dry_run:
                    self._save(Batch, BATCH_COLUMNS, create, update)
            else:
                outcome.placeholders = self._ensure_batches(changed)
                self.touched_batches.update(
                    entry.converted.values["batch_id"]
                    for entry in changed
                    if entry.converted.values["batch_id"]
                )
                if update:
                    # A job that moved to another batch changes its old batch's counters too.
                    old = Job.objects.filter(pk__in=[entry.converted.target_id for entry in update])
                    self.touched_batches.update(
                        batch_id for batch_id in old.values_list("batch_id", flat=True) if batch_id
                    )
                if not dry_run:
                    self._save(Job, JOB_COLUMNS, create, update, reset=JOB_RESET_COLUMNS)
                    self._save_logs(create, update)
            if not dry_run:
                self._save_records(changed, records)
        return outcome

    def _count(self, entry: _Entry) -> None:
        """Remember what the older system said about its batches, and what its jobs are."""
        values = entry.converted.values
        if entry.converted.collection == "event_batches":
            self.known_batches.add(entry.converted.target_id)
            if entry.converted.counters:
                self.legacy_counters[entry.converted.target_id] = entry.converted.counters
            return
        if entry.converted.legacy_status:
            self.report.status_legacy[entry.converted.legacy_status] += 1
        self.report.status_imported[values["status"]] += 1
        if values.get("batch_id"):
            self.imported_counts[values["batch_id"]][values["status"]] += 1

    def _save(
        self,
        model: type[Job] | type[Batch],
        columns: Sequence[str],
        create: list[_Entry],
        update: list[_Entry],
        *,
        reset: Sequence[str] = (),
    ) -> None:
        pk = model._meta.pk.attname
        if create:
            bulk_insert(
                model,
                [
                    {pk: entry.converted.target_id, **_pick(entry.converted.values, columns)}
                    for entry in create
                ],
                {},
            )
        if update:
            columns = [*columns, *reset]
            model._default_manager.bulk_update(
                [
                    model(
                        **{pk: entry.converted.target_id}, **_pick(entry.converted.values, columns)
                    )
                    for entry in update
                ],
                [_field_name(model, column) for column in columns],
                batch_size=UPDATE_CHUNK,
            )

    def _save_logs(self, create: list[_Entry], update: list[_Entry]) -> None:
        """All lines of new jobs; of updated jobs the lines not imported before (the older
        system only ever appended to ``logs``). Lines the Job Center added are kept."""
        rows = [
            _log_row(entry.converted.target_id, line)
            for entry in create
            for line in entry.converted.logs
        ]
        candidates = [
            _log_row(entry.converted.target_id, line)
            for entry in update
            for line in entry.converted.logs
        ]
        if candidates:
            have: set[Any] = set()
            ids = [row["id"] for row in candidates]
            for start in range(0, len(ids), DEFAULT_CHUNK):
                have.update(
                    JobLog.objects.filter(pk__in=ids[start : start + DEFAULT_CHUNK]).values_list(
                        "pk", flat=True
                    )
                )
            rows.extend(row for row in candidates if row["id"] not in have)
        bulk_insert(JobLog, rows, {})

    def _save_records(self, entries: list[_Entry], records: Mapping[str, str]) -> None:
        new = [entry for entry in entries if entry.key not in records]
        old = [entry for entry in entries if entry.key in records]
        bulk_insert(
            ImportedDocument,
            [
                {
                    "key": entry.key,
                    "collection": entry.converted.collection,
                    "target_id": entry.converted.target_id,
                    "digest": entry.digest,
                }
                for entry in new
            ],
            {"imported_at": self.now},
        )
        if old:
            ImportedDocument.objects.bulk_update(
                [
                    ImportedDocument(
                        key=entry.key,
                        collection=entry.converted.collection,
                        target_id=entry.converted.target_id,
                        digest=entry.digest,
                        imported_at=self.now,
                    )
                    for entry in old
                ],
                ["target_id", "digest", "imported_at"],
                batch_size=UPDATE_CHUNK,
            )

    def _ensure_batches(self, entries: list[_Entry]) -> list[str]:
        """Jobs whose batch is not in event_batches get an empty batch of that id (reported),
        so the batch_id the older system's clients filter on keeps working."""
        wanted = {
            entry.converted.values["batch_id"]: entry
            for entry in entries
            if entry.converted.values["batch_id"]
        }
        unknown = [batch_id for batch_id in wanted if batch_id not in self.known_batches]
        if not unknown:
            return []
        found = set(Batch.objects.filter(pk__in=unknown).values_list("pk", flat=True))
        self.known_batches.update(found)
        missing = [batch_id for batch_id in unknown if batch_id not in found]
        self.known_batches.update(missing)
        self._new_placeholders.extend(missing)
        if missing and not self.options.dry_run:
            bulk_insert(
                Batch,
                [
                    {
                        "batch_id": batch_id,
                        "user_id": wanted[batch_id].converted.values["user_id"],
                        "created_at": wanted[batch_id].converted.values["created_at"],
                        "updated_at": wanted[batch_id].converted.values["created_at"],
                    }
                    for batch_id in missing
                ],
                {"batch_name": PLACEHOLDER_NAME},
            )
        return missing

    # --- after the jobs -------------------------------------------------------------------

    def _compare_counters(self) -> None:
        """The older system's stored counters against the jobs imported for each batch."""
        stats = self.report.collections.get("event_jobs")
        if stats is None or stats.state != "imported":
            return
        self.report.counters_compared = True
        for batch_id, legacy in sorted(self.legacy_counters.items()):
            counts = self.imported_counts.get(batch_id, Counter())
            actual = {field: counts.get(status, 0) for status, field in COUNTER_FIELDS.items()}
            actual["total_jobs"] = sum(counts.values())
            wrong = {
                name: (legacy[name], actual[name])
                for name in COUNTERS
                if name in legacy and legacy[name] != actual[name]
            }
            if wrong:
                self.report.counter_difference_count += 1
                if len(self.report.counter_differences) < MAX_KEPT:
                    self.report.counter_differences.append((batch_id, wrong))

    def _recount(self) -> None:
        """Counters (and so status and completed_at) of every batch this run touched, from
        the jobs now in the database, through the batches' own counter arithmetic. The
        batch keeps its own updated_at: the import is not a change of the batch."""
        for batch_id in sorted(self.touched_batches):
            with atomic():
                updated = (
                    Batch.objects.filter(pk=batch_id).values_list("updated_at", flat=True).first()
                )
                if updated is None:
                    continue
                set_counts(batch_id, recounted(batch_id), now=updated)
            self.report.batches_recounted += 1


def _map_grants(values: dict[str, Any], username: Callable[[str], str]) -> None:
    """The old system's grants name users by their legacy ``user_id``, like the owner: with
    a user map, a mapped id in ``read_access``/``write_access``/``admin_access`` becomes the
    username it maps to, so that the mapped user keeps the access the old system gave."""
    access = values.get("access_control")
    if isinstance(access, dict):
        values["access_control"] = {
            **access,
            **{
                key: [username(str(name)) for name in access.get(key) or []] for key in ACCESS_LISTS
            },
        }


def _pick(values: Mapping[str, Any], columns: Sequence[str]) -> dict[str, Any]:
    return {column: values[column] for column in columns}


def _field_name(model: type[Job] | type[Batch], attname: str) -> str:
    """bulk_update takes field names: ``batch`` for ``batch_id``."""
    for model_field in model._meta.concrete_fields:
        if model_field.attname == attname:
            return model_field.name
    raise KeyError(attname)


def _log_row(job_id: str, line: Any) -> dict[str, Any]:
    return {
        "id": line.id,
        "job_id": job_id,
        "timestamp": line.timestamp,
        "level": line.level,
        "message": line.message,
    }


def import_legacy(
    source: Source,
    options: ImportOptions | None = None,
    listener: ImportListener | None = None,
) -> ImportReport:
    """Import the older system's history from ``source``; see the module docstring."""
    return LegacyImporter(source, options, listener).run()


def load_user_map(text: str, name: str = "user map") -> dict[str, str]:
    """A user map: a JSON object ``{"legacy user_id": "username"}``, or lines
    ``legacy_user_id,username`` (CSV; blank lines and lines starting with # ignored)."""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except ValueError as exc:
            raise ImportAborted(f"{name}: not valid JSON: {exc}") from None
        if not all(isinstance(k, str) and isinstance(v, str) and v for k, v in data.items()):
            raise ImportAborted(f"{name}: every key and value must be a non-empty string")
        return dict(data)
    mapping: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        legacy_id, sep, username = (part.strip() for part in line.partition(","))
        if not sep or not legacy_id or not username:
            raise ImportAborted(f"{name} line {number}: expected legacy_user_id,username")
        mapping[legacy_id] = username
    return mapping
