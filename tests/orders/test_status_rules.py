"""The pure rules of the order life cycle, table by table: who may move an order from one status to another
(``orders/statuses.py``), which statuses close or cancel it, when the marketplace drives it, and when an order
may leave its cart (``orders/split.py``). No database, no HTTP."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from alephee.orders import shipping_rules as ship
from alephee.orders import statuses as st
from alephee.orders.split import (
    SPLIT_CANCELLED,
    SPLIT_DELIVERED,
    SPLIT_LABEL_SUBSTATUS,
    SPLIT_NOT_IN_CART,
    SPLIT_SHIPMENT_GONE,
    SPLIT_SINGLE_ORDER,
    split_refusal,
)

MARKETPLACE = {"api_created": False, "automatic": False, "logistic": "custom"}
HUB = {"api_created": True, "automatic": False, "logistic": "custom"}
AUTOMATIC = {"api_created": False, "automatic": True, "logistic": "me2"}


@pytest.mark.parametrize(
    ("current", "target", "who", "code", "message"),
    [
        # Allowed moves of the table, and the same status again (an idempotent repeat).
        (st.READY_TO_SHIP, st.SHIPPED, MARKETPLACE, 200, st.OK_MESSAGE),
        (st.READY_TO_SHIP, st.ARRIVED, MARKETPLACE, 200, st.OK_MESSAGE),
        (st.ARRIVED, st.DELIVERED, MARKETPLACE, 200, st.OK_MESSAGE),
        (st.SHIPPED, st.DELIVERED, MARKETPLACE, 200, st.OK_MESSAGE),
        (st.SHIPPED, st.SHIPPED, MARKETPLACE, 200, st.OK_MESSAGE),
        (st.NO_STATUS, st.READY_TO_SHIP, MARKETPLACE, 200, st.OK_MESSAGE),
        # Only orders the hub owns may be cancelled by the ERP.
        (st.READY_TO_SHIP, st.CANCELLED, HUB, 200, st.OK_MESSAGE),
        (st.READY_TO_SHIP, st.CANCELLED, MARKETPLACE, 412, st.MARKETPLACE_CANNOT_CANCEL),
        (st.CANCELLED, st.CANCELLED, MARKETPLACE, 412, st.MARKETPLACE_CANNOT_CANCEL),
        # Targets a user may not send at all.
        (st.READY_TO_SHIP, st.FRAUDULENT, HUB, 400, st.INVALID_TARGET.format(status=st.FRAUDULENT)),
        (st.DELIVERED, st.REFUNDED, HUB, 400, st.INVALID_TARGET.format(status=st.REFUNDED)),
        (st.READY_TO_SHIP, 12345, HUB, 400, st.INVALID_TARGET.format(status=12345)),
        # A deleted order is gone, whoever asks.
        (st.DELETED, st.SHIPPED, HUB, 404, st.DELETED_ORDER),
        # The marketplace drives the order: even a repeat is refused.
        (st.READY_TO_SHIP, st.SHIPPED, AUTOMATIC, 412, st.AUTOMATIC_ORDER.format(logistic="me2")),
        (st.SHIPPED, st.SHIPPED, AUTOMATIC, 412, st.AUTOMATIC_ORDER.format(logistic="me2")),
        # Moves the table forbids.
        (
            st.DELIVERED,
            st.READY_TO_SHIP,
            HUB,
            412,
            st.FORBIDDEN_TRANSITION.format(
                current=80, current_label="Entregado", target=10, target_label="Pendiente de envío"
            ),
        ),
        (
            st.SHIPPED,
            st.ARRIVED,
            MARKETPLACE,
            412,
            st.FORBIDDEN_TRANSITION.format(
                current=20, current_label="Enviado", target=17, target_label=st.STATUS_LABELS[17]
            ),
        ),
        (
            st.CANCELLED,
            st.DELIVERED,
            HUB,
            412,
            st.FORBIDDEN_TRANSITION.format(current=90, current_label="Cancelado", target=80, target_label="Entregado"),
        ),
    ],
)
def test_transition_error(current: int, target: int, who: dict[str, Any], code: int, message: str) -> None:
    assert st.transition_error(current, target, **who) == (code, message)


@pytest.mark.parametrize(
    ("status", "status_type", "closes", "cancelled"),
    [
        (st.NO_STATUS, st.TYPE_NEW, False, False),
        (st.READY_TO_SHIP, st.TYPE_PENDING, False, False),
        (st.ARRIVED, st.TYPE_PENDING, False, False),
        (st.SHIPPED, st.TYPE_PENDING, False, False),
        (st.REFUNDED, st.TYPE_PENDING, True, False),
        (st.DELIVERED, st.TYPE_CLOSED, True, False),
        (st.FRAUDULENT, st.TYPE_CANCELLED, True, True),
        (st.CANCELLED, st.TYPE_CANCELLED, True, True),
        (st.CANCELLED_AFTER_DELIVERY, st.TYPE_CANCELLED, True, True),
        (st.DELETED, None, True, False),
    ],
)
def test_status_types(status: int, status_type: int | None, closes: bool, cancelled: bool) -> None:
    assert st.status_type_of(status) == status_type
    assert st.closes_order(status) is closes
    assert st.is_cancelled(status) is cancelled


def test_every_status_has_a_label_and_a_row_in_the_transition_table() -> None:
    assert set(st.TRANSITIONS) == st.ALL_STATUSES
    assert all(targets <= st.ALL_STATUSES for targets in st.TRANSITIONS.values())
    assert not st.TRANSITIONS[st.DELETED] and not st.TRANSITIONS[st.REFUNDED]
    assert st.may_transition(st.READY_TO_SHIP, st.SHIPPED) and not st.may_transition(st.DELIVERED, st.SHIPPED)


@pytest.mark.parametrize(
    ("family", "logistic_type", "shipping_method", "api_created", "automatic"),
    [
        ("mercadolibre", ship.ME2, None, False, True),
        ("mercadolibre", ship.FULFILLMENT, None, False, True),
        ("mercadolibre", ship.FLEX, None, False, False),
        ("mercadolibre", ship.CUSTOM, None, False, False),
        ("mercadolibre", ship.ME2, None, True, False),  # created through the API: always manual
        ("amazon", ship.COURIER, None, False, True),
        ("amazon", ship.CUSTOM, None, False, False),
        ("b2w", None, None, False, True),
        ("tiendanube", ship.CUSTOM, None, False, False),
        ("tiendanube", ship.CUSTOM, ship.METHOD_MARKETPLACE, False, True),  # the marketplace ships it
        ("other", None, ship.METHOD_MARKETPLACE, True, False),
    ],
)
def test_updates_automatically(
    family: str, logistic_type: int | None, shipping_method: int | None, api_created: bool, automatic: bool
) -> None:
    assert (
        st.updates_automatically(
            family=family, logistic_type=logistic_type, shipping_method=shipping_method, api_created=api_created
        )
        is automatic
    )


def _order(**fields: Any) -> Any:
    base = {"pack_id": "2000001", "status": st.READY_TO_SHIP, "shipment_status": ship.READY_TO_SHIP}
    return SimpleNamespace(**{"shipment_substatus": ship.SUB_READY_TO_PRINT, **base, **fields})


@pytest.mark.parametrize(
    ("fields", "carts_orders", "refusal"),
    [
        ({}, 2, None),
        ({"shipment_substatus": ship.SUB_PRINTED}, 3, None),
        ({"pack_id": None}, 2, SPLIT_NOT_IN_CART),
        ({}, 1, SPLIT_SINGLE_ORDER),
        ({"status": st.DELIVERED}, 2, SPLIT_DELIVERED),
        ({"shipment_status": ship.DELIVERED}, 2, SPLIT_DELIVERED),
        ({"status": st.CANCELLED}, 2, SPLIT_CANCELLED),
        ({"shipment_status": ship.SHIPPED}, 2, SPLIT_SHIPMENT_GONE.format(status=ship.SHIPPED)),
        ({"shipment_status": ship.NOT_DELIVERED}, 2, SPLIT_SHIPMENT_GONE.format(status=ship.NOT_DELIVERED)),
        ({"shipment_substatus": ship.SUB_STALE}, 2, SPLIT_LABEL_SUBSTATUS.format(substatus="STALE")),
        ({"shipment_substatus": ship.SUB_PENDING}, 2, SPLIT_LABEL_SUBSTATUS.format(substatus="PENDING")),
    ],
)
def test_split_preconditions(fields: dict[str, Any], carts_orders: int, refusal: str | None) -> None:
    assert split_refusal(_order(**fields), carts_orders) == refusal
