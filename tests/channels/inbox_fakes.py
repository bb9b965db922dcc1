"""A marketplace channel that pushes notifications, written for the inbox tests: it answers from what the test
gave it and records what it was asked (the hub codes against the channel contract only)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from alephee.channels.models import CONNECTED, ChannelConnection
from alephee.clock import utcnow
from alephee.http.context import AppContext
from alephee.marketplaces.contract import (
    BaseChannel,
    ChannelContext,
    ChannelNotice,
    ChannelOrder,
    ChannelOrderItem,
    ListingPage,
    ListingState,
    NoticeResult,
    OrderPage,
)

APPLICATION = "5503910054141466"
SELLER = 468424240
WHEN = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@dataclass
class FakeInbound(BaseChannel):
    """``read_notice`` answers ``results[resource]`` (or raises it, or calls it); ``list_listings`` serves
    ``pages``; ``pull_orders`` serves ``orders`` once; ``missed`` (when not None) is what the marketplace kept."""

    connector: str = "mercadolibre"
    in_database: bool = False
    results: dict[str, NoticeResult | BaseException | Callable[[], NoticeResult]] = field(default_factory=dict)
    pages: list[list[ListingState]] = field(default_factory=list)
    orders: list[ChannelOrder] = field(default_factory=list)
    reads: list[ChannelNotice] = field(default_factory=list)
    cursors: list[str | None] = field(default_factory=list)
    contexts: list[ChannelContext] = field(default_factory=list)

    def read_notice(self, ctx: ChannelContext, notice: ChannelNotice) -> NoticeResult:
        self.reads.append(notice)
        self.contexts.append(ctx)
        answer = self.results[notice.resource]
        if isinstance(answer, BaseException):
            raise answer
        return answer() if callable(answer) else answer

    def list_listings(self, ctx: ChannelContext, cursor: str | None, limit: int = 50) -> ListingPage:
        index = int(cursor or 0)
        more = index + 1 < len(self.pages)
        listings = tuple(self.pages[index]) if self.pages else ()
        return ListingPage(listings=listings, cursor=str(index + 1) if more else None, has_more=more)

    def pull_orders(self, ctx: ChannelContext, cursor: str | None, limit: int = 100) -> OrderPage:
        self.cursors.append(cursor)
        orders, self.orders = tuple(self.orders), []
        return OrderPage(orders=orders, cursor="after-" + str(len(self.cursors)) if orders else cursor)


@dataclass
class MissedFeeds(FakeInbound):
    """A channel that also offers the notifications the marketplace kept (its missed feeds)."""

    missed: list[ChannelNotice] = field(default_factory=list)

    def missed_notices(self, ctx: ChannelContext) -> list[ChannelNotice]:
        return list(self.missed)


def connect(
    ctx: AppContext, account_id: int, marketplace_id: int = 1, *, seller_id: int = SELLER, **values: Any
) -> None:
    """A connection of the account's marketplace to the seller (connected unless ``status`` says otherwise)."""
    now = utcnow()
    with ctx.db.writing() as session:
        session.add(
            ChannelConnection(
                account_id=account_id,
                marketplace_id=marketplace_id,
                connector="mercadolibre",
                seller_id=seller_id,
                nickname="SELLER",
                site_id="MLA",
                status=values.pop("status", CONNECTED),
                created_at=now,
                updated_at=now,
                **values,
            )
        )


def notification(resource: str = "/orders/2000001", topic: str = "orders_v2", **values: Any) -> dict[str, Any]:
    """A notification body as Mercado Libre posts it (§2.1)."""
    body: dict[str, Any] = {
        "resource": resource,
        "user_id": SELLER,
        "topic": topic,
        "application_id": int(APPLICATION),
        "attempts": 1,
        "sent": "2026-11-30T16:19:20.129Z",
        "received": "2026-11-30T16:19:20.106Z",
    }
    body.update(values)
    return body


def sale(external_order_id: str = "2000001", listing: str = "MLA100", **values: Any) -> ChannelOrder:
    """A paid marketplace order of one unit of ``listing``."""
    base: dict[str, Any] = {
        "external_order_id": external_order_id,
        "status": "paid",
        "date_created": WHEN,
        "date_updated": WHEN,
        "items": (ChannelOrderItem(external_listing_id=listing, quantity=1, unit_price=Decimal("1500")),),
        "total": Decimal("1500"),
        "currency": "ARS",
    }
    base.update(values)
    return ChannelOrder(**base)
