"""The marketplace's words in the hub's terms: a channel's order (``ChannelOrder``) translated into the hub's
order values (status, payment flags, the ``OrderDetail`` of a new order, the ``MarketplaceNews`` of a known one).

Pure: no session, no I/O. The lines of a sale arrive already resolved against the catalog (``SaleLine``, by
``sync.order_feed``), so every rule here is a function of its arguments and is unit-tested as a table.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from alephee.accounts.models import Account
from alephee.http.numbers import to_int
from alephee.http.params import MAX_INT64
from alephee.listings.models import Listing
from alephee.listings.schemas import LISTING_TYPES
from alephee.marketplaces.contract import ChannelOrder, ChannelPayment
from alephee.marketplaces.models import Marketplace
from alephee.orders import detail_parts as parts
from alephee.orders import shipping_rules as ship
from alephee.orders import statuses as st
from alephee.orders.marketplace_news import MarketplaceNews
from alephee.orders.schemas import OrderDetail, PaymentOut
from alephee.products import stock as products
from alephee.products.models import Product
from alephee.products.schemas import KIT

# Payment status and method codes (``Payments[].Status`` / ``.Method`` keys; not documented: ours, the same
# numbers as the demo orders).
PAYMENT_STATUSES: dict[str, int] = {
    "approved": 1,
    "pending": 2,
    "in_process": 3,
    "rejected": 4,
    "cancelled": 5,
    "refunded": 6,
    "in_mediation": 7,
    "charged_back": 8,
}
PAYMENT_METHODS: dict[str, int] = {
    "credit_card": 1,
    "debit_card": 2,
    "account_money": 3,
    "ticket": 4,
    "bank_transfer": 5,
}
# Payments whose money the marketplace obtained at some point: the order is not "pending payment".
PAID = frozenset({"approved", "accredited", "refunded", "in_mediation", "charged_back"})
CANCELLED_ORDER_STATUSES = frozenset({"cancelled", "invalid"})

# --- the marketplace's words in the hub's terms -----------------------------------------------------------


def hub_status(order: ChannelOrder) -> int:
    """The hub status (CF-21.8.1) of a marketplace order's state."""
    if order.fraud:
        return st.FRAUDULENT
    if order.status in CANCELLED_ORDER_STATUSES:
        return st.CANCELLED_AFTER_DELIVERY if order.shipping_status == ship.DELIVERED else st.CANCELLED
    shipment = order.shipping_status
    if shipment == ship.DELIVERED:
        return st.DELIVERED
    if shipment == ship.SHIPPED:
        return st.SHIPPED
    if shipment == ship.NOT_DELIVERED:
        return st.RECIPIENT_NOT_FOUND
    if shipment == ship.CANCELLED:
        return st.CANCELLED
    if shipment == ship.READY_TO_SHIP and order.shipping_substatus in (ship.SUB_DROPPED_OFF, ship.SUB_PICKED_UP):
        return st.ARRIVED
    return st.READY_TO_SHIP


def payment_pending(order: ChannelOrder) -> bool:
    """No payment of the order was ever approved (CF-20.1.4: hidden unless includePendingPayments)."""
    return bool(order.payments) and not any(p.status in PAID for p in order.payments)


def shipping_id(value: str | None) -> int | None:
    number = to_int(value) if value is not None else None
    return number if number is not None and 0 <= number <= MAX_INT64 else None


def payment_json(payment: ChannelPayment, order: ChannelOrder) -> dict[str, Any]:
    """A channel payment as ``Payments[]`` stores it (wire shape, JSON values)."""
    total = payment.amount
    installments = payment.installments or 1
    discounts = [
        {"Amount": amount, "Value": amount, "Type": "coupon" if code else "discount", "Code": code}
        for code, amount in payment.discounts
    ]
    out = parts.payment(
        external_id=payment.external_payment_id,
        amount=total,
        amount_no_discount=total + sum((amount for _code, amount in payment.discounts), Decimal(0)),
        shipping_amount=payment.shipping_amount or Decimal(0),
        discounts=discounts,
        transaction_amount=total,
        installments=installments,
        method=parts.key_value(PAYMENT_METHODS.get(payment.method or "", 0), payment.method),
        status=parts.key_value(PAYMENT_STATUSES.get(payment.status, 0), payment.status),
        condition=parts.payment_condition(installments),
        authorization_code="",
        date_created=payment.date_created or order.date_created,
        date_approved=payment.date_approved,
        last_update=payment.date_approved or payment.date_created or order.date_created,
    )
    return PaymentOut.model_validate(out).model_dump(mode="json")


def claims_json(order: ChannelOrder) -> list[dict[str, Any]]:
    claim = order.raw.get("claim") if order.claim else None
    if not isinstance(claim, dict):
        return []
    claim_id = shipping_id(str(claim.get("id") or ""))
    return [{"ExternalClaimId": claim_id, "DateCreated": claim.get("date_created")}]


def news_of(order: ChannelOrder) -> MarketplaceNews:
    """What a feed entry says about a known order, in the orders domain's terms."""
    return MarketplaceNews(
        status=hub_status(order),
        shipment_status=order.shipping_status,
        shipment_substatus=order.shipping_substatus,
        payment_pending=payment_pending(order),
        payments=tuple(payment_json(p, order) for p in order.payments),
        claims=tuple(claims_json(order)),
        pack_id=order.pack_id,
        pack_size=order.pack_size,
        external_shipping_id=shipping_id(order.external_shipping_id),
    )


@dataclass
class SaleLine:
    """One item of a channel order resolved against the catalog."""

    external_listing_id: str
    quantity: int
    unit_price: Decimal
    full_unit_price: Decimal | None
    title: str | None
    sku: str | None
    listing: Listing | None = None
    product: Product | None = None
    brand: str | None = None
    # What the sale takes stock from: the product, or the variation chosen for a master's listing.
    stock_product_id: int | None = None
    components: list[tuple[Product, str, int]] = field(default_factory=list)


def _product_json(
    product: Product | None, brand: str | None, line: SaleLine, listing: Listing | None
) -> dict[str, Any]:
    category = None
    if listing is not None and listing.category_id:
        category = parts.key_value(listing.category_id, listing.category_name)
    if product is None:
        # A listing the hub does not know: the product is "disconnected" from the catalog.
        return parts.product(None, line.sku, title=line.title)
    return parts.product(
        product.id,
        product.sku,
        brand=brand,
        seller_sku=product.own_code,
        ean=product.gtin,
        title=product.name,
        category=category,
    )


def _listing_json(line: SaleLine) -> dict[str, Any]:
    listing = line.listing
    if listing is None:
        return {"Id": None, "ExternalId": line.external_listing_id, "Title": line.title}
    listing_type = None
    if listing.listing_type in LISTING_TYPES:
        name, description = LISTING_TYPES[listing.listing_type]
        listing_type = {"Key": listing.listing_type, "Value": name, "Description": description}
    return {
        "Reference": None,
        "Id": listing.id,
        "ExternalId": listing.external_id,
        "Title": listing.title,
        "ListingType": listing_type,
        "PermanentLink": listing.permanent_link,
    }


def order_detail(
    account: Account,
    marketplace: Marketplace,
    order: ChannelOrder,
    lines: Sequence[SaleLine],
    status: int,
    moves: dict[int, products.StockMove],
    now: datetime,
) -> OrderDetail:
    """The ``OrderDetail`` of a new marketplace order: its lines (kits with their components, the stock each
    line moved), payments, shipping address, buyer and fees, as the orders domain stores it."""
    status_kv = parts.order_status(status)
    type_kv = parts.order_status_type(status)
    items: list[dict[str, Any]] = []
    fee_rate = parts.fee_rate(marketplace.family)
    goods = Decimal(0)
    for line in lines:
        goods += line.unit_price * line.quantity
        movements = []
        moved = moves.get(line.stock_product_id or 0)
        if moved is not None and line.product is not None and line.product.product_type != KIT:
            movements.append(
                parts.stock_movement(
                    {"Id": account.id, "OwnCode": account.own_code, "Name": account.name},
                    moved.quantity + line.quantity - moved.shortfall,
                    moved.quantity,
                    -line.quantity,
                    now,
                    min_publication=line.product.min_publication_quantity,
                    max_publication=line.product.max_publication_quantity,
                )
            )
        kit = parts.item(
            len(items) + 1,
            parts.ITEM_KIT if line.components else parts.ITEM_NORMAL,
            _product_json(line.product, line.brand, line, line.listing),
            line.quantity,
            status=status_kv,
            status_type=type_kv,
            listing=_listing_json(line),
            unit_price=line.unit_price,
            full_unit_price=line.full_unit_price or line.unit_price,
            sale_fee=parts.sale_fee(line.unit_price * line.quantity, fee_rate),
            movements=movements,
        )
        items.append(kit)
        total_units = sum(units for _, _, units in line.components) or 1
        full_price = line.full_unit_price or line.unit_price
        components = [
            parts.Component(
                _product_json(component, brand, line, None),
                units,
                (line.unit_price * units / total_units / units).quantize(parts.CENT),
                (full_price * units / total_units / units).quantize(parts.CENT),
            )
            for component, brand, units in line.components
        ]
        items.extend(parts.kit_components(kit, components, with_details=False))
    buyer = order.buyer or {}
    address = order.shipping_address or {}
    name = " ".join(str(buyer.get(k) or "") for k in ("first_name", "last_name")).strip() or buyer.get("nickname")
    wire_address = {
        "CountryId": address.get("country_id"),
        "StateCode": address.get("state_code"),
        "State": address.get("state"),
        "City": address.get("city"),
        "Neighborhood": address.get("neighborhood"),
        "StreetName": address.get("street_name") or address.get("street"),
        "StreetNumber": address.get("street_number"),
        "ZipCode": address.get("zip_code"),
        "Notes": address.get("comment"),
        "Description": address.get("street"),
        "Phone": address.get("receiver_phone") or buyer.get("phone"),
    }
    buyer_id = buyer.get("id")
    data = parts.order_document(
        parts.order_parties(account, marketplace),
        items=items,
        payments=[payment_json(p, order) for p in order.payments],
        shipping=parts.shipping(
            cost=(order.shipping_cost or Decimal(0)) + (order.seller_shipping_cost or Decimal(0)),
            receiver_cost=order.shipping_cost or Decimal(0),
            sender_cost=order.seller_shipping_cost or Decimal(0),
            receiver_address=wire_address,
            receiver=parts.receiver(address.get("receiver_name") or name, wire_address["Phone"]),
            date_created=order.date_created,
        ),
        buyer=parts.buyer(
            code=buyer_id if isinstance(buyer_id, int) and not isinstance(buyer_id, bool) else None,
            name=name,
            phone=buyer.get("phone"),
            email=buyer.get("email"),
            doc_type=buyer.get("doc_type"),
            doc_number=buyer.get("doc_number"),
            nickname=buyer.get("nickname"),
            address=wire_address,
            billing=parts.billing_info(
                doc_type=buyer.get("doc_type"),
                doc_number=buyer.get("doc_number"),
                business_name=name,
                address=wire_address,
            ),
        ),
        billing=parts.billing(parts.sale_fee(goods, fee_rate), invoice=None),
        claims=claims_json(order),
        external={
            "id": order.external_order_id,
            "status": order.status,
            "pack_id": order.pack_id,
            "shipping": {
                "id": order.external_shipping_id,
                "logistic_type": order.logistic_type,
                **({"option": order.shipping_option} if order.shipping_option else {}),
            },
            "tags": ["fraud_risk_detected"] if order.fraud else [],
        },
    )
    return OrderDetail.model_validate(data)
