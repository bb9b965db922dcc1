"""The elements of the orders batch writes read through their schemas (``IntegrateIn``, ``OrderStatusIn``),
table by table: what each property accepts, and the one message a refused element gets. No database, no
HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from alephee.orders.schemas import BAD_FIELD, ORDER_ID_REQUIRED, STATUS_REQUIRED, IntegrateIn, OrderStatusIn

NOT_AN_OBJECT = "Each element must be a JSON object"
MAX_INT64 = 2**63 - 1


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"OrderId": 7}, {"OrderId": 7, "Integrated": True}),
        ({"orderid": " 7 "}, {"OrderId": 7, "Integrated": True}),
        ({"OrderId": MAX_INT64}, {"OrderId": MAX_INT64, "Integrated": True}),
        ({"OrderId": 7, "Integrated": " FALSE "}, {"OrderId": 7, "Integrated": False}),
        ({"OrderId": 7, "Integrated": None}, {"OrderId": 7, "Integrated": None}),
        ({"OrderId": 7, "OwnOrderId": 12, "ErpStatus": None}, {"OrderId": 7, "OwnOrderId": "12", "ErpStatus": None}),
        ({"OrderId": 7, "ErpStatus": "a\tb"}, {"OrderId": 7, "ErpStatus": "a\tb"}),
        ({"OrderId": 7, "OwnOrderId": "e\u0301" * 100}, {"OrderId": 7, "OwnOrderId": "\u00e9" * 100}),
        # The first property of a name wins, whatever its case.
        ({"ownorderid": "A", "OwnOrderId": "B", "OrderId": 7}, {"OrderId": 7, "OwnOrderId": "A"}),
    ],
)
def test_integrate_elements_accepted(raw: dict[str, Any], expected: dict[str, Any]) -> None:
    element, problem = IntegrateIn.read(raw)
    assert problem is None and element is not None
    assert {name: getattr(element, name) for name in expected} == expected


def test_integrate_elements_tell_absent_from_null() -> None:
    # Absent leaves a column as it is; null clears it (``Integrated`` null: left as it is).
    absent, _ = IntegrateIn.read({"OrderId": 7})
    null, _ = IntegrateIn.read({"OrderId": 7, "OwnOrderId": None, "ErpStatus": None, "Integrated": None})
    assert absent is not None and absent.model_fields_set == {"OrderId"}
    assert null is not None and null.model_fields_set == {"OrderId", "OwnOrderId", "ErpStatus", "Integrated"}


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ([7], NOT_AN_OBJECT),
        ("x", NOT_AN_OBJECT),
        ({}, ORDER_ID_REQUIRED),
        ({"OrderId": 0}, ORDER_ID_REQUIRED),
        ({"OrderId": MAX_INT64 + 1}, ORDER_ID_REQUIRED),
        ({"OrderId": 7.0}, ORDER_ID_REQUIRED),
        ({"OrderId": True}, ORDER_ID_REQUIRED),
        ({"OrderId": "٣"}, ORDER_ID_REQUIRED),
        ({"OrderId": "x", "Integrated": "x"}, ORDER_ID_REQUIRED),
        ({"OrderId": 7, "Integrated": 1}, BAD_FIELD.format(name="Integrated")),
        ({"OrderId": 7, "OwnOrderId": "a" * 101}, BAD_FIELD.format(name="OwnOrderId")),
        ({"OrderId": 7, "OwnOrderId": "a\tb"}, BAD_FIELD.format(name="OwnOrderId")),
        ({"OrderId": 7, "OwnOrderId": True}, BAD_FIELD.format(name="OwnOrderId")),
        ({"OrderId": 7, "ErpStatus": 1.5}, BAD_FIELD.format(name="ErpStatus")),
        ({"OrderId": 7, "ErpStatus": "\x00"}, BAD_FIELD.format(name="ErpStatus")),
        # The last bad property is named.
        ({"OrderId": 7, "Integrated": "x", "ErpStatus": "a" * 101}, BAD_FIELD.format(name="ErpStatus")),
        ({"OrderId": 7, "ErpStatus": [], "Integrated": "x"}, BAD_FIELD.format(name="ErpStatus")),
    ],
)
def test_integrate_elements_refused(raw: Any, problem: str) -> None:
    assert IntegrateIn.read(raw) == (None, problem)


@pytest.mark.parametrize(
    ("raw", "status", "tracking"),
    [
        ({"OrderId": "7", "Status": 20}, 20, None),
        ({"orderId": 7, "status": 999, "tracking": None}, 999, None),
        ({"OrderId": 7, "Status": 20, "Tracking": {}}, 20, {"Number": None, "Status": None}),
        (
            {"OrderId": 7, "Status": 20, "tracking": {"number": 123, "STATUS": "x" * 200}},
            20,
            {"Number": "123", "Status": "x" * 200},
        ),
    ],
)
def test_status_elements_accepted(raw: dict[str, Any], status: int, tracking: dict[str, Any] | None) -> None:
    element, problem = OrderStatusIn.read(raw)
    assert problem is None and element is not None
    assert element.OrderId == 7 and element.Status == status
    assert (None if element.Tracking is None else element.Tracking.model_dump()) == tracking


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (None, NOT_AN_OBJECT),
        ({"Status": 20}, ORDER_ID_REQUIRED),
        ({"OrderId": -1, "Status": "x", "Tracking": 1}, ORDER_ID_REQUIRED),
        ({"OrderId": 7}, STATUS_REQUIRED),
        ({"OrderId": 7, "Status": "20"}, STATUS_REQUIRED),
        ({"OrderId": 7, "Status": 20.0}, STATUS_REQUIRED),
        ({"OrderId": 7, "Status": True, "Tracking": 1}, STATUS_REQUIRED),
        ({"OrderId": 7, "Status": 20, "Tracking": "x"}, BAD_FIELD.format(name="Tracking")),
        ({"OrderId": 7, "Status": 20, "Tracking": {"Number": "n" * 101}}, BAD_FIELD.format(name="Tracking")),
        ({"OrderId": 7, "Status": 20, "Tracking": {"Status": "s" * 201}}, BAD_FIELD.format(name="Tracking")),
        ({"OrderId": 7, "Status": 20, "Tracking": {"Status": False}}, BAD_FIELD.format(name="Tracking")),
    ],
)
def test_status_elements_refused(raw: Any, problem: str) -> None:
    assert OrderStatusIn.read(raw) == (None, problem)


def test_element_limits_are_in_the_schema() -> None:
    integrate = IntegrateIn.model_json_schema()["properties"]
    assert integrate["OrderId"]["exclusiveMinimum"] == 0 and integrate["OrderId"]["maximum"] == MAX_INT64
    assert {"maxLength": 100, "type": "string"} in integrate["OwnOrderId"]["anyOf"]
    assert {"maxLength": 100, "type": "string"} in integrate["ErpStatus"]["anyOf"]
    tracking = OrderStatusIn.model_json_schema()["$defs"]["TrackingIn"]["properties"]
    assert {"maxLength": 200, "type": "string"} in tracking["Status"]["anyOf"]
