"""The operator console end to end, in a real headless browser against a real server with its worker and the local
Mercado Libre stand-in: an operator signs in, connects the demo account's Mercado Libre through the stand-in's
authorization page and comes back to the console, sees a sale arrive, finds a paused listing's reason, retries a
failed delivery, downloads a label and revokes an API key; every page fits a 390 px screen.

``ALEPHEE_CONSOLE_SCREENSHOTS=<dir>`` saves each operations page there at desktop width and at 390 px (the
``docs/images/console-*.png`` come from this test). Without the browser the test is skipped (fails on CI), like the
portal's."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from alephee.accounts import service as accounts
from alephee.channels.mercadolibre.demo import CATEGORY_MAP
from alephee.channels.mercadolibre.standin.app import DEFAULT_APPLICATION_ID
from alephee.channels.models import ChannelCategoryMapping, ChannelConnection
from alephee.clock import utcnow
from alephee.demo import DEMO_API_KEY, ensure_demo
from alephee.http.context import AppContext
from alephee.listings.models import Listing
from alephee.listings.publish import PENDING_PREFIX, PublishSpec, publish_products
from alephee.marketplaces.models import OutboxMessage
from alephee.orders.models import Order
from alephee.products.models import Product
from tests.fixtures.browser import ARGS, CHROMIUM, browser_or_fail
from tests.fixtures.console import ConsoleOperator
from tests.fixtures.database import make_settings
from tests.fixtures.servers import LiveServer, eventually, free_port, start_server

STANDIN = "/_standin/mercadolibre"
MARKETPLACE = 1
PUBLISHED = 3


@pytest.fixture
def hub(ctx: AppContext, tmp_path: Path) -> Iterator[tuple[LiveServer, int]]:
    """The demo tenant (not connected to Mercado Libre yet) on a real server that serves the stand-in and uses it
    as its configured Mercado Libre; a delivery fails at its first refusal so a failure is quick to make."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    standin_file = str(tmp_path / "mercadolibre-standin.sqlite3")
    settings = make_settings(ctx.settings.database_url, public_url=base, demo_mercadolibre=False)
    with ctx.db.writing() as session:
        account_id = ensure_demo(session, settings).account_id
        accounts.add_marketplace(session, account_id, MARKETPLACE)
    server = start_server(
        ctx.settings.database_url,
        tmp_path,
        {
            "ALEPHEE_PUBLIC_URL": base,
            "ALEPHEE_MERCADOLIBRE_STANDIN": "true",
            "ALEPHEE_MERCADOLIBRE_STANDIN_PATH": standin_file,
            "ALEPHEE_MERCADOLIBRE_STANDIN_MARKET_SECONDS": "0",
            "ALEPHEE_MERCADOLIBRE_AUTH_URL": base + STANDIN,
            "ALEPHEE_MERCADOLIBRE_API_URL": base + STANDIN,
            "ALEPHEE_MERCADOLIBRE_CLIENT_ID": str(DEFAULT_APPLICATION_ID),
            "ALEPHEE_MERCADOLIBRE_CLIENT_SECRET": "standin-secret",
            "ALEPHEE_DEMO_MERCADOLIBRE": "false",
            "ALEPHEE_WORKER_INTERVAL_SECONDS": "0.2",
            "ALEPHEE_OUTBOX_MAX_ATTEMPTS": "1",
        },
        args=("--with-worker",),
        port=port,
    )
    yield server, account_id
    server.stop()


def _publish(ctx: AppContext, account_id: int) -> None:
    """What the seller does after connecting: map the catalog's categories and publish a few products."""
    now = utcnow()
    with ctx.db.writing() as session:
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
        publish_products(session, account_id, [PublishSpec(product_id, MARKETPLACE) for product_id in chosen])


def test_operating_the_hub_in_a_real_browser(
    ctx: AppContext,
    hub: tuple[LiveServer, int],
    make_operator: Callable[..., ConsoleOperator],
    tmp_path: Path,
) -> None:
    sync_playwright = browser_or_fail()
    server, account_id = hub
    base = server.base_url
    operator = make_operator([account_id])
    shots = Path(os.environ.get("ALEPHEE_CONSOLE_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    api = httpx.Client(base_url=base, timeout=30)
    key = {"API_KEY": DEMO_API_KEY, "accountId": account_id}

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 1280, "height": 900}, locale="en-US", accept_downloads=True
            )
            page = context.new_page()
            page.set_default_timeout(20_000)
            page.on("dialog", lambda dialog: dialog.accept())

            def shoot(name: str) -> None:
                page.screenshot(path=str(shots / f"console-{name}.png"), full_page=True)
                width = page.viewport_size
                page.set_viewport_size({"width": 390, "height": 844})
                page.reload()  # the page as a phone opens it (the menu folded)
                assert page.evaluate("document.documentElement.scrollWidth") <= 390, name
                page.screenshot(path=str(shots / f"console-{name}-390.png"), full_page=False)
                assert width is not None
                page.set_viewport_size(width)
                page.reload()

            # Sign in.
            page.goto(f"{base}/console/login")
            page.get_by_label("E-mail").fill(operator.email)
            page.get_by_label("Password").fill(operator.password)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url("**/console/**")

            # Connect Mercado Libre through the stand-in's authorization page, and come back to the console.
            page.goto(f"{base}/console/channels?account={account_id}")
            page.locator(f'tr[data-marketplace="{MARKETPLACE}"]').get_by_role("button", name="Connect").click()
            page.wait_for_url("**/console/channels/connect")
            page.locator("#authorize").click()
            page.wait_for_url(f"**{STANDIN}/authorization?**")
            page.locator("#authorize").click()
            page.wait_for_url("**/console/channels?account=*connected=*")
            assert page.locator("#connected").is_visible()
            row = page.locator(f'tr[data-marketplace="{MARKETPLACE}"]')
            assert "TESTSELLER" in row.inner_text()
            with ctx.db.reading() as session:
                connection = session.scalar(
                    select(ChannelConnection).where(
                        ChannelConnection.account_id == account_id, ChannelConnection.marketplace_id == MARKETPLACE
                    )
                )
                assert connection is not None and connection.seller_id is not None and connection.api_base is None
            shoot("channels")

            # The seller publishes; the worker creates the items on the stand-in.
            _publish(ctx, account_id)

            def published() -> list[str]:
                with ctx.db.reading() as session:
                    ids = session.scalars(
                        select(Listing.external_id).where(
                            Listing.account_id == account_id, Listing.marketplace_id == MARKETPLACE
                        )
                    ).all()
                return list(ids) if ids and not any(i.startswith(PENDING_PREFIX) for i in ids) else []

            item_ids = eventually(published, server, "publishing on the stand-in")

            # A sale arrives by notification and shows on the Orders page.
            sale = api.post(f"{STANDIN}/_test/orders", json={"item_id": item_ids[0], "quantity": 1})
            assert sale.status_code in (200, 201), sale.text
            external = str(sale.json()["id"])

            def arrived() -> int | None:
                with ctx.db.reading() as session:
                    return session.scalar(
                        select(Order.id).where(Order.account_id == account_id, Order.external_order_id == external)
                    )

            order_id = eventually(arrived, server, "the sale arriving by notification")
            page.goto(f"{base}/console/orders?account={account_id}&marketplaceId={MARKETPLACE}")
            assert external in page.locator("#orders").inner_text()
            shoot("orders")
            page.locator(f'a[href="/console/orders/{order_id}"]').first.click()
            page.wait_for_url(f"**/console/orders/{order_id}")
            assert page.locator("#timeline").is_visible()

            # The label downloads as a PDF.
            with page.expect_download() as download_info:
                page.locator("#label-pdf").click()
            label = Path(download_info.value.path())
            assert label.read_bytes().startswith(b"%PDF-")
            shoot("order")

            # A paused listing tells why.
            page.goto(f"{base}/console/listings?account={account_id}&status=paused")
            shoot("listings")
            page.locator("#listings tbody a").first.click()
            page.wait_for_url("**/console/listings/*")
            reason = page.locator("#pause-reason").inner_text()
            assert reason and reason != "—"
            shoot("listing")

            # A delivery refused by the marketplace fails; the operator retries it and it goes through.
            fault = api.post(
                f"{STANDIN}/_test/faults", json={"path_prefix": "/items", "status": 500, "count": 1, "method": "PUT"}
            )
            assert fault.status_code == 201, fault.text
            price = api.put(
                "/v2/productlistings",
                params=key,
                json=[{"ExternalPublications": [item_ids[0]], "Price": {"Price": 4321}}],
            )
            assert price.status_code == 200, price.text

            def failed_row() -> int | None:
                with ctx.db.reading() as session:
                    return session.scalar(
                        select(OutboxMessage.id).where(
                            OutboxMessage.account_id == account_id, OutboxMessage.status == "failed"
                        )
                    )

            failed_id = eventually(failed_row, server, "the refused delivery failing")
            page.goto(f"{base}/console/deliveries?status=failed")
            failed = page.locator(f"#delivery-{failed_id}")
            assert failed.is_visible()
            shoot("deliveries")
            failed.get_by_role("button", name="Retry").click()
            page.wait_for_selector(".flash")
            assert "queued again" in page.inner_text(".flash")

            def delivered() -> bool:
                with ctx.db.reading() as session:
                    status = session.scalar(select(OutboxMessage.status).where(OutboxMessage.id == failed_id))
                return status == "delivered"

            eventually(delivered, server, "the retried delivery going through")

            # The overview and the inbox.
            page.goto(f"{base}/console/overview")
            assert page.locator("#health").is_visible() and page.locator("svg.chart").count() >= 1
            shoot("overview")
            page.goto(f"{base}/console/deliveries/inbox")
            assert page.locator("#notices").is_visible()
            shoot("inbox")

            # A key created on the Keys page works until it is revoked there.
            page.goto(f"{base}/console/keys?account={account_id}")
            page.get_by_label("Label").fill("console e2e")
            page.get_by_role("button", name="Create key").click()
            secret = page.locator("#secret").inner_text().strip()
            probe = {"API_KEY": secret, "accountId": account_id}
            assert api.get("/v2/orders", params=probe).status_code == 200
            page.goto(f"{base}/console/keys?account={account_id}")
            page.locator("tr", has_text="console e2e").get_by_role("button", name="Revoke").click()
            page.wait_for_selector(".flash")
            assert api.get("/v2/orders", params=probe).status_code == 401
        finally:
            browser.close()
            api.close()
