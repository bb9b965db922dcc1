"""products/b2b.py: reserving and releasing B2B stock, all or nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from alephee.errors import InvalidInput
from alephee.http.context import AppContext
from alephee.products import b2b
from alephee.products.models import Product
from tests.fixtures.portal import Shop, b2b_stock


def test_reserve_takes_exactly_what_is_asked(ctx: AppContext, shop: Shop) -> None:
    p = shop.products
    with ctx.db.writing() as session:
        b2b.reserve_b2b_stock(session, shop.account_id, {p["TAL-001"]: 4, p["BUJ-002"]: 3, p["KIT-005"]: 1})
    stock = b2b_stock(ctx, shop)
    assert (stock["TAL-001"], stock["BUJ-002"], stock["KIT-005"]) == (6, 0, 1)


def test_a_shortage_names_every_short_product_and_rolls_back(ctx: AppContext, shop: Shop) -> None:
    p = shop.products
    before = b2b_stock(ctx, shop)
    session = ctx.db.write_session()
    try:
        with pytest.raises(b2b.B2BStockShortage) as caught:
            b2b.reserve_b2b_stock(session, shop.account_id, {p["TAL-001"]: 2, p["BUJ-002"]: 4, p["MAR-003"]: 1})
        session.rollback()
    finally:
        session.close()
    assert caught.value.product_ids == sorted([p["BUJ-002"], p["MAR-003"]])
    assert b2b_stock(ctx, shop) == before


def test_other_accounts_products_are_never_touched(ctx: AppContext, shop: Shop, make_shop: Callable[..., Shop]) -> None:
    other = make_shop()
    with ctx.db.write_session() as session, pytest.raises(b2b.B2BStockShortage):
        b2b.reserve_b2b_stock(session, shop.account_id, {other.products["TAL-001"]: 1})
    assert b2b_stock(ctx, other)["TAL-001"] == 10


def test_release_gives_units_back(ctx: AppContext, shop: Shop) -> None:
    drill = shop.products["TAL-001"]
    with ctx.db.writing() as session:
        b2b.reserve_b2b_stock(session, shop.account_id, {drill: 10})
    with ctx.db.writing() as session:
        b2b.release_b2b_stock(session, shop.account_id, {drill: 3})
    assert b2b_stock(ctx, shop)["TAL-001"] == 3


@pytest.mark.parametrize("quantity", [0, -1, True])
def test_quantities_must_be_positive_integers(ctx: AppContext, shop: Shop, quantity: int) -> None:
    with ctx.db.write_session() as session:
        with pytest.raises(InvalidInput):
            b2b.reserve_b2b_stock(session, shop.account_id, {shop.products["TAL-001"]: quantity})
        with pytest.raises(InvalidInput):
            b2b.release_b2b_stock(session, shop.account_id, {shop.products["TAL-001"]: quantity})
        assert session.scalar(select(Product.b2b_quantity).where(Product.id == shop.products["TAL-001"])) == 10
