"""Mercado Libre's JSON in the channel contract's terms, as tables: lenient ids, money through its text, every
date format of the API, and orders (pack, fraud, cancelled, refunded, variation, payments, shipment)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from alephee.channels.mercadolibre import mapping as ml
from alephee.channels.mercadolibre.client import Cause, MercadoLibreError, retry_after_seconds
from tests.channels.mercadolibre_fake import BUYER_ID, SELLER_ID, order_json, shipment_json


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (2000003508419013, 2000003508419013),
        ("2000003508419013", 2000003508419013),
        (" 42 ", 42),
        (None, None),
        ("MLA1", None),
        (True, None),
        (12.0, 12),
    ],
)
def test_ids_as_numbers_or_strings(value: Any, expected: int | None) -> None:
    assert ml.to_int(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (14.290000000000001, Decimal("14.290000000000001")),
        (125.92, Decimal("125.92")),
        (350, Decimal(350)),
        ("72.37", Decimal("72.37")),
        (None, None),
        ("n/a", None),
    ],
)
def test_money_goes_through_its_text(value: Any, expected: Decimal | None) -> None:
    assert ml.money(value) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2022-04-08T17:01:30.000-04:00", datetime(2022, 4, 8, 21, 1, 30, tzinfo=UTC)),
        ("2021-03-19T19:23:37.000Z", datetime(2021, 3, 19, 19, 23, 37, tzinfo=UTC)),
        ("2024-08-15T17:38:30.000-0400", datetime(2024, 8, 15, 21, 38, 30, tzinfo=UTC)),
        ("2024-05-22T23:59:59-03:00", datetime(2024, 5, 23, 2, 59, 59, tzinfo=UTC)),
        ("2025-07-15T14:44:58Z", datetime(2025, 7, 15, 14, 44, 58, tzinfo=UTC)),
        ("not a date", None),
        (None, None),
    ],
)
def test_every_date_format(text: str | None, expected: datetime | None) -> None:
    assert ml.parse_date(text) == expected


def test_retry_after_and_causes() -> None:
    assert retry_after_seconds("7") == 7 and retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0  # a past date: no wait
    error = MercadoLibreError(400, "validation_error", "bad", (Cause("a.b", "first"), Cause("c", "warn", "warning")))
    assert error.refusal() == "a.b: first" and not error.transient
    assert MercadoLibreError(409, "conflict", "item optimistic locking error: conflict").transient
    assert not MercadoLibreError(409, "conflict", "already exists").transient


def test_a_paid_order_of_a_pack_with_its_shipment() -> None:
    order = ml.channel_order(order_json(), shipment_json(), pack_size=2)
    assert (order.external_order_id, order.status, order.pack_id, order.pack_size) == (
        "2000009713473608",
        "paid",
        "2000006556183755",
        2,
    )
    assert order.date_created == datetime(2024, 11, 1, 13, 34, 59, tzinfo=UTC)
    assert order.date_updated == datetime(2024, 11, 1, 13, 37, 20, tzinfo=UTC)
    assert (order.total, order.currency, order.fraud, order.claim) == (Decimal("125.92"), "ARS", False, False)
    [line] = order.items
    assert (line.external_listing_id, line.quantity, line.unit_price, line.full_unit_price, line.sku, line.title) == (
        "MLA1000000001",
        2,
        Decimal("62.96"),
        Decimal("72.37"),
        "ESP-2",
        "Espaçador E Nivelador",
    )
    [payment] = order.payments
    assert (payment.external_payment_id, payment.status, payment.amount, payment.method, payment.installments) == (
        "91776699099",
        "approved",
        Decimal("125.92"),
        "account_money",
        1,
    )
    assert payment.date_approved == datetime(2024, 11, 1, 13, 35, 42, tzinfo=UTC)
    assert order.buyer == {"id": BUYER_ID, "nickname": "COMPRADOR1", "first_name": "Ana", "last_name": "Paz"}
    assert (order.external_shipping_id, order.shipping_status, order.shipping_substatus, order.logistic_type) == (
        "44028792542",
        "ready_to_ship",
        "ready_to_print",
        "drop_off",
    )
    assert order.shipping_address == {
        "country_id": "AR",
        "state_code": "AR-C",
        "state": "Capital Federal",
        "city": "Capital Federal",
        "neighborhood": "San Nicolás",
        "street_name": "Av. Corrientes",
        "street_number": "1234",
        "street": "Av. Corrientes 1234",
        "zip_code": "1043",
        "receiver_name": "Ana Paz",
        "receiver_phone": "1155554444",
    }
    assert order.raw["order"]["id"] == 2000009713473608


@pytest.mark.parametrize(
    ("order", "shipment", "check"),
    [
        # Fraud: never ship.
        (order_json(tags=("paid", "fraud_risk_detected")), None, lambda o: o.fraud is True),
        # No pack: no pack size either; no shipment yet.
        (
            order_json(pack_id=None, shipping_id=None),
            None,
            lambda o: (o.pack_id, o.pack_size, o.external_shipping_id) == (None, None, None),
        ),
        # Cancelled by the buyer, with its detail kept.
        (
            order_json(status="cancelled", cancel_detail={"group": "buyer", "code": "x", "requested_by": "buyer"}),
            shipment_json(status="cancelled", substatus="closed_by_user"),
            lambda o: (
                (o.status, o.shipping_status, o.raw["cancel_detail"]["requested_by"])
                == ("cancelled", "cancelled", "buyer")
            ),
        ),
        # Refunded: the payment's status and the refunded amount.
        (
            order_json(
                status="cancelled",
                payments=[
                    {
                        "id": "1",
                        "status": "refunded",
                        "transaction_amount": 125.92,
                        "transaction_amount_refunded": 125.92,
                        "payment_type": "credit_card",
                        "installments": 3,
                    }
                ],
            ),
            None,
            lambda o: (
                (o.payments[0].status, o.payments[0].method, o.payments[0].installments, o.raw["refunded_amount"])
                == ("refunded", "credit_card", 3, "125.92")
            ),
        ),
        # A variation: the line keys on the item, the variation id kept.
        (
            order_json(variation_id=79253320985),
            None,
            lambda o: (
                (o.items[0].external_listing_id, o.raw["variations"])
                == ("MLA1000000001", {"MLA1000000001": "79253320985"})
            ),
        ),
        # A mediation is a claim.
        (order_json(mediations=[{"id": 5281510459}]), None, lambda o: o.claim and o.raw["claim"]["id"] == 5281510459),
        # Full and ME1 shipments in the hub's words.
        (order_json(), shipment_json(logistic_type="fulfillment"), lambda o: o.logistic_type == "fulfillment"),
        (
            order_json(),
            {"id": 1, "status": "shipped", "logistic": {"mode": "me1", "type": "default"}},
            lambda o: (o.logistic_type, o.shipping_status) == ("me1", "shipped"),
        ),
        # The older flat shipment shape.
        (
            order_json(),
            {
                "id": 1,
                "status": "delivered",
                "mode": "me2",
                "logistic_type": "cross_docking",
                "receiver_address": {"zip_code": "5000", "city": {"name": "Córdoba"}},
            },
            lambda o: (
                (o.logistic_type, o.shipping_address) == ("cross_docking", {"city": "Córdoba", "zip_code": "5000"})
            ),
        ),
    ],
)
def test_order_cases(order: dict[str, Any], shipment: dict[str, Any] | None, check: Any) -> None:
    assert check(ml.channel_order(order, shipment, pack_size=1))


def test_listing_state_and_skus() -> None:
    item = {
        "id": "MLA880314064",
        "status": "paused",
        "sub_status": ["out_of_stock"],
        "title": "Taladro",
        "price": 14.290000000000001,
        "currency_id": "ARS",
        "available_quantity": 0,
        "sold_quantity": 3,
        "listing_type_id": "gold_special",
        "category_id": "MLA3530",
        "seller_custom_field": "OLD-SKU",
        "attributes": [{"id": "SELLER_SKU", "value_name": "NEW-SKU"}],
        "variations": [
            {"id": 79253320985, "attributes": [{"id": "SELLER_SKU", "value_name": "V-1"}]},
            {"id": "79253320986", "seller_custom_field": "V-2"},
            {"id": 79253320987},
        ],
    }
    state = ml.listing_state(item)
    assert (state.external_id, state.status, state.sub_status, state.sku, state.price) == (
        "MLA880314064",
        "paused",
        ("out_of_stock",),
        "NEW-SKU",
        Decimal("14.290000000000001"),
    )
    assert state.variations == (("79253320985", "V-1"), ("79253320986", "V-2"), ("79253320987", None))
    assert ml.item_sku({"seller_custom_field": "OLD-SKU", "attributes": []}) == "OLD-SKU"


def test_messages_from_the_buyer_or_the_seller() -> None:
    base = {
        "id": "fd1d",
        "text": "Hola",
        "status": "available",
        "message_date": {"created": "2020-12-05T20:01:46.000Z"},
    }
    buyer = ml.channel_message(base | {"from": {"user_id": str(BUYER_ID)}}, SELLER_ID, "2000")
    seller = ml.channel_message(base | {"from": {"user_id": SELLER_ID}}, SELLER_ID, "2000")
    assert buyer.from_buyer and not seller.from_buyer
    assert (buyer.external_message_id, buyer.text, buyer.pack_id, buyer.date) == (
        "fd1d",
        "Hola",
        "2000",
        datetime(2020, 12, 5, 20, 1, 46, tzinfo=UTC),
    )
