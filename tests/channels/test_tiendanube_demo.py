"""``alephee demo`` connects the demo account to Tiendanube (marketplace 40) on the local stand-in — never the real
platform —, with the webhooks registered and part of the catalog published; a hub serving that database serves the
stand-in and the connection works over HTTP; ``ALEPHEE_DEMO_TIENDANUBE=false`` leaves it out."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from alephee.app import create_app
from alephee.channels.models import CONNECTED, ChannelConnection
from alephee.channels.tiendanube import auth
from alephee.channels.tiendanube.calls import Api
from alephee.channels.tiendanube.client import TiendanubeClient
from alephee.channels.tiendanube.standin.app import TiendanubeStandIn
from alephee.demo import ensure_demo
from alephee.http.context import AppContext
from alephee.http.ratelimit import RateLimiter
from alephee.listings.models import Listing
from alephee.marketplaces.contract import ChannelContext, MarketplaceRef
from tests.fixtures.database import make_settings

HUB = "http://hub.example"


def test_the_demo_connects_a_store_on_the_stand_in(ctx: AppContext, tmp_path: Path) -> None:
    path = str(tmp_path / "tn-demo.sqlite3")
    settings = make_settings(ctx.settings.database_url, public_url=HUB, tiendanube_standin_path=path)
    with ctx.db.writing() as session:
        account_id = ensure_demo(session, settings).account_id
    with ctx.db.writing() as session:
        ensure_demo(session, settings)  # idempotent: the same connection, no second store
    with ctx.db.reading() as session:
        row = session.scalars(
            select(ChannelConnection).where(
                ChannelConnection.account_id == account_id, ChannelConnection.marketplace_id == 40
            )
        ).one()
        published = session.scalar(
            select(func.count()).where(Listing.account_id == account_id, Listing.marketplace_id == 40)
        )
    assert (row.status, row.api_base, row.connector, row.nickname) == (
        CONNECTED,
        auth.STANDIN,
        "tiendanube",
        "Tienda Demo",
    )
    assert row.access_token is not None and row.access_token.startswith("enc:v1:") and published == 20
    assert row.seller_id is not None
    store_id = row.seller_id

    standin = TiendanubeStandIn(path, app_id=auth.STANDIN_APP_ID, client_secret=auth.STANDIN_CLIENT_SECRET)
    try:
        assert standin.orders(store_id) == []  # the store exists, no sales yet
        hooks = standin.registered_webhooks(store_id)
        assert sorted(h["event"] for h in hooks) == sorted(auth.WEBHOOK_EVENTS)
        assert {h["url"] for h in hooks} == {f"{HUB}/channels/tiendanube/webhooks"}
    finally:
        standin.close()

    # A hub on that database serves the stand-in (a connection lives there) and the stored token works on it.
    app = create_app(context=AppContext(settings=settings, db=ctx.db, limiter=RateLimiter(settings)))
    assert getattr(app.state, "tiendanube_standin", None) is not None
    with TestClient(app, base_url=HUB) as http:
        marketplace = MarketplaceRef(id=40, name="Tiendanube", family="tiendanube", connector="tiendanube")
        call = ChannelContext(account_id=account_id, marketplace=marketplace, db=ctx.db, settings=settings)
        with Api.open(call, TiendanubeClient(settings, http)) as api:
            assert api.store.api_url == f"{HUB}/_standin/tiendanube"
            assert api.get("read the store", "/store")["id"] == store_id


def test_the_demo_without_tiendanube(ctx: AppContext, tmp_path: Path) -> None:
    settings = make_settings(
        ctx.settings.database_url, demo_tiendanube=False, tiendanube_standin_path=str(tmp_path / "tn.sqlite3")
    )
    with ctx.db.writing() as session:
        account_id = ensure_demo(session, settings).account_id
    with ctx.db.reading() as session:
        assert (
            session.scalar(
                select(ChannelConnection).where(
                    ChannelConnection.account_id == account_id, ChannelConnection.marketplace_id == 40
                )
            )
            is None
        )
