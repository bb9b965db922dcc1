"""POST /v2/orders (CF-21.6): the usage limits, the idempotent retry (same ``ExternalOrderId`` and content),
the order's detail built from ``OrderInfo``, catalogue matching and stock movements in the order's transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alephee import clock
from alephee.accounts.models import AccountMarketplace
from alephee.errors import Conflict, InvalidInput, PayloadTooLarge
from alephee.http.body import raw_field
from alephee.marketplaces.models import Marketplace
from alephee.orders import detail_parts as parts
from alephee.orders import shipping_rules as ship
from alephee.orders import statuses as st
from alephee.orders.access import parse_date_field
from alephee.orders.detail import CatalogMatch, created_detail
from alephee.orders.ingest import NewOrder, ingest_order
from alephee.orders.models import ORIGIN_API, Order, OrderCreation, history_row, insert_history
from alephee.orders.query import render_one
from alephee.orders.schemas import OrderDetail, OrderInfoIn
from alephee.products import stock as products
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


# Item status progress: the order is as advanced as its least advanced live item (cancelled lines aside).
_PROGRESS = (st.READY_TO_SHIP, st.ARRIVED, st.SHIPPED, st.DELIVERED)


def _ci_get(raw: Any, name: str) -> Any:
    return raw_field(raw, name)[1]


def check_create_limits(raw: dict[str, Any]) -> None:
    """The usage limits of POST /v2/orders (CF-21.6.5), checked on the raw body before validation:
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


def _find_products(session: Session, account_id: int, body: OrderInfoIn) -> list[CatalogMatch | None]:
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
    found: list[CatalogMatch | None] = []
    for index, item in enumerate(body.Items):
        candidates = by_sku.get(item.Product.Sku, [])
        wanted = (item.Product.Brand or "").strip().lower()
        if wanted:
            candidates = [r for r in candidates if r[2].strip().lower() == wanted or str(r[3]) == wanted]
        if len(candidates) > 1:
            raise AmbiguousSku(AmbiguousSku.message.format(index=index, sku=item.Product.Sku))
        row = candidates[0] if candidates else None
        found.append(CatalogMatch(row[0], row[1], row[2], row[4], row[5], row[6]) if row else None)
    return found


def _order_status_of(statuses: Sequence[int]) -> int:
    live = [s for s in statuses if s != st.CANCELLED]
    if not live:
        return st.CANCELLED
    return min(live, key=_PROGRESS.index)


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
    """Create one order (CF-21.6): ``(order as GET shows it, created)``. The same request again (same
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
        movements[index] = parts.stock_movement({"Id": account_id}, moved.quantity + taken, moved.quantity, -taken, now)
    detail = created_detail(session, account_id, marketplace, body, matches, movements, sale_date, tz)
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
    insert_history(
        session,
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
