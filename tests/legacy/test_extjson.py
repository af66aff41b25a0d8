"""Extended JSON and BSON values -> Python (no database)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from bson.binary import Binary
from bson.decimal128 import Decimal128
from bson.int64 import Int64
from bson.objectid import ObjectId

from legacy import extjson

MOMENT = datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        '{"$date": "2024-05-06T07:08:09.123Z"}',
        '{"$date": "2024-05-06T09:08:09.123+02:00"}',
        '{"$date": {"$numberLong": "1714979289123"}}',
        '{"$date": 1714979289123}',
    ],
)
def test_dates_in_every_form_become_the_same_aware_instant(text: str) -> None:
    value = extjson.loads(text)
    assert value == MOMENT
    assert value.utcoffset() == timedelta(0)


def test_a_date_without_offset_is_taken_as_utc() -> None:
    value = extjson.loads('{"$date": "2024-05-06T07:08:09.123"}')
    assert value == MOMENT and value.tzinfo is not None


def test_numbers_and_ids() -> None:
    document = extjson.loads(
        json.dumps(
            {
                "_id": {"$oid": "65a1b2c3d4e5f60718293a4b"},
                "long": {"$numberLong": "9007199254740993"},
                "int": {"$numberInt": "7"},
                "double": {"$numberDouble": "2.5"},
                "decimal": {"$numberDecimal": "10.25"},
                "nested": [{"at": {"$date": {"$numberLong": "0"}}}],
            }
        )
    )
    assert document["_id"] == ObjectId("65a1b2c3d4e5f60718293a4b")
    assert document["long"] == 9007199254740993  # beyond a double: kept exact
    assert document["int"] == 7 and document["double"] == 2.5
    assert document["decimal"] == Decimal128("10.25")
    assert document["nested"][0]["at"] == datetime(1970, 1, 1, tzinfo=UTC)


def test_a_bad_value_names_its_place_in_the_document() -> None:
    with pytest.raises(extjson.ExtJSONError) as caught:
        extjson.loads('{"logs": [{"m": 1}, {"timestamp": {"$date": "yesterday"}}]}')
    assert caught.value.path == "logs[1].timestamp"
    assert "yesterday" in str(caught.value)


def test_to_plain_makes_every_bson_type_json_safe() -> None:
    plain = extjson.to_plain(
        {
            "when": datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2))),
            "naive": datetime(2024, 1, 2, 3, 4, 5),
            "id": ObjectId("65a1b2c3d4e5f60718293a4b"),
            "long": Int64(5),
            "whole": Decimal128("3"),
            "part": Decimal("1.5"),
            "nan": float("nan"),
            "inf": math.inf,
            "blob": b"\x00\x01",
            "uuid": Binary(b"\x12" * 16, 4),
            "list": (1, "a"),
        }
    )
    assert plain == {
        "when": "2024-01-02T03:04:05+02:00",  # its offset kept
        "naive": "2024-01-02T03:04:05+00:00",
        "id": "65a1b2c3d4e5f60718293a4b",
        "long": 5,
        "whole": 3,
        "part": 1.5,
        "nan": None,
        "inf": None,
        "blob": "AAE=",
        "uuid": "12121212-1212-1212-1212-121212121212",
        "list": [1, "a"],
    }
    json.dumps(plain, allow_nan=False)  # no NaN, no BSON type left


def test_to_datetime_accepts_dates_and_iso_strings_and_refuses_numbers() -> None:
    assert extjson.to_datetime(datetime(2024, 1, 1)) == datetime(2024, 1, 1, tzinfo=UTC)
    assert extjson.to_datetime("2024-01-01T10:00:00+01:00") == datetime(2024, 1, 1, 9, tzinfo=UTC)
    assert extjson.to_datetime(None) is None
    with pytest.raises(extjson.ExtJSONError, match="not a date"):
        extjson.to_datetime(1714979289)  # seconds or milliseconds? not guessed
    with pytest.raises(extjson.ExtJSONError, match="ISO-8601"):
        extjson.to_datetime("06.05.2024")


@pytest.mark.parametrize(
    ("value", "expected"),
    [(Int64(12), 12), (3, 3), (Decimal128("4"), 4), (5.0, 5), ("6", 6)],
)
def test_to_int_takes_counters_in_any_numeric_form(value: object, expected: int) -> None:
    assert extjson.to_int(value) == expected


@pytest.mark.parametrize("value", [True, 2.5, Decimal128("NaN"), "many", None])
def test_to_int_refuses_what_is_not_a_whole_number(value: object) -> None:
    with pytest.raises(extjson.ExtJSONError):
        extjson.to_int(value)


@pytest.mark.parametrize(
    "wrapper",
    [
        {"$date": "2024-05-06T07:08:09.123Z"},
        {"$date": "2024-05-06T09:08:09+02:00"},
        {"$date": "2024-05-06T07:08:09"},
        {"$date": Int64(1714979289123)},
        {"$date": -86400000},
        {"$oid": "65a1b2c3d4e5f60718293a4b"},
        {"$numberLong": "-42"},
        {"$numberInt": "42"},
        {"$numberDouble": "-Infinity"},
    ],
)
def test_the_fast_path_decodes_as_json_util_does(wrapper: dict[str, object]) -> None:
    from bson import json_util

    expected = json_util.object_hook(dict(wrapper), extjson.JSON_OPTIONS)
    assert extjson.hook(dict(wrapper)) == expected
    assert type(extjson.hook(dict(wrapper))) is type(expected)
