"""The cart: adding, changing and removing lines, never above the B2B stock; CSRF on every form."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import update

from alephee.http.context import AppContext
from alephee.products.models import Product
from tests.fixtures.portal import Shop, cart_of, flash_of, sign_in


def _add(client: TestClient, csrf: str, product_id: int | str, quantity: str, nxt: str = "/cart") -> str:
    response = client.post(
        "/b2b/cart/add",
        data={"csrf": csrf, "product_id": str(product_id), "quantity": quantity, "next": nxt},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return response.headers["location"]


def _message(client: TestClient, path: str = "/b2b/cart") -> str | None:
    return flash_of(client.get(path).text)


def _set_b2b(ctx: AppContext, product_id: int, quantity: int) -> None:
    with ctx.db.writing() as session:
        session.execute(update(Product).where(Product.id == product_id).values(b2b_quantity=quantity))


def test_add_change_and_remove(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    csrf = sign_in(client, shop)
    drill, plug = shop.products["TAL-001"], shop.products["BUJ-002"]
    assert _add(client, csrf, drill, "2", "/catalog?q=bosch") == "/b2b/catalog?q=bosch"
    assert _message(client, "/b2b/catalog?q=bosch") == "Agregaste 2 u. de «Taladro percutor 13 mm» al carrito."
    assert _message(client, "/b2b/catalog") is None  # shown once
    _add(client, csrf, drill, "3")
    _add(client, csrf, plug, "1")
    assert cart_of(ctx, shop) == {"TAL-001": 5, "BUJ-002": 1}
    page = client.get("/b2b/cart").text
    assert "$ 4.275,00" in page  # 5 × 855.00
    assert ", 6 unidades" in page  # the cart link's count, for screen readers
    response = client.post(
        "/b2b/cart/update", data={"csrf": csrf, f"qty-{drill}": "4", f"qty-{plug}": "0"}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/b2b/cart"
    assert cart_of(ctx, shop) == {"TAL-001": 4}
    assert _message(client) == "Carrito actualizado."
    response = client.post("/b2b/cart/remove", data={"csrf": csrf, "product_id": str(drill)}, follow_redirects=False)
    assert response.status_code == 303
    assert cart_of(ctx, shop) == {}
    assert "Tu carrito está vacío" in client.get("/b2b/cart").text


def test_adding_never_exceeds_the_b2b_stock(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    csrf = sign_in(client, shop)
    plug = shop.products["BUJ-002"]  # 3 in B2B stock
    _add(client, csrf, plug, "5")
    assert cart_of(ctx, shop) == {"BUJ-002": 3}
    assert _message(client) == "Solo hay 3 u. disponibles de «Bujía iridio»: tu carrito tiene 3."
    _add(client, csrf, plug, "1")
    assert cart_of(ctx, shop) == {"BUJ-002": 3}
    _add(client, csrf, plug, "9" * 40)
    assert cart_of(ctx, shop) == {"BUJ-002": 3}


def test_updating_never_exceeds_the_b2b_stock(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    csrf = sign_in(client, shop)
    drill, plug = shop.products["TAL-001"], shop.products["BUJ-002"]
    _add(client, csrf, drill, "1")
    _add(client, csrf, plug, "1")
    client.post(
        "/b2b/cart/update", data={"csrf": csrf, f"qty-{drill}": "11", f"qty-{plug}": "3"}, follow_redirects=False
    )
    assert cart_of(ctx, shop) == {"TAL-001": 10, "BUJ-002": 3}
    assert "«Taladro percutor 13 mm»" in (_message(client) or "")


def test_products_that_cannot_be_bought(
    ctx: AppContext, client: TestClient, shop: Shop, make_shop: Callable[..., Shop]
) -> None:
    other = make_shop(email="otro@cliente.example")
    csrf = sign_in(client, shop)
    cases = {
        shop.products["MAR-003"]: "no está disponible para comprar",  # no B2B stock
        shop.products["SIN-004"]: "no está disponible para comprar",  # no price in the portal's list
        shop.products["BOR-006"]: "no existe o no está disponible",  # deleted in the catalog
        other.products["TAL-001"]: "no existe o no está disponible",  # another account's product
        999_999_999: "no existe o no está disponible",
    }
    for product_id, text in cases.items():
        _add(client, csrf, product_id, "1")
        assert text in (_message(client) or ""), product_id
    assert cart_of(ctx, shop) == {}


def test_bad_quantities_and_ids_are_4xx_or_messages_never_500(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    csrf = sign_in(client, shop)
    drill = shop.products["TAL-001"]
    for quantity in ("0", "-1", "abc", "", "1.5", "١"):
        _add(client, csrf, drill, quantity)
        assert _message(client) == "Ingresá una cantidad entera mayor que cero.", quantity
    for product_id in ("abc", "", "-3", "9" * 30):
        _add(client, csrf, product_id, "1")
        assert "no existe" in (_message(client) or ""), product_id
    assert cart_of(ctx, shop) == {}
    _add(client, csrf, drill, "1")
    response = client.post("/b2b/cart/update", data={"csrf": csrf, f"qty-{drill}": "x"}, follow_redirects=False)
    assert response.status_code == 303
    assert cart_of(ctx, shop) == {"TAL-001": 1}
    # Quantities for products not in the cart, or odd field names, are ignored.
    client.post("/b2b/cart/update", data={"csrf": csrf, "qty-123456": "5", "qty-abc": "2", "qty-": "1"})
    assert cart_of(ctx, shop) == {"TAL-001": 1}
    # A "next" pointing elsewhere never leaves the portal.
    assert _add(client, csrf, drill, "1", "https://evil.example/") == "/b2b/cart"
    assert _add(client, csrf, drill, "1", "//evil.example/") == "/b2b/cart"
    # Not a form at all.
    response = client.post("/b2b/cart/add", content=b"\x00\xff", headers={"content-type": "application/json"})
    assert response.status_code == 403


def test_every_form_needs_the_csrf_token(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    csrf = sign_in(client, shop)
    drill = shop.products["TAL-001"]
    _add(client, csrf, drill, "2")
    for path, data in (
        ("/b2b/cart/add", {"product_id": str(drill), "quantity": "1"}),
        ("/b2b/cart/update", {f"qty-{drill}": "1"}),
        ("/b2b/cart/remove", {"product_id": str(drill)}),
        ("/b2b/cart/place", {}),
        ("/b2b/logout", {}),
    ):
        for token in (None, "", "forged", csrf[:-1]):
            form = dict(data) if token is None else {**data, "csrf": token}
            response = client.post(path, data=form, follow_redirects=False)
            assert response.status_code == 403, (path, token)
    assert cart_of(ctx, shop) == {"TAL-001": 2}
    assert client.get("/b2b/orders").status_code == 200


def test_the_cart_flags_lines_whose_stock_dropped(ctx: AppContext, client: TestClient, shop: Shop) -> None:
    csrf = sign_in(client, shop)
    drill = shop.products["TAL-001"]
    _add(client, csrf, drill, "6")
    _set_b2b(ctx, drill, 4)  # the ERP lowered the B2B stock
    page = client.get("/b2b/cart").text
    assert "Solo quedan 4 u." in page
    assert "disabled" in page.split("Confirmar pedido")[0].rsplit("<button", 1)[1]
    _set_b2b(ctx, drill, 0)
    page = client.get("/b2b/cart").text
    assert "Sin stock en este momento." in page
    # Updating an out-of-stock line keeps it (flagged) until the buyer removes it.
    client.post("/b2b/cart/update", data={"csrf": csrf, f"qty-{drill}": "2"})
    assert cart_of(ctx, shop) == {"TAL-001": 6}


def test_the_cart_has_a_line_limit(ctx: AppContext, make_client: Callable[..., TestClient], shop: Shop) -> None:
    client = make_client(portal_max_cart_lines=2)
    csrf = sign_in(client, shop)
    _add(client, csrf, shop.products["TAL-001"], "1")
    _add(client, csrf, shop.products["BUJ-002"], "1")
    _add(client, csrf, shop.products["KIT-005"], "1")
    assert "hasta 2 productos distintos" in (_message(client) or "")
    assert cart_of(ctx, shop) == {"TAL-001": 1, "BUJ-002": 1}
    _add(client, csrf, shop.products["TAL-001"], "1")  # more of a line already there is fine
    assert cart_of(ctx, shop) == {"TAL-001": 2, "BUJ-002": 1}


def test_each_user_has_their_own_cart(ctx: AppContext, client: TestClient, session_app: object, shop: Shop) -> None:
    from alephee.accounts import service as accounts

    with ctx.db.writing() as session:
        accounts.create_user(session, shop.account_id, "otra@cliente.example")
    csrf = sign_in(client, shop)
    _add(client, csrf, shop.products["TAL-001"], "2")
    with TestClient(session_app) as second:  # type: ignore[arg-type]
        csrf2 = sign_in(second, shop, email="otra@cliente.example")
        _add(second, csrf2, shop.products["BUJ-002"], "1")
    assert cart_of(ctx, shop) == {"TAL-001": 2}
    assert cart_of(ctx, shop, "otra@cliente.example") == {"BUJ-002": 1}
    # The cart outlives the session: a new link shows it again.
    sign_in(client, shop)
    assert cart_of(ctx, shop) == {"TAL-001": 2}
    assert "Taladro percutor 13 mm" in client.get("/b2b/cart").text
