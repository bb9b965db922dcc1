"""What the console's overview shows: per account and channel, whether it is connected (and why not), its token
expiry and last sync, its orders of the last 24 hours, its listings by state, its outbox queue and failures and
the lag of its notification inbox; and the 30-day series behind the charts (orders per day per marketplace,
sync latency p50/p99 per day). Read-only queries over a session, scoped to the operator's accounts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from alephee.accounts.models import Account, AccountMarketplace
from alephee.channels.models import CONNECTED, ChannelConnection
from alephee.channels.post_sale import open_counts
from alephee.listings.models import Listing
from alephee.marketplaces.models import (
    NOTICE_IN_FLIGHT,
    NOTICE_PENDING,
    ChannelNotification,
    Marketplace,
    OutboxMessage,
)
from alephee.orders import statuses as order_statuses
from alephee.orders.models import Order
from alephee.webhooks.events import TOPIC_PREFIX as WEBHOOK_TOPIC_PREFIX

# The charts cover this many days, today included.
CHART_DAYS = 30
# Sync latency is computed from at most this many delivered outbox rows (the newest): enough for stable
# percentiles, bounded memory on a busy hub.
MAX_LATENCY_SAMPLES = 100_000

# Why a channel is not connected (a message id of the console's catalogs, shown translated).
REASON_NEVER = "never_connected"
REASON_DISCONNECTED = "disconnected"
REASON_NO_CONNECTOR = "no_connector"
# Connectors that need no OAuth link: the built-in sandbox and channels the hub does not drive.
LINKLESS_CONNECTORS = frozenset({"sandbox"})

AccountScope = Collection[int] | None


def in_scope(column: InstrumentedAttribute[int] | InstrumentedAttribute[int | None], accounts: AccountScope) -> Any:
    """The condition limiting ``column`` (an account id) to the operator's accounts; None = every account."""
    if accounts is None:
        return true()
    return column.in_(sorted(accounts))


@dataclass(slots=True)
class ChannelHealth:
    """One account's marketplace as the overview shows it."""

    account_id: int
    account_name: str
    marketplace_id: int
    marketplace_name: str
    connector: str
    connected: bool
    # Why it is not connected (REASON_* or the marketplace's last error); None when connected.
    reason: str | None = None
    # The last error of a connected link (a failed sync, a refused refresh).
    last_error: str | None = None
    nickname: str | None = None
    token_expires_at: datetime | None = None
    last_sync_at: datetime | None = None
    orders_24h: int = 0
    listings: dict[str, int] = field(default_factory=dict)
    listings_with_errors: int = 0
    outbox_queued: int = 0
    outbox_failed: int = 0
    inbox_pending: int = 0
    inbox_oldest: datetime | None = None
    # Buyers waiting on the seller (as last read from the marketplace).
    unanswered_questions: int = 0
    open_claims: int = 0

    def inbox_lag_seconds(self, now: datetime) -> int | None:
        """Seconds the oldest unread notification has waited, None when the inbox is empty."""
        if self.inbox_oldest is None:
            return None
        return max(0, int((now - self.inbox_oldest).total_seconds()))

    @property
    def connectable(self) -> bool:
        """Whether the channel is linked through an authorization (it has a Connect button)."""
        return self.connector not in LINKLESS_CONNECTORS and self.reason != REASON_NO_CONNECTOR


def _grouped(session: Session, statement: Select[Any]) -> dict[tuple[int, int], Any]:
    return {(row[0], row[1]): row[2] for row in session.execute(statement)}


def channel_health(
    session: Session, accounts: AccountScope, now: datetime, *, connectors: Collection[str] = ()
) -> list[ChannelHealth]:
    """Every marketplace linked to one of the accounts (or connected to it), ordered by account then
    marketplace. ``connectors``: the connectors the hub can link through an authorization (the others show
    ``no_connector`` unless they need no link)."""
    pairs = select(AccountMarketplace.account_id, AccountMarketplace.marketplace_id).where(
        in_scope(AccountMarketplace.account_id, accounts)
    )
    linked = {(a, m) for a, m in session.execute(pairs)}
    links = {
        (row.account_id, row.marketplace_id): row
        for row in session.scalars(select(ChannelConnection).where(in_scope(ChannelConnection.account_id, accounts)))
    }
    keys = sorted(linked | set(links))
    if not keys:
        return []
    account_names = {
        row[0]: row[1]
        for row in session.execute(select(Account.id, Account.name).where(Account.id.in_({a for a, _ in keys})))
    }
    marketplaces = {
        m.id: m for m in session.scalars(select(Marketplace).where(Marketplace.id.in_({m for _, m in keys})))
    }
    since = now - timedelta(hours=24)
    orders = _grouped(
        session,
        select(Order.account_id, Order.marketplace_id, func.count())
        .where(in_scope(Order.account_id, accounts), Order.sale_date >= since, Order.status != order_statuses.DELETED)
        .group_by(Order.account_id, Order.marketplace_id),
    )
    listing_counts: dict[tuple[int, int], dict[str, int]] = defaultdict(dict)
    for account_id, marketplace_id, status, count in session.execute(
        select(Listing.account_id, Listing.marketplace_id, Listing.status, func.count())
        .where(in_scope(Listing.account_id, accounts))
        .group_by(Listing.account_id, Listing.marketplace_id, Listing.status)
    ):
        listing_counts[(account_id, marketplace_id)][status] = count
    with_errors = _grouped(
        session,
        select(
            OutboxMessage.account_id,
            OutboxMessage.marketplace_id,
            func.count(func.distinct(OutboxMessage.aggregate_id)),
        )
        .where(
            in_scope(OutboxMessage.account_id, accounts),
            OutboxMessage.aggregate_type == "listing",
            OutboxMessage.status == "failed",
        )
        .group_by(OutboxMessage.account_id, OutboxMessage.marketplace_id),
    )
    queue: dict[tuple[int, int], dict[str, int]] = defaultdict(dict)
    for account_id, marketplace_id, status, count in session.execute(
        select(OutboxMessage.account_id, OutboxMessage.marketplace_id, OutboxMessage.status, func.count())
        .where(
            in_scope(OutboxMessage.account_id, accounts),
            OutboxMessage.marketplace_id.is_not(None),
            OutboxMessage.status.in_(("pending", "in_flight", "failed")),
        )
        .group_by(OutboxMessage.account_id, OutboxMessage.marketplace_id, OutboxMessage.status)
    ):
        queue[(account_id, marketplace_id)][status] = count
    inbox = {
        (row[0], row[1]): (row[2], row[3])
        for row in session.execute(
            select(
                ChannelNotification.account_id,
                ChannelNotification.marketplace_id,
                func.count(),
                func.min(ChannelNotification.received_at),
            )
            .where(
                in_scope(ChannelNotification.account_id, accounts),
                ChannelNotification.status.in_((NOTICE_PENDING, NOTICE_IN_FLIGHT)),
            )
            .group_by(ChannelNotification.account_id, ChannelNotification.marketplace_id)
        )
    }
    waiting = open_counts(session, accounts)
    result = []
    for key in keys:
        account_id, marketplace_id = key
        marketplace = marketplaces.get(marketplace_id)
        connector = marketplace.connector if marketplace else "none"
        link = links.get(key)
        item = ChannelHealth(
            account_id=account_id,
            account_name=account_names.get(account_id, str(account_id)),
            marketplace_id=marketplace_id,
            marketplace_name=marketplace.name if marketplace else str(marketplace_id),
            connector=connector,
            connected=False,
        )
        if link is not None:
            item.connected = link.status == CONNECTED and link.refresh_token is not None
            item.nickname = link.nickname
            item.token_expires_at = link.token_expires_at
            item.last_sync_at = link.last_sync_at
            if item.connected:
                item.last_error = link.last_error
            else:
                item.reason = link.last_error or REASON_DISCONNECTED
        elif connector in LINKLESS_CONNECTORS:
            item.connected = True
        elif connector in connectors:
            item.reason = REASON_NEVER
        else:
            item.reason = REASON_NO_CONNECTOR
        item.orders_24h = orders.get(key, 0)
        item.listings = dict(listing_counts.get(key, {}))
        item.listings_with_errors = with_errors.get(key, 0)
        depth = queue.get(key, {})
        item.outbox_queued = depth.get("pending", 0) + depth.get("in_flight", 0)
        item.outbox_failed = depth.get("failed", 0)
        item.inbox_pending, item.inbox_oldest = inbox.get(key, (0, None))
        item.unanswered_questions, item.open_claims = waiting.get(key, (0, 0))
        result.append(item)
    return result


def _day(session: Session, column: ColumnElement[datetime] | InstrumentedAttribute[datetime]) -> ColumnElement[Any]:
    # The UTC calendar day of a timestamp: SQLite keeps naive UTC text; PostgreSQL converts to the session's zone
    # unless told UTC.
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.substr(column, 1, 10)


def chart_days(now: datetime, days: int = CHART_DAYS) -> list[date]:
    """The days a chart shows, oldest first, ending today (UTC)."""
    today = now.date()
    return [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]


@dataclass(frozen=True, slots=True)
class Series:
    """One line of a chart: a name and one value per day (None = no data that day)."""

    name: str
    values: list[float | None]


def orders_per_day(session: Session, accounts: AccountScope, now: datetime, days: int = CHART_DAYS) -> list[Series]:
    """Orders sold per UTC day and marketplace over the last ``days`` days (one series per marketplace with
    orders, by marketplace name)."""
    axis = chart_days(now, days)
    start = datetime.combine(axis[0], datetime.min.time(), tzinfo=now.tzinfo)
    day = _day(session, Order.sale_date).label("day")
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for marketplace_id, day_text, count in session.execute(
        select(Order.marketplace_id, day, func.count())
        .where(in_scope(Order.account_id, accounts), Order.sale_date >= start, Order.status != order_statuses.DELETED)
        .group_by(Order.marketplace_id, day)
    ):
        counts[marketplace_id][str(day_text)] = count
    if not counts:
        return []
    names = {
        row[0]: row[1]
        for row in session.execute(select(Marketplace.id, Marketplace.name).where(Marketplace.id.in_(counts)))
    }
    return [
        Series(names.get(marketplace_id, str(marketplace_id)), [float(by_day.get(d.isoformat(), 0)) for d in axis])
        for marketplace_id, by_day in sorted(counts.items(), key=lambda kv: names.get(kv[0], ""))
    ]


def percentile(sorted_values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of already sorted values (``fraction`` 0.5 = median)."""
    if not sorted_values:
        raise ValueError("no values")
    rank = max(1, min(len(sorted_values), int(-(-fraction * len(sorted_values) // 1))))
    return sorted_values[rank - 1]


def sync_latency(session: Session, accounts: AccountScope, now: datetime, days: int = CHART_DAYS) -> list[Series]:
    """p50 and p99 per UTC day of the sync latency, in seconds: for each change delivered to a marketplace
    (outbox rows with a marketplace, webhook deliveries excluded), the time from its outbox row's creation (the
    change committed in the hub) to its delivery. Days without deliveries are None."""
    axis = chart_days(now, days)
    start = datetime.combine(axis[0], datetime.min.time(), tzinfo=now.tzinfo)
    rows = session.execute(
        select(OutboxMessage.created_at, OutboxMessage.delivered_at)
        .where(
            in_scope(OutboxMessage.account_id, accounts),
            OutboxMessage.status == "delivered",
            OutboxMessage.delivered_at >= start,
            OutboxMessage.marketplace_id.is_not(None),
            ~OutboxMessage.topic.startswith(WEBHOOK_TOPIC_PREFIX),
        )
        .order_by(OutboxMessage.id.desc())
        .limit(MAX_LATENCY_SAMPLES)
    )
    by_day: dict[date, list[float]] = defaultdict(list)
    for created_at, delivered_at in rows:
        if created_at is None or delivered_at is None:
            continue
        by_day[delivered_at.date()].append(max(0.0, (delivered_at - created_at).total_seconds()))
    p50: list[float | None] = []
    p99: list[float | None] = []
    for d in axis:
        values = sorted(by_day.get(d, []))
        p50.append(percentile(values, 0.5) if values else None)
        p99.append(percentile(values, 0.99) if values else None)
    if all(v is None for v in p50):
        return []
    return [Series("p50", p50), Series("p99", p99)]
