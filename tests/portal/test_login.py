"""Signing in to the B2B portal with module-1 login links (CF-10.5.4), sessions, logout and CSRF."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from alephee import clock
from alephee.accounts.models import Account, User
from alephee.http.context import AppContext
from alephee.portal.models import PortalSession
from alephee.portal.routes import COOKIE
from tests.fixtures.portal import Shop, csrf_of, issue_link, sign_in

EXPIRED_PAGE = "El enlace expiró o no es válido"


def _sessions(ctx: AppContext) -> int:
    with ctx.db.reading() as session:
        return len(session.scalars(select(PortalSession.id)).all())


def test_a_valid_link_opens_a_session_and_lands_on_the_catalog(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    response = client.get(issue_link(client, shop), follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/b2b/catalog"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/b2b" in cookie
    assert "Secure" not in cookie  # plain http
    assert "Max-Age=28800" in cookie
    page = client.get("/b2b/catalog")
    assert page.status_code == 200
    assert "Compras Cliente" in page.text and "Taladro percutor" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    # Only the hash of the cookie value is stored.
    raw = client.cookies[COOKIE]
    with ctx.db.reading() as session:
        stored = session.scalars(select(PortalSession.token_hash)).all()
    assert len(stored) == 1 and raw not in stored[0]


def test_the_cookie_is_secure_over_https(ctx: AppContext, session_app: object, shop: Shop) -> None:
    with TestClient(session_app, base_url="https://testserver") as https_client:  # type: ignore[arg-type]
        response = https_client.get(issue_link(https_client, shop), follow_redirects=False)
    assert response.status_code == 303
    assert "Secure" in response.headers["set-cookie"]


def test_the_account_portal_url_is_honoured(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    with ctx.db.writing() as session:
        session.execute(
            update(Account)
            .where(Account.id == shop.account_id)
            .values(b2b_portal_url="https://b2b.cliente.example/b2b")
        )
    body = client.get(
        f"/v2/accounts/{shop.account_id}/logintoken",
        params={"API_KEY": shop.tenant.api_key, "userEmail": shop.user_email},
    ).json()
    assert body["Url"] == f"https://b2b.cliente.example/b2b/login/token?token={body['Token']}"


def test_a_link_works_once(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    link = issue_link(client, shop)
    assert client.get(link, follow_redirects=False).status_code == 303
    again = client.get(link, follow_redirects=False)
    assert again.status_code == 410
    assert EXPIRED_PAGE in again.text
    # The refused link also ends the session this browser had.
    assert f'{COOKIE}=""' in again.headers["set-cookie"]
    assert _sessions(ctx) == 0
    assert client.get("/b2b/catalog").status_code == 401


def test_a_reused_link_opens_nothing_in_another_browser(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    link = issue_link(client, shop)
    assert client.get(link, follow_redirects=False).status_code == 303
    client.cookies.clear()
    response = client.get(link, follow_redirects=False)
    assert response.status_code == 410
    assert COOKIE not in client.cookies
    assert client.get("/b2b/catalog").status_code == 401
    assert _sessions(ctx) == 1  # only the first browser's


def test_an_expired_link_is_refused(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    link = issue_link(client, shop, ttl=5)
    clock.advance(timedelta(seconds=6))
    response = client.get(link, follow_redirects=False)
    assert response.status_code == 410
    assert EXPIRED_PAGE in response.text
    assert _sessions(ctx) == 0


def test_a_link_just_before_its_ttl_still_works(client: TestClient, shop: Shop) -> None:
    link = issue_link(client, shop, ttl=5)
    clock.advance(timedelta(seconds=4))
    assert client.get(link, follow_redirects=False).status_code == 303


def test_a_module_2_token_does_not_open_the_portal(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    response = client.get(issue_link(client, shop, module=2), follow_redirects=False)
    assert response.status_code == 401
    assert EXPIRED_PAGE in response.text
    assert _sessions(ctx) == 0


def test_unknown_missing_and_hostile_tokens(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    for link in (
        "/b2b/login/token?token=00000000-0000-4000-8000-000000000000",
        "/b2b/login/token",
        "/b2b/login/token?token=",
        "/b2b/login/token?token=" + "x" * 5000,
        "/b2b/login/token?token=%00%27%22<script>",
    ):
        response = client.get(link, follow_redirects=False)
        assert response.status_code == 401, link
        assert EXPIRED_PAGE in response.text
        assert "<script>" not in response.text
    assert _sessions(ctx) == 0


def test_no_other_way_in(client: TestClient, shop: Shop) -> None:
    for path in ("/b2b", "/b2b/", "/b2b/catalog", "/b2b/cart", "/b2b/orders", "/b2b/products/1", "/b2b/orders/1"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 401, path
        assert "Ingresá desde el sistema de tu proveedor" in response.text
    client.cookies.set(COOKIE, "forged-session-value", path="/b2b")
    assert client.get("/b2b/catalog").status_code == 401
    assert client.post("/b2b/cart/add", data={"product_id": "1", "quantity": "1"}).status_code == 401


def test_accounts_without_portal_get_412_and_no_link(
    ctx: AppContext, client: TestClient, make_shop: Callable[..., Shop]
) -> None:
    closed = make_shop(portal_enabled=False)
    response = client.get(
        f"/v2/accounts/{closed.account_id}/logintoken",
        params={"API_KEY": closed.tenant.api_key, "userEmail": closed.user_email, "module": 1},
    )
    assert response.status_code == 412
    assert response.json() == {"Status": 412, "Message": "The account has no Alephee B2B portal"}
    # A module-2 token of that account does not open the portal either.
    assert client.get(issue_link(client, closed, module=2), follow_redirects=False).status_code == 401
    assert _sessions(ctx) == 0


def test_portal_switched_off_after_the_link_was_issued(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    link = issue_link(client, shop)
    with ctx.db.writing() as session:
        session.execute(update(Account).where(Account.id == shop.account_id).values(b2b_portal_enabled=False))
    response = client.get(link, follow_redirects=False)
    assert response.status_code == 403
    assert "no está habilitado" in response.text
    assert _sessions(ctx) == 0
    # The token was consumed all the same.
    with ctx.db.writing() as session:
        session.execute(update(Account).where(Account.id == shop.account_id).values(b2b_portal_enabled=True))
    assert client.get(link, follow_redirects=False).status_code == 410


def test_deactivating_a_user_ends_their_sessions(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    sign_in(client, shop)
    assert client.get("/b2b/catalog").status_code == 200
    with ctx.db.writing() as session:
        session.execute(update(User).where(User.account_id == shop.account_id).values(active=False))
    assert client.get("/b2b/catalog").status_code == 401


def test_inactive_users_get_no_link(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    from alephee.accounts import service as accounts

    with ctx.db.writing() as session:
        accounts.create_user(session, shop.account_id, "baja@cliente.example", active=False)
    response = client.get(
        f"/v2/accounts/{shop.account_id}/logintoken",
        params={"API_KEY": shop.tenant.api_key, "userEmail": "baja@cliente.example", "module": 1},
    )
    assert response.status_code == 401


def test_the_session_expires(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    sign_in(client, shop)
    clock.advance(timedelta(seconds=ctx.settings.portal_session_ttl_seconds - 5))
    assert client.get("/b2b/catalog").status_code == 200
    clock.advance(timedelta(seconds=10))
    assert client.get("/b2b/catalog").status_code == 401


def test_logout_needs_the_csrf_token(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    csrf = sign_in(client, shop)
    assert client.post("/b2b/logout").status_code == 403
    assert client.post("/b2b/logout", data={"csrf": "not-the-token"}).status_code == 403
    assert client.get("/b2b/catalog").status_code == 200
    response = client.post("/b2b/logout", data={"csrf": csrf}, follow_redirects=False)
    assert response.status_code == 303
    assert f'{COOKIE}=""' in response.headers["set-cookie"]
    assert _sessions(ctx) == 0
    assert client.get("/b2b/catalog").status_code == 401


def test_logout_by_get_is_not_possible(client: TestClient, shop: Shop) -> None:
    sign_in(client, shop)
    assert client.get("/b2b/logout").status_code == 404
    assert client.get("/b2b/catalog").status_code == 200


def test_a_new_link_replaces_the_previous_session(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    first = sign_in(client, shop)
    second = sign_in(client, shop)
    assert first != second
    assert _sessions(ctx) == 1
    assert csrf_of(client.get("/b2b/cart").text) == second


def test_csrf_tokens_belong_to_their_session(
    ctx: AppContext, client: TestClient, session_app: object, shop: Shop
) -> None:
    other_csrf = sign_in(client, shop)
    with TestClient(session_app) as second:  # type: ignore[arg-type]
        sign_in(second, shop)
        product_id = shop.products["BUJ-002"]
        response = second.post("/b2b/cart/add", data={"csrf": other_csrf, "product_id": product_id, "quantity": "1"})
        assert response.status_code == 403
        assert "El formulario expiró" in response.text


def test_portal_routes_are_not_part_of_the_api(client: TestClient) -> None:
    from alephee.app import api_operations

    paths = client.get("/swagger/docs/v2").json()["paths"]
    assert not [p for p in paths if "b2b" in p]
    assert not [op for op in api_operations() if "b2b" in op[1]]
    static = client.get("/b2b/static/portal.css")
    assert static.status_code == 200 and "text/css" in static.headers["content-type"]
    assert client.get("/b2b/static/portal.js").status_code == 200


def test_unknown_portal_pages_are_html_404(client: TestClient, shop: Shop) -> None:
    sign_in(client, shop)
    for path in ("/b2b/nothing/here", "/b2b/products/999999999", "/b2b/products/abc", "/b2b/orders/0"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "text/html" in response.headers["content-type"]
