"""The pieces of an order document, shared by every source of orders: shapes and derived values, as tables."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from alephee.orders import detail_parts as parts
from alephee.orders import statuses as st
from alephee.orders.schemas import BuyerOut, ItemOut, OrderDetail, PaymentOut, ProductOut, ShippingOut

WHEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LATER = datetime(2026, 3, 1, 12, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        (1, "approved", {"Key": 1, "Value": "approved"}),
        ("unidades", Decimal(2), {"Key": "unidades", "Value": Decimal(2)}),
        (0, None, {"Key": 0, "Value": None}),
    ],
)
def test_key_value(key: Any, value: Any, expected: dict[str, Any]) -> None:
    assert parts.key_value(key, value) == expected


@pytest.mark.parametrize(
    ("status", "type_key"),
    [
        (st.NO_STATUS, 0),
        (st.READY_TO_SHIP, st.status_type_of(st.READY_TO_SHIP)),
        (st.CANCELLED, st.TYPE_CANCELLED),
    ],
)
def test_order_status_and_type(status: int, type_key: int) -> None:
    assert parts.order_status(status) == {"Key": status, "Value": st.STATUS_LABELS[status]}
    assert parts.order_status_type(status) == {"Key": type_key, "Value": st.STATUS_TYPE_LABELS.get(type_key)}


@pytest.mark.parametrize(
    ("family", "amount", "fee"),
    [
        ("mercadolibre", Decimal("100.00"), Decimal("13.00")),
        ("tiendanube", Decimal("100.00"), Decimal("8.00")),
        ("b2b", Decimal("10.01"), Decimal("0.80")),
        ("mercadolibre", Decimal("0.05"), Decimal("0.01")),
    ],
)
def test_sale_fee_by_family(family: str, amount: Decimal, fee: Decimal) -> None:
    assert parts.sale_fee(amount, parts.fee_rate(family)) == fee


def test_order_parties() -> None:
    account = SimpleNamespace(id=7, own_code="OWN", name="Tienda", business_name="Tienda SA")
    marketplace = SimpleNamespace(id=1, name="Mercado Libre")
    assert parts.order_parties(account, marketplace) == {
        "SellerAccount": {"Id": 7, "OwnCode": "OWN", "Name": "Tienda", "BusinessName": "Tienda SA"},
        "MarketPlace": {"Key": 1, "Value": "Mercado Libre", "Channel": ""},
    }


@pytest.mark.parametrize(
    ("quantity", "movements", "expected_movements"),
    [(1, (), []), (3, ({"Quantity": -3},), [{"Quantity": -3}])],
)
def test_quantities(quantity: int, movements: tuple[dict[str, Any], ...], expected_movements: list[Any]) -> None:
    assert parts.quantities(quantity, movements) == {
        "Requested": {"Key": "unidades", "Value": Decimal(quantity)},
        "Picked": {"Key": "unidades", "Value": Decimal(0)},
        "StockMovements": expected_movements,
    }


def _kit(quantity: int = 2, cancelled: bool = False) -> dict[str, Any]:
    return parts.item(
        3,
        parts.ITEM_KIT,
        parts.product(10, "KIT-1", title="Kit"),
        quantity,
        status=parts.order_status(st.READY_TO_SHIP),
        status_type=parts.order_status_type(st.READY_TO_SHIP),
        unit_price=Decimal("100.00"),
        full_unit_price=Decimal("120.00"),
        cancelled=cancelled,
    )


def test_item_has_every_key_of_the_wire_item() -> None:
    item = _kit()
    assert set(item) == set(ItemOut.model_fields)
    assert item["Type"] == {"Key": parts.ITEM_KIT, "Value": "KIT"}
    assert item["ParentItemId"] is None
    assert item["Notes"] == ""
    assert item["QuantitiesDetails"]["Requested"] == {"Key": "unidades", "Value": Decimal(2)}
    assert set(item["Product"]) == set(ProductOut.model_fields)


def test_item_without_details() -> None:
    item = parts.item(
        1,
        parts.ITEM_NORMAL,
        parts.product(None, "X"),
        1,
        status=parts.order_status(st.NO_STATUS),
        status_type=parts.order_status_type(st.NO_STATUS),
        notes=None,
        with_details=False,
    )
    assert item["QuantitiesDetails"] is None
    assert item["Notes"] is None
    assert item["Type"] == {"Key": parts.ITEM_NORMAL, "Value": "PRODUCT"}


@pytest.mark.parametrize(
    ("with_details", "cancelled", "cost"),
    [(True, False, Decimal("5.00")), (False, False, None), (True, True, None)],
)
def test_kit_components(with_details: bool, cancelled: bool, cost: Decimal | None) -> None:
    kit = _kit(quantity=2, cancelled=cancelled)
    components = [
        parts.Component(parts.product(11, "A"), 1, Decimal("60.00"), Decimal("72.00"), cost),
        parts.Component(parts.product(12, "B"), 2, Decimal("20.00"), Decimal("24.00")),
    ]
    out = parts.kit_components(kit, components, with_details=with_details)
    assert [c["Id"] for c in out] == [4, 5]
    assert [c["ParentItemId"] for c in out] == [3, 3]
    assert [c["Quantity"] for c in out] == [2, 4]
    assert [c["Type"] for c in out] == [{"Key": parts.ITEM_COMPONENT, "Value": "COMPONENT"}] * 2
    assert [(c["CalculatedComponentUnitPrice"], c["CalculatedComponentFullUnitPrice"]) for c in out] == [
        (Decimal("60.00"), Decimal("72.00")),
        (Decimal("20.00"), Decimal("24.00")),
    ]
    assert all(c["UnitPrice"] == 0 and c["FullUnitPrice"] == 0 for c in out)
    assert out[0]["UnitPriceCost"] == cost
    assert all(c["Status"] == kit["Status"] and c["StatusType"] == kit["StatusType"] for c in out)
    assert all(c["IsCancelled"] is cancelled for c in out)
    if with_details:
        assert out[1]["QuantitiesDetails"]["Requested"]["Value"] == Decimal(4)
        assert out[1]["Notes"] == ""
    else:
        assert all(c["QuantitiesDetails"] is None and c["Notes"] is None for c in out)


def test_kit_component_without_share() -> None:
    out = parts.kit_components(_kit(), [parts.Component(parts.product(11, "A"), 1, None, None)])
    wire = ItemOut.model_validate(out[0])
    assert wire.CalculatedComponentUnitPrice == 0
    assert wire.CalculatedComponentFullUnitPrice == 0


@pytest.mark.parametrize(
    ("amount", "installments", "each"),
    [
        (Decimal("100"), 1, Decimal("100.00")),
        (Decimal("100"), 3, Decimal("33.33")),
        (Decimal("100.01"), 2, Decimal("50.00")),
        (Decimal("0.05"), 6, Decimal("0.01")),
    ],
)
def test_installment_amount(amount: Decimal, installments: int, each: Decimal) -> None:
    assert parts.installment_amount(amount, installments) == each


@pytest.mark.parametrize(("installments", "label"), [(1, "Contado"), (3, "Cuotas"), (12, "Cuotas")])
def test_payment_condition(installments: int, label: str) -> None:
    assert parts.payment_condition(installments) == {"Key": 1, "Value": label}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        # Left out: derived from the amount and the transaction amount.
        (
            {"amount": Decimal("90"), "transaction_amount": Decimal("80")},
            {
                "AmountNoDiscount": Decimal("90"),
                "Total": Decimal("90"),
                "SubTotal": Decimal("80"),
                "InstallmentAmount": Decimal("90.00"),
            },
        ),
        (
            {"amount": Decimal("90"), "transaction_amount": Decimal("80"), "installments": 4},
            {"InstallmentAmount": Decimal("22.50"), "Installments": 4},
        ),
        # Given: kept as given.
        (
            {
                "amount": Decimal("90"),
                "transaction_amount": Decimal("80"),
                "amount_no_discount": Decimal("100"),
                "total": Decimal("95"),
                "sub_total": Decimal("70"),
                "installment": Decimal("90"),
            },
            {
                "AmountNoDiscount": Decimal("100"),
                "Total": Decimal("95"),
                "SubTotal": Decimal("70"),
                "InstallmentAmount": Decimal("90"),
            },
        ),
        (
            {"amount": Decimal("10"), "transaction_amount": Decimal("5"), "shipping_amount": Decimal("5")},
            {"ShippingAmount": Decimal("5"), "ShippingAmountNoDiscount": Decimal("5")},
        ),
    ],
)
def test_payment(given: dict[str, Any], expected: dict[str, Any]) -> None:
    out = parts.payment(date_created=WHEN, **given)
    assert set(out) == set(PaymentOut.model_fields)
    assert {key: out[key] for key in expected} == expected
    assert out["DateCreated"] == WHEN
    # Left to the caller: no condition, no last update, no status unless given.
    assert out["Condition"] is None and out["LastUpdate"] is None and out["Status"] is None


def test_buyer_and_billing_info() -> None:
    address = {"City": "CABA"}
    info = parts.billing_info(doc_type="DNI", doc_number="30111222", business_name="Juan", address=address)
    out = parts.buyer(code=5, name="Juan", nickname="JUANP", address=address, billing=info)
    assert set(out) == set(BuyerOut.model_fields)
    assert out["Code"] == 5 and out["Owncode"] is None and out["Phone"] is None
    assert info == {
        "DocType": "DNI",
        "DocNumber": "30111222",
        "TaxPayerType": None,
        "BusinessName": "Juan",
        "StateRegistration": None,
        "Address": address,
    }


@pytest.mark.parametrize(
    ("fee", "invoice", "expected"),
    [
        (Decimal("1.30"), parts.NO_INVOICE_LINKS, {"SaleFee": Decimal("1.30"), "Invoice": parts.NO_INVOICE_LINKS}),
        (None, None, {"SaleFee": None, "Invoice": None}),
    ],
)
def test_billing(fee: Decimal | None, invoice: dict[str, str] | None, expected: dict[str, Any]) -> None:
    assert parts.billing(fee, invoice) == expected


def test_billing_invoice_is_a_copy() -> None:
    out = parts.billing(None)
    out["Invoice"]["XmlUrl"] = "changed"
    assert parts.NO_INVOICE_LINKS == {"DanfePdfUrl": "", "XmlUrl": ""}


def test_order_document_validates_with_defaults() -> None:
    account = SimpleNamespace(id=7, own_code=None, name="Tienda", business_name=None)
    marketplace = SimpleNamespace(id=1, name="Mercado Libre")
    document = parts.order_document(
        parts.order_parties(account, marketplace),
        items=[_kit()],
        payments=[parts.payment(amount=Decimal(1), transaction_amount=Decimal(1), date_created=WHEN)],
        shipping={"DateCreated": LATER},
        buyer=parts.buyer(name="Juan"),
        billing=parts.billing(None),
    )
    assert set(document) == set(OrderDetail.model_fields)
    assert document["Adjustments"] == [] and document["ActiveClaims"] == [] and document["ExternalJson"] == {}
    assert document["Notes"] == ""
    detail = OrderDetail.model_validate(document)
    assert detail.Items[0].Product.Sku == "KIT-1"
    assert detail.Billing is not None and detail.Billing.SaleFee == 0


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            {},
            {"MinPublicationQuantity": None, "MaxPublicationQuantity": None},
        ),
        (
            {"min_publication": 1, "max_publication": 10},
            {"MinPublicationQuantity": 1, "MaxPublicationQuantity": 10},
        ),
    ],
)
def test_stock_movement(given: dict[str, Any], expected: dict[str, Any]) -> None:
    out = parts.stock_movement({"Id": 7}, 5, 3, -2, WHEN, **given)
    assert out == {
        "Account": {"Id": 7},
        "PrevStock": 5,
        "PostStock": 3,
        "Quantity": -2,
        "DateCreated": WHEN,
        **expected,
    }


@pytest.mark.parametrize(
    ("labels", "last_updated"),
    [(None, None), (parts.NO_LABELS, LATER)],
)
def test_shipping(labels: dict[str, Any] | None, last_updated: datetime | None) -> None:
    out = parts.shipping(
        cost=Decimal("10"),
        receiver_cost=Decimal("4"),
        sender_cost=Decimal("6"),
        receiver=parts.receiver("Juan"),
        date_created=WHEN,
        labels=labels,
        last_updated=last_updated,
    )
    # Every key but the hub's shipment state (filled in when the order is rendered).
    assert set(ShippingOut.model_fields) - set(out) == {"ExternalShippingId", "Method", "Status", "LogisticType"}
    assert out["Receiver"] == {"Name": "Juan", "Phone": None}
    assert out["ShippingLabels"] == labels and out["LastUpdated"] == last_updated
    assert out["ShippingLabels"] is not parts.NO_LABELS
    assert out["PackageInfo"] is None and out["CourierInfo"] is None and out["ReceiverAddress"] is None


@pytest.mark.parametrize(
    ("item", "expected_item"),
    [
        (None, None),
        (
            parts.adjustment_item(10, "Marca", "SKU-1", "OWN-1"),
            {"Id": 10, "Brand": "Marca", "Sku": "SKU-1", "SellerSku": "OWN-1"},
        ),
    ],
)
def test_adjustment(item: dict[str, Any] | None, expected_item: dict[str, Any] | None) -> None:
    kind, percent = parts.key_value(1, "Bonificación"), parts.key_value(1, "Porcentaje")
    out = parts.adjustment(kind, "CODE", "Descuento", percent, Decimal(10), item=item)
    assert out == {
        "Type": kind,
        "Code": "CODE",
        "Description": "Descuento",
        "Item": expected_item,
        "Value": {"Type": percent, "Value": Decimal(10)},
    }
