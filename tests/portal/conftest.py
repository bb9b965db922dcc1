"""Fixtures of the B2B portal tests: a shop (account with the portal, marketplace 30, a wholesale price list with a
10% discount, a small catalog with B2B stock) and helpers to sign in through a real login link."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from alephee.accounts import service as accounts
from alephee.accounts import tokens
from alephee.http.context import AppContext
from alephee.portal import sessions as portal_sessions
from alephee.portal.routes import COOKIE
from alephee.products.importer import import_catalog
from alephee.products.models import Product
from tests.conftest import Tenant

B2B_LIST = "Lista mayorista"
EMAIL = "compras@cliente.example"

# sku, brand, name, extra columns. Wholesale prices (with taxes) in B2B_LIST; the general list is higher.
CATALOG: list[dict[str, Any]] = [
    {"sku": "TAL-001", "brand": "Bosch", "name": "Taladro percutor 13 mm", "b2b_quantity": 10,
     "price_with_taxes": "1200", f"price_with_taxes@{B2B_LIST}": "1000", f"b2b_discount_rate@{B2B_LIST}": "5"},
    {"sku": "BUJ-002", "brand": "NGK", "name": "Bujía iridio", "b2b_quantity": 3,
     "price_with_taxes": "300", f"price_with_taxes@{B2B_LIST}": "250.50"},
    {"sku": "MAR-003", "brand": "Stanley", "name": "Martillo carpintero", "b2b_quantity": 0,
     "price_with_taxes": "150", f"price_with_taxes@{B2B_LIST}": "100"},
    {"sku": "SIN-004", "brand": "Stanley", "name": "Cinta métrica sin precio mayorista", "b2b_quantity": 50,
     "price_with_taxes": "90"},
    {"sku": "BOR-006", "brand": "Stanley", "name": "Producto dado de baja", "b2b_quantity": 50,
     "catalog_status": "deleted", f"price_with_taxes@{B2B_LIST}": "10"},
    {"sku": "KIT-005", "brand": "Bosch", "name": "Kit taladro + 4 bujías", "type": "kit", "b2b_quantity": 2,
     "components": "TAL-001:1;BUJ-002:4", "price_with_taxes": "2000", f"price_with_taxes@{B2B_LIST}": "1800"},
]  # fmt: skip


@dataclass
class Shop:
    """An account with a B2B portal and its catalog."""

    tenant: Tenant
    user_email: str
    b2b_list_id: int | None
    products: dict[str, int]

    @property
    def account_id(self) -> int:
        """The account's id."""
        return self.tenant.account_id


@pytest.fixture
def make_shop(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> Callable[..., Shop]:
    """Build a shop; ``marketplace=False`` leaves marketplace 30 unconnected, ``b2b_list=False`` keeps only the
    default list, ``portal=False`` disables the B2B portal."""

    def make(
        *,
        portal_enabled: bool = True,
        marketplace: bool = True,
        b2b_list: bool = True,
        list_discount: Decimal | None = Decimal("10"),
        catalog: list[dict[str, Any]] | None = None,
        email: str = EMAIL,
        name: str | None = None,
    ) -> Shop:
        tenant = make_tenant(name=name, marketplaces=(30,) if marketplace else (), b2b_portal=portal_enabled)
        rows = [dict(row) for row in (catalog if catalog is not None else CATALOG)]
        with ctx.db.writing() as session:
            general = accounts.create_price_list(
                session, tenant.account_id, "Lista general", currency="ARS", is_default=True,
                discount_rate=None if b2b_list else list_discount,
            )  # fmt: skip
            b2b_id: int | None = general.id
            if b2b_list:
                wholesale = accounts.create_price_list(
                    session, tenant.account_id, B2B_LIST, currency="ARS", discount_rate=list_discount, is_b2b=True
                )
                b2b_id = wholesale.id
            else:
                for row in rows:
                    for key in [k for k in row if k.endswith(f"@{B2B_LIST}")]:
                        row[key.split("@")[0]] = row.pop(key)
            accounts.create_user(session, tenant.account_id, email, name="Compras Cliente")
            report = import_catalog(session, ctx.settings, tenant.account_id, list(enumerate(rows, start=1)))
            assert not report.errors, [e.as_dict() for e in report.errors]
            products = {
                sku: pid
                for sku, pid in session.execute(
                    select(Product.sku, Product.id).where(Product.account_id == tenant.account_id)
                )
            }
        return Shop(tenant=tenant, user_email=email, b2b_list_id=b2b_id, products=products)

    return make


@pytest.fixture
def shop(make_shop: Callable[..., Shop]) -> Shop:
    """The default shop."""
    return make_shop()


def issue_link(client: TestClient, shop: Shop, *, email: str | None = None, module: int = 1, ttl: int = 30) -> str:
    """Ask the API for a login token (as the ERP does) and return the path of its link."""
    response = client.get(
        f"/v2/accounts/{shop.account_id}/logintoken",
        params={"API_KEY": shop.tenant.api_key, "userEmail": email or shop.user_email, "module": module, "ttl": ttl},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    if module != 1:
        return f"/b2b/login/token?token={body['Token']}"
    url: str = body["Url"]
    return url[url.index("/b2b/") :]


def sign_in(client: TestClient, shop: Shop, *, email: str | None = None) -> str:
    """Open a portal session in ``client`` through a fresh login link; returns the session's CSRF token."""
    response = client.get(issue_link(client, shop, email=email), follow_redirects=False)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/b2b/catalog"
    assert COOKIE in client.cookies
    return csrf_of(client.get("/b2b/catalog").text)


def csrf_of(html: str) -> str:
    """The CSRF token of a page's forms."""
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no form with a CSRF token on the page"
    return match.group(1)


def flash_of(html: str) -> str | None:
    """The one-shot message of a page, if any."""
    match = re.search(r'class="flash flash--\w+"[^>]*>([^<]*)<', html)
    return match.group(1).strip() if match else None


class _FormFields(HTMLParser):
    """The named fields of one form of a page (inputs inside it, or tied to it with ``form="…"``)."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form" and values.get("id") == self.form_id:
            self.inside = True
        elif tag in ("input", "textarea") and "name" in values and (self.inside or values.get("form") == self.form_id):
            self.fields[values["name"]] = values.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False


def cart_form(client: TestClient) -> dict[str, str]:
    """What the cart page's "Confirmar pedido" form would send right now (empty when the cart is empty)."""
    parser = _FormFields("cart-form")
    parser.feed(client.get("/b2b/cart").text)
    return parser.fields


def cart_of(ctx: AppContext, shop: Shop, email: str | None = None) -> dict[str, int]:
    """The user's cart as {sku: quantity}, read from the database."""
    from alephee.accounts.models import User
    from alephee.portal.models import PortalCartItem

    with ctx.db.reading() as session:
        user_id = session.scalar(
            select(User.id).where(User.account_id == shop.account_id, User.email == (email or shop.user_email))
        )
        rows = session.execute(
            select(Product.sku, PortalCartItem.quantity)
            .join(Product, Product.id == PortalCartItem.product_id)
            .where(PortalCartItem.user_id == user_id)
        ).all()
    return {sku: qty for sku, qty in rows}


def b2b_stock(ctx: AppContext, shop: Shop) -> dict[str, int]:
    """{sku: B2BQuantity} of the shop's products."""
    with ctx.db.reading() as session:
        rows = session.execute(
            select(Product.sku, Product.b2b_quantity).where(Product.account_id == shop.account_id)
        ).all()
    return {sku: qty for sku, qty in rows}


def open_viewer(ctx: AppContext, shop: Shop, email: str | None = None) -> portal_sessions.Viewer:
    """A signed-in viewer built through the service (issue a token, consume it, read the session back)."""
    with ctx.db.writing() as session:
        issued = tokens.issue_login_token(
            session, ctx.settings, account_id=shop.account_id, key_id=None,
            user_email=email or shop.user_email, module="1", ttl="30",
        )  # fmt: skip
    with ctx.db.writing() as session:
        opened = portal_sessions.sign_in(session, ctx.settings, issued.token)
        viewer = portal_sessions.authenticate(session, opened.cookie)
    assert viewer is not None
    return viewer
