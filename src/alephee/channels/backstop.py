"""The backstop of notifications: what catches up when notifications were lost.

* ``ConnectionGate`` (given to the worker's pull step by the composition root): a feed whose channel connection
  is disconnected is passed over (the seller must connect again; pulling would only fail every round), and a
  successful pull of a connected feed stamps the connection's ``last_sync_at``. Feeds with no connection row
  (the sandbox, local stand-ins) are pulled as before.
* ``reconcile_due`` (after a successful pull): every ``channel_reconcile_seconds`` the channel's optional
  ``reconcile`` mends what the marketplace keeps for the hub (Tiendanube: its webhooks, its stock locations).
* ``post_sale_due`` (after a successful pull): every ``channel_post_sale_seconds`` the channel's optional
  ``pull_post_sale`` searches the buyers' questions and claims no notification brought (Mercado Libre).
* ``sync_channel`` (``alephee channel sync``): one account's marketplace pulled from a given time (orders), its
  listings linked to the hub's products (``sync.links``), the notifications the marketplace kept for this
  application (the channel's optional ``missed_notices``) fed into the inbox, and its ``reconcile`` run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from alephee import clock
from alephee.channels import inbox
from alephee.channels.connections import connection_of
from alephee.channels.models import CONNECTED, PAUSED, ChannelConnection
from alephee.config import Settings
from alephee.db import Database
from alephee.errors import NotFound, PreconditionFailed
from alephee.http.wire import format_utc
from alephee.marketplaces.contract import ChannelContext, ChannelNotice, InboundChannel
from alephee.marketplaces.models import PullCursor
from alephee.marketplaces.registry import shared_channel
from alephee.sync.feeds import Feed, feeds
from alephee.sync.links import LinkStats, link_listings
from alephee.sync.pull import Puller, PullStats

# Without a stored cursor nor --since, the backstop reads this far back.
DEFAULT_LOOKBACK = timedelta(hours=24)
MAX_ERROR_LENGTH = 2000


class ConnectionDisconnected(PreconditionFailed):
    """The account's connection to the marketplace was disconnected (412)."""

    message = "The connection is disconnected; connect it again with alephee channel connect"


class NoFeed(NotFound):
    """The marketplace has no channel to pull from, or is inactive (404)."""

    message = "The account's marketplace has no channel to sync"


class ConnectionGate:
    """The worker's pull step over the channel connections (see the module docstring)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def open_feeds(self, session: Session, candidates: list[Feed]) -> list[Feed]:
        """``candidates`` without the feeds whose connection is disconnected."""
        closed = {
            (account_id, marketplace_id)
            for account_id, marketplace_id in session.execute(
                select(ChannelConnection.account_id, ChannelConnection.marketplace_id).where(
                    ChannelConnection.status != CONNECTED
                )
            )
        }
        return [f for f in candidates if (f.account_id, f.marketplace.id) not in closed]

    def pulled(self, feed: Feed) -> None:
        """Stamp the connection's last sync (a no-op for feeds without a connection), then reconcile the
        channel's registrations when they are due (``reconcile_due``)."""
        now = clock.utcnow()
        with self.db.writing() as session:
            stamp(session, feed.account_id, feed.marketplace.id, now=now)
        settings = self.db.settings
        reconcile_due(self.db, settings, feed, now=now)
        post_sale_due(self.db, settings, feed, now=now)


def _claim(
    db: Database, feed: Feed, column: InstrumentedAttribute[datetime | None], interval: float, now: datetime
) -> bool:
    """Whether this process claimed the connected feed's periodic step: ``column`` (when the step last ran) is
    moved to ``now`` by a conditional update only when it is older than ``interval`` seconds, so of several
    workers only one runs the step (its own short transaction, committed before any call out)."""
    with db.writing() as session:
        claimed = session.execute(
            update(ChannelConnection)
            .where(
                ChannelConnection.account_id == feed.account_id,
                ChannelConnection.marketplace_id == feed.marketplace.id,
                ChannelConnection.status == CONNECTED,
                or_(column.is_(None), column < now - timedelta(seconds=interval)),
            )
            .values({column.key: now})
            .execution_options(synchronize_session=False)
        )
    return bool(claimed.rowcount)  # type: ignore[attr-defined]


def _failed(db: Database, feed: Feed, now: datetime, what: str, exc: Exception) -> None:
    """The pull succeeded: a periodic step's failure is the connection's last error."""
    text = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
    with db.writing() as session:
        stamp(session, feed.account_id, feed.marketplace.id, now=now, error=f"{what} failed: {text}")


def reconcile_due(
    db: Database, settings: Settings, feed: Feed, *, now: datetime, channel: object | None = None
) -> str | None:
    """Run the channel's optional ``reconcile`` (its webhooks and other registrations) for a connected feed
    whose last reconciliation is older than ``channel_reconcile_seconds``. The connection is claimed by a
    conditional update first, so of several workers only one calls the marketplace; a failure is kept as the
    connection's last error and tried again after the interval. What it did (None: not due, or no such hook).
    ``channel``: the feed's shared channel unless given."""
    return _run_due(
        db, settings, feed, "reconcile", ChannelConnection.webhooks_checked_at,
        settings.channel_reconcile_seconds, now=now, channel=channel, what="reconciliation",
    )  # fmt: skip


def post_sale_due(
    db: Database, settings: Settings, feed: Feed, *, now: datetime, channel: object | None = None
) -> dict[str, int] | None:
    """Search the buyers' questions and claims of a connected feed (the channel's optional ``pull_post_sale``)
    when they were last searched more than ``channel_post_sale_seconds`` ago: claimed like ``reconcile_due`` (one
    worker of many; a failure is the connection's last error, tried again after the interval). How many of each
    it stored (None: not due, or no such hook). ``channel``: the feed's shared channel unless given."""
    return _run_due(
        db, settings, feed, "pull_post_sale", ChannelConnection.post_sale_checked_at,
        settings.channel_post_sale_seconds, now=now, channel=channel, what="questions and claims search",
    )  # fmt: skip


def _run_due(
    db: Database,
    settings: Settings,
    feed: Feed,
    hook: str,
    checked_at: Any,
    interval: float,
    *,
    now: datetime,
    channel: object | None,
    what: str,
) -> Any:
    """Call the channel's optional ``hook`` for ``feed`` when ``checked_at`` is older than ``interval`` (0 = never),
    after claiming the connection (one worker of many); a failure is kept as the connection's last error."""
    channel = channel or shared_channel(feed.marketplace.connector)
    run: Callable[[ChannelContext], Any] | None = getattr(channel, hook, None)
    if interval <= 0 or not callable(run):
        return None
    if not _claim(db, feed, checked_at, interval, now):
        return None
    try:
        return run(_context(db, settings, feed))
    except Exception as exc:  # shown on the connection, tried again later
        _failed(db, feed, now, what, exc)
        return None


def _context(db: Database, settings: Settings, feed: Feed) -> ChannelContext:
    return ChannelContext(
        account_id=feed.account_id,
        marketplace=feed.marketplace,
        external_seller_id=feed.external_seller_id,
        db=db,
        settings=settings,
    )


def stamp(session: Session, account_id: int, marketplace_id: int, *, now: datetime, error: str | None = None) -> None:
    """Record a sync of a connected connection: ``last_sync_at`` (and ``last_error`` cleared) on success, only
    ``last_error`` on failure."""
    values: dict[str, Any] = {"last_error": error[:MAX_ERROR_LENGTH]} if error else {"last_sync_at": now}
    if not error:
        values["last_error"] = None
    session.execute(
        update(ChannelConnection)
        .where(
            and_(
                ChannelConnection.account_id == account_id,
                ChannelConnection.marketplace_id == marketplace_id,
                ChannelConnection.status == CONNECTED,
            )
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )


@dataclass
class SyncReport:
    """What ``channel sync`` did, as it prints it."""

    orders: PullStats = field(default_factory=PullStats)
    listings: LinkStats = field(default_factory=LinkStats)
    notices: int = 0
    # What the channel's reconciliation did (None: the channel has none).
    reconciled: str | None = None
    # The buyers' questions and claims the channel's searches stored (None: the channel has none).
    post_sale: dict[str, int] | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "Orders": {
                "Created": self.orders.created,
                "Updated": self.orders.updated,
                "Unchanged": self.orders.unchanged,
                "Skipped": self.orders.skipped,
            },
            "Listings": self.listings.as_json(),
            "Notices": self.notices,
            "Reconciled": self.reconciled,
            "PostSale": self.post_sale,
        }


def _feed(session: Session, account_id: int, marketplace_id: int) -> tuple[Feed, str | None]:
    """The feed of the account's marketplace (refused unless it is connected) and its stored cursor."""
    connection = connection_of(session, account_id, marketplace_id)
    if connection.status == PAUSED:
        why = connection.last_error or "the marketplace paused it"
        raise ConnectionDisconnected(f"The connection is paused: {why}")
    if connection.status != CONNECTED:
        raise ConnectionDisconnected()
    feed = next((f for f in feeds(session, account_id) if f.marketplace.id == marketplace_id), None)
    if feed is None:
        raise NoFeed(f"Marketplace {marketplace_id} of account {account_id} has no channel to sync")
    if feed.external_seller_id is None and connection.seller_id is not None:
        feed = Feed(feed.account_id, feed.marketplace, str(connection.seller_id))
    cursor = session.scalar(
        select(PullCursor.cursor).where(
            PullCursor.account_id == account_id, PullCursor.marketplace_id == marketplace_id
        )
    )
    return feed, cursor


def sync_channel(
    db: Database,
    settings: Settings,
    account_id: int,
    marketplace_id: int,
    *,
    since: datetime | None = None,
    now: datetime | None = None,
) -> SyncReport:
    """Pull the orders updated since ``since`` (default: the feed's cursor, else 24 h ago), link the seller's
    listings, feed the marketplace's missed notifications into the inbox, and stamp the connection's last sync
    (or its last error, then re-raise). Each step is its own transaction; none is open during a call out."""
    now = now or clock.utcnow()
    with db.reading() as session:
        feed, cursor = _feed(session, account_id, marketplace_id)
    try:
        report = _run(db, settings, feed, cursor, since, now)
    except Exception as exc:
        text = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        with db.writing() as session:
            stamp(session, account_id, marketplace_id, now=now, error=text)
        raise
    with db.writing() as session:
        stamp(session, account_id, marketplace_id, now=now)
    return report


def _run(
    db: Database, settings: Settings, feed: Feed, cursor: str | None, since: datetime | None, now: datetime
) -> SyncReport:
    report = SyncReport()
    # The cursor a channel keeps is its own; a starting time is given to it as an ISO-8601 UTC instant. None:
    # from the stored cursor.
    start: str | None = None
    if since is not None:
        start = format_utc(since)
    elif cursor is None:
        start = format_utc(now - DEFAULT_LOOKBACK)
    Puller(db, settings).pull_feed(feed, report.orders, start=start)
    channel = shared_channel(feed.marketplace.connector)
    if isinstance(channel, InboundChannel):
        report.listings = link_listings(
            db, settings, channel, feed.account_id, feed.marketplace, external_seller_id=feed.external_seller_id
        )
    missed: Callable[[ChannelContext], list[ChannelNotice]] | None = getattr(channel, "missed_notices", None)
    if callable(missed):
        notices = list(missed(_context(db, settings, feed)))
        with db.writing() as session:
            report.notices = inbox.store_missed(session, feed.marketplace.connector, notices, now=now)
    post_sale: Callable[[ChannelContext], dict[str, int]] | None = getattr(channel, "pull_post_sale", None)
    if callable(post_sale):
        report.post_sale = post_sale(_context(db, settings, feed))
        _checked(db, feed, post_sale_checked_at=now)
    reconcile: Callable[[ChannelContext], str] | None = getattr(channel, "reconcile", None)
    if callable(reconcile):
        report.reconciled = reconcile(_context(db, settings, feed))
        _checked(db, feed, webhooks_checked_at=now)
    return report


def _checked(db: Database, feed: Feed, **values: datetime) -> None:
    """Record that a periodic step just ran on demand (the periodic backstop then waits its interval)."""
    with db.writing() as session:
        session.execute(
            update(ChannelConnection)
            .where(
                ChannelConnection.account_id == feed.account_id,
                ChannelConnection.marketplace_id == feed.marketplace.id,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
