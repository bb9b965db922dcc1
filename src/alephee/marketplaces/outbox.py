"""The outbox: every change that must leave the hub is recorded here in the same transaction as the change.

Writers call ``enqueue`` (no commit: the caller's transaction decides). The worker (``alephee worker``)
claims due rows, delivers them through the marketplace channel (or the webhook sender) and records the
outcome.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from alephee.clock import utcnow
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
