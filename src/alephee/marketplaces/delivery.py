"""What the outbox worker hands to a sender, and the table of senders by topic prefix.

The worker (``sync.worker``) claims outbox rows and delivers each through a ``Sender``: the channel of the
row's marketplace by default, or the sender registered for the row's topic prefix (``register_sender``; the
webhook poster registers ``webhook.``). Kept here, below the domains, so that a sender in any layer can be
written against it.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from sqlalchemy.orm import Session

from alephee.marketplaces.models import OutboxMessage

PENDING, IN_FLIGHT, DELIVERED, FAILED = "pending", "in_flight", "delivered", "failed"
# Topic prefixes never delivered through marketplace channels, even before their sender is registered.
RESERVED_PREFIXES: tuple[str, ...] = ("webhook.",)


# --- what a sender gets -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A claimed outbox row, detached from any session."""

    id: int
    account_id: int
    marketplace_id: int | None
    topic: str
    aggregate_type: str
    aggregate_id: int
    payload: dict[str, Any]
    attempts: int
    created_at: datetime

    @classmethod
    def of(cls, row: OutboxMessage) -> OutboxItem:
        return cls(
            id=row.id,
            account_id=row.account_id,
            marketplace_id=row.marketplace_id,
            topic=row.topic,
            aggregate_type=row.aggregate_type,
            aggregate_id=row.aggregate_id,
            payload=dict(row.payload or {}),
            attempts=row.attempts,
            created_at=row.created_at,
        )


class Sender(Protocol):
    """Delivers outbox rows of some topics (a marketplace channel, a webhook poster, ...)."""

    def in_database(self, session: Session, item: OutboxItem) -> bool:
        """True when ``send`` writes only to the hub's database and must share the outcome's transaction.
        Called (with a short read session) right before ``send``: the place to look up what ``send`` needs."""
        ...

    def send(self, session: Session | None, item: OutboxItem) -> Any:
        """Deliver ``item``; raise ``DeliveryError`` (transient/permanent) on failure. ``session`` is the
        delivery transaction when ``in_database`` said so, else ``None`` (no transaction held while calling out).
        Returns what the receiver answered (recorded with the outcome), or None."""
        ...


@runtime_checkable
class BatchSender(Protocol):
    """A sender that also takes many claimed rows at once (optional: the worker delivers row by row otherwise).

    The worker groups a round's rows by ``batch_key`` (rows whose key is None go one by one through ``send``),
    hands each group to ``send_batch`` outside any transaction, and records every outcome of the group in one
    write transaction."""

    def batch_key(self, session: Session, item: OutboxItem) -> Hashable | None:
        """The group ``item`` is delivered with (e.g. its marketplace and account), or None to send it alone.
        Called with a short read session, like ``Sender.in_database``."""
        ...

    def send_batch(self, items: Sequence[OutboxItem]) -> list[Any]:
        """Deliver a group; one result per row, in order: what the receiver answered, or the exception of that row
        alone (a ``DeliveryError`` or any other). An exception raised instead is every row's."""
        ...


@dataclass(frozen=True, slots=True)
class Route:
    """Rows whose topic starts with ``prefix`` go to ``sender``; ``without_marketplace`` also routes rows that
    have no marketplace (whatever their topic) to it."""

    prefix: str
    sender: Sender
    without_marketplace: bool = False


_routes: dict[str, Route] = {}
_routes_lock = threading.Lock()


def register_sender(prefix: str, sender: Sender, *, without_marketplace: bool = False) -> Route | None:
    """Route topics starting with ``prefix`` to ``sender`` (longest prefix wins); returns the replaced route."""
    if not prefix:
        raise ValueError("a sender needs a non-empty topic prefix (the channel sender is the fallback)")
    with _routes_lock:
        previous = _routes.get(prefix)
        _routes[prefix] = Route(prefix, sender, without_marketplace)
        return previous


def unregister_sender(prefix: str, previous: Route | None = None) -> None:
    """Undo ``register_sender``."""
    with _routes_lock:
        if previous is None:
            _routes.pop(prefix, None)
        else:
            _routes[prefix] = previous


def current_routes() -> list[Route]:
    """The registered routes, longest prefix first (the order the worker tries them in)."""
    with _routes_lock:
        return sorted(_routes.values(), key=lambda r: len(r.prefix), reverse=True)
