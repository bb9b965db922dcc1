"""The worker's default sender (the channel of a row's marketplace), and what the worker adds around every
delivery: the marketplace's order ids completed into order payloads, and the integrator told the outcome of a
forwarded document."""

from __future__ import annotations

import time
from collections.abc import Hashable, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alephee.accounts.models import Account
from alephee.config import Settings
from alephee.db import Database
from alephee.http.body import raw_property
from alephee.listings.marketplace_state import remember_states, state_version
from alephee.listings.models import Listing
from alephee.listings.propagation import lock_listings
from alephee.listings.publish import PENDING_PREFIX, record_marketplace_id
from alephee.marketplaces.contract import (
    BatchChannel,
    Channel,
    ChannelContext,
    DeliveryError,
    ListingReceipt,
    MarketplaceRef,
    PermanentDeliveryError,
)
from alephee.marketplaces.delivery import OutboxItem
from alephee.marketplaces.registry import has_channel, marketplace_ref, shared_channel
from alephee.marketplaces.topics import LISTING_CHANGES, deliver_topic, listing_change, payload_value
from alephee.orders import events
from alephee.orders.models import Order

MAX_BIGINT = 9_223_372_036_854_775_807
# A catalogue entry whose connector is not registered (``channels.has_channel``): the real marketplaces until
# their connector is written.
ERR_NO_CONNECTOR = "marketplace {} ({}) has no connector yet"


class ChannelSender:
    """The default sender: the channel of the row's marketplace (``Marketplace.connector``)."""

    # Catalogue entries are cached this long, so a long-running worker notices a marketplace being switched
    # off or to another connector without a query per row.
    REF_TTL_SECONDS = 60.0

    def __init__(self, db: Database | None = None, settings: Settings | None = None) -> None:
        # The hub's database and settings, handed to remote channels in their context (the worker sets them).
        self.db = db
        self.settings = settings
        self._refs: dict[int, tuple[MarketplaceRef, float]] = {}

    def _ref(self, session: Session | None, marketplace_id: int) -> MarketplaceRef:
        cached = self._refs.get(marketplace_id)
        if cached is not None and (session is None or time.monotonic() - cached[1] < self.REF_TTL_SECONDS):
            return cached[0]
        if session is None:
            raise PermanentDeliveryError(f"marketplace {marketplace_id} was not looked up")
        ref = marketplace_ref(session, marketplace_id)
        self._refs[marketplace_id] = (ref, time.monotonic())
        return ref

    def _resolve(self, session: Session | None, item: OutboxItem) -> tuple[Channel, MarketplaceRef]:
        if item.marketplace_id is None:
            raise PermanentDeliveryError("outbox row has no marketplace")
        ref = self._ref(session, item.marketplace_id)
        if not has_channel(ref.connector):
            raise PermanentDeliveryError(ERR_NO_CONNECTOR.format(ref.id, ref.name))
        channel = shared_channel(ref.connector)
        return channel, ref

    def in_database(self, session: Session, item: OutboxItem) -> bool:
        try:
            channel, _ = self._resolve(session, item)
        except DeliveryError:
            return True  # send() reports the failure; running it inside a transaction is harmless
        return bool(channel.in_database)

    def coalesces(self, session: Session, item: OutboxItem) -> bool:
        """Whether delivering ``item`` also delivers the later queued rows of its listing: its channel sends a
        listing's state as it is at delivery time (``sends_current_state``)."""
        if item.topic not in COALESCED_TOPICS:
            return False
        try:
            channel, _ = self._resolve(session, item)
        except DeliveryError:
            return False
        return bool(getattr(channel, "sends_current_state", False))

    def _context(
        self, channel: Channel, ref: MarketplaceRef, session: Session | None, item: OutboxItem
    ) -> ChannelContext:
        return ChannelContext(
            account_id=item.account_id,
            marketplace=ref,
            session=session if channel.in_database else None,
            message_id=item.id,
            idempotency_key=f"outbox:{item.id}",
            db=self.db,
            settings=self.settings,
        )

    def send(self, session: Session | None, item: OutboxItem) -> Any:
        channel, ref = self._resolve(session, item)
        return deliver_topic(
            channel, self._context(channel, ref, session, item), item.topic, item.payload, item.aggregate_id
        )

    def batch_key(self, session: Session, item: OutboxItem) -> Hashable | None:
        """Listing changes of one account on one remote marketplace whose channel takes them together
        (``BatchChannel``) are delivered as one group; everything else row by row."""
        if item.topic not in LISTING_CHANGES:
            return None
        try:
            channel, _ = self._resolve(session, item)
        except DeliveryError:
            return None  # send() reports the failure
        if channel.in_database or not isinstance(channel, BatchChannel):
            return None
        return (item.marketplace_id, item.account_id)

    def send_batch(self, items: Sequence[OutboxItem]) -> list[Any]:
        """Deliver a group of ``batch_key`` (one marketplace, one account) through ``push_listings``: rows whose
        payload cannot be parsed fail alone, the others go in one call of the channel."""
        results: list[Any] = [None] * len(items)
        changes, places = [], []
        for place, item in enumerate(items):
            try:
                changes.append(listing_change(item.topic, item.payload, item.aggregate_id))
                places.append(place)
            except DeliveryError as exc:
                results[place] = exc
        if changes:
            channel, ref = self._resolve(None, items[0])
            if not isinstance(channel, BatchChannel):
                raise PermanentDeliveryError(f"connector '{ref.connector}' takes no batches")
            answers = channel.push_listings(self._context(channel, ref, None, items[places[0]]), changes)
            if len(answers) != len(changes):
                raise PermanentDeliveryError(f"connector '{ref.connector}' answered {len(answers)} of {len(changes)}")
            for place, answer in zip(places, answers, strict=True):
                results[place] = answer
        return results


# Topics whose delivery sends the listing's whole current state on channels that read it at delivery time.
COALESCED_TOPICS = frozenset({"listing.update", "listing.status"})


def covers_queued(answer: Any) -> bool:
    """Whether a delivery's answer lets the later queued rows of its listing count as delivered: every answer
    of a coalescing channel does, but a listing receipt that says it did not send the current state."""
    return not isinstance(answer, ListingReceipt) or answer.covers_queued


def record_answer(session: Session, item: OutboxItem, answer: Any) -> None:
    """Keep what a marketplace answered a delivery, in the transaction that records it delivered
    (``record_answers`` of one)."""
    record_answers(session, [(item, answer)])


def record_answers(session: Session, delivered: Sequence[tuple[OutboxItem, Any]]) -> None:
    """Keep what a marketplace answered the deliveries of a group (row, answer), in the transaction that records
    them delivered: the id and page a marketplace gave a new listing, and each item's state after the push
    (``ListingReceipt.state``, kept by ``marketplace_state.remember_states``).

    Only a listing still waiting for its marketplace id is written (and locked first, in id order as
    ``propagation.lock_listings`` takes them, so it never deadlocks with a ``POST /v2/products`` refreshing the
    same listings); the states go to their own table, so recording a push's answer never waits for the catalog's
    writers holding the listing rows."""
    receipts = [
        (item, answer)
        for item, answer in delivered
        if isinstance(answer, ListingReceipt) and item.aggregate_type == "listing"
    ]
    named = sorted({item.aggregate_id for item, answer in receipts if answer.external_id})
    if named:
        waiting = set(
            session.scalars(
                select(Listing.id).where(Listing.id.in_(named), Listing.external_id.startswith(PENDING_PREFIX))
            )
        )
        if waiting:
            lock_listings(session, select(Listing).where(Listing.id.in_(sorted(waiting))))
            for item, answer in receipts:
                if answer.external_id and item.aggregate_id in waiting:
                    record_marketplace_id(
                        session, item.account_id, item.aggregate_id, answer.external_id, answer.permalink
                    )
    by_account: dict[int, dict[int, dict[str, Any]]] = {}
    for item, answer in receipts:
        if answer.state is None:
            continue
        states = by_account.setdefault(item.account_id, {})
        listing_id = answer.state_listing_id or item.aggregate_id
        known = states.get(listing_id)
        # Two answers of one item in a group: the later version is the one to keep (as ``keep_states`` rules).
        if not known or not answer.state or state_version(known) <= state_version(answer.state):
            states[listing_id] = answer.state
    for account_id in sorted(by_account):
        remember_states(session, account_id, by_account[account_id])


def with_order_ids(session: Session, item: OutboxItem) -> OutboxItem:
    """``item`` with ``ExternalOrderId`` and ``PackId`` of its order added to the payload when it is an order
    topic that lacks them (values the payload carries are never replaced)."""
    if item.aggregate_type != "order" or not item.topic.startswith("order."):
        return item
    external = payload_value(item.payload, "external_order_id", "ExternalOrderId")
    pack = payload_value(item.payload, "pack_id", "PackId")
    if external is not None and pack is not None:
        return item
    # The payload's order (a shipment's rows are keyed by its first order but may name another one).
    named = payload_value(item.payload, "order_id", "OrderId")
    try:
        order_id = int(named) if named is not None and not isinstance(named, bool) else item.aggregate_id
    except (TypeError, ValueError):
        return item  # the channel's parser reports the malformed id
    if not 0 < order_id <= MAX_BIGINT:
        return item
    row = session.execute(
        select(Order.external_order_id, Order.pack_id).where(Order.id == order_id, Order.account_id == item.account_id)
    ).first()
    if row is None:
        return item
    extra: dict[str, Any] = {}
    if external is None:
        extra["ExternalOrderId"] = row.external_order_id
    if pack is None and row.pack_id is not None:
        extra["PackId"] = row.pack_id
    return replace(item, payload={**item.payload, **extra}) if extra else item


def announce_outcome(session: Session, item: OutboxItem, *, delivered: bool, reason: str | None = None) -> None:
    """Tell the integrator what the marketplace did with a forwarded document (webhook events
    ``document.forwarded`` / ``document.refused``), in the transaction that records the outcome."""
    if item.topic != "order.document":
        return
    if session.get(Account, item.account_id) is None:  # the account is gone: nobody to tell
        return

    order_id = raw_property(item.payload, "OrderId")
    document_type = raw_property(item.payload, "DocumentType")
    events.document_outcome(
        session,
        item.account_id,
        int(order_id) if isinstance(order_id, int) else item.aggregate_id,
        forwarded=delivered,
        document_type=document_type if isinstance(document_type, int) else None,
        document_number=raw_property(item.payload, "DocumentNumber"),
        reason=None if delivered else reason,
    )
