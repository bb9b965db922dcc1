"""The demo step: the sandbox gets the demo listings at once and buyers purchase a few orders, which the
worker pulls into the hub."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select

from alephee.demo import DEMO_STEP_NAMES
from alephee.http.context import AppContext
from alephee.marketplaces.models import OutboxMessage, SandboxListing, SandboxOrder
from alephee.orders.models import Order
from alephee.sandbox.demo import DEMO_SALES, create_demo_sales
from tests.fixtures.marketplaces import Shop, pull


def counts(ctx: AppContext) -> tuple[int, int, int, int]:
    with ctx.db.reading() as session:
        return (
            session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "pending"))
            or 0,
            session.scalar(select(func.count()).select_from(SandboxListing)) or 0,
            session.scalar(select(func.count()).select_from(SandboxOrder)) or 0,
            session.scalar(select(func.count()).select_from(Order)) or 0,
        )


def test_demo_sales_reach_the_hub_with_the_first_pull(ctx: AppContext, open_shop: Callable[..., Shop]) -> None:
    assert "alephee.sandbox.demo:create_demo_sales" in DEMO_STEP_NAMES
    shop = open_shop(delivered=False)
    pending, listings, sold, hub = counts(ctx)
    assert pending == len(shop.listings) and (listings, sold, hub) == (0, 0, 0)
    with ctx.db.writing() as session:
        create_demo_sales(session, ctx.settings, shop.account_id)
    pending, listings, sold, hub = counts(ctx)
    assert (pending, listings, sold, hub) == (0, len(shop.listings), DEMO_SALES, 0)
    with ctx.db.writing() as session:
        create_demo_sales(session, ctx.settings, shop.account_id)  # idempotent
    assert counts(ctx)[2] == DEMO_SALES
    stats = pull(ctx)
    with ctx.db.reading() as session:
        released = session.scalar(select(func.count()).select_from(SandboxOrder).where(SandboxOrder.change_seq > 0))
    assert stats.created == released and counts(ctx)[3] == released > 0
