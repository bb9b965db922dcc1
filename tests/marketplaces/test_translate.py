"""The pure translation of a marketplace order into the hub's terms (``sync.translate``), as tables."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from alephee.marketplaces.contract import ChannelOrder, ChannelPayment
from alephee.orders import shipping_rules as ship
from alephee.orders import statuses as st
from alephee.sync.translate import claims_json, hub_status, news_of, payment_json, payment_pending, shipping_id

WHEN = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _order(**values: object) -> ChannelOrder:
    base: dict[str, object] = {
        "external_order_id": "2000001",
        "status": "paid",
        "date_created": WHEN,
        "date_updated": WHEN,
        "items": (),
    }
    return ChannelOrder(**{**base, **values})  # type: ignore[arg-type]


def _payment(status: str, amount: str = "100", **values: object) -> ChannelPayment:
    return ChannelPayment(external_payment_id="P1", status=status, amount=Decimal(amount), **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, st.READY_TO_SHIP),
        ({"fraud": True, "shipping_status": ship.DELIVERED}, st.FRAUDULENT),
        ({"status": "cancelled"}, st.CANCELLED),
        ({"status": "invalid"}, st.CANCELLED),
        ({"status": "cancelled", "shipping_status": ship.DELIVERED}, st.CANCELLED_AFTER_DELIVERY),
        ({"shipping_status": ship.DELIVERED}, st.DELIVERED),
        ({"shipping_status": ship.SHIPPED}, st.SHIPPED),
        ({"shipping_status": ship.NOT_DELIVERED}, st.RECIPIENT_NOT_FOUND),
        ({"shipping_status": ship.CANCELLED}, st.CANCELLED),
        ({"shipping_status": ship.READY_TO_SHIP, "shipping_substatus": ship.SUB_DROPPED_OFF}, st.ARRIVED),
        ({"shipping_status": ship.READY_TO_SHIP, "shipping_substatus": ship.SUB_PICKED_UP}, st.ARRIVED),
        ({"shipping_status": ship.READY_TO_SHIP, "shipping_substatus": "printed"}, st.READY_TO_SHIP),
        ({"shipping_status": ship.PENDING}, st.READY_TO_SHIP),
    ],
)
def test_hub_status_of_a_marketplace_order(values: dict[str, object], expected: int) -> None:
    assert hub_status(_order(**values)) == expected


@pytest.mark.parametrize(
    ("statuses", "pending"),
    [
        ((), False),  # no payment reported: not "pending payment"
        (("pending",), True),
        (("in_process", "rejected"), True),
        (("rejected", "approved"), False),
        (("accredited",), False),
        (("refunded",), False),
        (("in_mediation",), False),
        (("charged_back",), False),
        (("cancelled",), True),
    ],
)
def test_payment_pending_until_some_payment_was_obtained(statuses: tuple[str, ...], pending: bool) -> None:
    assert payment_pending(_order(payments=tuple(_payment(s) for s in statuses))) is pending


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("40000000001", 40000000001),
        ("0", 0),
        ("-1", None),
        ("9223372036854775808", None),  # beyond a 64-bit id
        ("SHIP-1", None),
    ],
)
def test_shipping_id_is_a_64_bit_number_or_nothing(value: str | None, expected: int | None) -> None:
    assert shipping_id(value) == expected


@pytest.mark.parametrize(
    ("status", "method", "installments", "status_key", "method_key", "condition", "each"),
    [
        ("approved", "credit_card", 3, 1, 1, "Cuotas", 33.33),
        ("pending", "ticket", None, 2, 4, "Contado", 100.0),
        ("in_mediation", "account_money", 1, 7, 3, "Contado", 100.0),
        ("mystery", None, 1, 0, 0, "Contado", 100.0),
    ],
)
def test_payment_in_the_wire_shape(
    status: str,
    method: str | None,
    installments: int | None,
    status_key: int,
    method_key: int,
    condition: str,
    each: float,
) -> None:
    order = _order()
    out = payment_json(_payment(status, method=method, installments=installments), order)
    assert out["Status"] == {"Key": status_key, "Value": status}
    assert out["Method"] == {"Key": method_key, "Value": method}
    assert out["Condition"]["Value"] == condition
    assert out["Installments"] == (installments or 1)
    assert float(out["InstallmentAmount"]) == each
    assert out["ExternalPaymentId"] == "P1"


@pytest.mark.parametrize(
    ("claim", "raw", "expected"),
    [
        (False, {"claim": {"id": "5100000001"}}, []),
        (True, {}, []),
        (True, {"claim": "yes"}, []),
        (
            True,
            {"claim": {"id": "5100000001", "date_created": "2024-05-02T10:00:00Z"}},
            [{"ExternalClaimId": 5100000001, "DateCreated": "2024-05-02T10:00:00Z"}],
        ),
    ],
)
def test_claims_are_read_from_the_raw_order(claim: bool, raw: dict[str, object], expected: list[object]) -> None:
    assert claims_json(_order(claim=claim, raw=raw)) == expected


def test_news_of_a_known_order_carries_status_shipment_payments_and_cart() -> None:
    order = _order(
        shipping_status=ship.SHIPPED,
        shipping_substatus=None,
        payments=(_payment("approved"),),
        pack_id="2000000000000001",
        pack_size=2,
        external_shipping_id="40000000007",
    )
    news = news_of(order)
    assert (news.status, news.shipment_status, news.payment_pending) == (st.SHIPPED, ship.SHIPPED, False)
    assert (news.pack_id, news.pack_size, news.external_shipping_id) == ("2000000000000001", 2, 40000000007)
    assert [p["Status"]["Value"] for p in news.payments] == ["approved"]
    assert news.claims == ()
