"""The demo's Mercado Libre (``alephee demo``): the demo account is connected to "Mercado Libre Argentina"
(marketplace 1) on the local stand-in this hub serves — never on the real marketplace — with its categories
mapped and part of its catalog published (simple products and one variation master, a single item with
variations), so ``alephee serve --with-worker`` runs the whole loop through the
real connector over HTTP: the items are created on the stand-in, its buyers purchase them, the notifications
bring the orders in, and labels, invoices and messages go back.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from alephee.accounts import service as accounts
from alephee.accounts.models import AccountMarketplace
from alephee.channels import connections
from alephee.channels.mercadolibre.auth import CONNECTOR, STANDIN, standin_credentials
from alephee.channels.mercadolibre.standin.app import MercadoLibreStandIn
from alephee.channels.models import ChannelCategoryMapping
from alephee.clock import utcnow
from alephee.config import Settings
from alephee.listings.publish import PublishSpec, publish_products
from alephee.products.models import Product
from alephee.products.schemas import VARIATION_MASTER

MARKETPLACE = 1  # Mercado Libre Argentina
# Simple products of the demo catalog published there (the rest stays on the sandbox sites).
PUBLISHED = 40
# Variation masters published there as items with variations. The demo's variations have prices of their own
# while Mercado Libre sells an item's variations at one price: their listing has the fixed price of the master.
PUBLISHED_MASTERS = 1
# The demo catalog's categories and the Mercado Libre Argentina categories the seller chose for them.
CATEGORY_MAP: dict[str, tuple[str, str]] = {
    "Accesorios para Vehículos > Repuestos": ("MLA6520", "Bujías"),
    "Accesorios para Vehículos > Iluminación": ("MLA86360", "Lámparas"),
    "Herramientas > Herramientas Manuales": ("MLA62133", "Herramientas Manuales"),
    "Herramientas > Herramientas Eléctricas": ("MLA407134", "Herramientas Eléctricas"),
    "Alimentos y Bebidas > Golosinas": ("MLA178700", "Golosinas"),
    "Ropa y Accesorios > Ropa Deportiva": ("MLA109027", "Ropa Deportiva"),
    "Herramientas > Seguridad Industrial": ("MLA4720", "Seguridad Industrial"),
}


def connect_demo_seller(session: Session, settings: Settings, account_id: int) -> None:
    """Demo step: link, connect (tokens issued by the stand-in, stored encrypted), map the categories and
    publish ``PUBLISHED`` products and ``PUBLISHED_MASTERS`` variation masters on marketplace 1. Skipped when the
    account already has that connection, or with ``ALEPHEE_DEMO_MERCADOLIBRE=false``."""
    if not settings.demo_mercadolibre or connections.find_connection(session, account_id, MARKETPLACE) is not None:
        return
    client_id, secret = standin_credentials(settings)
    standin = MercadoLibreStandIn(settings.mercadolibre_standin_path, client_id=client_id, client_secret=secret)
    try:
        grant = standin.issue_token()
        seller = standin.seller
    finally:
        standin.close()
    if session.get(AccountMarketplace, (account_id, MARKETPLACE)) is None:
        accounts.add_marketplace(session, account_id, MARKETPLACE, external_seller_id=str(seller.id))
    connections.store_grant(
        session,
        settings,
        connections.Grant(
            account_id=account_id,
            marketplace_id=MARKETPLACE,
            connector=CONNECTOR,
            access_token=str(grant["access_token"]),
            refresh_token=str(grant["refresh_token"]),
            expires_in=int(grant["expires_in"]),
            seller_id=seller.id,
            nickname=seller.nickname,
            site_id=seller.site_id,
            api_base=STANDIN,
        ),
    )
    now = utcnow()
    for category, (external, name) in CATEGORY_MAP.items():
        session.merge(
            ChannelCategoryMapping(
                account_id=account_id,
                marketplace_id=MARKETPLACE,
                category=category,
                external_category_id=external,
                external_category_name=name,
                source="seller",
                updated_at=now,
            )
        )
    chosen = session.scalars(
        select(Product.id)
        .where(Product.account_id == account_id, Product.product_type == 1, Product.quantity > 0)
        .order_by(Product.id)
        .limit(PUBLISHED)
    ).all()
    masters = session.scalars(
        select(Product.id)
        .where(Product.account_id == account_id, Product.product_type == VARIATION_MASTER)
        .order_by(Product.id)
        .limit(PUBLISHED_MASTERS)
    ).all()
    listings = publish_products(
        session, account_id, [PublishSpec(product_id, MARKETPLACE) for product_id in [*chosen, *masters]]
    )
    for listing in listings:
        if listing.product_id in masters:
            listing.price_mode = "fixed"
