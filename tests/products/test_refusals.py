"""The catalog's refusals are named errors with their exact messages and statuses."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from alephee.accounts.schemas import AccountType
from alephee.errors import DomainError
from alephee.http.context import AppContext
from alephee.products import brands, catalog, price_lists, stock
from alephee.products.schemas import PRODUCT_TYPES
from tests.fixtures.products import add_product
from tests.fixtures.tenants import Tenant


@pytest.mark.parametrize(
    ("call", "error", "status", "message"),
    [
        (
            lambda: price_lists.parse_price_list_id("abc"),
            price_lists.PriceListIdInvalid,
            400,
            "'priceListId' must be an integer between 0 and 2147483647",
        ),
        (
            lambda: price_lists.parse_price_list_id("2147483648"),
            price_lists.PriceListIdInvalid,
            400,
            "'priceListId' must be an integer between 0 and 2147483647",
        ),
        (
            lambda: catalog.parse_code_list("1,9", "types", PRODUCT_TYPES),
            catalog.CodeListInvalid,
            400,
            "'types' must be a comma-separated list of integers (1, 2, 5, 6)",
        ),
    ],
    ids=["price-list-id-text", "price-list-id-too-large", "unknown-product-type"],
)
def test_query_refusals(call: Callable[[], object], error: type[DomainError], status: int, message: str) -> None:
    with pytest.raises(error) as info:
        call()
    assert (info.value.status, info.value.message) == (status, message)


def test_messages_with_values() -> None:
    assert price_lists.PriceListNotFound(7).message == "Price list 7 does not exist in this account"
    assert stock.ProductNotFound(3, 4).message == "Product 3 does not exist in account 4"
    too_many = price_lists.TooManyPriceListProducts(501, 500)
    assert too_many.status == 413
    assert too_many.message.startswith("Too many objects in one request: 501 sent, at most 500 allowed.")


def test_stock_moves_refuse_masters_and_foreign_products(
    ctx: AppContext, tenant: Tenant, make_tenant: Callable[..., Tenant]
) -> None:
    other = make_tenant()
    with ctx.db.writing() as session:
        master = add_product(session, tenant.account_id, "M", product_type=6)
        foreign = add_product(session, other.account_id, "F", quantity=5)
    with ctx.db.writing() as session, pytest.raises(stock.MasterHasNoStock) as refused:
        stock.move_stock(session, tenant.account_id, master, -1)
    assert refused.value.message == "A variation master has no stock of its own; move one of its variations"
    with ctx.db.writing() as session, pytest.raises(stock.ProductNotFound) as missing:
        stock.move_stock(session, tenant.account_id, foreign, -1)
    assert missing.value.message == f"Product {foreign} does not exist in account {tenant.account_id}"


def test_sharing_refusals(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> None:
    wholesaler = make_tenant(AccountType.DISTRIBUTOR)
    seller = make_tenant(AccountType.SELLER)
    with ctx.db.writing() as session:
        with pytest.raises(brands.ShareSourceRefused):
            brands.share_products(session, seller.account_id, wholesaler.account_id, [])
        with pytest.raises(brands.ShareTargetRefused):
            brands.share_products(session, wholesaler.account_id, wholesaler.account_id, [])
        with pytest.raises(brands.ShareAccountNotFound):
            brands.share_products(session, wholesaler.account_id, 999_999_999, [])


def test_price_list_removal_preconditions(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> None:
    seller = make_tenant(AccountType.SELLER)
    wholesaler = make_tenant(AccountType.DISTRIBUTOR)
    with ctx.db.writing() as session:
        with pytest.raises(price_lists.DeleteRefusedForAccountType) as wrong_type:
            price_lists.check_delete_allowed(session, seller.account_id, "seller")
        assert wrong_type.value.status == 403
        with pytest.raises(price_lists.DeleteNotEnabled) as not_enabled:
            price_lists.check_delete_allowed(session, wholesaler.account_id, "distributor")
        assert not_enabled.value.status == 403
