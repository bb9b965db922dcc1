"""End to end in a real headless browser (Debian's Chromium driven by Playwright) against a real server: an
operator signs in, creates an API key (shown once) that works on the API, revokes it (after confirming) and the
API refuses it at once, finds the revocation in the audit log, switches to English, signs out; the keys page at
390 px has no sideways scrolling.

``ALEPHEE_CONSOLE_SCREENSHOTS=<dir>`` also saves the screenshots there (the ones in docs/images/ come from this
test: ``ALEPHEE_CONSOLE_SCREENSHOTS=docs/images pytest tests/console/test_browser.py -k sqlite``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import update

from alephee.accounts.models import Account
from alephee.http.context import AppContext
from alephee.webhooks import service as webhooks
from tests.fixtures.browser import ARGS, CHROMIUM, browser_or_fail
from tests.fixtures.console import ConsoleOperator
from tests.fixtures.servers import LiveServer
from tests.fixtures.tenants import Tenant


def _api_status(server: LiveServer, secret: str) -> int:
    return httpx.get(f"{server.base_url}/v2/accounts", params={"API_KEY": secret}, timeout=10).status_code


def test_an_operator_in_a_real_browser(
    ctx: AppContext,
    live_server: LiveServer,
    make_tenant: Callable[..., Tenant],
    make_operator: Callable[..., ConsoleOperator],
    tmp_path: Path,
) -> None:
    sync_playwright = browser_or_fail()
    tenant = make_tenant(name="Distribuidora Andina")
    with ctx.db.writing() as session:
        session.execute(update(Account).where(Account.id == tenant.account_id).values(name="Distribuidora Andina"))
        webhooks.create_subscription(
            session,
            ctx.settings.model_copy(update={"webhook_allow_private_targets": True}),
            tenant.account_id,
            url="http://127.0.0.1:9/erp/hooks",
            event_types=["order.created", "order.status_changed"],
            description="ERP",
        )
    operator = make_operator([tenant.account_id], email="operaciones@example.com")
    shots = Path(os.environ.get("ALEPHEE_CONSOLE_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    base = live_server.base_url

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 820}, locale="es-AR")
            page = context.new_page()
            page.set_default_timeout(15_000)
            page.on("dialog", lambda dialog: dialog.accept())

            # A console page without a session goes to the sign-in form, and back after it.
            page.goto(f"{base}/console/keys")
            assert page.url.startswith(f"{base}/console/login?next=")
            page.screenshot(path=str(shots / "console-login.png"))
            page.get_by_label("Correo electrónico").fill(operator.email)
            page.get_by_label("Contraseña").fill(operator.password)
            page.get_by_role("button", name="Iniciar sesión").click()
            page.wait_for_url(f"{base}/console/keys")
            cookies = [c for c in context.cookies() if c["name"] == "alephee_console_session"]
            assert len(cookies) == 1 and cookies[0]["httpOnly"]

            # Create a key: its secret is on the answer, once, and works on the API.
            page.get_by_label("Etiqueta").fill("ERP producción")
            page.get_by_role("button", name="Crear clave").click()
            secret = page.inner_text("[data-secret]").strip()
            assert "se muestra una sola vez" in page.inner_text("main")
            assert _api_status(live_server, secret) == 200
            page.get_by_role("link", name="Listo").click()
            row = page.get_by_role("row").filter(has_text="ERP producción")
            assert secret not in page.content() and secret[:8] in row.inner_text()
            page.screenshot(path=str(shots / "console-keys.png"), full_page=True)

            # Revoke it (the page asks first): the API refuses it at once.
            row.get_by_role("button", name="Revocar").click()
            page.wait_for_selector(".flash")
            assert page.inner_text(".flash") == "La clave fue revocada"
            assert _api_status(live_server, secret) == 401
            assert _api_status(live_server, tenant.api_key) == 200

            # The webhooks of the account.
            page.get_by_role("link", name="Webhooks").click()
            page.wait_for_url(f"{base}/console/webhooks?account={tenant.account_id}")
            assert "http://127.0.0.1:9/erp/hooks" in page.inner_text("main")
            page.screenshot(path=str(shots / "console-webhooks.png"), full_page=True)

            # The audit log shows the sign-in and the revocation; then the page in English.
            page.get_by_role("link", name="Auditoría").click()
            page.wait_for_url(f"{base}/console/audit**")
            text = page.inner_text("main")
            assert "console.keys.revoke" in text and "console.keys.create" in text
            page.get_by_role("link", name="EN", exact=True).click()
            page.wait_for_url(f"{base}/console/audit**")
            assert page.get_by_role("heading", name="Audit").is_visible()
            page.get_by_label("Security events only").check()
            page.get_by_role("button", name="Filter").click()
            page.wait_for_url("**security=on**")
            page.get_by_label("Security events only").uncheck()
            page.get_by_role("button", name="Filter").click()
            page.wait_for_url("**/console/audit?**")
            page.screenshot(path=str(shots / "console-audit.png"), full_page=True)

            # On a phone: no sideways scrolling, the menu folds.
            phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="es-AR", is_mobile=True)
            phone.add_cookies(context.cookies())
            mobile = phone.new_page()
            mobile.goto(f"{base}/console/keys?account={tenant.account_id}")
            assert mobile.evaluate("document.documentElement.scrollWidth") <= 390
            assert not mobile.get_by_role("link", name="Audit").is_visible()
            mobile.get_by_text("Menu").click()
            assert mobile.get_by_role("link", name="Audit").is_visible()
            mobile.screenshot(path=str(shots / "console-keys-mobile.png"), full_page=True)
            phone.close()

            # Sign out: back to the form, and the console needs a new sign-in.
            page.get_by_role("button", name="Sign out").click()
            page.wait_for_url(f"{base}/console/login")
            page.goto(f"{base}/console/keys")
            assert page.url.startswith(f"{base}/console/login")
        finally:
            browser.close()
