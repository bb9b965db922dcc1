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
from alephee.orders import detail_parts as parts
from alephee.orders import statuses as st
from alephee.orders.access import parse_date_field
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
        product = item.Product
        movement = movements.get(index)
        items.append(
            parts.item(
                index + 1,
                parts.ITEM_KIT if match and match.product_type == 2 else parts.ITEM_NORMAL,
                parts.product(
                    match.product_id if match else None,
                    product.Sku,
                    brand=match.brand if match else product.Brand,
                    seller_sku=product.SellerSku,
                    ean=product.EAN or (match.ean if match else None),
                    title=product.Title or product.Description or (match.title if match else None),
                ),
                item.Quantity,
                status=parts.order_status(item.Status),
                status_type=parts.order_status_type(item.Status),
                unit_price=item.UnitPrice,
                full_unit_price=item.UnitPrice,
                unit_price_cost=item.UnitPriceCost,
                notes=item.Notes or "",
                cancelled=item.Status == st.CANCELLED,
                movements=[movement] if movement else [],
            )
        )
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
            parts.payment(
                external_id=payment.ExternalPaymentId,
                amount=payment.Amount,
                amount_no_discount=payment.AmountNoDiscount,
                shipping_amount=shipping_amount,
                transaction_amount=transaction,
                total=payment.Total,
                sub_total=payment.SubTotal,
                installments=installments,
                installment=payment.InstallmentAmount,
                notes=payment.Notes or "",
                currency_symbol=payment.CurrencySymbol,
                method=_kv_in(payment.Method, (0, "other")),
                status=_kv_in(payment.Status, (1, "approved")),
                condition=parts.payment_condition(installments),
                discounts=[d.model_dump() for d in payment.Discounts],
                taxes=payment.Taxes.model_dump() if payment.Taxes else None,
                authorization_code=payment.AuthorizationCode,
                date_created=created,
                date_approved=approved,
                last_update=approved or created,
            )
        )
    buyer = body.Buyer
    billing_info = buyer.BillingInfo.model_dump() if buyer.BillingInfo else None
    shipping = parts.shipping(
        cost=cost,
        receiver_cost=receiver_cost,
        sender_cost=sender_cost,
        courier=shipping_in.CourierInfo.model_dump() if shipping_in.CourierInfo else None,
        labels=parts.NO_LABELS,
        pickup=shipping_in.Pickup.model_dump() if shipping_in.Pickup else None,
        receiver_address=_address_out(shipping_in.ReceiverAddress),
        receiver=shipping_in.Receiver.model_dump(),
        estimated_delivery=parse_date_field(shipping_in.EstimatedDeliveryDate, tz, "Shipping.EstimatedDeliveryDate"),
        date_created=sale_date,
        last_updated=sale_date,
    )
    return parts.order_document(
        parts.order_parties(account, marketplace),
        items=items,
        payments=payments,
        shipping=shipping,
        buyer=parts.buyer(
            code=buyer.Code,
            owncode=buyer.Owncode,
            name=buyer.Name,
            phone=buyer.Phone,
            email=buyer.Email,
            doc_type=buyer.DocType,
            doc_number=buyer.DocNumber,
            nickname=buyer.Nickname,
            address=_address_out(buyer.Address),
            billing=billing_info,
        ),
        billing=parts.billing(None),
        notes=body.Notes or "",
    )
