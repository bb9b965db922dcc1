"""The detail of an order created through POST /v2/orders: items (kits and their components), payments with
the amounts a client left out derived from the others, shipping and buyer, in the shape GET /v2/orders renders.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from alephee.accounts.models import Account
from alephee.errors import InvalidInput
from alephee.http.numbers import to_int
from alephee.marketplaces.models import Marketplace
from alephee.orders import statuses as st
from alephee.orders.access import parse_date_field
from alephee.orders.ingest import ITEM_KIT, ITEM_NORMAL, ITEM_TYPES, order_parties
from alephee.orders.schemas import OrderInfoIn


class BadCode(InvalidInput):
    """A code is not an integer from 0 to 2147483647 (400)."""

    message = "Invalid code {value}: codes are integers from 0 to 2147483647"


def _kv_in(value: Any, default: tuple[int, str]) -> dict[str, Any]:
    """A ``{Key, Value}`` from a code, a name or an object (lenient input)."""
    if value is None:
        return {"Key": default[0], "Value": default[1]}
    if isinstance(value, int):
        if not 0 <= value <= 2_147_483_647:
            raise BadCode(BadCode.message.format(value=value))
        return {"Key": value, "Value": None}
    if isinstance(value, str):
        return {"Key": 0, "Value": value}
    key = value.Key
    number = to_int(key)
    code = number if number is not None else 0
    if not 0 <= code <= 2_147_483_647:
        raise BadCode(BadCode.message.format(value=key))
    return {"Key": code, "Value": value.Value or (key if isinstance(key, str) and number is None else None)}


@dataclass(slots=True)
class CatalogMatch:
    product_id: int
    sku: str
    brand: str
    title: str
    ean: str | None
    product_type: int


def _address_out(address: Any) -> dict[str, Any] | None:
    return address.model_dump() if address is not None else None


CENT = Decimal("0.01")


def _shipping_amounts(
    given: Sequence[Decimal | None], cost: Decimal | None, receiver: Decimal | None, sender: Decimal | None
) -> tuple[list[Decimal], Decimal, Decimal, Decimal]:
    """The shipping numbers of a created order with what the client left out derived from what it sent:
    ``(ShippingAmount of each payment, Cost, ReceiverCost, SenderCost)``.

    What the buyer paid for shipping is both ``Shipping.ReceiverCost`` and the sum of the payments'
    ``ShippingAmount`` (CF-20.1.5 rule 6); the seller's part is what the buyer did not pay of the cost; the
    cost is both parts. Unknown in every way: 0."""
    zero = Decimal(0)
    sent = sum((amount for amount in given if amount is not None), zero)
    receiver = sent if receiver is None else receiver
    if sender is None:
        sender = max(cost - receiver, zero) if cost is not None else zero
    cost = receiver + sender if cost is None else cost
    # The first payment without a ShippingAmount carries what the others' do not cover.
    left = max(receiver - sent, zero)
    amounts = []
    for amount in given:
        if amount is None:
            amount, left = left, zero
        amounts.append(amount)
    return amounts, cost, receiver, sender


def created_detail(
    session: Session,
    account_id: int,
    marketplace: Marketplace,
    body: OrderInfoIn,
    matches: Sequence[CatalogMatch | None],
    movements: dict[int, dict[str, Any]],
    sale_date: datetime,
    tz: Any,
) -> dict[str, Any]:
    account = session.get(Account, account_id)
    assert account is not None
    items = []
    for index, (item, match) in enumerate(zip(body.Items, matches, strict=True)):
        status = item.Status
        type_code = st.status_type_of(status) or 0
        product = item.Product
        movement = movements.get(index)
        items.append(
            {
                "Id": index + 1,
                "Type": {"Key": ITEM_KIT if match and match.product_type == 2 else ITEM_NORMAL, "Value": None},
                "ParentItemId": None,
                "Product": {
                    "Id": match.product_id if match else None,
                    "Sku": product.Sku,
                    "Brand": match.brand if match else product.Brand,
                    "SellerSku": product.SellerSku,
                    "EAN": product.EAN or (match.ean if match else None),
                    "Attributes": None,
                    "Title": product.Title or product.Description or (match.title if match else None),
                    "IntegrationCode": None,
                    "Category": None,
                },
                "ProductListing": None,
                "Quantity": item.Quantity,
                "QuantitiesDetails": {
                    "Requested": {"Key": "unidades", "Value": Decimal(item.Quantity)},
                    "Picked": {"Key": "unidades", "Value": Decimal(0)},
                    "StockMovements": [movement] if movement else [],
                },
                "UnitPrice": item.UnitPrice,
                "FullUnitPrice": item.UnitPrice,
                "UnitPriceCost": item.UnitPriceCost,
                "CalculatedComponentUnitPrice": None,
                "CalculatedComponentFullUnitPrice": None,
                "SaleFee": None,
                "Notes": item.Notes or "",
                "Status": {"Key": status, "Value": st.STATUS_LABELS[status]},
                "StatusType": {"Key": type_code, "Value": st.STATUS_TYPE_LABELS.get(type_code)},
                "IsCancelled": status == st.CANCELLED,
            }
        )
    for item in items:
        item["Type"]["Value"] = ITEM_TYPES[item["Type"]["Key"]]
    shipping_in = body.Shipping
    cost_in = shipping_in.Cost
    if isinstance(cost_in, Decimal):
        cost, receiver_cost, sender_cost = cost_in, shipping_in.ReceiverCost, shipping_in.SenderCost
    else:
        cost = cost_in.Cost if cost_in.Cost is not None else cost_in.Amount
        receiver_cost = cost_in.ReceiverCost if cost_in.ReceiverCost is not None else shipping_in.ReceiverCost
        sender_cost = cost_in.SenderCost if cost_in.SenderCost is not None else shipping_in.SenderCost
    shipping_amounts, cost, receiver_cost, sender_cost = _shipping_amounts(
        [payment.ShippingAmount for payment in body.Payments], cost, receiver_cost, sender_cost
    )
    payments = []
    for payment, shipping_amount in zip(body.Payments, shipping_amounts, strict=True):
        created = parse_date_field(payment.DateCreated, tz, "Payments.DateCreated") or sale_date
        approved = parse_date_field(payment.DateApproved, tz, "Payments.DateApproved")
        installments = payment.Installments or 1
        # Left out: the goods are what was paid but shipping (no financing surcharge known), the subtotal the
        # goods, and the instalments equal parts (CF-20.2.6: Amount - TransactionAmount - shipping).
        transaction = payment.TransactionAmount
        if transaction is None:
            transaction = max(payment.Amount - shipping_amount, Decimal(0))
        payments.append(
            {
                "ExternalPaymentId": payment.ExternalPaymentId,
                "Amount": payment.Amount,
                "AmountNoDiscount": payment.AmountNoDiscount
                if payment.AmountNoDiscount is not None
                else payment.Amount,
                "ShippingAmount": shipping_amount,
                "ShippingAmountNoDiscount": shipping_amount,
                "TransactionAmount": transaction,
                "Total": payment.Total if payment.Total is not None else payment.Amount,
                "SubTotal": payment.SubTotal if payment.SubTotal is not None else transaction,
                "Installments": installments,
                "InstallmentAmount": payment.InstallmentAmount
                if payment.InstallmentAmount is not None
                else (payment.Amount / installments).quantize(CENT),
                "Notes": payment.Notes or "",
                "CurrencySymbol": payment.CurrencySymbol,
                "Method": _kv_in(payment.Method, (0, "other")),
                "Status": _kv_in(payment.Status, (1, "approved")),
                "Condition": {"Key": 1, "Value": "Contado" if (payment.Installments or 1) == 1 else "Cuotas"},
                "Discounts": [d.model_dump() for d in payment.Discounts],
                "Taxes": payment.Taxes.model_dump() if payment.Taxes else None,
                "AuthorizationCode": payment.AuthorizationCode,
                "DateCreated": created,
                "DateApproved": approved,
                "LastUpdate": approved or created,
            }
        )
    buyer = body.Buyer
    billing_info = buyer.BillingInfo.model_dump() if buyer.BillingInfo else None
    shipping = {
        "Cost": cost,
        "ReceiverCost": receiver_cost,
        "SenderCost": sender_cost,
        "CourierInfo": shipping_in.CourierInfo.model_dump() if shipping_in.CourierInfo else None,
        "ShippingLabels": {"SubStatus": None, "ShippingLabelUrlPdf": "", "ShippingLabelUrlZip": ""},
        "Pickup": shipping_in.Pickup.model_dump() if shipping_in.Pickup else None,
        "ReceiverAddress": _address_out(shipping_in.ReceiverAddress),
        "Receiver": shipping_in.Receiver.model_dump(),
        "EstimatedDeliveryDate": parse_date_field(
            shipping_in.EstimatedDeliveryDate, tz, "Shipping.EstimatedDeliveryDate"
        ),
        "DateCreated": sale_date,
        "LastUpdated": sale_date,
        "PackageInfo": None,
    }
    return {
        **order_parties(account, marketplace),
        "Items": items,
        "Payments": payments,
        "Adjustments": [],
        "Shipping": shipping,
        "Buyer": {
            "Code": buyer.Code,
            "Owncode": buyer.Owncode,
            "Name": buyer.Name,
            "Phone": buyer.Phone,
            "Email": buyer.Email,
            "DocType": buyer.DocType,
            "DocNumber": buyer.DocNumber,
            "Nickname": buyer.Nickname,
            "Address": _address_out(buyer.Address),
            "BillingInfo": billing_info,
        },
        "Billing": {"SaleFee": None, "Invoice": {"DanfePdfUrl": "", "XmlUrl": ""}},
        "ActiveClaims": [],
        "ExternalJson": {},
        "Notes": body.Notes or "",
    }
