"""orders: stored order details hold numbers where the order document shows numbers

Revision ID: 0016_orders_numbers
Revises: 0015_orders_dates
Create Date: 2026-12-04 15:00:00

Orders stored before this revision may hold ``null`` in numeric fields of their detail (kit components'
``UnitPrice``; ``ShippingAmount``, ``TransactionAmount``, ``SubTotal``, ``InstallmentAmount``, ``ReceiverCost``,
``SenderCost`` of orders created through POST /v2/orders; ids and fees nobody knew). They are rewritten as new
orders are built (``orders/schemas.py``, ``DecimalOrZero``/``IntOrZero``): the shipping and payment amounts a
client left out are derived from the ones it sent (``orders.service._shipping_amounts`` and
``_created_detail``), every other unknown number is 0. The rules are copied here as they are at this revision
(a migration must not change with later code). Rows are read and written in batches by id; each rewritten row
gets a new ``version`` so no process keeps serving its old rendering. Idempotent.
"""

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

revision: str = "0016_orders_numbers"
down_revision: str | Sequence[str] | None = "0015_orders_dates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 500
INT, DEC = 0, 0.0
# The numeric fields of the stored detail (CF-20.2.4), as nested objects and lists of objects.
_STOCK_MOVEMENT = {
    "Account": {"Id": INT},
    "PrevStock": INT,
    "PostStock": INT,
    "Quantity": INT,
    "MinPublicationQuantity": INT,
    "MaxPublicationQuantity": INT,
}
_ITEM = {
    "Id": INT,
    "ParentItemId": INT,
    "Product": {"Id": INT, "Attributes": {"NetWeight": {"Value": DEC}}},
    "ProductListing": {"Id": INT},
    "Quantity": INT,
    "QuantitiesDetails": {"Requested": {"Value": DEC}, "Picked": {"Value": DEC}, "StockMovements": [_STOCK_MOVEMENT]},
    "UnitPrice": DEC,
    "FullUnitPrice": DEC,
    "UnitPriceCost": DEC,
    "CalculatedComponentUnitPrice": DEC,
    "CalculatedComponentFullUnitPrice": DEC,
    "SaleFee": DEC,
}
_PAYMENT = {
    "Amount": DEC,
    "AmountNoDiscount": DEC,
    "ShippingAmount": DEC,
    "ShippingAmountNoDiscount": DEC,
    "TransactionAmount": DEC,
    "Total": DEC,
    "SubTotal": DEC,
    "Installments": INT,
    "InstallmentAmount": DEC,
    "Discounts": [{"Amount": DEC, "Value": DEC}],
    "Taxes": {"Amount": DEC},
}
NUMBERS: dict[str, Any] = {
    "Items": [_ITEM],
    "Payments": [_PAYMENT],
    "Adjustments": [{"Item": {"Id": INT}, "Value": {"Value": DEC}}],
    "Shipping": {
        "Cost": DEC,
        "ReceiverCost": DEC,
        "SenderCost": DEC,
        "Pickup": {"Id": INT, "ExternalPickupId": INT, "SellerAccountId": INT},
    },
    "Buyer": {"Code": INT},
    "Billing": {"SaleFee": DEC},
    "ActiveClaims": [{"ExternalClaimId": INT}],
}
CENT = Decimal("0.01")
ZERO = Decimal(0)


def _zero_filled(value: Any, spec: Any) -> bool:
    """Put 0 in every missing or null number of ``value`` (an object of shape ``spec``); whether any was."""
    changed = False
    if isinstance(spec, list):
        for element in value if isinstance(value, list) else []:
            changed = _zero_filled(element, spec[0]) or changed
        return changed
    if not isinstance(value, dict):  # a null object (no pickup, no taxes...) has no numbers
        return False
    for key, sub in spec.items():
        if isinstance(sub, (dict, list)):
            changed = _zero_filled(value.get(key), sub) or changed
        elif value.get(key) is None:
            value[key] = sub
            changed = True
    return changed


def _dec(value: Any) -> Decimal | None:
    return None if value is None or isinstance(value, str) else Decimal(str(value))


def _derived_amounts(detail: dict[str, Any]) -> bool:
    """The shipping and payment amounts left out, derived from the others (orders.service at this revision)."""
    payments = [p for p in detail.get("Payments") or [] if isinstance(p, dict)]
    shipping = detail.get("Shipping")
    if not isinstance(shipping, dict):
        return False
    given = [_dec(p.get("ShippingAmount")) for p in payments]
    cost, receiver, sender = (_dec(shipping.get(k)) for k in ("Cost", "ReceiverCost", "SenderCost"))
    missing = None in given or None in (cost, receiver, sender)
    missing = missing or any(
        p.get(k) is None for p in payments for k in ("TransactionAmount", "SubTotal", "InstallmentAmount")
    )
    if not missing:
        return False
    sent = sum((a for a in given if a is not None), ZERO)
    receiver = sent if receiver is None else receiver
    if sender is None:
        sender = max(cost - receiver, ZERO) if cost is not None else ZERO
    cost = receiver + sender if cost is None else cost
    shipping.update(Cost=float(cost), ReceiverCost=float(receiver), SenderCost=float(sender))
    left = max(receiver - sent, ZERO)
    for payment, amount in zip(payments, given, strict=True):
        if amount is None:
            amount, left = left, ZERO
            payment["ShippingAmount"] = payment["ShippingAmountNoDiscount"] = float(amount)
        paid = _dec(payment.get("Amount")) or ZERO
        if payment.get("TransactionAmount") is None:
            payment["TransactionAmount"] = float(max(paid - amount, ZERO))
        if payment.get("SubTotal") is None:
            payment["SubTotal"] = payment["TransactionAmount"]
        if payment.get("InstallmentAmount") is None:
            payment["InstallmentAmount"] = float((paid / (payment.get("Installments") or 1)).quantize(CENT))
    return True


def completed(detail_json: str) -> str | None:
    """The stored detail with its numbers completed, or None when it already had them all."""
    detail = orjson.loads(detail_json)
    derived = _derived_amounts(detail)
    if not (_zero_filled(detail, NUMBERS) or derived):
        return None
    return orjson.dumps(detail).decode()


def upgrade() -> None:
    bind = op.get_bind()
    select_batch = sa.text("SELECT id, detail FROM orders WHERE id > :last ORDER BY id LIMIT :batch")
    write = sa.text("UPDATE orders SET detail = :detail, version = version + 1 WHERE id = :id")
    last = 0
    while True:
        rows = bind.execute(select_batch, {"last": last, "batch": BATCH}).all()
        if not rows:
            break
        last = rows[-1][0]
        changes = [{"id": order_id, "detail": new} for order_id, old in rows if (new := completed(old)) is not None]
        if changes:
            bind.execute(write, changes)


def downgrade() -> None:
    # Nothing to undo: the numbers are what the previous code should have stored.
    pass
