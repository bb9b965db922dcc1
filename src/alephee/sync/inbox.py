"""Reading the inbox of marketplace notifications: one step of every worker round (channel-agnostic).

1. **Claim** up to ``batch`` due rows (``pending`` with ``available_at <= now``, or ``in_flight`` with an expired
   lease) in one short write transaction, like the outbox: lease (``locked_by``/``locked_until``), one more
   attempt, ``FOR UPDATE SKIP LOCKED`` on PostgreSQL. Each row's ``received_count`` is remembered.
2. **Read** the rows of one connection (account, marketplace) as one batch through its channel
   (``read_notices``: by default ``read_notice`` for each, ``channel_read_concurrency`` at once; a connector may
   share one read of the connection and fetch many resources per call), outside any transaction: the
   notification's body is never trusted, the channel reads the resource fresh. A row whose read failed is
   recorded alone (below); the others go on.
3. **Apply** up to ``inbox_apply_batch`` rows in one write transaction, only while the leases are still ours:
   orders through one ``OrderSync`` (created or updated, idempotent; an order read by several rows once, from its
   newest read, so its stock moves once), listing states onto the hub's listing with that external id (listings
   the hub does not know are ignored), the buyer's messages into the order's conversation (once per marketplace
   message id), and the rows marked ``done`` (rows the channel ignored are counted). If a newer notification
   re-opened a row during the read (its ``received_count`` moved), what was read is applied but the row stays
   ``pending`` for another read. If anything in the batch's transaction fails, none of it is kept and each row
   is applied in a transaction of its own, so one row's failure (or lost lease) touches only that row.

In the worker's loop (``read_ahead``) the next batch is claimed and read in a thread of its own while the current
one is applied; batches are applied in the order they were claimed, and ``close`` applies the batch read ahead when
the loop stops.

Failures: a held connection (``ConnectionHeld``: paused or disconnected) → ``pending`` after
``outbox_held_retry_seconds``, the attempt given back; ``TransientDeliveryError`` (429, 5xx) → ``pending`` with
backoff, never failed for it; any other unexpected error → ``pending`` with backoff, ``failed`` after
``outbox_max_attempts``; ``PermanentDeliveryError`` → ``failed`` at once with ``last_error``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, case, or_, select, update
from sqlalchemy.orm import Session

from alephee import clock
from alephee.config import Settings
from alephee.db import Database
from alephee.listings.marketplace_state import apply_state, keep_states, listing_changes, state_version
from alephee.listings.models import Listing
from alephee.listings.propagation import lock_listings
from alephee.marketplaces.contract import (
    ChannelContext,
    ChannelMessage,
    ChannelNotice,
    ChannelOrder,
    DeliveryError,
    InboundChannel,
    ListingState,
    MarketplaceRef,
    NoticeRead,
    NoticeResult,
    PermanentDeliveryError,
    TransientDeliveryError,
    read_each,
)
from alephee.marketplaces.models import (
    NOTICE_DONE,
    NOTICE_FAILED,
    NOTICE_IN_FLIGHT,
    NOTICE_PENDING,
    ChannelNotification,
)
from alephee.marketplaces.registry import marketplace_ref, shared_channel
from alephee.orders.messages import record_marketplace_message
from alephee.orders.models import Order
from alephee.sync.background import Behind
from alephee.sync.backoff import backoff_delay
from alephee.sync.claims import worth_claiming
from alephee.sync.order_feed import apply_orders

log = logging.getLogger("alephee.inbox")

MAX_ERROR_LENGTH = 2000

DONE = "done"
REOPENED = "reopened"
RETRIED = "retried"
FAILED = "failed"
LOST = "lost"


@dataclass(frozen=True, slots=True)
class Claimed:
    """A leased inbox row and what it held when it was claimed."""

    id: int
    connector: str
    notice: ChannelNotice
    account_id: int | None
    marketplace_id: int | None
    attempts: int
    received_count: int


@dataclass
class InboxStats:
    """What one inbox step did."""

    claimed: int = 0
    done: int = 0
    reopened: int = 0
    retried: int = 0
    failed: int = 0
    lost: int = 0
    orders: int = 0
    listings: int = 0
    messages: int = 0
    ignored: int = 0
    # What channels applied themselves (questions, claims: ``NoticeResult.extras``).
    extras: int = 0

    def add(self, other: InboxStats) -> None:
        """Count ``other``'s numbers in (the readers of one step each keep their own)."""
        for name in (f.name for f in fields(self)):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_json(self) -> dict[str, int]:
        return {
            "Claimed": self.claimed,
            "Done": self.done,
            "Reopened": self.reopened,
            "Retried": self.retried,
            "Failed": self.failed,
            "LeaseLost": self.lost,
            "Orders": self.orders,
            "Listings": self.listings,
            "Messages": self.messages,
            "Ignored": self.ignored,
            "Extras": self.extras,
        }


@dataclass(slots=True)
class GroupRead:
    """What was read of the claimed rows of one connection, to be applied."""

    account_id: int
    marketplace: MarketplaceRef
    read: list[tuple[Claimed, NoticeResult]]


@dataclass(slots=True)
class BatchRead:
    """A claimed batch once read: each connection's reads, and the counts of the rows whose read failed (already
    recorded)."""

    claimed: int
    groups: list[GroupRead] = field(default_factory=list)
    stats: InboxStats = field(default_factory=InboxStats)


class LeaseLost(Exception):
    """Another worker took the row (our lease expired): what we read must not be applied."""


class InboxReader:
    """Claims, reads and applies inbox rows. Several may run at once, in threads or processes."""

    def __init__(
        self, db: Database, settings: Settings | None = None, *, worker_id: str = "inbox", read_ahead: bool = False
    ) -> None:
        self.db = db
        self.settings = settings or db.settings
        self.worker_id = worker_id
        # Whether ``run`` reads the next batch while it applies this one (``close`` applies what is left).
        self.read_ahead = read_ahead
        self._ahead: Behind[BatchRead] = Behind("alephee-inbox-read")

    # --- claiming

    def claim(self, batch: int) -> list[Claimed]:
        """Lease up to ``batch`` due rows (oldest due first)."""
        now = clock.precise_utcnow()
        inbox = ChannelNotification
        due = or_(
            and_(inbox.status == NOTICE_PENDING, inbox.available_at <= now),
            and_(inbox.status == NOTICE_IN_FLIGHT, inbox.locked_until < now),
        )
        candidates = select(inbox.id).where(due).order_by(inbox.available_at, inbox.id).limit(batch)
        if self.db.dialect == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True)
        if not worth_claiming(self.db, candidates):
            return []
        with self.db.writing() as session:
            ids = list(session.scalars(candidates))
            if not ids:
                return []
            claimed = session.scalars(
                update(inbox)
                .where(inbox.id.in_(ids), due)
                .values(
                    status=NOTICE_IN_FLIGHT,
                    locked_by=self.worker_id,
                    locked_until=now + timedelta(seconds=self.settings.outbox_lease_seconds),
                    attempts=inbox.attempts + 1,
                )
                .returning(inbox.id)
                .execution_options(synchronize_session=False)
            ).all()
            rows = session.scalars(
                select(inbox).where(inbox.id.in_(claimed)).order_by(inbox.id).execution_options(populate_existing=True)
            ).all()
            return [
                Claimed(
                    id=row.id,
                    connector=row.connector,
                    notice=ChannelNotice(
                        topic=row.topic,
                        resource=row.resource,
                        seller_id=row.seller_id,
                        actions=tuple(row.actions or ()),
                        received_at=row.received_at,
                    ),
                    account_id=row.account_id,
                    marketplace_id=row.marketplace_id,
                    attempts=row.attempts,
                    received_count=row.received_count,
                )
                for row in rows
            ]

    # --- one round

    def run(self, batch: int | None = None) -> InboxStats:
        """Claim a batch, read it one connection at a time and apply what was read; returns what happened.

        With ``read_ahead`` (the worker's loop), the batch read ahead by the previous call is applied instead, and
        the next batch is claimed and read in a thread of its own while this one is applied: the marketplace
        answers the next reads while the hub writes, instead of the two taking turns."""
        size = batch or self.settings.worker_batch_size
        ahead = self._ahead.take()
        current = ahead if ahead is not None else self.read(self.claim(size))
        if self.read_ahead and current.claimed:
            try:
                following = self.claim(size)
            except Exception:  # the database is down: this batch is still applied (or fails) below
                log.exception("inbox: claiming the next batch failed")
                following = []
            if following:
                self._ahead.start(lambda: self.read(following))
        return self.apply(current)

    def close(self) -> None:
        """Apply the batch read ahead, if any, and stop the reading thread (the worker's loop ends)."""
        try:
            ahead = self._ahead.take()
            if ahead is not None:
                self.apply(ahead)
        except Exception:  # the database is down: the rows' leases run out and they are claimed again
            log.exception("inbox: applying the batch read ahead failed")
        self._ahead.close()

    def read(self, items: list[Claimed]) -> BatchRead:
        """Read claimed rows one connection at a time (see ``read_group``); the rows whose read failed are recorded
        at once."""
        done = BatchRead(claimed=len(items))
        groups: dict[tuple[int | None, int | None], list[Claimed]] = {}
        for item in items:
            groups.setdefault((item.account_id, item.marketplace_id), []).append(item)
        for group in groups.values():
            found = self.read_group(group, done.stats)
            if found is not None:
                done.groups.append(found)
        return done

    def apply(self, done: BatchRead) -> InboxStats:
        """Apply what ``read`` found; the counts of the read and of the apply together."""
        stats = InboxStats(claimed=done.claimed)
        stats.add(done.stats)
        for group in done.groups:
            self.apply_group(group, stats)
        return stats

    def read_group(self, group: list[Claimed], stats: InboxStats) -> GroupRead | None:
        """Read the claimed rows of one connection as one batch (the connection resolved once, the channel
        reading them together); a row whose read failed is recorded and counted, None when none was read."""
        try:
            marketplace, channel = self._target(group[0])
        except Exception as exc:  # no connection to read through: every row of the group records it
            for item in group:
                self._count(stats, self._record_failure(item, exc))
            return None
        assert group[0].account_id is not None  # _target refuses rows without one
        ctx = ChannelContext(
            account_id=group[0].account_id,
            marketplace=marketplace,
            external_seller_id=group[0].notice.seller_id,
            db=self.db,
            settings=self.settings,
        )
        notices = [item.notice for item in group]
        concurrency = self.settings.channel_read_concurrency
        reader = getattr(channel, "read_notices", None)
        reads: list[NoticeRead]
        try:
            if reader is not None:
                reads = reader(ctx, notices, concurrency=concurrency)
            else:
                reads = read_each(notices, lambda notice: channel.read_notice(ctx, notice), concurrency)
        except Exception as exc:  # a channel's batch read that fails as a whole: every row of it records that
            reads = [exc] * len(group)
        read: list[tuple[Claimed, NoticeResult]] = []
        for item, answer in zip(group, reads, strict=True):
            if isinstance(answer, NoticeResult):
                read.append((item, answer))
                continue
            if not isinstance(answer, DeliveryError):
                log.error("inbox %s: unexpected error reading %s", item.id, item.notice.resource, exc_info=answer)
            self._count(stats, self._record_failure(item, answer))
        return GroupRead(account_id=ctx.account_id, marketplace=marketplace, read=read) if read else None

    def apply_group(self, group: GroupRead, stats: InboxStats) -> None:
        """Apply what was read of one connection's rows, ``inbox_apply_batch`` rows per write transaction (see
        ``_apply_batch``); each row's outcome counted."""
        size = max(1, self.settings.inbox_apply_batch)
        # Listing states alone (the items a push echoes) apply in transactions of their own that lock only
        # listings, in id order as the catalog's writers do: mixed with orders (which lock products, then
        # listings) they could take listing locks out of that order and deadlock with a POST /v2/products.
        parts: tuple[list[tuple[Claimed, NoticeResult]], list[tuple[Claimed, NoticeResult]]] = ([], [])
        for pair in group.read:
            result = pair[1]
            parts[bool(result.listings) and not result.orders and not result.messages].append(pair)
        for part in parts:  # the others first, then the listing states alone
            for start in range(0, len(part), size):
                self._apply_batch(group.account_id, group.marketplace, part[start : start + size], stats)

    def _apply_batch(
        self, account_id: int, marketplace: MarketplaceRef, read: list[tuple[Claimed, NoticeResult]], stats: InboxStats
    ) -> None:
        """Apply what was read of several rows in one write transaction (their orders through one ``OrderSync``,
        each order once, the newest read of it). If anything in it fails, nothing of it is kept and each row is
        applied alone, so a failure costs only its own row."""
        if len(read) > 1:
            own = InboxStats()
            try:
                with self.db.writing() as session:
                    outcomes = self._finish_many(session, [item for item, _result in read])
                    self._apply(session, account_id, marketplace, [result for _item, result in read], own)
            except Exception as exc:  # retried row by row below
                log.info("inbox: a batch of %d rows failed as a whole (%s); applying each alone", len(read), exc)
            else:
                stats.add(own)
                for outcome in outcomes:
                    self._count(stats, outcome)
                return
        for item, result in read:
            self._count(stats, self._apply_one(account_id, marketplace, item, result, stats))

    def _apply_one(
        self, account_id: int, marketplace: MarketplaceRef, item: Claimed, result: NoticeResult, stats: InboxStats
    ) -> str:
        """Apply what was read of one row in a transaction of its own; returns the row's outcome."""
        own = InboxStats()
        try:
            with self.db.writing() as session:
                outcome = self._finish(session, item)
                self._apply(session, account_id, marketplace, [result], own)
        except LeaseLost:
            log.warning("inbox %s: lease lost to another worker; what was read is not applied", item.id)
            return LOST
        except Exception as exc:  # every failure is recorded on the row, none stops the worker
            if not isinstance(exc, DeliveryError):
                log.exception("inbox %s: unexpected error applying %s", item.id, item.notice.resource)
            return self._record_failure(item, exc)
        stats.add(own)
        return outcome

    @staticmethod
    def _count(stats: InboxStats, outcome: str) -> None:
        setattr(stats, outcome, getattr(stats, outcome) + 1)

    def _target(self, item: Claimed) -> tuple[MarketplaceRef, InboundChannel]:
        if item.account_id is None or item.marketplace_id is None:
            raise PermanentDeliveryError("the notification names no connected account")
        with self.db.reading() as session:
            ref = marketplace_ref(session, item.marketplace_id)
        channel = shared_channel(ref.connector)
        if not isinstance(channel, InboundChannel):
            raise PermanentDeliveryError(f"connector '{ref.connector}' does not read notifications")
        return ref, channel

    # --- recording

    def _finish_many(self, session: Session, items: list[Claimed]) -> list[str]:
        """``_finish`` for several rows: those still ours and not re-opened marked done with one statement, the
        others one by one (re-opened, or ``LeaseLost``); the outcomes in the order of ``items``."""
        inbox = ChannelNotification
        claimed_count = case({item.id: item.received_count for item in items}, value=inbox.id)
        now = clock.precise_utcnow()
        finished = set(
            session.scalars(
                update(inbox)
                .where(
                    inbox.id.in_([item.id for item in items]),
                    inbox.locked_by == self.worker_id,
                    inbox.status == NOTICE_IN_FLIGHT,
                    inbox.received_count == claimed_count,
                )
                .values(status=NOTICE_DONE, processed_at=now, locked_by=None, locked_until=None, last_error=None)
                .returning(inbox.id)
                .execution_options(synchronize_session=False)
            )
        )
        return [DONE if item.id in finished else self._finish(session, item) for item in items]

    def _finish(self, session: Session, item: Claimed) -> str:
        """Mark the row done, or pending again when a newer notification re-opened it; ``LeaseLost`` when the
        row is no longer ours (then the caller's transaction, with what was read, is rolled back)."""
        inbox = ChannelNotification
        mine = and_(inbox.id == item.id, inbox.locked_by == self.worker_id)
        now = clock.precise_utcnow()
        done = session.execute(
            update(inbox)
            .where(mine, inbox.status == NOTICE_IN_FLIGHT, inbox.received_count == item.received_count)
            .values(status=NOTICE_DONE, processed_at=now, locked_by=None, locked_until=None, last_error=None)
            .execution_options(synchronize_session=False)
        )
        if done.rowcount == 1:  # type: ignore[attr-defined]
            return DONE
        reopened = session.execute(
            update(inbox)
            .where(mine)
            .values(status=NOTICE_PENDING, processed_at=now, locked_by=None, locked_until=None)
            .execution_options(synchronize_session=False)
        )
        if reopened.rowcount == 1:  # type: ignore[attr-defined]
            return REOPENED
        raise LeaseLost(item.id)

    def _record_failure(self, item: Claimed, error: BaseException) -> str:
        """Back to pending with backoff, or failed; returns ``retried``, ``failed`` or ``lost``."""
        text = error.message if isinstance(error, DeliveryError) else f"{type(error).__name__}: {error}"
        values: dict[str, Any] = {"locked_by": None, "locked_until": None, "last_error": text[:MAX_ERROR_LENGTH]}
        # The marketplace being slow or the connection being refreshed elsewhere says nothing about the row:
        # it waits as long as that lasts. Unexpected errors are bounded like the outbox's.
        transient = isinstance(error, TransientDeliveryError) or (
            not isinstance(error, DeliveryError) and item.attempts < self.settings.outbox_max_attempts
        )
        if isinstance(error, DeliveryError) and error.held:
            # The connection is paused or disconnected: the attempt is given back and the row waits for it.
            values.update(
                status=NOTICE_PENDING,
                attempts=ChannelNotification.attempts - 1,
                available_at=clock.precise_utcnow() + timedelta(seconds=self.settings.outbox_held_retry_seconds),
            )
            outcome = RETRIED
        elif transient:
            delay = backoff_delay(self.settings, item.id, item.attempts)
            values.update(status=NOTICE_PENDING, available_at=clock.precise_utcnow() + timedelta(seconds=delay))
            outcome = RETRIED
        else:
            values["status"] = NOTICE_FAILED
            outcome = FAILED
        inbox = ChannelNotification
        with self.db.writing() as session:
            result = session.execute(
                update(inbox)
                .where(inbox.id == item.id, inbox.locked_by == self.worker_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return LOST
        level = logging.WARNING if outcome == FAILED else logging.INFO
        log.log(level, "inbox %s %s (%s %s): %s", item.id, outcome, item.notice.topic, item.notice.resource, text)
        return outcome

    # --- applying

    def _apply(
        self,
        session: Session,
        account_id: int,
        marketplace: MarketplaceRef,
        results: list[NoticeResult],
        stats: InboxStats,
    ) -> None:
        """What several notices were about, inside the caller's transaction: an order read by more than one of
        them is applied once, from its newest read (the last by ``date_updated``), so its stock moves once."""
        newest: dict[str, ChannelOrder] = {}
        for result in results:
            if result.ignored:
                stats.ignored += 1
            for entry in result.orders:
                kept = newest.get(entry.external_order_id)
                if kept is None or entry.date_updated >= kept.date_updated:
                    newest[entry.external_order_id] = entry
        stats.orders += apply_orders(session, account_id, marketplace, list(newest.values()))
        states = [state for result in results for state in result.listings]
        stats.listings += apply_listing_states(session, account_id, marketplace.id, states)
        for result in results:
            for message in result.messages:
                stats.messages += apply_message(session, account_id, marketplace.id, message)
            for extra in result.extras:
                stats.extras += extra.apply(session, account_id, marketplace.id)


def apply_listing_states(session: Session, account_id: int, marketplace_id: int, states: list[ListingState]) -> int:
    """The marketplace's states of listings onto the hub's listings with those external ids (listings the hub
    does not know are ignored), in order; how many listings changed.

    The listings are read unlocked; only those whose own fields change (``listing_changes``: status, sales,
    page) are locked, at once and in id order (``propagation.lock_listings``, the order every writer of several
    listings takes them in), re-read and written. The items' copies go to their own table (``keep_states``, the
    newest of each item), so an echo of the hub's own push never waits for a ``POST /v2/products`` holding the
    listing rows."""
    if not states:
        return 0
    found = session.scalars(
        select(Listing).where(
            Listing.account_id == account_id,
            Listing.marketplace_id == marketplace_id,
            Listing.external_id.in_(sorted({state.external_id for state in states})),
        )
    )
    listings = {listing.external_id: listing for listing in found}
    named = [(listings[state.external_id], state) for state in states if state.external_id in listings]
    touched = sorted({listing.id for listing, state in named if listing_changes(listing, state)})
    if touched:  # re-read under the lock: the catalog may have changed them since
        lock_listings(session, select(Listing).where(Listing.id.in_(touched)))
    changed = 0
    now = clock.utcnow()
    copies: dict[int, dict[str, Any]] = {}
    for listing, state in named:
        if listing.id in touched and apply_state(session, listing, state, now=now):
            changed += 1
        copy = state.marketplace_state
        known = copies.get(listing.id)
        if copy is not None and (not known or not copy or state_version(known) <= state_version(copy)):
            copies[listing.id] = copy
    keep_states(session, copies)
    return changed


def apply_message(session: Session, account_id: int, marketplace_id: int, message: ChannelMessage) -> bool:
    """A buyer's message into the conversation of its order (by order number, else by cart); the seller's own
    messages are already in the hub, and a message of an order the hub does not have is ignored. Whether a
    message was added."""
    if not message.from_buyer:
        return False
    scope = and_(Order.account_id == account_id, Order.marketplace_id == marketplace_id)
    order = None
    if message.external_order_id:
        order = session.scalar(select(Order).where(scope, Order.external_order_id == message.external_order_id))
    if order is None and message.pack_id:
        order = session.scalar(select(Order).where(scope, Order.pack_id == message.pack_id).order_by(Order.id))
    if order is None:
        return False
    added = record_marketplace_message(
        session, order, external_id=message.external_message_id, text=message.text, date=message.date
    )
    return added is not None
