"""Service functions other domains call: move_stock (orders), stock snapshots, sharing."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from alephee.accounts.schemas import AccountType
from alephee.errors import InvalidInput, NotFound
from alephee.http.context import AppContext
from alephee.products import brands, price_lists, stock
from tests.fixtures.products import add_product, quantity_of
from tests.fixtures.tenants import Tenant


def test_move_stock_is_clamped_and_reports_the_shortfall(ctx: AppContext, tenant: Tenant) -> None:
    with ctx.db.writing() as session:
        pid = add_product(session, tenant.account_id, "A", quantity=3)
    with ctx.db.writing() as session:
        assert stock.move_stock(session, tenant.account_id, pid, -2) == 1
        moved = stock.move_stock_detailed(session, tenant.account_id, pid, -4)
        assert (moved.quantity, moved.shortfall) == (0, 3)
        assert stock.move_stock(session, tenant.account_id, pid, 7) == 7
    with ctx.db.reading() as session:
        assert quantity_of(session, pid) == 7


def test_move_stock_of_a_kit_moves_its_components(ctx: AppContext, tenant: Tenant) -> None:
    with ctx.db.writing() as session:
        plug = add_product(session, tenant.account_id, "PLUG", quantity=10)
        cable = add_product(session, tenant.account_id, "CABLE", quantity=3)
        kit = add_product(
            session, tenant.account_id, "KIT", product_type=2, components=[(plug, 4, True), (cable, 1, False)]
        )
    with ctx.db.writing() as session:
        # 10 plugs = 2 kits; 3 cables = 3 kits → 2 kits; selling one leaves 6 plugs (1 kit) and 2 cables.
        assert stock.stock_snapshots(session, [kit])[kit].quantity == 2
        assert stock.move_stock(session, tenant.account_id, kit, -1) == 1
        moved = stock.move_stocks(session, tenant.account_id, {kit: -2})[kit]
        assert (moved.quantity, moved.shortfall) == (0, 1)
    with ctx.db.reading() as session:
        assert (quantity_of(session, plug), quantity_of(session, cable)) == (0, 0)


def test_move_stock_refuses_masters_and_foreign_products(
    ctx: AppContext, tenant: Tenant, make_tenant: Callable[..., Tenant]
) -> None:
    other = make_tenant()
    with ctx.db.writing() as session:
        master = add_product(session, tenant.account_id, "M", product_type=6)
        foreign = add_product(session, other.account_id, "F", quantity=5)
    with ctx.db.writing() as session, pytest.raises(InvalidInput):
        stock.move_stock(session, tenant.account_id, master, -1)
    with ctx.db.writing() as session, pytest.raises(NotFound):
        stock.move_stock(session, tenant.account_id, foreign, -1)


def test_share_products_links_the_seller_copy(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> None:
    wholesaler = make_tenant(AccountType.DISTRIBUTOR)
    seller = make_tenant(AccountType.SELLER)
    with ctx.db.writing() as session:
        source = add_product(session, wholesaler.account_id, "W1", quantity=4)
        add_product(session, wholesaler.account_id, "W2")
    with ctx.db.writing() as session:
        assert brands.share_products(session, wholesaler.account_id, seller.account_id, ["W1"]) == 1
        assert brands.share_products(session, wholesaler.account_id, seller.account_id, []) == 1
        assert brands.share_products(session, wholesaler.account_id, seller.account_id, []) == 0
        with pytest.raises(InvalidInput):
            brands.share_products(session, seller.account_id, wholesaler.account_id, [])
    with ctx.db.reading() as session:
        assert price_lists.shared_product_ids(session, [source]) == {source}
