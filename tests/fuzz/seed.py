"""A small but complete tenant for the reliability tests (fuzzing, isolation, crash safety): an account on the
demo marketplaces with a price list, a few catalog products, their listings, orders (one cart, one label-ready
shipment, one with an invoice) and shipping data, built through each domain's own services in well under a
second (the full demo takes seconds)."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from alephee import clock
from alephee.accounts import service as accounts
from alephee.accounts.schemas import AccountType
from alephee.config import Settings
from alephee.db import Database
from alephee.listings.publish import PublishSpec, publish_products
from alephee.listings.statuses import ACTIVE
from alephee.orders import demo as orders_demo
from alephee.orders import documents as docs
from alephee.orders import shipping_rules as ship
from alephee.orders import statuses as st
from alephee.orders.document_upload import DocumentUpload, store_document
from alephee.orders.ingest import ingest_order
from alephee.orders.models import Order
from alephee.products.demo import demo_rows
from alephee.products.importer import import_catalog
from alephee.products.models import Product
from alephee.webhooks import events
from alephee.webhooks.models import WebhookSubscription

MARKETPLACES = (100, 101, 30)
PRODUCTS = 12


@dataclass
class Seeded:
    """What ``seed_tenant`` created (ids the tests aim at)."""

    account_id: int
    api_key: str
    key_id: int
    product_ids: list[int] = field(default_factory=list)
    skus: list[str] = field(default_factory=list)
    listing_ids: list[int] = field(default_factory=list)
    external_ids: list[str] = field(default_factory=list)
    active_external_ids: list[str] = field(default_factory=list)
    order_ids: list[int] = field(default_factory=list)
    pack_ids: list[str] = field(default_factory=list)
    document_order_ids: list[int] = field(default_factory=list)
    label_order_ids: list[int] = field(default_factory=list)
    price_list_ids: list[int] = field(default_factory=list)
    webhook_ids: list[int] = field(default_factory=list)
    event_ids: list[int] = field(default_factory=list)

    def q(self, **extra: object) -> dict[str, object]:
        """Query parameters authenticating as this tenant."""
        return {"API_KEY": self.api_key, "accountId": self.account_id, **extra}


def seed_tenant(db: Database, settings: Settings, *, seed: int = 1, rate_limit: int = 1_000_000) -> Seeded:
    """Create and fill one seller account (commits)."""
    with db.writing() as session:
        return _seed(session, settings, seed, rate_limit)


def _seed(session: Session, settings: Settings, seed: int, rate_limit: int) -> Seeded:
    rng = random.Random(seed)
    account = accounts.create_account(
        session,
        name=f"Reliability {uuid.uuid4().hex[:6]}",
        account_type=AccountType.SELLER,
        business_name="Reliability S.A.",
        own_code="R-1",
    )
    for marketplace_id in MARKETPLACES:
        accounts.add_marketplace(session, account.id, marketplace_id, external_seller_id=f"R{marketplace_id}")
    default = accounts.create_price_list(session, account.id, "General", currency="ARS", is_default=True)
    wholesale = accounts.create_price_list(session, account.id, "Lista mayorista", currency="ARS", is_b2b=True)
    key, secret = accounts.create_key(session, [account.id], rate_limit=rate_limit)
    out = Seeded(account_id=account.id, api_key=secret, key_id=key.id, price_list_ids=[default.id, wholesale.id])

    report = import_catalog(session, settings, account.id, demo_rows(seed=seed)[:PRODUCTS])
    if report.errors:
        raise RuntimeError(f"seed catalog rejected: {[e.as_dict() for e in report.errors[:3]]}")
    products = session.execute(
        select(Product.id, Product.sku, Product.product_type)
        .where(Product.account_id == account.id)
        .order_by(Product.id)
    ).all()
    out.product_ids = [p.id for p in products]
    out.skus = [p.sku for p in products]
    publishable = [p.id for p in products if p.product_type in (1, 2, 6)]
    listings = publish_products(session, account.id, [PublishSpec(pid, 100) for pid in publishable[:8]])
    listings += publish_products(session, account.id, [PublishSpec(pid, 101) for pid in publishable[:3]])
    out.listing_ids = [listing.id for listing in listings]
    out.external_ids = [listing.external_id for listing in listings]
    out.active_external_ids = [listing.external_id for listing in listings if listing.status == ACTIVE]

    seller = orders_demo.seller_of(session, account.id)
    channel = orders_demo.channel_of(session, 100)
    now = clock.utcnow()
    base = 3_000_000_000 + rng.randrange(1_000_000) * 100

    def add(n: int, **kwargs: object) -> Order:
        new = orders_demo.build_order(
            rng,
            seller=seller,
            channel=channel,
            external_order_id=str(base + n),
            sale_date=now - timedelta(hours=n + 1),
            **kwargs,  # type: ignore[arg-type]
        )
        return ingest_order(session, new)

    plain = [add(n) for n in range(4)]
    label = add(4, shipment_status=ship.READY_TO_SHIP, shipment_substatus=ship.SUB_READY_TO_PRINT)
    delivered = add(5, status=st.DELIVERED)
    pack_id = str(2_000_009_000_000_000 + rng.randrange(1_000_000))
    shared = orders_demo.make_shared(rng, channel, now - timedelta(hours=9), Decimal(500), False)
    cart = [
        add(6 + n, pack_id=pack_id, pack_size=2, external_shipping_id=41_000_000_000 + n, shared=shared)
        for n in range(2)
    ]
    all_orders = [*plain, label, delivered, *cart]
    session.flush()
    store = docs.store_for(settings.documents_dir)
    invoice = orders_demo.invoice_pdf(plain[0], "0001-00000001")
    store_document(
        session,
        store,
        settings,
        plain[0],
        DocumentUpload(
            doc_type=docs.INVOICE, data=invoice, name="factura", extension="pdf", document_number="0001-00000001"
        ),
    )
    # A webhook (stored directly: the API checks that the target host is public) and one feed event.
    webhook = WebhookSubscription(
        account_id=account.id,
        url="https://hooks.example.com/alephee",
        event_types=["order.created"],
        secret="s" * 32,
        active=True,
        created_at=now,
    )
    session.add(webhook)
    event = events.emit(session, account.id, events.ORDER_CREATED, {"OrderId": plain[1].id})
    session.flush()
    out.webhook_ids = [webhook.id]
    out.event_ids = [event.id]
    out.order_ids = [o.id for o in all_orders]
    out.pack_ids = [pack_id]
    out.document_order_ids = [plain[0].id]
    out.label_order_ids = [label.id]
    session.commit()
    return out
