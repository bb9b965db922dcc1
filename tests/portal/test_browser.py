"""End to end in a real headless browser (Debian's Chromium driven by Playwright) against a real server: the ERP
asks for a login link over the API, the buyer opens it, searches, adds two products and places the order; the API
returns the order with status 0 and the B2B prices; the same link again, or a link past its TTL, lands on the
expired page without a session. Two tabs of one browser: a tab confirms only the cart it shows (and a price that
moved meanwhile sends it back to the cart), and logging out lands on the signed-out page.

The browser is installed by ``make test`` (scripts/browser.sh). Without it this test fails in CI (CI=true) and is
skipped elsewhere. ``ALEPHEE_PORTAL_SCREENSHOTS=<dir>`` also saves the catalog and cart screenshots there (the
ones in docs/images/ come from this test).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from alephee.accounts.models import Account
from alephee.http.context import AppContext
from alephee.products.models import ProductPrice
from tests.fixtures.browser import ARGS, CHROMIUM, browser_or_fail
from tests.fixtures.portal import Shop, b2b_stock
from tests.fixtures.servers import LiveServer, start_server

EXPIRED = "El enlace expiró o no es válido"


@pytest.fixture
def server(ctx: AppContext, tmp_path: Path) -> Iterator[LiveServer]:
    """A real server whose login tokens may live 1 s (so the TTL case takes a second, not five)."""
    live = start_server(ctx.settings.database_url, tmp_path, env={"ALEPHEE_LOGIN_TOKEN_MIN_TTL": "1"})
    yield live
    live.stop()


def _link(server: LiveServer, shop: Shop, ttl: int = 30) -> str:
    response = httpx.get(
        f"{server.base_url}/v2/accounts/{shop.account_id}/logintoken",
        params={"API_KEY": shop.tenant.api_key, "userEmail": shop.user_email, "module": 1, "ttl": ttl},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    url: str = response.json()["Url"]
    assert url.startswith(f"{server.base_url}/b2b/login/token?token=")
    return url


def test_buying_in_a_real_browser(
    ctx: AppContext, server: LiveServer, make_shop: Callable[..., Shop], tmp_path: Path
) -> None:
    sync_playwright = browser_or_fail()
    shop = make_shop(name="Distribuidora Andina")
    with ctx.db.writing() as session:  # the account's own portal address (here: the test server)
        session.execute(
            update(Account).where(Account.id == shop.account_id).values(b2b_portal_url=f"{server.base_url}/b2b")
        )
    shots = Path(os.environ.get("ALEPHEE_PORTAL_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    url = _link(server, shop)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 860}, locale="es-AR")
            page = context.new_page()
            page.set_default_timeout(15_000)

            # The link opens a session and lands on the catalog.
            page.goto(url)
            assert page.url == f"{server.base_url}/b2b/catalog"
            assert page.get_by_role("heading", name="Catálogo").is_visible()
            session_cookies = [c for c in context.cookies() if c["name"] == "alephee_b2b_session"]
            assert len(session_cookies) == 1 and session_cookies[0]["httpOnly"]

            # The keyboard reaches the content first through the skip link.
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.textContent") == "Saltar al contenido"

            # Search by brand and add 2 drills.
            page.get_by_label("Buscar por SKU, marca o nombre").fill("bosch")
            page.keyboard.press("Enter")
            page.wait_for_url("**/b2b/catalog?q=bosch")
            drill = page.get_by_role("article", name="Taladro percutor 13 mm")
            assert "$ 855,00" in drill.inner_text()
            drill.get_by_label("Cantidad").fill("2")
            drill.get_by_role("button", name="Agregar").click()
            page.wait_for_selector(".flash")
            assert "Agregaste 2 u." in page.inner_text(".flash")
            page.screenshot(path=str(shots / "portal-catalog.png"))

            # Search by SKU and add 3 spark plugs.
            page.get_by_label("Buscar por SKU, marca o nombre").fill("BUJ-002")
            page.get_by_role("button", name="Buscar").click()
            page.wait_for_url("**/b2b/catalog?q=BUJ-002")
            plug = page.get_by_role("article", name="Bujía iridio")
            plug.get_by_label("Cantidad").fill("3")
            plug.get_by_role("button", name="Agregar").click()
            page.wait_for_selector(".flash")

            # The cart shows both lines with their B2B prices; place the order.
            page.get_by_role("link", name="Carrito").click()
            page.wait_for_url("**/b2b/cart")
            summary = page.inner_text(".summary")
            assert "$ 2.386,35" in summary
            page.get_by_label("Notas para el pedido").fill("Entregar por la mañana")
            page.screenshot(path=str(shots / "portal-cart.png"), full_page=True)
            page.get_by_role("button", name="Confirmar pedido").click()
            page.wait_for_url("**/b2b/orders/*")
            order_id = int(page.url.rsplit("/", 1)[1])
            assert f"Tu pedido #{order_id} fue enviado" in page.inner_text(".flash")
            assert "Recibido" in page.inner_text("main")

            # On a phone the pages fit the screen.
            page.set_viewport_size({"width": 390, "height": 844})
            page.goto(f"{server.base_url}/b2b/catalog")
            assert page.evaluate("document.documentElement.scrollWidth") <= 390

            # The ERP sees the order at once, with status 0 and the B2B prices.
            response = httpx.get(
                f"{server.base_url}/v2/orders", params={**shop.tenant.q(), "statusType": 0}, timeout=10
            )
            assert response.status_code == 200
            (order,) = response.json()["Results"]
            assert order["Id"] == order_id
            assert order["Status"]["Key"] == 0 and order["MarketPlace"]["Key"] == 30
            prices = {i["Product"]["Sku"]: (i["Quantity"], i["UnitPrice"], i["FullUnitPrice"]) for i in order["Items"]}
            assert prices == {"TAL-001": (2, 855.0, 1000.0), "BUJ-002": (3, 225.45, 250.5)}
            assert [a["Code"] for a in order["Adjustments"]] == ["B2B-LISTA", "B2B-PRODUCTO"]
            assert order["Notes"] == "Entregar por la mañana"
            assert b2b_stock(ctx, shop)["TAL-001"] == 8 and b2b_stock(ctx, shop)["BUJ-002"] == 0

            # The same link a second time: the expired page, and no session any more.
            answer = page.goto(url)
            assert answer is not None and answer.status == 410
            assert page.get_by_role("heading", name=EXPIRED).is_visible()
            assert not [c for c in context.cookies() if c["name"] == "alephee_b2b_session"]
            answer = page.goto(f"{server.base_url}/b2b/cart")
            assert answer is not None and answer.status == 401

            # A fresh link opened after its TTL, in another browser: the expired page, no session.
            late = _link(server, shop, ttl=1)
            time.sleep(1.3)
            other = browser.new_context()
            late_page = other.new_page()
            answer = late_page.goto(late)
            assert answer is not None and answer.status == 410
            assert late_page.get_by_role("heading", name=EXPIRED).is_visible()
            assert not [c for c in other.cookies() if c["name"] == "alephee_b2b_session"]
        finally:
            browser.close()


def test_two_tabs_confirm_only_what_they_show(
    ctx: AppContext, server: LiveServer, make_shop: Callable[..., Shop]
) -> None:
    sync_playwright = browser_or_fail()
    shop = make_shop()
    with ctx.db.writing() as session:
        session.execute(
            update(Account).where(Account.id == shop.account_id).values(b2b_portal_url=f"{server.base_url}/b2b")
        )

    def orders() -> list[dict[str, Any]]:
        response = httpx.get(f"{server.base_url}/v2/orders", params={**shop.tenant.q(), "statusType": 0}, timeout=10)
        assert response.status_code == 200
        results: list[dict[str, Any]] = response.json()["Results"]
        return results

    def add(page: Any, query: str, name: str, quantity: int) -> None:
        page.goto(f"{server.base_url}/b2b/catalog?q={query}")
        article = page.get_by_role("article", name=name)
        article.get_by_label("Cantidad").fill(str(quantity))
        article.get_by_role("button", name="Agregar").click()
        page.wait_for_selector(".flash")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = browser.new_context(locale="es-AR")
            tab_a = context.new_page()
            tab_a.set_default_timeout(15_000)
            tab_a.goto(_link(server, shop))
            add(tab_a, "TAL-001", "Taladro percutor 13 mm", 1)
            tab_a.goto(f"{server.base_url}/b2b/cart")
            assert "Bujía iridio" not in tab_a.inner_text("main")

            # Tab B (same browser, same session) adds 3 spark plugs while tab A shows 1 drill.
            tab_b = context.new_page()
            tab_b.set_default_timeout(15_000)
            add(tab_b, "BUJ-002", "Bujía iridio", 3)

            # Confirming in tab A orders nothing and shows the cart as it is now.
            tab_a.get_by_role("button", name="Confirmar pedido").click()
            tab_a.wait_for_url("**/b2b/cart")
            assert "Tu carrito cambió" in tab_a.inner_text(".flash")
            assert "Bujía iridio" in tab_a.inner_text("main")
            assert orders() == []

            # The ERP raises the drill's price: the next confirmation comes back naming the new price.
            with ctx.db.writing() as session:
                session.execute(
                    update(ProductPrice)
                    .where(ProductPrice.product_id == shop.products["TAL-001"])
                    .where(ProductPrice.price_list_id == shop.b2b_list_id)
                    .values(price_with_taxes=Decimal("2000"))
                )
            tab_a.get_by_role("button", name="Confirmar pedido").click()
            tab_a.wait_for_url("**/b2b/cart")
            assert "«Taladro percutor 13 mm»: de $ 855,00 a $ 1.710,00 por unidad" in tab_a.inner_text(".flash")
            assert orders() == []

            # Now the page shows both lines at today's prices: confirming orders exactly that.
            tab_a.get_by_role("button", name="Confirmar pedido").click()
            tab_a.wait_for_url("**/b2b/orders/*")
            (order,) = orders()
            lines = {i["Product"]["Sku"]: (i["Quantity"], i["UnitPrice"]) for i in order["Items"]}
            assert lines == {"TAL-001": (1, 1710.0), "BUJ-002": (3, 225.45)}

            # Logging out lands on the signed-out page, not on /b2b/logout.
            tab_a.get_by_role("button", name="Salir").click()
            tab_a.wait_for_url("**/b2b/signed-out")
            assert tab_a.get_by_role("heading", name="Cerraste sesión").is_visible()
        finally:
            browser.close()
