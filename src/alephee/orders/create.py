"""POST /v2/orders (spec 21 §6): the usage limits, the idempotent retry (same ``ExternalOrderId`` and content),
the order's detail built from ``OrderInfo``, catalogue matching and stock movements in the order's transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alephee import clock
from alephee.accounts.models import Account, AccountMarketplace
from alephee.errors import Conflict, InvalidInput, PayloadTooLarge
from alephee.http.body import raw_field
from alephee.http.numbers import to_int
from alephee.marketplaces.models import Marketplace
from alephee.orders import shipping_rules as ship
from alephee.orders import statuses as st
from alephee.orders.access import parse_date_field
from alephee.orders.ingest import ITEM_KIT, ITEM_NORMAL, ITEM_TYPES, NewOrder, ingest_order, order_parties
from alephee.orders.models import ORIGIN_API, Order, OrderCreation, OrderHistory, history_row
from alephee.orders.query import render_one
from alephee.orders.schemas import OrderDetail, OrderInfoIn
from alephee.products import service as products
from alephee.products.models import Brand, Product

MAX_CREATE_ITEMS = 50
MAX_CREATE_PAYMENTS = 10
MAX_PAYMENT_DISCOUNTS = 10


class CreateLimitExceeded(PayloadTooLarge):
    """Over 50 items, 10 payments or 10 discounts in a payment (413)."""

    message = "Too many {what} in one order: {count} sent, at most {cap} allowed. Nothing was processed"


ITEM_STATUSES = (st.READY_TO_SHIP, st.ARRIVED, st.SHIPPED, st.DELIVERED, st.CANCELLED)


class BadItemStatus(InvalidInput):
    """An item's status is not 10, 17, 20, 80 or 90 (400)."""

    message = "Items[{index}].Status {status} is not valid: use 10, 17, 20, 80 or 90"


class DuplicateLine(InvalidInput):
    """Two items repeat a product with the same quantity and price (400)."""

    message = (
        "Items[{index}] repeats the product {sku} with the same quantity and unit price as Items[{other}]; "
        "send one item with the total quantity"
    )


class AmbiguousSku(InvalidInput):
    """A SKU exists under several brands and no brand was sent (400)."""

    message = "Items[{index}]: SKU {sku} exists under several brands; send Product.Brand"


class MarketplaceNotOfAccount(InvalidInput):
    """MarketplaceId is not one of the account's marketplaces (400)."""

    message = "MarketplaceId {id} is not one of the account's marketplaces"


class DuplicateExternalOrderId(Conflict):
    """ExternalOrderId already identifies another order (409)."""

    message = (
        "ExternalOrderId {external} already identifies order {id} of this account with different content; "
        "ExternalOrderId must be unique"
    )


class DeletedExternalOrderId(Conflict):
    """ExternalOrderId belonged to a deleted order (409)."""

    message = "ExternalOrderId {external} belonged to order {id}, which was deleted; use another ExternalOrderId"


class PickupRequired(InvalidInput):
    """Shipping.Pickup is missing for a pick-up order (400)."""

    message = "Shipping.Pickup is required when the logistic type is pickup"


class CourierRequired(InvalidInput):
    """Shipping.CourierInfo is missing for a courier order (400)."""

    message = "Shipping.CourierInfo is required when the logistic type is courier"


class ReceiverAddressRequired(InvalidInput):
    """Shipping.ReceiverAddress is missing (400)."""

    message = "Shipping.ReceiverAddress is required (except for pick-up shipments)"


class BadLogisticType(InvalidInput):
    """Shipping.LogisticType is unknown (400)."""

    message = "Shipping.LogisticType '{value}' is not a known logistic type"


class BadCode(InvalidInput):
    """A code is not an integer from 0 to 2147483647 (400)."""

    message = "Invalid code {value}: codes are integers from 0 to 2147483647"


# Item status progress: the order is as advanced as its least advanced live item (cancelled lines aside).
_PROGRESS = (st.READY_TO_SHIP, st.ARRIVED, st.SHIPPED, st.DELIVERED)


def _ci_get(raw: Any, name: str) -> Any:
    return raw_field(raw, name)[1]


def check_create_limits(raw: dict[str, Any]) -> None:
    """The usage limits of POST /v2/orders (spec 21 §6.5), checked on the raw body before validation:
    413 with nothing processed over 50 items, 10 payments or 10 discounts per payment."""
    items = _ci_get(raw, "Items")
    if isinstance(items, list) and len(items) > MAX_CREATE_ITEMS:
        raise CreateLimitExceeded(
            CreateLimitExceeded.message.format(what="items", count=len(items), cap=MAX_CREATE_ITEMS)
        )
    payments = _ci_get(raw, "Payments")
    if isinstance(payments, list):
        if len(payments) > MAX_CREATE_PAYMENTS:
            raise CreateLimitExceeded(
                CreateLimitExceeded.message.format(what="payments", count=len(payments), cap=MAX_CREATE_PAYMENTS)
            )
        for payment in payments:
            discounts = _ci_get(payment, "Discounts")
            if isinstance(discounts, list) and len(discounts) > MAX_PAYMENT_DISCOUNTS:
                raise CreateLimitExceeded(
                    CreateLimitExceeded.message.format(
                        what="discounts in a payment", count=len(discounts), cap=MAX_PAYMENT_DISCOUNTS
                    )
                )


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k).lower(): _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def request_fingerprint(raw: dict[str, Any]) -> str:
    """SHA-256 of the body with property names lower-cased and sorted (a retry is byte-for-byte the same
    request, but a client may re-serialise it)."""
    return hashlib.sha256(orjson.dumps(_canonical(raw), option=orjson.OPT_SORT_KEYS)).hexdigest()


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


def _logistic_in(value: Any) -> int:
    if value is None:
        return ship.CUSTOM
    raw = value
    if not isinstance(value, (int, str)):
        raw = value.Key if value.Key not in (None, "") else value.Value
    code = ship.logistic_type_code(raw)
    if code is None and isinstance(raw, str):
        text = raw.strip().lower().replace(" ", "_").replace("-", "_")
        code = {"pick_up": ship.PICKUP, "pickup": ship.PICKUP}.get(text, ship.logistic_type_code(text))
    if code is None:
        raise BadLogisticType(BadLogisticType.message.format(value=raw))
    return code


@dataclass(slots=True)
class _CatalogMatch:
    product_id: int
    sku: str
    brand: str
    title: str
    ean: str | None
    product_type: int


def _find_products(session: Session, account_id: int, body: OrderInfoIn) -> list[_CatalogMatch | None]:
    skus = sorted({item.Product.Sku for item in body.Items})
    rows = session.execute(
        select(Product.id, Product.sku, Brand.name, Brand.id, Product.name, Product.gtin, Product.product_type)
        .join(Brand, Brand.id == Product.brand_id)
        .where(Product.account_id == account_id, Product.sku.in_(skus))
        .order_by(Product.id)
    ).all()
    by_sku: dict[str, list[Any]] = {}
    for row in rows:
        by_sku.setdefault(row[1], []).append(row)
    found: list[_CatalogMatch | None] = []
    for index, item in enumerate(body.Items):
        candidates = by_sku.get(item.Product.Sku, [])
        wanted = (item.Product.Brand or "").strip().lower()
        if wanted:
            candidates = [r for r in candidates if r[2].strip().lower() == wanted or str(r[3]) == wanted]
        if len(candidates) > 1:
            raise AmbiguousSku(AmbiguousSku.message.format(index=index, sku=item.Product.Sku))
        row = candidates[0] if candidates else None
        found.append(_CatalogMatch(row[0], row[1], row[2], row[4], row[5], row[6]) if row else None)
    return found


def _order_status_of(statuses: Sequence[int]) -> int:
    live = [s for s in statuses if s != st.CANCELLED]
    if not live:
        return st.CANCELLED
    return min(live, key=_PROGRESS.index)


def _address_out(address: Any) -> dict[str, Any] | None:
    return address.model_dump() if address is not None else None


CENT = Decimal("0.01")


def _shipping_amounts(
    given: Sequence[Decimal | None], cost: Decimal | None, receiver: Decimal | None, sender: Decimal | None
) -> tuple[list[Decimal], Decimal, Decimal, Decimal]:
    """The shipping numbers of a created order with what the client left out derived from what it sent:
    ``(ShippingAmount of each payment, Cost, ReceiverCost, SenderCost)``.

    What the buyer paid for shipping is both ``Shipping.ReceiverCost`` and the sum of the payments'
    ``ShippingAmount`` (spec 20 §1.5 rule 6); the seller's part is what the buyer did not pay of the cost; the
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


def _created_detail(
    session: Session,
    account_id: int,
    marketplace: Marketplace,
    body: OrderInfoIn,
    matches: Sequence[_CatalogMatch | None],
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
        # goods, and the instalments equal parts (spec 20 §2.6: Amount - TransactionAmount - shipping).
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


def _existing_creation(session: Session, account_id: int, external: str, fingerprint: str) -> tuple[int, bool] | None:
    """``(order id, same request)`` of an order already holding ``external`` in the account, or None.
    A deleted order, or another order (marketplace, B2B) with that number, is a 409."""
    # One statement, so one snapshot: an order and its creation row always appear together.
    rows = session.execute(
        select(Order.id, OrderCreation.order_id, OrderCreation.request_sha256, OrderCreation.deleted_at)
        .outerjoin(OrderCreation, OrderCreation.order_id == Order.id)
        .where(Order.account_id == account_id, Order.external_order_id == external)
        .order_by(OrderCreation.order_id.is_(None), Order.id)
    ).all()
    if not rows:
        return None
    order_id, created_id, sha, deleted_at = rows[0]
    if created_id is None:
        raise DuplicateExternalOrderId(DuplicateExternalOrderId.message.format(external=external, id=order_id))
    if deleted_at is not None:
        raise DeletedExternalOrderId(DeletedExternalOrderId.message.format(external=external, id=order_id))
    if sha != fingerprint:
        raise DuplicateExternalOrderId(DuplicateExternalOrderId.message.format(external=external, id=order_id))
    return order_id, True


def create_order(
    session: Session,
    account_id: int,
    actor: str,
    body: OrderInfoIn,
    raw: dict[str, Any],
    tz: Any,
) -> tuple[dict[str, Any], bool]:
    """Create one order (spec 21 §6): ``(order as GET shows it, created)``. The same request again (same
    ``ExternalOrderId`` and content) returns the existing order and changes nothing; stock moves of every
    item happen in the order's transaction.
    No commit: the caller owns the transaction."""
    fingerprint = request_fingerprint(raw)
    external = body.ExternalOrderId
    existing = _existing_creation(session, account_id, external, fingerprint)
    if existing is not None:
        session.rollback()
        return render_one(session, account_id, existing[0]), False
    marketplace = session.get(Marketplace, body.MarketplaceId)
    connected = session.scalar(
        select(AccountMarketplace.marketplace_id).where(
            AccountMarketplace.account_id == account_id, AccountMarketplace.marketplace_id == body.MarketplaceId
        )
    )
    if marketplace is None or connected is None:
        raise MarketplaceNotOfAccount(MarketplaceNotOfAccount.message.format(id=body.MarketplaceId))
    sale_date = parse_date_field(body.DateCreated, tz, "DateCreated")
    assert sale_date is not None
    logistic = _logistic_in(body.Shipping.LogisticType)
    if logistic == ship.PICKUP and body.Shipping.Pickup is None:
        raise PickupRequired()
    if logistic == ship.COURIER and body.Shipping.CourierInfo is None:
        raise CourierRequired()
    if logistic != ship.PICKUP and body.Shipping.ReceiverAddress is None:
        raise ReceiverAddressRequired()
    seen: dict[tuple[str, str, int, Decimal], int] = {}
    for index, item in enumerate(body.Items):
        if item.Status not in ITEM_STATUSES:
            raise BadItemStatus(BadItemStatus.message.format(index=index, status=item.Status))
        key = (item.Product.Sku, (item.Product.Brand or "").lower(), item.Quantity, item.UnitPrice)
        if key in seen:
            raise DuplicateLine(DuplicateLine.message.format(index=index, sku=item.Product.Sku, other=seen[key]))
        seen[key] = index
    matches = _find_products(session, account_id, body)
    status = _order_status_of([item.Status for item in body.Items])
    # Stock: one movement per item that asks for it (live lines of catalogue products), in ascending product
    # id order so two orders never wait on each other in a cycle; clamped at 0, the units actually taken kept.
    now = clock.utcnow()
    moves: list[dict[str, Any]] = []
    movements: dict[int, dict[str, Any]] = {}
    wanted = [
        (match.product_id, index)
        for index, (item, match) in enumerate(zip(body.Items, matches, strict=True))
        if match is not None and item.StockMovement and item.Status != st.CANCELLED
    ]
    for product_id, index in sorted(wanted):
        quantity = body.Items[index].Quantity
        moved = products.move_stock_detailed(session, account_id, product_id, -quantity)
        taken = quantity - moved.shortfall
        moves.append({"product_id": product_id, "item": index + 1, "requested": quantity, "moved": taken})
        movements[index] = {
            "Account": {"Id": account_id},
            "PrevStock": moved.quantity + taken,
            "PostStock": moved.quantity,
            "Quantity": -taken,
            "DateCreated": now,
        }
    detail = _created_detail(session, account_id, marketplace, body, matches, movements, sale_date, tz)
    shipment = ship.SHIPMENT_FOR_ORDER_STATUS.get(status) or (
        (ship.PENDING, None) if logistic in (ship.PICKUP, ship.TO_BE_AGREED) else (ship.READY_TO_SHIP, None)
    )
    try:
        order = ingest_order(
            session,
            NewOrder(
                account_id=account_id,
                marketplace_id=marketplace.id,
                external_order_id=external,
                detail=OrderDetail.model_validate(detail),
                status=status,
                sale_date=sale_date,
                origin=ORIGIN_API,
                logistic_type=logistic,
                shipment_status=shipment[0],
                shipment_substatus=shipment[1],
                integrated=body.Integrated,
                erp_status=body.ErpStatus,
                created_at=now,
                status_date=now,
                stock_moved=any(m["moved"] for m in moves),
            ),
        )
        session.add(
            OrderCreation(
                order_id=order.id,
                account_id=account_id,
                external_order_id=external,
                request_sha256=fingerprint,
                stock_moves=moves,
                created_at=now,
            )
        )
        session.flush()
    except IntegrityError:
        # A concurrent request with this ExternalOrderId committed first (PostgreSQL; SQLite serialises
        # writers): everything here rolls back, stock movements included, and the answer is the repeat's.
        session.rollback()
        existing = _existing_creation(session, account_id, external, fingerprint)
        if existing is None:
            raise
        session.rollback()
        return render_one(session, account_id, existing[0]), False
    session.execute(
        insert(OrderHistory),
        [
            history_row(
                order,
                actor,
                "create",
                now,
                to_status=status,
                integrated=order.integrated,
                erp_status=order.erp_status,
            )
        ],
    )
    return render_one(session, account_id, order.id), True
