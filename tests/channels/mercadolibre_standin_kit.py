"""What the tests of the Mercado Libre channel against the local stand-in share: a tenant connected to the
stand-in (tokens issued by it) and the channel talking to it through a test client, on any site."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from alephee import clock
from alephee.channels import connections, inbox
from alephee.channels.mercadolibre.channel import MercadoLibreChannel
from alephee.channels.mercadolibre.client import MercadoLibreClient
from alephee.channels.mercadolibre.standin.app import MercadoLibreStandIn, create_app
from alephee.channels.mercadolibre.standin.auth import StandInSeller
from alephee.config import Settings
from alephee.http.context import AppContext
from alephee.marketplaces.contract import ChannelContext, MarketplaceRef
from tests.fixtures.database import make_settings
from tests.fixtures.tenants import Tenant

APP = "5387223166827464"
SECRET = "s3cret"
MLA = MarketplaceRef(id=1, name="Mercado Libre Argentina", family="mercadolibre", connector="mercadolibre",
                     site_id="MLA", country_id="AR")  # fmt: skip


@dataclass
class Linked:
    """A tenant connected (tokens issued by the stand-in) and the channel talking to that stand-in."""

    tenant: Tenant
    standin: MercadoLibreStandIn
    channel: MercadoLibreChannel
    ctx: ChannelContext
    http: TestClient


@contextmanager
def linked_standin(
    ctx: AppContext,
    tmp_path: Path,
    make_tenant: Callable[..., Tenant],
    seller: StandInSeller | None = None,
    marketplace: MarketplaceRef = MLA,
) -> Iterator[Linked]:
    """A tenant connected on ``marketplace`` to a stand-in whose seller is ``seller`` (its default one if None)."""
    standin = MercadoLibreStandIn(
        tmp_path / "ml.sqlite3", client_id=APP, client_secret=SECRET, sellers=[seller] if seller else None
    )
    http = TestClient(create_app(standin), base_url="http://standin.example")
    settings = make_settings(
        ctx.settings.database_url,
        mercadolibre_api_url="http://standin.example",
        mercadolibre_client_id=APP,
        mercadolibre_client_secret=SECRET,
    )
    tenant = make_tenant(marketplaces=(marketplace.id,))
    grant = standin.issue_token()
    with ctx.db.writing() as session:
        connections.store_grant(
            session,
            settings,
            connections.Grant(
                account_id=tenant.account_id,
                marketplace_id=marketplace.id,
                connector="mercadolibre",
                access_token=str(grant["access_token"]),
                refresh_token=str(grant["refresh_token"]),
                expires_in=int(grant["expires_in"]),
                seller_id=standin.seller.id,
                nickname=standin.seller.nickname,
                site_id=standin.seller.site_id,
            ),
        )

    def client(given: Settings) -> MercadoLibreClient:
        return MercadoLibreClient(given, http)

    channel = MercadoLibreChannel(client_factory=client)
    context = ChannelContext(account_id=tenant.account_id, marketplace=marketplace, db=ctx.db, settings=settings)
    try:
        yield Linked(tenant=tenant, standin=standin, channel=channel, ctx=context, http=http)
    finally:
        http.close()
        standin.close()


def notify(ctx: AppContext, linked: Linked, topic: str, resource: str, actions: list[str] | None = None) -> None:
    """The notification Mercado Libre posts for the linked seller, stored as the route stores it."""
    body: dict[str, Any] = {"resource": resource, "user_id": linked.standin.seller.id, "topic": topic,
                            "application_id": int(APP), "attempts": 1, "sent": "2026-12-05T04:00:00.000Z",
                            "received": "2026-12-05T04:00:00.000Z"}  # fmt: skip
    if actions is not None:
        body["actions"] = actions
    with ctx.db.writing() as session:
        outcome = inbox.receive(
            session, "mercadolibre", body, application_ids=frozenset({APP}), now=clock.precise_utcnow()
        )
    assert outcome == inbox.RECEIVED
