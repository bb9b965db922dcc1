"""The sandbox sells on a simulated clock that may run days ahead of the hub's (``alephee sandbox advance``); the
orders it sells still never carry a ``DateCreated`` in the hub's future, so a client's sync bookmark taken
from them never hides the orders that arrive next."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from alephee import clock
from alephee.http.context import AppContext
from tests.fixtures.marketplaces import SIMPLE, Shop, advance, get_orders, only, pull, sell
from tests.fixtures.orders import AddOrder


def _read(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def test_a_simulated_clock_ahead_never_dates_orders_in_the_hubs_future(
    ctx: AppContext, open_shop: Callable[..., Shop], client: TestClient, add_order: AddOrder
) -> None:
    shop = open_shop()
    only(ctx, shop, SIMPLE)
    advance(ctx, 72)  # the sandbox's clock is now three days ahead of the hub's
    sell(ctx, shop, 3)
    assert pull(ctx).created == 3
    first = get_orders(client, shop)
    assert len(first) == 3 and all(_read(o["DateCreated"]) <= clock.utcnow() for o in first)
    # A client keeps the newest DateCreated as its bookmark (re-formatted the way the public tap does)...
    bookmark = max(o["DateCreated"] for o in first)[:16].replace("T", " ")
    # ...and the next orders, sold later on any clock, all come back on its next sync.
    clock.advance(timedelta(minutes=2))
    later = add_order(shop.tenant, marketplace_id=100, sale_date=clock.utcnow())
    sell(ctx, shop, 1, seed=6)
    assert pull(ctx).created == 1
    again = get_orders(client, shop, dateCreatedFrom=bookmark)
    assert later in {o["Id"] for o in again}
    assert len(again) == 5  # the three of the bookmark's minute, the one sold on the hub's clock, the sandbox's
