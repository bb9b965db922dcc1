"""The outbox: every change that must leave the hub is recorded here in the same transaction as the change.

Writers call ``enqueue`` (no commit: the caller's transaction decides). The worker (``alephee worker``,
``sync/worker.py``) claims due rows, delivers them through the marketplace channel (or the webhook
sender) and records the outcome. Topics and payload keys: ``sandbox/channel.py``. Enqueue *after*
updating the aggregate's row in the same transaction, so outbox ids follow the aggregate's commit order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from alephee.clock import utcnow
from alephee.db import BulkStatement, RowWriter, arrays
from alephee.errors import Conflict, InvalidInput, NotFound
from alephee.marketplaces.models import OutboxMessage


def enqueue(
    session: Session,
    *,
    account_id: int,
    topic: str,
    aggregate_type: str,
    aggregate_id: int,
    payload: dict[str, Any],
    marketplace_id: int | None = None,
) -> OutboxMessage:
    """Record an outbound change; it becomes visible to the worker when the caller commits."""
    message = OutboxMessage(
        account_id=account_id,
        marketplace_id=marketplace_id,
        topic=topic,
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        payload=payload,
        status="pending",
        attempts=0,
        available_at=utcnow(),
    )
    session.add(message)
    return message


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One row for ``enqueue_many`` (the arguments of ``enqueue``)."""

    account_id: int
    topic: str
    aggregate_type: str
    aggregate_id: int
    payload: dict[str, Any]
    marketplace_id: int | None = None


_SQL_ENQUEUE = BulkStatement(
    "INSERT INTO outbox (account_id, marketplace_id, topic, aggregate_type, aggregate_id, payload, status, attempts,"
    " available_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', 0, ?7, ?7)",
    "INSERT INTO outbox (account_id, marketplace_id, topic, aggregate_type, aggregate_id, payload, status, attempts,"
    " available_at, created_at) SELECT a, m, t, kind, aid, p, 'pending', 0, at, at"
    f" FROM unnest({arrays('integer', 'integer', 'varchar', 'varchar', 'bigint', 'json', 'timestamptz')})"
    " WITH ORDINALITY AS v(a, m, t, kind, aid, p, at, n) ORDER BY n",
)


def enqueue_many(session: Session, rows: Sequence[Outgoing]) -> None:
    """``enqueue`` for many rows with one statement (the ids follow ``rows``' order). The session is flushed
    first, so rows it still holds keep their place before these in each aggregate's order."""
    if not rows:
        return
    session.flush()
    conn = session.connection()
    writer = RowWriter(conn)
    payload = OutboxMessage.__table__.c.payload.type
    encode = payload.dialect_impl(conn.dialect).bind_processor(conn.dialect) or (lambda v: v)
    stamp = writer.stamp(utcnow())
    writer.executemany(
        _SQL_ENQUEUE,
        [
            (r.account_id, r.marketplace_id, r.topic, r.aggregate_type, r.aggregate_id, encode(r.payload), stamp)
            for r in rows
        ],
    )


# --- operator views (alephee outbox list|retry) -------------------------------------------------------------

STATUSES = ("pending", "in_flight", "delivered", "failed")
ERR_BAD_STATUS = "status must be one of: " + ", ".join(STATUSES)
ERR_NOT_FOUND = "Outbox message {} not found"
ERR_NOT_FAILED = "Outbox message {} is {}; only failed messages can be retried"


class OutboxMessageNotFound(NotFound):
    """No outbox row has this id."""


class OutboxMessageNotFailed(Conflict):
    """Only failed rows go back to pending (pending/in-flight ones are already queued)."""


def list_messages(
    session: Session, *, status: str | None = None, account_id: int | None = None, limit: int = 100
) -> list[OutboxMessage]:
    """Outbox rows, newest first, optionally of one status and/or account."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(ERR_BAD_STATUS)
    query = select(OutboxMessage)
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    if account_id is not None:
        query = query.where(OutboxMessage.account_id == account_id)
    return list(session.scalars(query.order_by(OutboxMessage.id.desc()).limit(max(1, limit))))


def retry(session: Session, message_id: int | None = None, *, account_id: int | None = None) -> list[int]:
    """Put one failed row (``message_id``) or every failed row (of ``account_id``) back to pending, due now
    and with a fresh attempt budget. ``last_error`` is kept until the next outcome overwrites it."""
    if message_id is not None:
        row = session.get(OutboxMessage, message_id)
        if row is None:
            raise OutboxMessageNotFound(ERR_NOT_FOUND.format(message_id))
        if row.status != "failed":
            raise OutboxMessageNotFailed(ERR_NOT_FAILED.format(message_id, row.status))
    condition = OutboxMessage.status == "failed"
    if message_id is not None:
        condition = condition & (OutboxMessage.id == message_id)
    if account_id is not None:
        condition = condition & (OutboxMessage.account_id == account_id)
    ids = session.scalars(
        update(OutboxMessage)
        .where(condition)
        .values(status="pending", attempts=0, available_at=utcnow(), locked_by=None, locked_until=None)
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    ).all()
    return sorted(ids)


def message_json(row: OutboxMessage) -> dict[str, Any]:
    """An outbox row as the CLI prints it."""

    def iso(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "Id": row.id,
        "AccountId": row.account_id,
        "MarketplaceId": row.marketplace_id,
        "Topic": row.topic,
        "AggregateType": row.aggregate_type,
        "AggregateId": row.aggregate_id,
        "Status": row.status,
        "Attempts": row.attempts,
        "AvailableAt": iso(row.available_at),
        "LockedBy": row.locked_by,
        "LockedUntil": iso(row.locked_until),
        "LastError": row.last_error,
        "CreatedAt": iso(row.created_at),
        "DeliveredAt": iso(row.delivered_at),
        "Payload": row.payload,
    }
