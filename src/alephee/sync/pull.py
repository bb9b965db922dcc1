"""Pulling orders from the marketplaces into the hub: one step of every worker round.

For every account connected to a marketplace that has a connector, the worker reads the channel's order feed
(``Channel.pull_orders``) after the cursor stored in ``pull_cursors`` (``sync.feeds``) and applies each entry
to the hub (``sync.order_feed``: new orders, status, payment and shipment news, stock decremented or returned).

One page is applied in one transaction together with the cursor move; the cursor row is locked meanwhile
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so two workers never pull the
same feed at once. An entry that cannot be applied (bad data) is skipped and recorded on the cursor
(``skipped``, ``last_error``) instead of blocking the feed.

A ``FeedGate`` given by the composition root says which feeds may be pulled now (a marketplace whose connection
was disconnected is passed over, not failed every round) and records a successful pull (the connection's last
sync). ``pull_feed(feed, start=...)`` reads one feed from a given cursor instead of the stored one (the
``channel sync`` backstop).
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from alephee import clock
from alephee.config import Settings
from alephee.db import Database
from alephee.errors import DomainError
from alephee.marketplaces.contract import Channel, ChannelContext, DeliveryError, OrderPage
from alephee.marketplaces.models import PullCursor
from alephee.marketplaces.registry import shared_channel
from alephee.sync.feeds import Feed, feeds, lock_cursor
from alephee.sync.order_feed import OrderSync, lower_channel_copies, prelock

log = logging.getLogger("alephee.pull")

PAGE_SIZE = 100
MAX_PAGES_PER_ROUND = 10
MAX_ERROR_LENGTH = 2000


@dataclass
class PullStats:
    """What a pull did."""

    feeds: int = 0
    pages: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0

    @property
    def changed(self) -> int:
        return self.created + self.updated

    def as_json(self) -> dict[str, int]:
        return {
            "Feeds": self.feeds,
            "Pages": self.pages,
            "Created": self.created,
            "Updated": self.updated,
            "Unchanged": self.unchanged,
            "Skipped": self.skipped,
            "FailedFeeds": self.failed,
        }


def apply_page(session: Session, feed: Feed, page: OrderPage, cursor: PullCursor, stats: PullStats) -> None:
    """Apply a page of feed entries and move the cursor (one transaction, the caller's)."""
    sync = OrderSync(session, feed.account_id, feed.marketplace)
    prelock(session, feed.account_id, feed.marketplace.id, page.orders)
    sold: dict[int, list[tuple[datetime, int]]] = {}
    for entry in page.orders:
        sync.sales = {}  # what this entry's new order sold, kept only if the entry is applied
        try:
            with session.begin_nested():  # a bad entry undoes only its own writes
                outcome = sync.apply(entry)
        except (DomainError, DeliveryError, ValidationError, ValueError, KeyError, TypeError) as exc:
            message = getattr(exc, "message", None) or str(exc)
            log.warning(
                "pull %s/%s: order %s skipped: %s",
                feed.account_id,
                feed.marketplace.id,
                entry.external_order_id,
                message,
            )
            cursor.skipped += 1
            cursor.last_error = f"order {entry.external_order_id}: {message}"[:MAX_ERROR_LENGTH]
            stats.skipped += 1
            continue
        for listing_id, sales in sync.sales.items():
            sold.setdefault(listing_id, []).extend(sales)
        if outcome == "created":
            stats.created += 1
        elif outcome == "updated":
            stats.updated += 1
        else:
            stats.unchanged += 1
    lower_channel_copies(session, feed.marketplace, sold)
    cursor.cursor = page.cursor
    cursor.applied += len(page.orders)
    cursor.pulled_at = clock.precise_utcnow()
    stats.pages += 1
    session.flush()


class FeedGate(Protocol):
    """Which feeds may be pulled, and what a successful pull records (the channel connections, kept by a layer
    above this one)."""

    def open_feeds(self, session: Session, candidates: list[Feed]) -> list[Feed]:
        """The feeds of ``candidates`` that may be pulled now."""
        ...

    def pulled(self, feed: Feed) -> None:
        """Record that ``feed`` was pulled without error (in a transaction of its own)."""
        ...


class Puller:
    """The worker's pull step: every feed, a few pages each, one transaction per page."""

    def __init__(
        self,
        db: Database,
        settings: Settings | None = None,
        *,
        page_size: int = PAGE_SIZE,
        max_pages: int = MAX_PAGES_PER_ROUND,
        gate: FeedGate | None = None,
    ) -> None:
        self.db = db
        self.settings = settings or db.settings
        self.page_size = page_size
        self.max_pages = max_pages
        self.gate = gate
        # When each remote feed is next pulled (monotonic seconds).
        self._next_remote: dict[tuple[int, int], float] = {}

    def run(self) -> PullStats:
        """Pull every feed once (up to ``max_pages`` pages each)."""
        stats = PullStats()
        with self.db.reading() as session:
            all_feeds = feeds(session)
            if self.gate is not None:
                all_feeds = self.gate.open_feeds(session, all_feeds)
        for feed in all_feeds:
            if not self._due(feed):
                continue
            stats.feeds += 1
            try:
                self.pull_feed(feed, stats)
                if self.gate is not None:
                    self.gate.pulled(feed)
            except Exception as exc:  # one broken feed must not stop the others, nor the worker
                stats.failed += 1
                log.warning("pull %s/%s failed: %s", feed.account_id, feed.marketplace.id, exc, exc_info=True)
                self._record_error(feed, exc)
        return stats

    def _due(self, feed: Feed) -> bool:
        """Whether the feed is pulled this round: in-database feeds always; a remote marketplace's feed (the
        backstop of its notifications) once per ``channel_backstop_seconds`` in this process, so the hub does
        not search a marketplace's orders every second."""
        channel = shared_channel(feed.marketplace.connector)
        if channel.in_database:
            return True
        key = (feed.account_id, feed.marketplace.id)
        now = time.monotonic()
        if now < self._next_remote.get(key, 0.0):
            return False
        self._next_remote[key] = now + self.settings.channel_backstop_seconds
        return True

    def pull_feed(self, feed: Feed, stats: PullStats | None = None, *, start: str | None = None) -> PullStats:
        """Pull one feed until it has nothing more (or ``max_pages`` pages); from ``start`` instead of the
        stored cursor when given (the cursor then moves on from what that read returned)."""
        stats = stats if stats is not None else PullStats()
        channel = shared_channel(feed.marketplace.connector)
        for _ in range(self.max_pages):
            if not self._page(feed, channel, stats, start):
                break
            start = None
        return stats

    def _page(self, feed: Feed, channel: Channel, stats: PullStats, start: str | None = None) -> bool:
        """One page (after ``start`` when given, else after the stored cursor); returns whether the feed said
        there is more."""
        if channel.in_database:
            with self.db.writing() as session:
                cursor = lock_cursor(session, feed.account_id, feed.marketplace.id)
                if cursor is None:
                    return False
                ctx = self._context(feed, session)
                page = channel.pull_orders(ctx, start if start is not None else cursor.cursor, self.page_size)
                apply_page(session, feed, page, cursor, stats)
                return page.has_more
        # Remote marketplaces are called outside any transaction; the cursor only moves if nobody else
        # moved it meanwhile (compare-and-set under the row lock).
        with self.db.reading() as session:
            current = session.scalar(
                select(PullCursor.cursor).where(
                    PullCursor.account_id == feed.account_id, PullCursor.marketplace_id == feed.marketplace.id
                )
            )
        page = channel.pull_orders(self._context(feed, None), start if start is not None else current, self.page_size)
        if not page.orders and page.cursor == current:
            return False
        with self.db.writing() as session:
            cursor = lock_cursor(session, feed.account_id, feed.marketplace.id)
            if cursor is None or cursor.cursor != current:
                return False
            apply_page(session, feed, page, cursor, stats)
        return page.has_more

    def _context(self, feed: Feed, session: Session | None) -> ChannelContext:
        return ChannelContext(
            account_id=feed.account_id,
            marketplace=feed.marketplace,
            session=session,
            external_seller_id=feed.external_seller_id,
            db=self.db,
            settings=self.settings,
        )

    def _record_error(self, feed: Feed, error: BaseException) -> None:
        text = (getattr(error, "message", None) or f"{type(error).__name__}: {error}")[:MAX_ERROR_LENGTH]
        try:
            with self.db.writing() as session:
                cursor = lock_cursor(session, feed.account_id, feed.marketplace.id)
                if cursor is not None:
                    cursor.last_error = text
        except Exception:  # the database itself may be what failed
            log.debug("could not record the pull error", exc_info=True)
