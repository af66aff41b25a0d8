"""Streaming readers of the older system's collections: ``mongoexport`` files in a folder, or
the MongoDB database itself through pymongo. Both yield one ``Item`` per document, decoded
to Python values, without ever holding a whole collection in memory.

A document that cannot be decoded becomes an ``Item`` with an ``error`` (and whatever id
could be read from it), so the importer reports it and goes on with the next one.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import ijson
from bson import decode as bson_decode
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument

from legacy import extjson

# Import order: batches before the jobs that refer to them.
COLLECTIONS = ("event_batches", "event_jobs", "event_sessions")
FILE_SUFFIXES = (".json", ".jsonl", ".json.gz", ".jsonl.gz")
ID_FIELDS = ("job_id", "batch_id", "session_id", "_id")

# Finds an id in a line that is not valid JSON, for the error report.
_ID_PATTERN = re.compile(
    rb'"(?:job_id|batch_id|session_id)"\s*:\s*"([^"\\]{1,200})"'
    rb'|"_id"\s*:\s*(?:\{\s*"\$oid"\s*:\s*)?"([^"\\]{1,200})"'
)


class SourceError(Exception):
    """The source as a whole cannot be read (no such folder, server unreachable…)."""


class MissingCollection(SourceError):
    """One collection is not there: reported, and that collection is skipped."""


@dataclass
class Item:
    """One document, decoded; or the reason it could not be, with where it was."""

    where: str
    document: dict[str, Any] | None = None
    error: str | None = None
    legacy_id: str | None = None


class Stream(Protocol):
    """The documents of one collection. ``done`` and ``total`` (None when unknown) are in
    ``unit`` ("bytes" for files, "documents" for MongoDB) and drive the progress bar."""

    name: str
    unit: str
    total: int | None

    @property
    def done(self) -> int: ...

    def __iter__(self) -> Iterator[Item]: ...

    def close(self) -> None: ...


class Source(Protocol):
    description: str

    def open(self, collection: str) -> Stream:
        """Raises MissingCollection when the collection is not there."""
        ...

    def close(self) -> None: ...


def document_id(document: Any) -> str | None:
    """The document's own id, for reports: job_id, batch_id, session_id, else _id."""
    if not isinstance(document, dict):
        return None
    for field in ID_FIELDS:
        value = document.get(field)
        if isinstance(value, dict) and "$oid" in value:
            value = value["$oid"]
        if value is not None and value != "":
            return extjson.to_plain(value) if not isinstance(value, str) else value
    return None


def _id_in_text(raw: bytes) -> str | None:
    match = _ID_PATTERN.search(raw)
    if match is None:
        return None
    return (match.group(1) or match.group(2)).decode("utf-8", "replace")


# --- files ------------------------------------------------------------------------------


class DirectorySource:
    """``mongoexport`` output in a folder: one file per collection named after it, JSON
    lines or one JSON array, optionally gzipped."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise SourceError(f"{self.path}: no such directory")
        self.description = f"files in {self.path}"

    def find(self, collection: str) -> Path:
        found = [
            self.path / f"{collection}{suffix}"
            for suffix in FILE_SUFFIXES
            if (self.path / f"{collection}{suffix}").is_file()
        ]
        if not found:
            names = ", ".join(f"{collection}{suffix}" for suffix in FILE_SUFFIXES)
            raise MissingCollection(f"none of {names} in {self.path}")
        if len(found) > 1:
            raise SourceError(
                f"{', '.join(path.name for path in found)} in {self.path}: more than one file "
                f"for {collection}; keep one"
            )
        return found[0]

    def open(self, collection: str) -> FileStream:
        return FileStream(collection, self.find(collection))

    def close(self) -> None:
        pass


class FileStream:
    """Reads one export file. The format is told by its first character: ``[`` is a JSON
    array, streamed item by item with ijson; otherwise one document per line (mongoexport's
    default), or, when the first line is not a whole document, concatenated documents
    (``mongoexport --pretty``), streamed with ijson too.

    Within JSON lines a broken line is one bad document; within an array or pretty output a
    syntax error leaves no way to find the next document, so the rest of the file is
    reported as unread."""

    unit = "bytes"

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = path
        self.total: int | None = path.stat().st_size
        self._raw: IO[bytes] = path.open("rb")
        self._file: IO[bytes] = (
            gzip.GzipFile(fileobj=self._raw, mode="rb")  # type: ignore[assignment]
            if path.suffix == ".gz"
            else self._raw
        )

    @property
    def done(self) -> int:
        return self._raw.tell() if not self._raw.closed else self.total or 0

    def close(self) -> None:
        self._file.close()
        self._raw.close()

    def __iter__(self) -> Iterator[Item]:
        try:
            first = self._first_line()
            if first is None:
                return
            if first.lstrip().startswith(b"["):
                self._file.seek(0)
                yield from self._items(ijson.items(self._file, "item", use_float=True), "item")
            elif self._whole_document(first):
                self._file.seek(0)
                yield from self._lines()
            else:
                self._file.seek(0)
                yield from self._items(
                    ijson.items(self._file, "", multiple_values=True, use_float=True), "document"
                )
        finally:
            self.close()

    def _first_line(self) -> bytes | None:
        for line in self._file:
            if line.strip():
                return line
        return None

    @staticmethod
    def _whole_document(line: bytes) -> bool:
        try:
            json.loads(line)
        except ValueError:
            return False
        return True

    def _lines(self) -> Iterator[Item]:
        for number, line in enumerate(self._file, start=1):
            if not line.strip():
                continue
            try:
                value = extjson.loads(line)
            except extjson.ExtJSONError as exc:
                where = f"{self.path.name} line {number}"
                yield Item(where, error=str(exc), legacy_id=document_id(json.loads(line)))
                continue
            except ValueError as exc:
                where = f"{self.path.name} line {number}"
                message = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
                yield Item(where, error=f"not valid JSON: {message}", legacy_id=_id_in_text(line))
                continue
            if not isinstance(value, dict):
                where = f"{self.path.name} line {number}"
                yield Item(where, error=f"expected a JSON object, got {type(value).__name__}")
                continue
            yield Item(f"{self.path.name} line {number}", document=value)

    def _items(self, values: Iterator[Any], kind: str) -> Iterator[Item]:
        number = 0
        try:
            for value in values:
                number += 1
                yield self._decoded(value, f"{self.path.name} {kind} {number}")
        except (ijson.JSONError, ijson.IncompleteJSONError, ValueError, OSError) as exc:
            yield Item(
                f"{self.path.name} after {kind} {number}",
                error=f"not valid JSON ({exc}); the rest of the file was not read",
            )

    @staticmethod
    def _decoded(value: Any, where: str) -> Item:
        if not isinstance(value, dict):
            return Item(where, error=f"expected a JSON object, got {type(value).__name__}")
        try:
            return Item(where, document=extjson.decode(value))
        except extjson.ExtJSONError as exc:
            return Item(where, error=str(exc), legacy_id=document_id(value))


# --- MongoDB ------------------------------------------------------------------------------

# What pymongo's MongoClient is used for here, so tests can hand in a stand-in.
ClientFactory = Callable[..., Any]
DECODE_OPTIONS: CodecOptions[dict[str, Any]] = CodecOptions(tz_aware=True, tzinfo=extjson.UTC)
RAW_OPTIONS: CodecOptions[RawBSONDocument] = CodecOptions(document_class=RawBSONDocument)
LENIENT_OPTIONS: CodecOptions[dict[str, Any]] = CodecOptions(
    tz_aware=True, tzinfo=extjson.UTC, unicode_decode_error_handler="replace"
)
# Cursor failures that a fresh cursor from the last _id read gets past.
RESUMABLE = ("CursorNotFound", "AutoReconnect", "NetworkTimeout", "ExecutionTimeout")
MAX_RESUMES = 5


def _default_client(uri: str, **kwargs: Any) -> Any:
    from pymongo import MongoClient

    return MongoClient(uri, **kwargs)


class MongoSource:
    """The older system's database itself. Documents are read in ``_id`` order as raw BSON
    in batches of ``batch_size`` and decoded one by one, so a document that does not decode
    is reported alone; a cursor lost on the way (timeout, failover) is reopened after the
    last ``_id`` read."""

    def __init__(
        self,
        uri: str,
        database: str,
        *,
        batch_size: int = 1000,
        timeout_seconds: float = 10.0,
        client_factory: ClientFactory = _default_client,
    ) -> None:
        self.batch_size = batch_size
        self.description = f"MongoDB database {database!r}"
        try:
            self.client = client_factory(
                uri,
                serverSelectionTimeoutMS=int(timeout_seconds * 1000),
                appname="jobcenter-import-legacy",
            )
            self.database = self.client[database]
            self._names = set(self.database.list_collection_names())
        except Exception as exc:  # pymongo raises many kinds: all mean "cannot read"
            raise SourceError(f"cannot read MongoDB database {database!r}: {exc}") from exc

    def open(self, collection: str) -> MongoStream:
        if collection not in self._names:
            raise MissingCollection(f"no collection {collection!r} in {self.description}")
        return MongoStream(
            collection,
            self.database.get_collection(collection, codec_options=RAW_OPTIONS),
            self.batch_size,
        )

    def close(self) -> None:
        self.client.close()


class MongoStream:
    unit = "documents"

    def __init__(self, name: str, collection: Any, batch_size: int) -> None:
        self.name = name
        self.collection = collection
        self.batch_size = batch_size
        self.total: int | None = collection.estimated_document_count()
        self._done = 0
        self._cursor: Any = None

    @property
    def done(self) -> int:
        return self._done

    def close(self) -> None:
        if self._cursor is not None:
            self._cursor.close()
            self._cursor = None

    def _find(self, after: Any) -> Any:
        query = {"_id": {"$gt": after}} if after is not None else {}
        self._cursor = self.collection.find(query, sort=[("_id", 1)], batch_size=self.batch_size)
        return self._cursor

    def __iter__(self) -> Iterator[Item]:
        last_id: Any = None
        resumes = 0
        try:
            while True:
                try:
                    for raw in self._find(last_id):
                        self._done += 1
                        item, last_id = self._decoded(raw, last_id)
                        resumes = 0
                        yield item
                    return
                except Exception as exc:
                    if type(exc).__name__ not in RESUMABLE or resumes >= MAX_RESUMES:
                        raise
                    resumes += 1
                    self.close()
        finally:
            self.close()

    def _decoded(self, raw: RawBSONDocument, last_id: Any) -> tuple[Item, Any]:
        """The item, and the ``_id`` to resume after (kept when it cannot be read)."""
        try:
            document = bson_decode(raw.raw, codec_options=DECODE_OPTIONS)
        except Exception as exc:
            lenient: dict[str, Any] = {}
            with contextlib.suppress(Exception):
                lenient = bson_decode(raw.raw, codec_options=LENIENT_OPTIONS)
            where = f"{self.name} document {self._done}"
            item = Item(where, error=f"not valid BSON: {exc}", legacy_id=document_id(lenient))
            return item, lenient.get("_id", last_id)
        where = f"{self.name} _id {extjson.to_plain(document.get('_id'))}"
        return Item(where, document=document), document.get("_id", last_id)
