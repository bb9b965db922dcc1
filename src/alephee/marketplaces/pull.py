"""Pulling orders from the marketplaces into the hub: one step of every worker round.

For every account connected to a marketplace that has a connector, the worker reads the channel's order feed
(``Channel.pull_orders``) after the cursor stored in ``pull_cursors`` and applies each entry to the hub:

* **a new order** is stored through the orders domain (``orders.service.ingest_order``; its cart's
  ``IsCompletePackOrder`` is recomputed there). Unless it arrives already cancelled, the stock of what was
  sold is decremented atomically through ``products.stock.move_stocks`` (kits move their components, a
  variation master listing sells its variation with the most stock), which makes the listings follow
  (quantity pushed to the marketplaces, paused at MinPublicationQuantity) through the products→listings hook.
  The order remembers it moved stock (``stock_moved``), so it is done once per order.
* **a known order** gets the marketplace's news: the entry is translated into an
  ``orders.marketplace_news.MarketplaceNews`` (hub status, shipment, payments, claims, cart) and the orders
  domain applies it (``apply_marketplace_news``: status only along the transition table, shipment never
  backwards, stock given back once on cancellation, history rows with actor ``marketplace``, webhook
  events). Marketplace-side news moves ``status_date``, so the late-cancellation query
  (``statusType=99&statusDateFrom``) finds an integrated order cancelled later. Nothing is queued back to the
  marketplace.

Applying an entry is idempotent: an entry pulled twice finds the order already in that state and changes
nothing. One page is applied in one transaction together with the cursor move; the cursor row is locked
meanwhile (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so two workers never
pull the same feed at once. An entry that cannot be applied (bad data) is skipped and recorded on the cursor
(``skipped``, ``last_error``) instead of blocking the feed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from alephee import clock
from alephee.accounts.models import Account, AccountMarketplace
from alephee.config import Settings
from alephee.db import Database
from alephee.errors import DomainError
from alephee.http.numbers import to_int
from alephee.http.params import MAX_INT64
from alephee.listings.models import Listing
from alephee.listings.publish import add_sold_quantity
from alephee.listings.schemas import LISTING_TYPES
from alephee.marketplaces.channels import (
    Channel,
    ChannelContext,
    ChannelOrder,
    ChannelPayment,
    DeliveryError,
    MarketplaceRef,
    OrderPage,
    get_channel,
    has_channel,
)
from alephee.marketplaces.models import Marketplace, PullCursor
from alephee.orders import service as orders
from alephee.orders import shipping_rules as ship
from alephee.orders import statuses as st
from alephee.orders.marketplace_news import ACTOR, MarketplaceNews, apply_marketplace_news
from alephee.orders.models import ORIGIN_MARKETPLACE, Order, OrderHistory, history_row
from alephee.orders.schemas import OrderDetail
from alephee.products import stock as products
from alephee.products.models import Brand, KitComponent, Product
from alephee.products.schemas import KIT, VARIATION_MASTER

log = logging.getLogger("alephee.pull")

PAGE_SIZE = 100
MAX_PAGES_PER_ROUND = 10
MAX_ERROR_LENGTH = 2000
ERR_NOT_MARKETPLACE_ORDER = "the hub's order {id} with this number was created by {origin}, not by the marketplace"

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
    """The hub status (spec 21 §8.1) of a marketplace order's state."""
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
    """No payment of the order was ever approved (spec 20 §1.4: hidden unless includePendingPayments)."""
    return bool(order.payments) and not any(p.status in PAID for p in order.payments)


def _shipping_id(value: str | None) -> int | None:
    number = to_int(value) if value is not None else None
    return number if number is not None and 0 <= number <= MAX_INT64 else None


def _payment_json(payment: ChannelPayment, order: ChannelOrder) -> dict[str, Any]:
    """A channel payment as ``Payments[]`` stores it (wire shape, JSON values)."""
    total = payment.amount
    installments = payment.installments or 1
    out = {
        "ExternalPaymentId": payment.external_payment_id,
        "Amount": total,
        "AmountNoDiscount": total,
        "ShippingAmount": Decimal(0),
        "ShippingAmountNoDiscount": Decimal(0),
        "TransactionAmount": total,
        "Total": total,
        "SubTotal": total,
        "Installments": installments,
        "InstallmentAmount": (total / installments).quantize(Decimal("0.01")),
        "Notes": "",
        "CurrencySymbol": "$",
        "Method": {"Key": PAYMENT_METHODS.get(payment.method or "", 0), "Value": payment.method},
        "Status": {"Key": PAYMENT_STATUSES.get(payment.status, 0), "Value": payment.status},
        "Condition": {"Key": 1, "Value": "Contado" if installments == 1 else "Cuotas"},
        "Discounts": [],
        "Taxes": None,
        "AuthorizationCode": "",
        "DateCreated": payment.date_created or order.date_created,
        "DateApproved": payment.date_approved,
        "LastUpdate": payment.date_approved or payment.date_created or order.date_created,
    }
    from alephee.orders.schemas import PaymentOut

    return PaymentOut.model_validate(out).model_dump(mode="json")


def _claims(order: ChannelOrder) -> list[dict[str, Any]]:
    claim = order.raw.get("claim") if order.claim else None
    if not isinstance(claim, dict):
        return []
    claim_id = _shipping_id(str(claim.get("id") or ""))
    return [{"ExternalClaimId": claim_id, "DateCreated": claim.get("date_created")}]


def news_of(order: ChannelOrder) -> MarketplaceNews:
    """What a feed entry says about a known order, in the orders domain's terms."""
    return MarketplaceNews(
        status=hub_status(order),
        shipment_status=order.shipping_status,
        shipment_substatus=order.shipping_substatus,
        payment_pending=payment_pending(order),
        payments=tuple(_payment_json(p, order) for p in order.payments),
        claims=tuple(_claims(order)),
        pack_id=order.pack_id,
        pack_size=order.pack_size,
        external_shipping_id=_shipping_id(order.external_shipping_id),
    )


# --- one feed entry ----------------------------------------------------------------------------------------


@dataclass
class _Line:
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


def _resolve_lines(session: Session, account_id: int, marketplace_id: int, order: ChannelOrder) -> list[_Line]:
    externals = sorted({i.external_listing_id for i in order.items})
    listings = {
        x.external_id: x
        for x in session.scalars(
            select(Listing).where(
                Listing.account_id == account_id,
                Listing.marketplace_id == marketplace_id,
                Listing.external_id.in_(externals),
            )
        )
    }
    lines: list[_Line] = []
    for item in order.items:
        if item.quantity <= 0:
            raise ValueError(f"item {item.external_listing_id} has quantity {item.quantity}")
        line = _Line(
            external_listing_id=item.external_listing_id,
            quantity=item.quantity,
            unit_price=item.unit_price,
            full_unit_price=item.full_unit_price,
            title=item.title,
            sku=item.sku,
            listing=listings.get(item.external_listing_id),
        )
        if line.listing is not None:
            _attach_product(session, account_id, line, line.listing.product_id)
        lines.append(line)
    return lines


def _attach_product(session: Session, account_id: int, line: _Line, product_id: int) -> None:
    row = session.execute(
        select(Product, Brand.name)
        .join(Brand, Brand.id == Product.brand_id)
        .where(Product.id == product_id, Product.account_id == account_id)
    ).first()
    if row is None:
        return
    product, brand = row
    if product.product_type == VARIATION_MASTER:
        # The buyer picked a variation the listing does not name: the one with the most stock.
        child = session.execute(
            select(Product, Brand.name)
            .join(Brand, Brand.id == Product.brand_id)
            .where(Product.parent_id == product.id, Product.account_id == account_id)
            .order_by(Product.quantity.desc(), Product.id)
            .limit(1)
        ).first()
        if child is None:
            line.product, line.brand = product, brand
            return
        product, brand = child
    line.product, line.brand, line.stock_product_id = product, brand, product.id
    if product.product_type == KIT:
        rows = session.execute(
            select(Product, Brand.name, KitComponent.quantity)
            .join(KitComponent, KitComponent.component_id == Product.id)
            .join(Brand, Brand.id == Product.brand_id)
            .where(KitComponent.kit_id == product.id)
            .order_by(Product.id)
        ).all()
        line.components = [(p, b, units) for p, b, units in rows]


def _product_json(product: Product | None, brand: str | None, line: _Line, listing: Listing | None) -> dict[str, Any]:
    category = None
    if listing is not None and listing.category_id:
        category = {"Key": listing.category_id, "Value": listing.category_name}
    if product is None:
        # A listing the hub does not know: the product is "disconnected" from the catalog.
        return {"Id": None, "Sku": line.sku, "Title": line.title, "Brand": None}
    return {
        "Id": product.id,
        "Sku": product.sku,
        "Brand": brand,
        "SellerSku": product.own_code,
        "EAN": product.gtin,
        "Attributes": None,
        "Title": product.name,
        "IntegrationCode": None,
        "Category": category,
    }


def _listing_json(line: _Line) -> dict[str, Any]:
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


def _detail(
    session: Session,
    account: Account,
    marketplace: Marketplace,
    order: ChannelOrder,
    lines: Sequence[_Line],
    status: int,
    moves: dict[int, products.StockMove],
    now: datetime,
) -> OrderDetail:
    status_kv = {"Key": status, "Value": st.STATUS_LABELS[status]}
    type_code = st.status_type_of(status) or 0
    type_kv = {"Key": type_code, "Value": st.STATUS_TYPE_LABELS.get(type_code)}
    items: list[dict[str, Any]] = []
    fee_rate = Decimal("0.13") if marketplace.family == "mercadolibre" else Decimal("0.08")
    goods = Decimal(0)
    for line in lines:
        local_id = len(items) + 1
        goods += line.unit_price * line.quantity
        movements = []
        moved = moves.get(line.stock_product_id or 0)
        if moved is not None and line.product is not None and line.product.product_type != KIT:
            movements.append(
                {
                    "Account": {"Id": account.id, "OwnCode": account.own_code, "Name": account.name},
                    "PrevStock": moved.quantity + line.quantity - moved.shortfall,
                    "PostStock": moved.quantity,
                    "Quantity": -line.quantity,
                    "MinPublicationQuantity": line.product.min_publication_quantity,
                    "MaxPublicationQuantity": line.product.max_publication_quantity,
                    "DateCreated": now,
                }
            )
        kit = bool(line.components)
        items.append(
            {
                "Id": local_id,
                "Type": {
                    "Key": orders.ITEM_KIT if kit else orders.ITEM_NORMAL,
                    "Value": orders.ITEM_TYPES[orders.ITEM_KIT if kit else orders.ITEM_NORMAL],
                },
                "ParentItemId": None,
                "Product": _product_json(line.product, line.brand, line, line.listing),
                "ProductListing": _listing_json(line),
                "Quantity": line.quantity,
                "QuantitiesDetails": {
                    "Requested": {"Key": "unidades", "Value": Decimal(line.quantity)},
                    "Picked": {"Key": "unidades", "Value": Decimal(0)},
                    "StockMovements": movements,
                },
                "UnitPrice": line.unit_price,
                "FullUnitPrice": line.full_unit_price or line.unit_price,
                "UnitPriceCost": None,
                "SaleFee": (line.unit_price * line.quantity * fee_rate).quantize(Decimal("0.01")),
                "Notes": "",
                "Status": status_kv,
                "StatusType": type_kv,
                "IsCancelled": False,
            }
        )
        total_units = sum(units for _, _, units in line.components) or 1
        full_price = line.full_unit_price or line.unit_price
        for component, brand, units in line.components:
            share = (line.unit_price * units / total_units / units).quantize(Decimal("0.01"))
            full_share = (full_price * units / total_units / units).quantize(Decimal("0.01"))
            items.append(
                {
                    "Id": len(items) + 1,
                    "Type": {"Key": orders.ITEM_COMPONENT, "Value": orders.ITEM_TYPES[orders.ITEM_COMPONENT]},
                    "ParentItemId": local_id,
                    "Product": _product_json(component, brand, line, None),
                    "ProductListing": None,
                    "Quantity": units * line.quantity,
                    # No price of its own (the kit is what was sold): 0, the kit's price prorated below.
                    "UnitPrice": Decimal(0),
                    "FullUnitPrice": Decimal(0),
                    "CalculatedComponentUnitPrice": share,
                    "CalculatedComponentFullUnitPrice": full_share,
                    "Status": status_kv,
                    "StatusType": type_kv,
                    "IsCancelled": False,
                }
            )
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
    data = {
        **orders.order_parties(account, marketplace),
        "Items": items,
        "Payments": [_payment_json(p, order) for p in order.payments],
        "Adjustments": [],
        "Shipping": {
            "Cost": Decimal(0),
            "ReceiverCost": Decimal(0),
            "SenderCost": Decimal(0),
            "CourierInfo": None,
            "Pickup": None,
            "ReceiverAddress": wire_address,
            "Receiver": {"Name": address.get("receiver_name") or name, "Phone": wire_address["Phone"]},
            "EstimatedDeliveryDate": None,
            "DateCreated": order.date_created,
        },
        "Buyer": {
            "Code": buyer_id if isinstance(buyer_id, int) and not isinstance(buyer_id, bool) else None,
            "Owncode": None,
            "Name": name,
            "Phone": buyer.get("phone"),
            "Email": buyer.get("email"),
            "DocType": buyer.get("doc_type"),
            "DocNumber": buyer.get("doc_number"),
            "Nickname": buyer.get("nickname"),
            "Address": wire_address,
            "BillingInfo": {
                "DocType": buyer.get("doc_type"),
                "DocNumber": buyer.get("doc_number"),
                "BusinessName": name,
                "Address": wire_address,
            },
        },
        "Billing": {"SaleFee": (goods * fee_rate).quantize(Decimal("0.01")), "Invoice": None},
        "ActiveClaims": _claims(order),
        "ExternalJson": {
            "id": order.external_order_id,
            "status": order.status,
            "pack_id": order.pack_id,
            "shipping": {"id": order.external_shipping_id, "logistic_type": order.logistic_type},
            "tags": ["fraud_risk_detected"] if order.fraud else [],
        },
        "Notes": "",
    }
    return OrderDetail.model_validate(data)


class OrderSync:
    """Applies feed entries of one (account, marketplace) inside the caller's transaction."""

    def __init__(self, session: Session, account_id: int, marketplace: MarketplaceRef) -> None:
        self.session = session
        self.account_id = account_id
        self.ref = marketplace
        self._account: Account | None = None
        self._marketplace: Marketplace | None = None

    @property
    def account(self) -> Account:
        if self._account is None:
            self._account = self.session.get(Account, self.account_id)
            if self._account is None:
                raise ValueError(f"account {self.account_id} does not exist")
        return self._account

    @property
    def marketplace(self) -> Marketplace:
        if self._marketplace is None:
            self._marketplace = self.session.get(Marketplace, self.ref.id)
            if self._marketplace is None:
                raise ValueError(f"marketplace {self.ref.id} does not exist")
        return self._marketplace

    def apply(self, entry: ChannelOrder) -> str:
        """Create or update the hub order of ``entry``: ``created``, ``updated`` or ``unchanged``."""
        query = select(Order).where(
            Order.account_id == self.account_id,
            Order.external_order_id == entry.external_order_id,
            Order.marketplace_id == self.ref.id,
        )
        if self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        order = self.session.scalar(query.execution_options(populate_existing=True))
        if order is None:
            self.create(entry)
            return "created"
        if order.origin != ORIGIN_MARKETPLACE:
            # An order the hub created (POST /v2/orders, B2B portal) under the same number: not this sale.
            raise ValueError(ERR_NOT_MARKETPLACE_ORDER.format(origin=order.origin, id=order.id))
        return "updated" if self.update(order, entry) else "unchanged"

    # --- a new order

    def create(self, entry: ChannelOrder) -> Order:
        now = clock.utcnow()
        status = hub_status(entry)
        lines = _resolve_lines(self.session, self.account_id, self.ref.id, entry)
        moves: dict[int, products.StockMove] = {}
        moved = not st.is_cancelled(status)
        if moved:
            deltas: dict[int, int] = {}
            for line in lines:
                if line.stock_product_id is not None:
                    deltas[line.stock_product_id] = deltas.get(line.stock_product_id, 0) - line.quantity
            # Atomic decrements (ascending ids); the listings follow through the products hook.
            moves = products.move_stocks(self.session, self.account_id, deltas)
            for line in lines:
                if line.listing is not None:
                    add_sold_quantity(self.session, line.listing.id, line.quantity)
        detail = _detail(self.session, self.account, self.marketplace, entry, lines, status, moves, now)
        logistic = ship.logistic_type_code(entry.logistic_type)
        new = orders.NewOrder(
            account_id=self.account_id,
            marketplace_id=self.ref.id,
            external_order_id=entry.external_order_id,
            detail=detail,
            status=status,
            sale_date=entry.date_created,
            origin=ORIGIN_MARKETPLACE,
            pack_id=entry.pack_id,
            pack_size=entry.pack_size,
            payment_pending=payment_pending(entry),
            logistic_type=logistic,
            external_shipping_id=_shipping_id(entry.external_shipping_id),
            shipment_status=entry.shipping_status,
            shipment_substatus=entry.shipping_substatus,
            stock_moved=moved and bool(moves),
        )
        order = orders.ingest_order(self.session, new)
        self.session.execute(
            insert(OrderHistory),
            [history_row(order, ACTOR, "create", now, to_status=status, integrated=order.integrated)],
        )
        return order

    # --- news about a known order

    def update(self, order: Order, entry: ChannelOrder) -> bool:
        """Apply the marketplace's news of ``entry`` to a known order; whether anything changed."""
        return apply_marketplace_news(
            self.session, self.account_id, order, news_of(entry), family=self.marketplace.family
        )


# --- feeds, cursors and the worker step -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Feed:
    """One order feed: an account on a marketplace that has a connector."""

    account_id: int
    marketplace: MarketplaceRef
    external_seller_id: str | None = None


@dataclass
class PullStats:
    """What a pull did."""

    feeds: int = 0
    pages: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0

    @property
    def changed(self) -> int:
        return self.created + self.updated

    def as_json(self) -> dict[str, int]:
        return {
            "Feeds": self.feeds,
            "Pages": self.pages,
            "Created": self.created,
            "Updated": self.updated,
            "Unchanged": self.unchanged,
            "Skipped": self.skipped,
            "FailedFeeds": self.failed,
        }


def feeds(session: Session, account_id: int | None = None) -> list[Feed]:
    """Every (account, marketplace) link whose marketplace is active and has a connector."""
    query = (
        select(AccountMarketplace.account_id, AccountMarketplace.external_seller_id, Marketplace)
        .join(Marketplace, Marketplace.id == AccountMarketplace.marketplace_id)
        .where(Marketplace.active.is_(True))
        .order_by(AccountMarketplace.account_id, AccountMarketplace.marketplace_id)
    )
    if account_id is not None:
        query = query.where(AccountMarketplace.account_id == account_id)
    rows = session.execute(query).all()
    # Links made before a marketplace needed a connector to be connected have nothing to pull from.
    usable = {connector: has_channel(connector) for connector in {m.connector for _, _, m in rows}}
    return [
        Feed(
            account_id=account_id,
            marketplace=MarketplaceRef(
                id=m.id, name=m.name, family=m.family, connector=m.connector, site_id=m.site_id, country_id=m.country_id
            ),
            external_seller_id=seller,
        )
        for account_id, seller, m in rows
        if usable[m.connector]
    ]


def lock_cursor(session: Session, account_id: int, marketplace_id: int) -> PullCursor | None:
    """The feed's cursor row, created on first use and locked; None when another worker holds it."""
    postgres = session.get_bind().dialect.name == "postgresql"
    query = (
        select(PullCursor)
        .where(PullCursor.account_id == account_id, PullCursor.marketplace_id == marketplace_id)
        .execution_options(populate_existing=True)
    )
    locking = query.with_for_update(skip_locked=True) if postgres else query
    row = session.scalar(locking)
    if row is not None:
        return row
    exists = session.scalar(
        select(PullCursor.account_id).where(
            PullCursor.account_id == account_id, PullCursor.marketplace_id == marketplace_id
        )
    )
    if exists is not None:
        return None  # locked by another worker's pull
    statement = (postgresql.insert if postgres else sqlite.insert)(PullCursor).values(
        account_id=account_id, marketplace_id=marketplace_id, cursor=None, applied=0, skipped=0
    )
    session.execute(statement.on_conflict_do_nothing(index_elements=["account_id", "marketplace_id"]))
    return session.scalar(locking)


def prelock(session: Session, account_id: int, marketplace_id: int, entries: Sequence[ChannelOrder]) -> None:
    """PostgreSQL: lock, in ascending id order, the hub orders of ``entries`` and every product they may move
    (listed products, kit components, variations of masters), as the other writers of those tables do, so a
    page never waits in a cycle with an ERP batch (SQLite serialises writers anyway)."""
    if session.get_bind().dialect.name != "postgresql" or not entries:
        return
    externals = sorted({e.external_order_id for e in entries})
    session.execute(
        select(Order.id)
        .where(
            Order.account_id == account_id,
            Order.marketplace_id == marketplace_id,
            Order.external_order_id.in_(externals),
        )
        .order_by(Order.id)
        .with_for_update(of=Order)
    ).all()
    listed = sorted({i.external_listing_id for e in entries for i in e.items})
    products_ = set(
        session.scalars(
            select(Listing.product_id).where(
                Listing.account_id == account_id,
                Listing.marketplace_id == marketplace_id,
                Listing.external_id.in_(listed),
            )
        )
    )
    if not products_:
        return
    ids = sorted(products_)
    products_ |= set(session.scalars(select(KitComponent.component_id).where(KitComponent.kit_id.in_(ids))))
    products_ |= set(session.scalars(select(Product.id).where(Product.parent_id.in_(ids))))
    session.execute(
        select(Product.id)
        .where(Product.id.in_(sorted(products_)), Product.account_id == account_id)
        .order_by(Product.id)
        .with_for_update(of=Product)
    ).all()


def apply_page(session: Session, feed: Feed, page: OrderPage, cursor: PullCursor, stats: PullStats) -> None:
    """Apply a page of feed entries and move the cursor (one transaction, the caller's)."""
    sync = OrderSync(session, feed.account_id, feed.marketplace)
    prelock(session, feed.account_id, feed.marketplace.id, page.orders)
    for entry in page.orders:
        savepoint = session.begin_nested()
        try:
            outcome = sync.apply(entry)
            savepoint.commit()
        except (DomainError, DeliveryError, ValidationError, ValueError, KeyError, TypeError) as exc:
            savepoint.rollback()
            message = getattr(exc, "message", None) or str(exc)
            log.warning(
                "pull %s/%s: order %s skipped: %s",
                feed.account_id,
                feed.marketplace.id,
                entry.external_order_id,
                message,
            )
            cursor.skipped += 1
            cursor.last_error = f"order {entry.external_order_id}: {message}"[:MAX_ERROR_LENGTH]
            stats.skipped += 1
            continue
        if outcome == "created":
            stats.created += 1
        elif outcome == "updated":
            stats.updated += 1
        else:
            stats.unchanged += 1
    cursor.cursor = page.cursor
    cursor.applied += len(page.orders)
    cursor.pulled_at = clock.precise_utcnow()
    stats.pages += 1
    session.flush()


class Puller:
    """The worker's pull step: every feed, a few pages each, one transaction per page."""

    def __init__(
        self,
        db: Database,
        settings: Settings | None = None,
        *,
        page_size: int = PAGE_SIZE,
        max_pages: int = MAX_PAGES_PER_ROUND,
    ) -> None:
        self.db = db
        self.settings = settings or db.settings
        self.page_size = page_size
        self.max_pages = max_pages
        self._channels: dict[str, Channel] = {}

    def _channel(self, connector: str) -> Channel:
        channel = self._channels.get(connector)
        if channel is None:
            channel = get_channel(connector)
            self._channels[connector] = channel
        return channel

    def run(self) -> PullStats:
        """Pull every feed once (up to ``max_pages`` pages each)."""
        stats = PullStats()
        with self.db.reading() as session:
            all_feeds = feeds(session)
        for feed in all_feeds:
            stats.feeds += 1
            try:
                self.pull_feed(feed, stats)
            except Exception as exc:  # one broken feed must not stop the others, nor the worker
                stats.failed += 1
                log.warning("pull %s/%s failed: %s", feed.account_id, feed.marketplace.id, exc, exc_info=True)
                self._record_error(feed, exc)
        return stats

    def pull_feed(self, feed: Feed, stats: PullStats | None = None) -> PullStats:
        """Pull one feed until it has nothing more (or ``max_pages`` pages)."""
        stats = stats if stats is not None else PullStats()
        channel = self._channel(feed.marketplace.connector)
        for _ in range(self.max_pages):
            if not self._page(feed, channel, stats):
                break
        return stats

    def _page(self, feed: Feed, channel: Channel, stats: PullStats) -> bool:
        """One page; returns whether the feed said there is more."""
        if channel.in_database:
            with self.db.writing() as session:
                cursor = lock_cursor(session, feed.account_id, feed.marketplace.id)
                if cursor is None:
                    return False
                ctx = self._context(feed, session)
                page = channel.pull_orders(ctx, cursor.cursor, self.page_size)
                apply_page(session, feed, page, cursor, stats)
                return page.has_more
        # Remote marketplaces are called outside any transaction; the cursor only moves if nobody else
        # moved it meanwhile (compare-and-set under the row lock).
        with self.db.reading() as session:
            current = session.scalar(
                select(PullCursor.cursor).where(
                    PullCursor.account_id == feed.account_id, PullCursor.marketplace_id == feed.marketplace.id
                )
            )
        page = channel.pull_orders(self._context(feed, None), current, self.page_size)
        if not page.orders and page.cursor == current:
            return False
        with self.db.writing() as session:
            cursor = lock_cursor(session, feed.account_id, feed.marketplace.id)
            if cursor is None or cursor.cursor != current:
                return False
            apply_page(session, feed, page, cursor, stats)
        return page.has_more

    @staticmethod
    def _context(feed: Feed, session: Session | None) -> ChannelContext:
        return ChannelContext(
            account_id=feed.account_id,
            marketplace=feed.marketplace,
            session=session,
            external_seller_id=feed.external_seller_id,
        )

    def _record_error(self, feed: Feed, error: BaseException) -> None:
        text = (getattr(error, "message", None) or f"{type(error).__name__}: {error}")[:MAX_ERROR_LENGTH]
        try:
            with self.db.writing() as session:
                cursor = lock_cursor(session, feed.account_id, feed.marketplace.id)
                if cursor is not None:
                    cursor.last_error = text
        except Exception:  # the database itself may be what failed
            log.debug("could not record the pull error", exc_info=True)
