"""MongoDB Extended JSON (what ``mongoexport`` writes) and BSON values -> plain Python.

Decoding is ``bson.json_util``'s (pymongo): ``$date`` (ISO string, ``{"$numberLong"}`` or a
number of milliseconds), ``$oid``, ``$numberLong``, ``$numberInt``, ``$numberDouble``,
``$numberDecimal`` and the rarer types, in canonical and relaxed mode alike. Dates come out
timezone-aware; an ISO string without an offset is taken as UTC, which is what BSON dates
are by definition and what the older system wrote.

The Job Center then needs two kinds of values: datetimes for its timestamp columns
(``to_datetime``) and JSON-safe values for its JSON columns (``to_plain``), where BSON types
such as ObjectId or Decimal128, and floats JSON cannot hold (NaN, infinities), have no place.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import uuid
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from bson import json_util
from bson.binary import Binary
from bson.code import Code
from bson.dbref import DBRef
from bson.decimal128 import Decimal128
from bson.int64 import Int64
from bson.json_util import JSONMode, JSONOptions
from bson.max_key import MaxKey
from bson.min_key import MinKey
from bson.objectid import ObjectId
from bson.regex import Regex
from bson.timestamp import Timestamp

UTC = dt.UTC
JSON_OPTIONS = JSONOptions(tz_aware=True, tzinfo=UTC, json_mode=JSONMode.RELAXED)


class ExtJSONError(ValueError):
    """A value that is not what the older system's contract says it is; ``path`` names
    where in the document (``created_at``, ``logs[2].timestamp``)."""

    def __init__(self, reason: str, path: str = "") -> None:
        super().__init__(f"{path}: {reason}" if path else reason)
        self.reason = reason
        self.path = path

    def within(self, key: str | int) -> ExtJSONError:
        step = f"[{key}]" if isinstance(key, int) else str(key)
        if not self.path:
            path = step
        elif self.path.startswith("["):
            path = step + self.path
        else:
            path = f"{step}.{self.path}"
        return ExtJSONError(self.reason, path)


EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)


def _date(value: Any) -> dt.datetime:
    if isinstance(value, str):
        return as_utc(dt.datetime.fromisoformat(value)).astimezone(UTC)
    if isinstance(value, int) and not isinstance(value, bool):
        return EPOCH + dt.timedelta(milliseconds=value)
    raise ValueError(f"not a date: {value!r}")


# The wrappers mongoexport writes most, decoded without json_util's generality (the same
# results; measured in bench/import_legacy.py). Anything else goes to json_util.
_FAST: dict[str, Any] = {
    "$date": _date,
    "$oid": ObjectId,
    "$numberLong": lambda text: Int64(int(text)),
    "$numberInt": int,
    "$numberDouble": float,
}


def hook(document: dict[str, Any]) -> Any:
    """``object_hook`` for json.loads: one Extended JSON wrapper -> its Python value. Plain
    objects (the first key does not start with ``$``) pass through untouched."""
    for first in document:
        if first[:1] == "$":
            break
        return document
    else:
        return document
    if len(document) == 1 and first in _FAST:
        try:
            return _FAST[first](document[first])
        except Exception:
            pass  # json_util knows more forms, or says what is wrong
    try:
        return json_util.object_hook(document, JSON_OPTIONS)
    except Exception as exc:  # bson raises several kinds (InvalidId, ValueError, …)
        text = json.dumps(to_plain(document), default=str)[:120]
        raise ExtJSONError(f"invalid Extended JSON {text}: {exc}") from None


def decode(value: Any) -> Any:
    """Apply Extended JSON to an already parsed JSON value, innermost objects first (as
    ``json.loads(object_hook=…)`` would), so that a streaming parser's items decode too;
    an error names where in the document it is."""
    if isinstance(value, dict):
        decoded = {}
        for key, item in value.items():
            if isinstance(item, dict | list):
                try:
                    decoded[key] = decode(item)
                except ExtJSONError as exc:
                    raise exc.within(key) from None
            else:
                decoded[key] = item
        return hook(decoded)
    if isinstance(value, list):
        items = []
        for index, item in enumerate(value):
            try:
                items.append(decode(item) if isinstance(item, dict | list) else item)
            except ExtJSONError as exc:
                raise exc.within(index) from None
        return items
    return value


def loads(text: str | bytes) -> Any:
    """One Extended JSON document; raises json.JSONDecodeError for text that is not JSON,
    ExtJSONError (with the path of the bad value) for a bad wrapper."""
    try:
        return json.loads(text, object_hook=hook)
    except ExtJSONError:
        return decode(json.loads(text))  # again, slowly, to say where


def as_utc(value: dt.datetime) -> dt.datetime:
    """Naive datetimes are UTC (BSON dates are; pymongo without tz_aware hands them naive)."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        return value.replace(tzinfo=UTC)
    return value


def to_datetime(value: Any) -> dt.datetime | None:
    """A timestamp field: a BSON date, or an ISO-8601 string (the older system sometimes
    stored strings); aware, naive ones taken as UTC. Numbers are refused rather than guessed
    to be seconds or milliseconds."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return as_utc(value)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, Timestamp):
        return value.as_datetime()
    if isinstance(value, str):
        try:
            return as_utc(dt.datetime.fromisoformat(value.strip()))
        except ValueError:
            raise ExtJSONError(f"not an ISO-8601 date: {value[:60]!r}") from None
    raise ExtJSONError(f"not a date: {type(value).__name__} {str(value)[:60]!r}")


def to_int(value: Any) -> int:
    """A counter: int, $numberLong, $numberInt, or a whole $numberDouble/$numberDecimal."""
    if isinstance(value, bool):
        raise ExtJSONError(f"not a whole number: {value!r}")
    if isinstance(value, int):
        return int(value)
    if isinstance(value, Decimal128):
        value = value.to_decimal()
    if isinstance(value, float | Decimal) and _finite(value) and value == int(value):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise ExtJSONError(f"not a whole number: {str(value)[:60]!r}")


def _finite(value: float | Decimal) -> bool:
    return value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)


def _number(value: Decimal) -> int | float | None:
    """Decimals go to JSON as int when whole, else float (JSON columns hold no decimals)."""
    if not value.is_finite():
        return None
    try:
        if value == value.to_integral_value():
            return int(value)
    except InvalidOperation:
        pass
    return float(value)


def to_plain(value: Any) -> Any:
    """A JSON-safe copy: datetimes as ISO-8601 strings with their offset (naive ones as
    UTC), ObjectIds as their hex, Int64 as int, decimals as int or float, NaN and
    infinities as null, binary as base64."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is dict:
        return {
            key if type(key) is str else str(key): item if type(item) is str else to_plain(item)
            for key, item in value.items()
        }
    if kind is list:
        return [item if type(item) is str else to_plain(item) for item in value]
    if kind is int:
        return value
    if kind is float:
        return value if math.isfinite(value) else None
    return _other_to_plain(value)


def _other_to_plain(value: Any) -> Any:
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(key): to_plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(item) for item in value]
    if isinstance(value, dt.datetime):
        return as_utc(value).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, Decimal128):
        return _number(value.to_decimal())
    if isinstance(value, Decimal):
        return _number(value)
    if isinstance(value, Binary) and value.subtype in (3, 4):
        return str(value.as_uuid(value.subtype))
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Regex):
        return value.pattern if isinstance(value.pattern, str) else value.pattern.decode()
    if isinstance(value, Timestamp):
        return value.as_datetime().isoformat()
    if isinstance(value, DBRef):
        return {"$ref": value.collection, "$id": to_plain(value.id)}
    if isinstance(value, Code):
        return str(value)
    if isinstance(value, MinKey | MaxKey):
        return None
    return str(value)


def canonical_json(value: Any) -> str:
    """The same text for the same content (keys sorted, BSON types as to_plain writes
    them), without copying the document first."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=to_plain
    )


def to_id(value: Any) -> str:
    """An identifier as text: strings as they are, ObjectIds as hex, numbers as digits."""
    if isinstance(value, str):
        return value
    if isinstance(value, ObjectId | Int64 | int) and not isinstance(value, bool):
        return str(value)
    raise ExtJSONError(f"not an identifier: {type(value).__name__} {str(value)[:60]!r}")
