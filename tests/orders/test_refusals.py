"""The named refusals of the orders use cases, raised by the rules themselves (no HTTP): each carries its
status and its exact message."""

from __future__ import annotations

from typing import Any

import pytest

from alephee.errors import DomainError
from alephee.http.context import AppContext
from alephee.orders import create, delete, messages, split
from alephee.orders import shipping_label as labels
from alephee.orders.access import OrderNotFound, lock_order, order_row
from alephee.orders.query import BadStatusType, PackNotFound, get_pack, parse_filters, render_one
from alephee.orders.routes import BadOrderId, order_id_path
from tests.fixtures.orders import AddOrder
from tests.fixtures.tenants import Tenant


@pytest.mark.parametrize(
    ("call", "error", "status", "message"),
    [
        (lambda: split.parse_split_reason(None), split.SplitReasonRequired, 400, split.SplitReasonRequired.message),
        (
            lambda: split.parse_split_reason("7"),
            split.BadSplitReason,
            400,
            "Invalid splitReasonId '7': use 1, 2, 3 or 4",
        ),
        (lambda: labels.parse_label_request(" ", None), labels.LabelFormatRequired, 400, None),
        (
            lambda: labels.parse_label_request("png", None),
            labels.BadLabelFormat,
            400,
            "Invalid format 'png': use TXT, ZIP or PDF",
        ),
        (lambda: parse_filters({"statusType": "5"}), BadStatusType, 400, None),
        (
            lambda: delete.parse_order_id("abc"),
            delete.OrderIdRequired,
            400,
            "orderId is required and must be an integer",
        ),
        (lambda: delete.parse_order_id("0"), delete.OrderIdRequired, 400, None),
        (lambda: order_id_path("1.5"), BadOrderId, 400, "orderId must be an integer"),
        (lambda: messages.parse_option(None), messages.MessageOptionRequired, 400, None),
        (lambda: messages.parse_option("9"), messages.BadMessageOption, 400, None),
        (
            lambda: create.check_create_limits({"items": [{}] * 51}),
            create.CreateLimitExceeded,
            413,
            "Too many items in one order: 51 sent, at most 50 allowed. Nothing was processed",
        ),
        (
            lambda: create.check_create_limits({"Payments": [{"discounts": [{}] * 11}]}),
            create.CreateLimitExceeded,
            413,
            None,
        ),
    ],
)
def test_parsers_refuse_with_named_errors(
    call: Any, error: type[DomainError], status: int, message: str | None
) -> None:
    with pytest.raises(error) as raised:
        call()
    assert raised.value.status == status
    if message is not None:
        assert raised.value.message == message


def test_order_not_found_is_one_error_for_every_lookup(ctx: AppContext, seller: Tenant) -> None:
    assert OrderNotFound.message == "Order not found" and OrderNotFound.status == 404
    with ctx.db.writing() as session:
        for lookup in (order_row, lock_order, render_one):
            with pytest.raises(OrderNotFound):
                lookup(session, seller.account_id, 999_999_999)
        with pytest.raises(OrderNotFound):
            split.split_order(session, seller.account_id, "test", 999_999_999, 1)
        with pytest.raises(PackNotFound):
            get_pack(session, seller.account_id, "no-such-cart")


def test_split_and_delete_refusals(ctx: AppContext, seller: Tenant, add_order: AddOrder) -> None:
    lone = add_order(seller)
    amazon = add_order(seller, marketplace_id=20)
    with ctx.db.writing() as session:
        with pytest.raises(split.SplitRefused) as refused:
            split.split_order(session, seller.account_id, "test", lone, 1)
        assert refused.value.status == 412 and refused.value.message == split.SPLIT_NOT_IN_CART
        with pytest.raises(split.SplitOnlyMercadoLibre):
            split.split_order(session, seller.account_id, "test", amazon, 1)
        with pytest.raises(delete.NotAnApiOrder) as not_api:
            delete.delete_order(session, seller.account_id, "test", lone, False)
        assert not_api.value.message == "Only orders created through POST /v2/orders can be deleted"
