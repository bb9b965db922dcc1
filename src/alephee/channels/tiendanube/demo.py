"""The demo's Tiendanube (``alephee demo``): the demo account is connected to "Tiendanube" (marketplace 40) on the
local stand-in this hub serves — never on the real platform — with the webhooks the hub needs registered and part
of its catalog published, so ``alephee serve --with-worker`` runs the loop through the real connector over HTTP:
the products are created in the stand-in's store, its buyers check them out, the webhooks bring the orders in,
and fulfilments go back. ``ALEPHEE_DEMO_TIENDANUBE=false`` leaves it out.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from alephee.accounts import service as accounts
from alephee.accounts.models import AccountMarketplace
from alephee.channels import connections
from alephee.channels.tiendanube.auth import CONNECTOR, STANDIN, WEBHOOK_EVENTS, standin_credentials, webhook_url
from alephee.channels.tiendanube.standin.app import TiendanubeStandIn
from alephee.channels.tiendanube.standin.stores import StandInShop
from alephee.config import Settings
from alephee.listings.publish import PublishSpec, publish_products
from alephee.products.models import Product

MARKETPLACE = 40  # Tiendanube
# Simple products of the demo catalog published in the store.
PUBLISHED = 20
SHOP = StandInShop(name="Tienda Demo", email="owner@tienda-demo.example", country="AR", languages=("es",))


def connect_demo_store(session: Session, settings: Settings, account_id: int) -> None:
    """Demo step: a store on the stand-in with the app installed (token issued by the stand-in, stored
    encrypted), the webhooks registered, marketplace 40 linked and ``PUBLISHED`` products published. Skipped
    when the account already has that connection, or with ``ALEPHEE_DEMO_TIENDANUBE=false``."""
    if not settings.demo_tiendanube or connections.find_connection(session, account_id, MARKETPLACE) is not None:
        return
    app_id, secret = standin_credentials(settings)
    # Nothing is delivered from here: the webhooks leave the stand-in the hub serves (``alephee serve``).
    standin = TiendanubeStandIn(settings.tiendanube_standin_path, app_id=app_id, client_secret=secret, webhooks=False)
    try:
        shop = standin.create_store(SHOP)
        store_id = int(shop["id"])
        grant = standin.issue_token(store_id)
        with standin.store.begin() as tx:
            for event in WEBHOOK_EVENTS:
                standin.webhooks.create(tx, store_id, {"event": event, "url": webhook_url(settings)})
    finally:
        standin.close()
    if session.get(AccountMarketplace, (account_id, MARKETPLACE)) is None:
        accounts.add_marketplace(session, account_id, MARKETPLACE, external_seller_id=str(store_id))
    connections.store_grant(
        session,
        settings,
        connections.Grant(
            account_id=account_id,
            marketplace_id=MARKETPLACE,
            connector=CONNECTOR,
            access_token=str(grant["access_token"]),
            refresh_token=None,
            expires_in=None,
            seller_id=store_id,
            nickname=SHOP.name,
            api_base=STANDIN,
            api_version=settings.tiendanube_api_version,
        ),
    )
    chosen = session.scalars(
        select(Product.id)
        .where(Product.account_id == account_id, Product.product_type == 1, Product.quantity > 0)
        .order_by(Product.id.desc())
        .limit(PUBLISHED)
    ).all()
    publish_products(session, account_id, [PublishSpec(product_id, MARKETPLACE) for product_id in chosen])
