"""The worker's batched delivery: the listing changes of one account on a remote channel that takes them together
(``BatchChannel.push_listings``) go to the channel in one call and are recorded in one transaction, each row
with its own outcome (delivered, failed, retried with the wait the marketplace asked for, held with its attempt
given back, or not recorded at all when its lease was lost); other rows are delivered one by one."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import update

from alephee import clock
from alephee.http.context import AppContext
from alephee.marketplaces.contract import (
    BaseChannel,
    ChannelContext,
    ConnectionHeld,
    ListingChange,
    ListingReceipt,
    OrderStatusPush,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from alephee.marketplaces.delivery import DELIVERED, FAILED, IN_FLIGHT, PENDING
from alephee.marketplaces.models import OutboxMessage
from alephee.sync.worker import Worker
from tests.fixtures.marketplaces import put
from tests.marketplaces.test_worker import row


@dataclass
class BatchChannel(BaseChannel):
    """A remote-like channel that takes listing changes in batches: ``outcomes`` (listing id → error) fails
    some; ``during`` runs inside each batch call (while the rows are in flight)."""

    connector: str = "sandbox"
    in_database: bool = False
    outcomes: dict[int, Exception] = field(default_factory=dict)
    raises: Exception | None = None
    during: Callable[[], None] | None = None
    batches: list[list[int | None]] = field(default_factory=list)
    single: list[int | None] = field(default_factory=list)

    def push_listings(self, ctx: ChannelContext, changes: Sequence[ListingChange]) -> list[ListingReceipt | Exception]:
        self.batches.append([c.listing_id for c in changes])
        if self.during is not None:
            self.during()
        if self.raises is not None:
            raise self.raises
        return [
            self.outcomes.get(c.listing_id or 0) or ListingReceipt(external_id=f"X{c.listing_id}", status="active")
            for c in changes
        ]

    def push_order_status(self, ctx: ChannelContext, update: OrderStatusPush) -> None:
        self.single.append(ctx.message_id)


def channel_of(use_channel: Callable[[str, Any], None], **values: Any) -> BatchChannel:
    channel = BatchChannel(**values)
    use_channel("sandbox", channel)
    return channel


def test_listing_changes_of_one_account_go_in_one_call_and_other_rows_alone(
    ctx: AppContext, make_worker: Callable[..., Worker], use_channel: Callable[[str, Any], None]
) -> None:
    channel = channel_of(use_channel)
    ids = [put(ctx, aggregate_id=n) for n in (1, 2, 3)]
    other_account = put(ctx, aggregate_id=4, account_id=2)
    order = put(ctx, topic="order.status", aggregate_id=9, payload={"order_id": 9, "status": 20})

    stats = make_worker().run_once()

    assert (stats.claimed, stats.delivered) == (5, 5)
    assert sorted(channel.batches) == [[1, 2, 3], [4]]
    assert channel.single == [order]
    assert all(row(ctx, i).status == DELIVERED for i in [*ids, other_account, order])


def test_each_row_of_a_group_gets_its_own_outcome(
    ctx: AppContext, make_worker: Callable[..., Worker], use_channel: Callable[[str, Any], None]
) -> None:
    channel = channel_of(
        use_channel,
        outcomes={
            2: PermanentDeliveryError("item 2 refused"),
            3: TransientDeliveryError("busy", retry_after=40),
        },
    )
    good, refused, busy = (put(ctx, aggregate_id=n) for n in (1, 2, 3))
    now = clock.precise_utcnow()

    stats = make_worker().run_once()

    assert (stats.delivered, stats.failed, stats.retried) == (1, 1, 1)
    assert len(channel.batches) == 1
    assert row(ctx, good).status == DELIVERED
    failed = row(ctx, refused)
    assert (failed.status, failed.last_error) == (FAILED, "item 2 refused")
    retried = row(ctx, busy)
    assert retried.status == PENDING and retried.last_error == "busy"
    # The wait the marketplace asked for, never less.
    assert retried.available_at.replace(tzinfo=None) >= (now + timedelta(seconds=40)).replace(tzinfo=None)


def test_a_row_whose_lease_was_lost_records_nothing(
    ctx: AppContext, make_worker: Callable[..., Worker], use_channel: Callable[[str, Any], None]
) -> None:
    first, taken, third = (put(ctx, aggregate_id=n) for n in (1, 2, 3))

    def steal() -> None:
        # Another worker reclaimed row 2 meanwhile (its lease had expired).
        with ctx.db.writing() as session:
            session.execute(update(OutboxMessage).where(OutboxMessage.id == taken).values(locked_by="other"))

    channel_of(use_channel, during=steal, outcomes={3: PermanentDeliveryError("no")})

    stats = make_worker("me").run_once()

    assert (stats.delivered, stats.lost, stats.failed) == (1, 1, 1)
    assert row(ctx, first).status == DELIVERED and row(ctx, third).status == FAILED
    stolen = row(ctx, taken)
    assert (stolen.status, stolen.locked_by, stolen.delivered_at) == (IN_FLIGHT, "other", None)


def test_a_held_connection_holds_the_whole_group_without_using_attempts(
    ctx: AppContext, make_worker: Callable[..., Worker], use_channel: Callable[[str, Any], None]
) -> None:
    channel_of(use_channel, raises=ConnectionHeld("disconnected"))
    ids = [put(ctx, aggregate_id=n) for n in (1, 2)]

    stats = make_worker().run_once()

    assert (stats.retried, stats.failed) == (2, 0)
    for message_id in ids:
        held = row(ctx, message_id)
        assert (held.status, held.attempts, held.last_error) == (PENDING, 0, "disconnected")


def test_an_unparsable_row_fails_alone(
    ctx: AppContext, make_worker: Callable[..., Worker], use_channel: Callable[[str, Any], None]
) -> None:
    channel = channel_of(use_channel)
    good = put(ctx, aggregate_id=1)
    bad = put(ctx, topic="listing.status", aggregate_id=2, payload={"listing_id": 2, "status": "nonsense"})

    stats = make_worker().run_once()

    assert (stats.delivered, stats.failed) == (1, 1)
    assert channel.batches == [[1]]
    assert row(ctx, good).status == DELIVERED and row(ctx, bad).status == FAILED
