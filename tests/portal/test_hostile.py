"""Hostile or odd input never produces a 500 on the portal."""

from __future__ import annotations

from fastapi.testclient import TestClient

from alephee.http.context import AppContext
from alephee.portal.routes import COOKIE
from tests.fixtures.portal import Shop, cart_of, sign_in


def test_odd_query_strings(client: TestClient, shop: Shop) -> None:
    sign_in(client, shop)
    for path in (
        "/b2b/catalog?page=-1",
        "/b2b/catalog?page=abc",
        "/b2b/catalog?page=" + "9" * 40,
        "/b2b/catalog?q=" + "x" * 10_000,
        "/b2b/catalog?q=%25%5F%5C",
        "/b2b/catalog?q=%00%01%02",
        "/b2b/catalog?q=%F0%9F%94%A7%20bosch",
        "/b2b/catalog?q=a&q=b&page=1&page=2",
        "/b2b/orders?page=" + "9" * 40,
        "/b2b/products/" + "9" * 40,
        "/b2b/orders/" + "9" * 40,
        "/b2b/products/-1",
    ):
        response = client.get(path)
        assert response.status_code in (200, 404), (path, response.status_code)
        assert "text/html" in response.headers["content-type"]


def test_search_wildcards_are_literal(client: TestClient, shop: Shop) -> None:
    sign_in(client, shop)
    assert "0 productos" in client.get("/b2b/catalog", params={"q": "%"}).text
    assert "0 productos" in client.get("/b2b/catalog", params={"q": "_"}).text
    page = client.get("/b2b/catalog", params={"q": "taladro bosch"}).text
    assert "2 productos" in page  # every word must match: the drill and the kit
    assert "1 producto " in client.get("/b2b/catalog", params={"q": "BUJ-002"}).text


def test_odd_forms(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    csrf = sign_in(client, shop)
    drill = str(shop.products["TAL-001"])
    many = {f"qty-{n}": "1" for n in range(1500)}
    for data, kwargs in (
        ({**many, "csrf": csrf}, {}),
        ({"csrf": csrf, "product_id": drill, "quantity": "%ZZ"}, {}),
        ({"csrf": csrf, "product_id": [drill, "7"], "quantity": ["1", "2"]}, {}),
    ):
        response = client.post("/b2b/cart/update", data=data, follow_redirects=False, **kwargs)
        assert response.status_code < 500, response.text
    response = client.post(
        "/b2b/cart/add",
        data={"csrf": csrf, "product_id": drill, "quantity": "1"},
        files={"upload": ("x.bin", b"\x00" * 1000, "application/octet-stream")},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert cart_of(ctx, shop) == {"TAL-001": 1}
    broken = client.post(
        "/b2b/cart/add", content=b"--x\r\nbroken", headers={"content-type": "multipart/form-data; boundary=x"}
    )
    assert broken.status_code < 500


def test_odd_cookies(client: TestClient, shop: Shop) -> None:
    for value in ("x" * 5000, "", "a;b"):
        client.cookies.set(COOKIE, value, path="/b2b")
        assert client.get("/b2b/catalog").status_code == 401
    client.cookies.clear()
    raw = COOKIE.encode() + b"=\xc3\xa9t\xc3\xa9\xff"
    assert client.get("/b2b/catalog", headers={"cookie": raw}).status_code == 401
