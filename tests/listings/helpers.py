"""Listing test data: a seller with a small catalog published on the sandbox Mercado Libre (100), Mercado
Libre (1) and Amazon (20)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from alephee.http.context import AppContext
from alephee.listings import publish
from alephee.listings.models import Listing
from alephee.marketplaces.models import OutboxMessage
from tests.conftest import Tenant
from tests.products.helpers import add_price_list, add_product


@dataclass
class Shop:
    """Ids of the seller's catalog and listings."""

    tenant: Tenant
    price_list: int
    wholesale: int
    products: dict[str, int] = field(default_factory=dict)
    # (sku, marketplace) → listing id; external ids alongside.
    listings: dict[tuple[str, int], int] = field(default_factory=dict)
    external: dict[tuple[str, int], str] = field(default_factory=dict)


def build_shop(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> Shop:
    """Create the shop (used by the ``shop`` fixtures of tests/listings and tests/contract)."""
    tenant = make_tenant(marketplaces=(100, 1, 20))
    with ctx.db.writing() as session:
        general = add_price_list(session, tenant.account_id, "Lista general")
        wholesale = add_price_list(session, tenant.account_id, "Lista mayorista")
        result = Shop(tenant=tenant, price_list=general, wholesale=wholesale)
        p = result.products
        p["MKNJ-122"] = add_product(
            session,
            tenant.account_id,
            "MKNJ-122",
            brand="Bosch",
            own_code="ERP-0001",
            quantity=10,
            prices={general: "2000", wholesale: "1500"},
        )
        p["H4"] = add_product(session, tenant.account_id, "H4", brand="Philips", quantity=3, prices={general: "500"})
        p["EMPTY"] = add_product(session, tenant.account_id, "EMPTY", brand="Bosch", quantity=0, prices={general: "99"})
        p["KIT"] = add_product(
            session,
            tenant.account_id,
            "KIT",
            brand="Bosch",
            product_type=2,
            prices={general: "2400"},
            components=[(p["H4"], 1, True)],
        )
        specs = [
            publish.PublishSpec(p["MKNJ-122"], 100),
            publish.PublishSpec(p["MKNJ-122"], 1),
            publish.PublishSpec(p["MKNJ-122"], 20),
            publish.PublishSpec(p["H4"], 100),
            publish.PublishSpec(p["EMPTY"], 100),
            publish.PublishSpec(p["KIT"], 100),
        ]
        for listing in publish.publish_products(session, tenant.account_id, specs):
            sku = next(k for k, v in p.items() if v == listing.product_id)
            result.listings[(sku, listing.marketplace_id)] = listing.id
            result.external[(sku, listing.marketplace_id)] = listing.external_id
    return result


def listing(ctx: AppContext, listing_id: int) -> Listing:
    with ctx.db.reading() as session:
        row = session.get(Listing, listing_id)
        assert row is not None
        return row


def outbox(ctx: AppContext, listing_id: int) -> list[tuple[str, dict[str, Any]]]:
    with ctx.db.reading() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.aggregate_type == "listing", OutboxMessage.aggregate_id == listing_id)
            .order_by(OutboxMessage.id)
        )
        return [(m.topic, m.payload) for m in rows]
