"""A stand-in for pymongo's MongoClient with the cursor API the legacy source uses, holding
real BSON bytes, so the MongoDB path runs its own decoding without a server."""

from __future__ import annotations

from typing import Any

from bson import decode, encode
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo.errors import CursorNotFound, ServerSelectionTimeoutError

LENIENT: CodecOptions[dict[str, Any]] = CodecOptions(unicode_decode_error_handler="replace")


def broken_bson(document: dict[str, Any], field: str) -> bytes:
    """``document`` as BSON whose string ``field`` is not valid UTF-8 (a corrupt record)."""
    value = document[field]
    data = encode(document)
    marker = value.encode()
    return data.replace(marker, b"\xff" * len(marker), 1)


def _id_of(raw: bytes) -> Any:
    """The _id as the server sees it (it sorts documents it could not decode too)."""
    return decode(raw, codec_options=LENIENT)["_id"]


class FakeCursor:
    def __init__(self, raws: list[bytes], fail_at: int | None) -> None:
        self.raws = raws
        self.fail_at = fail_at
        self.closed = False

    def __iter__(self) -> Any:
        for index, raw in enumerate(self.raws):
            if index == self.fail_at:
                raise CursorNotFound("cursor id 42 not found")
            yield RawBSONDocument(raw)

    def close(self) -> None:
        self.closed = True


class FakeCollection:
    def __init__(self, raws: list[bytes]) -> None:
        self.raws = raws
        self.finds: list[dict[str, Any]] = []
        self.fail_at: list[int] = []  # positions (per find) that lose the cursor once each
        self.cursors: list[FakeCursor] = []

    def estimated_document_count(self) -> int:
        return len(self.raws)

    def find(self, query: dict[str, Any], *, sort: Any, batch_size: int) -> FakeCursor:
        assert sort == [("_id", 1)]
        self.finds.append({"query": query, "batch_size": batch_size})
        ordered = sorted(self.raws, key=_id_of)
        after = query.get("_id", {}).get("$gt")
        if after is not None:
            ordered = [raw for raw in ordered if _id_of(raw) > after]
        cursor = FakeCursor(ordered, self.fail_at.pop(0) if self.fail_at else None)
        self.cursors.append(cursor)
        return cursor


class FakeDatabase:
    def __init__(self, collections: dict[str, FakeCollection]) -> None:
        self.collections = collections

    def list_collection_names(self) -> list[str]:
        return list(self.collections)

    def get_collection(self, name: str, *, codec_options: CodecOptions[Any]) -> FakeCollection:
        assert codec_options.document_class is RawBSONDocument
        return self.collections[name]


class FakeClient:
    """``FakeClient.factory(databases)`` is a client_factory for MongoSource."""

    def __init__(self, databases: dict[str, FakeDatabase], uri: str, **kwargs: Any) -> None:
        self.databases = databases
        self.uri = uri
        self.kwargs = kwargs
        self.closed = False

    @classmethod
    def factory(cls, databases: dict[str, FakeDatabase], created: list[FakeClient]) -> Any:
        def make(uri: str, **kwargs: Any) -> FakeClient:
            client = cls(databases, uri, **kwargs)
            created.append(client)
            return client

        return make

    def __getitem__(self, name: str) -> FakeDatabase:
        if name not in self.databases:
            raise ServerSelectionTimeoutError("no servers found yet")
        return self.databases[name]

    def close(self) -> None:
        self.closed = True


def fake_database(collections: dict[str, list[dict[str, Any] | bytes]]) -> FakeDatabase:
    """Collections of documents (BSON-ready dicts, or raw BSON bytes for corrupt ones)."""
    return FakeDatabase(
        {
            name: FakeCollection(
                [item if isinstance(item, bytes) else encode(item) for item in items]
            )
            for name, items in collections.items()
        }
    )
