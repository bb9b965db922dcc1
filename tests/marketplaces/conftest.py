"""Fixtures of the marketplace tests: fake channels swapped into the registry, settings for fast retries,
a seller whose catalog is published on the sandbox marketplace, and real servers with extra arguments."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from alephee.accounts import service as accounts
from alephee.http.context import AppContext
from alephee.listings.models import Listing
from alephee.listings.publish import publish_catalog
from alephee.marketplaces.contract import (
    BaseChannel,
    ChannelContext,
    ListingPush,
    ListingReceipt,
    ListingStatusPush,
    OrderStatusPush,
    TransientDeliveryError,
)
from alephee.marketplaces.outbox import enqueue
from alephee.marketplaces.registry import register_channel, unregister_channel
from alephee.products.importer import import_catalog
from alephee.products.models import Product
from alephee.sandbox import state as sandbox
from alephee.sync.pull import Puller, PullStats
from alephee.sync.worker import Worker
from tests.conftest import LiveServer, Tenant, make_settings, start_server

SANDBOX = 100  # a catalogue marketplace whose connector is "sandbox"


@dataclass
class FakeChannel(BaseChannel):
    """A remote-like channel (no database) that records deliveries and fails on demand.

    ``fail_first`` transient failures per outbox row, or every time while ``always_fail`` is set;
    ``permanent`` raises a permanent error instead.
    """

    fail_first: int = 0
    always_fail: bool = False
    error: Exception | None = None
    delivered: list[tuple[int, int | None]] = field(default_factory=list)
    calls: dict[int | None, int] = field(default_factory=dict)
    connector: str = "sandbox"
    in_database: bool = False

    def _call(self, ctx: ChannelContext, aggregate: int | None) -> None:
        count = self.calls.get(ctx.message_id, 0) + 1
        self.calls[ctx.message_id] = count
        if self.error is not None:
            raise self.error
        if self.always_fail or count <= self.fail_first:
            raise TransientDeliveryError(f"marketplace unavailable (call {count})")
        self.delivered.append((aggregate or 0, ctx.message_id))

    def publish_listing(self, ctx: ChannelContext, listing: ListingPush) -> ListingReceipt:
        self._call(ctx, listing.listing_id)
        return ListingReceipt(external_id=listing.external_id or "X", status="active")

    def set_listing_status(self, ctx: ChannelContext, change: ListingStatusPush) -> ListingReceipt:
        self._call(ctx, change.listing_id)
        return ListingReceipt(external_id=change.external_id or "X", status=change.status)

    def push_order_status(self, ctx: ChannelContext, update: OrderStatusPush) -> None:
        self._call(ctx, update.order.order_id)


@pytest.fixture
def use_channel() -> Iterator[Callable[[str, Any], None]]:
    """Make a connector resolve to a given channel instance for the test (restored afterwards)."""
    saved: list[tuple[str, Any]] = []

    def use(connector: str, channel: Any) -> None:
        saved.append((connector, register_channel(connector, lambda: channel)))

    yield use
    for connector, previous in reversed(saved):
        unregister_channel(connector, previous)


@pytest.fixture
def make_worker(ctx: AppContext) -> Callable[..., Worker]:
    """A worker on the test database; settings overrides (e.g. ``outbox_max_attempts=3``) apply to it only."""

    def make(worker_id: str | None = None, **overrides: Any) -> Worker:
        values: dict[str, Any] = {"outbox_backoff_base_seconds": 1.0, "outbox_backoff_max_seconds": 60.0}
        values.update(overrides)
        return Worker(ctx.db, make_settings(ctx.settings.database_url, **values), worker_id=worker_id)

    return make


def put(
    ctx: AppContext,
    *,
    topic: str = "listing.update",
    aggregate_id: int = 1,
    payload: dict[str, Any] | None = None,
    account_id: int = 1,
    marketplace_id: int | None = SANDBOX,
    aggregate_type: str | None = None,
) -> int:
    """Enqueue one row in its own transaction; returns its id."""
    with ctx.db.writing() as session:
        row = enqueue(
            session,
            account_id=account_id,
            marketplace_id=marketplace_id,
            topic=topic,
            aggregate_type=aggregate_type or topic.split(".")[0],
            aggregate_id=aggregate_id,
            payload=payload if payload is not None else {"listing_id": aggregate_id, "price": "10", "quantity": 1},
        )
        session.flush()
        return row.id


@pytest.fixture
def cli(ctx: AppContext) -> Callable[..., Any]:
    """Run an ``alephee`` command on the test database; returns its JSON output (or the result if ``ok=False``)."""
    import json

    from typer.testing import CliRunner

    from alephee.cli import app
    from alephee.marketplaces import delivery as worker

    runner = CliRunner()

    def run(*args: str, ok: bool = True) -> Any:
        # Commands such as ``worker`` register senders process-wide: keep them from leaking into other tests.
        with worker._routes_lock:
            routes = dict(worker._routes)
        try:
            result = runner.invoke(app, list(args), env={"ALEPHEE_DATABASE_URL": ctx.settings.database_url})
        finally:
            with worker._routes_lock:
                worker._routes.clear()
                worker._routes.update(routes)
        if ok:
            assert result.exit_code == 0, result.output
            return json.loads(result.stdout.strip().splitlines()[-1])
        assert result.exit_code != 0
        return result

    return run


# --- real servers ---------------------------------------------------------------------------------------------


def start_server_with(database_url: str, tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> LiveServer:
    """``alephee serve`` with extra arguments, on a free port, once /health answers."""
    return start_server(database_url, tmp_path, env, args=args)


# --- a seller selling on the sandbox marketplace ----------------------------------------------------------------

# A small catalog: normal products (one pauses at its first sale: MinPublicationQuantity), a kit and a
# variation master. Prices are PriceWithTaxes of the account's default list.
CATALOG: list[dict[str, Any]] = [
    {"sku": "MATE-01", "brand": "Pampa", "name": "Mate de calabaza", "quantity": 12, "price_with_taxes": "1500"},
    {"sku": "YERBA-1K", "brand": "Pampa", "name": "Yerba mate 1 kg", "quantity": 20, "price_with_taxes": "900"},
    {"sku": "BOMBI-01", "brand": "Pampa", "name": "Bombilla de acero", "quantity": 9, "price_with_taxes": "450"},
    {
        "sku": "TERMO-1L",
        "brand": "Stanley",
        "name": "Termo 1 litro",
        "quantity": 4,
        "min_publication_quantity": 3,
        "price_with_taxes": "52000",
    },
    {"sku": "KIT-MATERO", "brand": "Pampa", "name": "Kit matero", "components": "MATE-01:1;BOMBI-01:2",
     "price_with_taxes": "2500"},
    {"sku": "REM-01", "brand": "Topper", "name": "Remera", "type": "master"},
    {"sku": "REM-01-M", "brand": "Topper", "name": "Remera M", "parent_sku": "REM-01", "quantity": 2,
     "price_with_taxes": "15900"},
    {"sku": "REM-01-L", "brand": "Topper", "name": "Remera L", "parent_sku": "REM-01", "quantity": 7,
     "price_with_taxes": "15900"},
]  # fmt: skip


@dataclass
class Shop:
    """A seller with its catalog published on the sandbox marketplace 100 (listings delivered there)."""

    tenant: Tenant
    products: dict[str, int]
    listings: dict[str, int]
    external_ids: dict[str, str]

    @property
    def account_id(self) -> int:
        return self.tenant.account_id


def stock(ctx: AppContext, shop: Shop) -> dict[str, int]:
    """Catalog quantity per SKU (stored stock: kits and masters derive theirs)."""
    with ctx.db.reading() as session:
        rows = session.execute(select(Product.sku, Product.quantity).where(Product.account_id == shop.account_id))
        return dict(rows.all())  # type: ignore[arg-type]


def deliver(ctx: AppContext) -> None:
    """Deliver every due outbox row (no pulling)."""
    Worker(ctx.db, ctx.settings, pull=False).drain()


def pull(ctx: AppContext) -> PullStats:
    """One pull step of every feed."""
    return Puller(ctx.db, ctx.settings).run()


@pytest.fixture
def open_shop(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> Callable[..., Shop]:
    """Import ``rows`` (default ``CATALOG``) for a new seller, publish it on the sandbox and (``delivered``)
    deliver the listings there."""

    def open_(rows: list[dict[str, Any]] | None = None, *, sandbox_seed: int = 1, delivered: bool = True) -> Shop:
        tenant = make_tenant(marketplaces=(100,))
        with ctx.db.writing() as session:
            sandbox.ensure_state(session, seed=sandbox_seed)
            accounts.create_price_list(session, tenant.account_id, "General", currency="ARS", is_default=True)
        with ctx.db.writing() as session:
            numbered = list(enumerate(rows if rows is not None else CATALOG, start=1))
            report = import_catalog(session, ctx.settings, tenant.account_id, numbered)
            assert report.errors == [], report.errors
        with ctx.db.writing() as session:
            publish_catalog(session, tenant.account_id, 100)
        if delivered:
            deliver(ctx)
        with ctx.db.reading() as session:
            products = dict(
                session.execute(select(Product.sku, Product.id).where(Product.account_id == tenant.account_id)).all()
            )
            listings = session.execute(
                select(Product.sku, Listing.id, Listing.external_id)
                .join(Product, Product.id == Listing.product_id)
                .where(Listing.account_id == tenant.account_id)
            ).all()
        return Shop(
            tenant=tenant,
            products=products,  # type: ignore[arg-type]
            listings={sku: lid for sku, lid, _ in listings},
            external_ids={sku: ext for sku, _, ext in listings},
        )

    return open_
