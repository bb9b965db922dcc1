"""The inbox of the marketplaces' notifications: what the notification route stores, at once and nothing more.

A notification is a pointer (``topic`` + ``resource``) that the worker reads later (``sync.inbox``); its body is
never trusted beyond routing it. One that is not for this hub's application, names a seller no connected
account has, or cannot be read is ignored (and counted by reason in ``/metrics``), never an error: the
marketplace would only send it again. A repeat of a pointer already in the inbox re-opens its row (one
statement: an upsert on ``connector + topic + resource`` whose row is selected from the seller's connection), so
duplicates collapse into one read.

``receive`` reads Mercado Libre's body shape; a connector whose notifications look otherwise (Tiendanube's
signed webhooks: ``channels.tiendanube.webhooks``) builds the ``ChannelNotice`` itself and calls ``store``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable

from alephee.channels.models import CONNECTED, ChannelConnection
from alephee.http.observe import CHANNEL_NOTIFICATIONS
from alephee.marketplaces.contract import ChannelNotice
from alephee.marketplaces.models import NOTICE_PENDING, ChannelNotification

if TYPE_CHECKING:
    from alephee.db import Database

RECEIVED = "received"
FOREIGN_APPLICATION = "foreign_application"
UNKNOWN_SELLER = "unknown_seller"
MALFORMED = "malformed"

MAX_TOPIC = 60
MAX_RESOURCE = 300
MAX_SELLER = 40
# Seller ids are stored as 64-bit integers; a larger "id" names no seller.
MAX_SELLER_ID = 2**63 - 1


@dataclass(frozen=True, slots=True)
class Parsed:
    """The fields of a notification body the inbox keeps (the rest, e.g. ``attempts`` or ``sent``, only
    describes the delivery)."""

    notice: ChannelNotice
    application_id: str


def _text(value: Any, limit: int) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    return text if 0 < len(text) <= limit else None


def parse(body: dict[str, Any]) -> Parsed | None:
    """The pointer and application of a notification body (§2.1: ``user_id`` int or string, ``actions``
    optional), or None when a required field is missing or of the wrong type."""
    topic = _text(body.get("topic"), MAX_TOPIC)
    resource = _text(body.get("resource"), MAX_RESOURCE)
    seller = _text(body.get("user_id"), MAX_SELLER)
    application = _text(body.get("application_id"), MAX_SELLER)
    actions = body.get("actions")
    if actions is None:
        actions = []
    if (
        topic is None
        or resource is None
        or seller is None
        or not seller.isdigit()
        or int(seller) > MAX_SELLER_ID
        or application is None
        or not isinstance(actions, list)
        or not all(isinstance(a, str) for a in actions)
    ):
        return None
    return Parsed(ChannelNotice(topic=topic, resource=resource, seller_id=seller, actions=tuple(actions)), application)


def receive(
    session: Session, connector: str, body: dict[str, Any], *, application_ids: frozenset[str], now: datetime
) -> str:
    """Store one notification of ``connector`` addressed to one of ``application_ids`` (this hub's);
    returns ``received`` or why it was ignored (``foreign_application``, ``unknown_seller``, ``malformed``)."""
    parsed = parse(body)
    if parsed is None:
        outcome = MALFORMED
    elif parsed.application_id not in application_ids:
        outcome = FOREIGN_APPLICATION
    else:
        outcome = store(session, connector, parsed.notice, now=now)
    CHANNEL_NOTIFICATIONS.labels(connector, outcome).inc()
    return outcome


def _upsert(dialect: str) -> Executable:
    """The inbox's write of one notice as one statement: the row built from the seller's connected connection (the
    oldest, as the connection lookup always took) and inserted, or the row of the same pointer re-opened; no row
    is written when no connected connection has the seller. Built once per dialect (values are parameters)."""
    inbox = ChannelNotification.__table__
    link = ChannelConnection
    now = bindparam("now", type_=inbox.c.received_at.type)
    source = (
        select(
            bindparam("connector", type_=inbox.c.connector.type),
            bindparam("topic", type_=inbox.c.topic.type),
            bindparam("resource", type_=inbox.c.resource.type),
            bindparam("seller_text", type_=inbox.c.seller_id.type),
            link.account_id,
            link.marketplace_id,
            bindparam("actions", type_=inbox.c.actions.type),
            literal(NOTICE_PENDING, inbox.c.status.type),
            literal(0, inbox.c.attempts.type),
            literal(1, inbox.c.received_count.type),
            now,
            now,
        )
        .where(
            link.connector == bindparam("connector"),
            link.seller_id == bindparam("seller", type_=link.seller_id.type),
            link.status == CONNECTED,
        )
        .order_by(link.id)
        .limit(1)
    )
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(inbox).from_select(
        [
            "connector",
            "topic",
            "resource",
            "seller_id",
            "account_id",
            "marketplace_id",
            "actions",
            "status",
            "attempts",
            "received_count",
            "available_at",
            "received_at",
        ],
        source,
    )
    # A row being read keeps its lease: the reader sees the new ``received_count`` and leaves the row pending
    # for another read instead of marking it done.
    return statement.on_conflict_do_update(
        index_elements=["connector", "topic", "resource"],
        set_={
            "seller_id": statement.excluded.seller_id,
            "account_id": statement.excluded.account_id,
            "marketplace_id": statement.excluded.marketplace_id,
            "actions": statement.excluded.actions,
            "status": NOTICE_PENDING,
            "attempts": 0,
            "received_count": inbox.c.received_count + 1,
            "available_at": statement.excluded.available_at,
            "received_at": statement.excluded.received_at,
            "last_error": None,
        },
    ).returning(inbox.c.id)


_UPSERTS: dict[str, Executable] = {}


def store(session: Session, connector: str, notice: ChannelNotice, *, now: datetime) -> str:
    """Insert the notice's row, or re-open it (pending, due now, one more received, attempts from zero) when
    the same pointer is already in the inbox; ``unknown_seller`` when no connected account has its seller.
    One statement: the connection's lookup is part of the insert."""
    if notice.seller_id is None or not notice.seller_id.isdigit() or int(notice.seller_id) > MAX_SELLER_ID:
        return MALFORMED
    dialect = session.get_bind().dialect.name
    statement = _UPSERTS.get(dialect)
    if statement is None:
        statement = _UPSERTS.setdefault(dialect, _upsert(dialect))
    written = session.execute(
        statement,
        {
            "connector": connector,
            "topic": notice.topic,
            "resource": notice.resource,
            "seller_text": notice.seller_id,
            "seller": int(notice.seller_id),
            "actions": list(notice.actions) or None,
            "now": now,
        },
    )
    # RETURNING says whether a row was written (the drivers' rowcount of an INSERT ... SELECT is not reliable).
    return RECEIVED if written.first() is not None else UNKNOWN_SELLER


def store_missed(session: Session, connector: str, notices: list[ChannelNotice], *, now: datetime) -> int:
    """Feed notices the marketplace kept for this application (its missed feeds) into the inbox, as if they
    had just arrived; returns how many were stored."""
    stored = 0
    for notice in notices:
        outcome = store(session, connector, notice, now=now)
        CHANNEL_NOTIFICATIONS.labels(connector, outcome).inc()
        stored += outcome == RECEIVED
    return stored


@dataclass(eq=False, slots=True)
class _Waiting:
    write: Callable[[Session], str]
    outcome: str | None = None
    written: bool = False
    alone: bool = False


@dataclass(eq=False)
class GroupWriter:
    """The notification route's writes, grouped: each request's write waits its turn, and whoever's turn it is
    writes every write waiting at that moment in one transaction (group commit), so a burst of notifications
    costs one transaction per group instead of one each, and the requests wait on each other in this process
    rather than in the database's lock (SQLite's one writer: its busy handler sleeps and retries). Each request
    is answered only after the transaction holding its write committed; when a group's transaction fails, each
    of its writes is retried alone by its own request, so one bad write costs only its own answer."""

    db: Database
    _turn: threading.Lock = field(default_factory=threading.Lock)
    _guard: threading.Lock = field(default_factory=threading.Lock)
    _queue: list[_Waiting] = field(default_factory=list)

    def write(self, write: Callable[[Session], str]) -> str:
        """Run ``write`` in a committed write transaction (maybe shared with other requests'); its outcome."""
        mine = _Waiting(write)
        with self._guard:
            self._queue.append(mine)
        with self._turn:
            if not mine.written and not mine.alone:
                with self._guard:
                    group, self._queue = self._queue, []
                try:
                    with self.db.writing() as session:
                        outcomes = [waiting.write(session) for waiting in group]
                except Exception:  # each write of the group is retried by its own request, alone
                    for waiting in group:
                        waiting.alone = True
                else:
                    for waiting, outcome in zip(group, outcomes, strict=True):
                        waiting.outcome, waiting.written = outcome, True
        if mine.written:
            assert mine.outcome is not None
            return mine.outcome
        with self.db.writing() as session:
            return write(session)
