"""A local stand-in's state (Mercado Libre's, Tiendanube's): JSON documents keyed by ``(kind, key)`` in one
SQLite file (WAL), plus id counters, and the faults injected into its next calls.

Every stand-in object opened on the same file (one per server process) sees the same codes, tokens, items,
orders and notifications. Writes take SQLite's write lock at ``BEGIN IMMEDIATE``, so a read-modify-write inside
one ``Store.begin()`` block is never interleaved with another process's.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Connection,
    Index,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    event,
    select,
    update,
)
from sqlalchemy.dialects.sqlite import insert

from alephee.clock import precise_utcnow

metadata = MetaData()

documents = Table(
    "documents",
    metadata,
    Column("kind", String(32), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("owner", BigInteger, nullable=True),
    Column("body", JSON, nullable=False),
    Column("updated_at", String(32), nullable=False),
    Index("ix_documents_kind_owner_updated", "kind", "owner", "updated_at"),
)

counters = Table(
    "counters",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)


class Tx:
    """One transaction over the documents; ``after_commit`` callbacks run once it is committed."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.after_commit: list[Callable[[], None]] = []

    def get(self, kind: str, key: str | int, owner: int | None = None) -> dict[str, Any] | None:
        """The document ``(kind, key)`` (only if ``owner`` owns it, when given), or None."""
        query = select(documents.c.body).where(documents.c.kind == kind, documents.c.key == str(key))
        if owner is not None:
            query = query.where(documents.c.owner == owner)
        row = self.conn.execute(query).first()
        return dict(row.body) if row else None

    def put(self, kind: str, key: str | int, body: dict[str, Any], owner: int | None = None) -> None:
        """Create or replace the document ``(kind, key)``."""
        values = {"kind": kind, "key": str(key), "owner": owner, "body": body, "updated_at": _stamp()}
        statement = insert(documents).values(values)
        self.conn.execute(
            statement.on_conflict_do_update(
                index_elements=[documents.c.kind, documents.c.key],
                set_={"owner": owner, "body": body, "updated_at": values["updated_at"]},
            )
        )

    def delete(self, kind: str, key: str | int) -> None:
        """Remove the document ``(kind, key)`` if it exists."""
        self.conn.execute(delete(documents).where(documents.c.kind == kind, documents.c.key == str(key)))

    def find(self, kind: str, owner: int | None = None) -> list[dict[str, Any]]:
        """Every document of ``kind`` (of ``owner`` when given), oldest change first."""
        return [body for _key, body in self.keyed(kind, owner)]

    def keyed(self, kind: str, owner: int | None = None) -> list[tuple[str, dict[str, Any]]]:
        """``(key, document)`` of every document of ``kind`` (of ``owner`` when given), oldest change first."""
        query = select(documents.c.key, documents.c.body).where(documents.c.kind == kind)
        if owner is not None:
            query = query.where(documents.c.owner == owner)
        rows = self.conn.execute(query.order_by(documents.c.updated_at, documents.c.key))
        return [(row.key, dict(row.body)) for row in rows]

    def next_id(self, name: str, base: int) -> int:
        """The next number of the counter ``name``: ``base + 1`` first, then one more each call."""
        self.conn.execute(insert(counters).values(name=name, value=base).on_conflict_do_nothing())
        self.conn.execute(update(counters).where(counters.c.name == name).values(value=counters.c.value + 1))
        return int(self.conn.execute(select(counters.c.value).where(counters.c.name == name)).scalar_one())


def _stamp() -> str:
    return precise_utcnow().strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Store:
    """The SQLite file: opened (and its tables created) on construction."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.engine = create_engine(f"sqlite:///{self.path}", connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(self.engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            # Transactions are begun explicitly below (the driver's implicit BEGIN would be DEFERRED).
            dbapi_connection.isolation_level = None
            dbapi_connection.execute("PRAGMA journal_mode=WAL")
            dbapi_connection.execute("PRAGMA busy_timeout=30000")
            dbapi_connection.execute("PRAGMA synchronous=NORMAL")

        @event.listens_for(self.engine, "begin")
        def _begin(conn: Connection) -> None:
            # The write lock at the start: two processes never both read a document and then both write it.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        metadata.create_all(self.engine)

    @contextmanager
    def begin(self) -> Iterator[Tx]:
        """A transaction; committed at the end of the block, rolled back on an exception."""
        with self.engine.begin() as conn:
            tx = Tx(conn)
            yield tx
        for callback in tx.after_commit:
            callback()

    def close(self) -> None:
        """Release the file's connections."""
        self.engine.dispose()


def add_fault(
    tx: Tx, path_prefix: str, status: int, count: int = 1, method: str | None = None, statuses: Iterable[int] = ()
) -> dict[str, Any]:
    """The next ``count`` calls whose path starts with ``path_prefix`` (and of ``method``) answer ``status``;
    ValueError when the path is not absolute, the count not positive or the status not one of ``statuses``."""
    if status not in set(statuses) or not path_prefix.startswith("/") or count < 1:
        raise ValueError(f"path_prefix must start with /, count be positive and status one of {sorted(statuses)}")
    fault = {"path_prefix": path_prefix, "status": status, "remaining": count, "method": method and method.upper()}
    tx.put("fault", secrets.token_hex(8), fault)
    return fault


def take_fault(store: Store, method: str, path: str) -> int | None:
    """The status injected for this call, if a fault matches it (spending one of its count)."""
    with store.begin() as tx:
        for key, fault in tx.keyed("fault"):
            if path.startswith(fault["path_prefix"]) and fault["method"] in (None, method):
                fault["remaining"] -= 1
                if fault["remaining"] <= 0:
                    tx.delete("fault", key)
                else:
                    tx.put("fault", key, fault)
                return int(fault["status"])
    return None
