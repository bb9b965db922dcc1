"""POST /v2/orders (CF-21.6) and DELETE /v2/orders (CF-21.7): mandatory sections, usage limits,
ExternalOrderId idempotency, stock moved atomically and given back exactly once."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from alephee.http.context import AppContext
from alephee.orders.create import create_order
from alephee.orders.models import Order
from alephee.orders.status_updates import order_history
from tests.fixtures.errors import assert_error
from tests.fixtures.orders import PDF, AddOrder, order_info
from tests.fixtures.products import add_product, quantity_of
from tests.fixtures.tenants import Tenant


@pytest.fixture
def shop(make_tenant: Callable[..., Tenant]) -> Tenant:
    """A seller with its own web shop (24), the sandbox Mercado Libre (100) and Amazon (20)."""
    return make_tenant(marketplaces=(24, 100, 20), business_name="Tienda S.A.")


def _stock(ctx: AppContext, product_id: int) -> int:
    with ctx.db.reading() as session:
        return quantity_of(session, product_id)


def _create(client: TestClient, tenant: Tenant, body: Any) -> Any:
    return client.post("/v2/orders", params=tenant.q(), json=body)


def test_create_moves_stock_and_is_visible(client: TestClient, ctx: AppContext, shop: Tenant) -> None:
    with ctx.db.writing() as session:
        drill = add_product(session, shop.account_id, "ABC-1", brand="ACME", quantity=10)
        saw = add_product(session, shop.account_id, "SAW-1", brand="ACME", quantity=5)
    body = order_info(Integrated=True, ErpStatus="imported")
    body["Items"] += [
        {"Product": {"Sku": "SAW-1"}, "Quantity": 1, "StockMovement": False, "UnitPrice": 10, "Status": 10},
        {"Product": {"Sku": "NOT-IN-CATALOG", "Title": "Suelto"}, "Quantity": 4, "StockMovement": True,
         "UnitPrice": 5, "Status": 10},
    ]  # fmt: skip
    response = _create(client, shop, body)
    assert response.status_code == 201, response.text
    order = response.json()
    assert response.headers["Location"] == f"/v2/orders?idFrom={order['Id']}&idTo={order['Id']}"
    assert "X-Idempotent-Replay" not in response.headers
    assert order["ExternalOrderId"] == "WEB-0001" and order["Integrated"] is True and order["ErpStatus"] == "imported"
    assert order["Status"] == {"Key": 10, "Value": "Pendiente de envío"}
    assert order["MarketPlace"]["Key"] == 24
    assert order["DateCreated"] == "2024-05-10T13:00:00Z"
    first, second, loose = order["Items"]
    assert first["Product"]["Id"] == drill and first["Product"]["Brand"] == "ACME"
    assert first["QuantitiesDetails"]["StockMovements"][0]["PrevStock"] == 10
    assert first["QuantitiesDetails"]["StockMovements"][0]["PostStock"] == 8
    assert second["QuantitiesDetails"]["StockMovements"] == [] and loose["Product"]["Id"] == 0  # not in the catalogue
    # Stock: decremented exactly for the item that asked; untouched for the other; nothing for the loose one.
    assert (_stock(ctx, drill), _stock(ctx, saw)) == (8, 5)
    listed = client.get("/v2/orders", params=shop.q(idFrom=order["Id"], idTo=order["Id"])).json()["Results"]
    assert [o["Id"] for o in listed] == [order["Id"]]
    with ctx.db.reading() as session:
        assert [h.action for h in order_history(session, order["Id"])] == ["create"]


def test_create_repeat_is_idempotent_and_conflicts_are_409(client: TestClient, ctx: AppContext, shop: Tenant) -> None:
    with ctx.db.writing() as session:
        drill = add_product(session, shop.account_id, "ABC-1", brand="ACME", quantity=10)
    body = order_info("WEB-7")
    first = _create(client, shop, body)
    # The same request after a timeout (keys in another case, re-serialised): the same order, no new stock move.
    lowered = {k.lower(): v for k, v in copy.deepcopy(body).items()}
    again = _create(client, shop, lowered)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["X-Idempotent-Replay"] == "true"
    assert again.json()["Id"] == first.json()["Id"]
    assert _stock(ctx, drill) == 8
    with ctx.db.reading() as session:
        count = session.scalars(select(Order.id).where(Order.external_order_id == "WEB-7")).all()
    assert len(count) == 1
    changed = order_info("WEB-7", Notes="otra cosa")
    assert_error(_create(client, shop, changed), 409)
    # The number of a marketplace order of the account is taken too.
    assert_error(_create(client, shop, order_info(first.json()["ExternalOrderId"], marketplace_id=100, Notes="x")), 409)


def test_mandatory_sections(client: TestClient, shop: Tenant) -> None:
    def without(path: str) -> dict[str, Any]:
        body = order_info("WEB-M")
        *parents, last = path.split(".")
        target: Any = body
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        del target[last]
        return body

    for path in (
        "MarketplaceId",
        "ExternalOrderId",
        "DateCreated",
        "Items",
        "Items.0.Product",
        "Items.0.Product.Sku",
        "Items.0.Quantity",
        "Items.0.StockMovement",
        "Items.0.UnitPrice",
        "Items.0.Status",
        "Buyer",
        "Buyer.Name",
        "Buyer.Address",
        "Payments",
        "Payments.0.Amount",
        "Shipping",
        "Shipping.Cost",
        "Shipping.Receiver",
        "Shipping.ReceiverAddress",
    ):
        response = _create(client, shop, without(path))
        assert_error(response, 400)
        assert path.split(".")[-1] in response.json()["Message"] or "required" in response.json()["Message"], path
    assert_error(_create(client, shop, order_info("WEB-E", Items=[], Payments=[{"Amount": 1}])), 400)
    assert_error(_create(client, shop, order_info("WEB-E", DateCreated="ayer")), 400)
    bad_status = order_info("WEB-S")
    bad_status["Items"][0]["Status"] = 15
    assert_error(_create(client, shop, bad_status), 400)
    # Pick-up: the pickup point replaces the receiver address; courier: CourierInfo is required.
    pickup = order_info("WEB-P")
    del pickup["Shipping"]["ReceiverAddress"]
    pickup["Shipping"]["LogisticType"] = "pickup"
    assert_error(_create(client, shop, pickup), 400)
    pickup["Shipping"]["Pickup"] = {"Name": "Sucursal Centro"}
    assert _create(client, shop, pickup).status_code == 201
    courier = order_info("WEB-C")
    courier["Shipping"]["LogisticType"] = {"Key": 14, "Value": "courier"}
    assert_error(_create(client, shop, courier), 400)
    courier["Shipping"]["CourierInfo"] = {"BusinessName": "Mensajería Rápida SRL"}
    assert _create(client, shop, courier).status_code == 201


def test_limits_and_marketplace_and_duplicates(
    client: TestClient, ctx: AppContext, shop: Tenant, make_tenant: Callable[..., Tenant]
) -> None:
    def item(n: int) -> dict[str, Any]:
        return {"Product": {"Sku": f"S-{n}"}, "Quantity": 1, "StockMovement": False, "UnitPrice": 1, "Status": 10}

    assert_error(_create(client, shop, order_info("L-1", Items=[item(n) for n in range(51)])), 413)
    assert_error(_create(client, shop, order_info("L-2", Payments=[{"Amount": 1}] * 11)), 413)
    assert_error(_create(client, shop, order_info("L-3", Payments=[{"Amount": 1, "Discounts": [{}] * 11}])), 413)
    assert_error(_create(client, shop, [order_info("L-4"), order_info("L-5")]), 413)
    assert _create(client, shop, order_info("L-6", Items=[item(n) for n in range(50)])).status_code == 201
    assert _create(client, shop, [order_info("L-7")]).status_code == 201  # a one-element array is tolerated
    # The marketplace must be one of the account's.
    assert_error(_create(client, shop, order_info("L-8", marketplace_id=1)), 400)
    assert_error(_create(client, shop, order_info("L-9", marketplace_id=99999)), 400)
    # The same product twice with the same quantity and unit price.
    twice = order_info("L-10")
    twice["Items"] = twice["Items"] * 2
    assert_error(_create(client, shop, twice), 400)
    # One SKU under two brands and no brand given: invalid item.
    with ctx.db.writing() as session:
        add_product(session, shop.account_id, "DUP", brand="A", quantity=3)
        add_product(session, shop.account_id, "DUP", brand="B", quantity=3)
    ambiguous = order_info("L-11")
    ambiguous["Items"][0]["Product"] = {"Sku": "DUP"}
    assert_error(_create(client, shop, ambiguous), 400)
    ambiguous["Items"][0]["Product"] = {"Sku": "DUP", "Brand": "b"}
    assert _create(client, shop, ambiguous).status_code == 201


def test_create_is_atomic_with_its_stock_moves(client: TestClient, ctx: AppContext, shop: Tenant) -> None:
    with ctx.db.writing() as session:
        drill = add_product(session, shop.account_id, "ABC-1", brand="ACME", quantity=10)
        add_product(session, shop.account_id, "MASTER", brand="ACME", product_type=6)
    body = order_info("ATOMIC")
    body["Items"].append(
        {"Product": {"Sku": "MASTER"}, "Quantity": 1, "StockMovement": True, "UnitPrice": 1, "Status": 10}
    )
    assert_error(_create(client, shop, body), 400)  # a variation master has no stock of its own
    assert _stock(ctx, drill) == 10  # the first item's movement was rolled back with the order
    assert client.get("/v2/orders", params=shop.q()).json()["Total"] == 0


def test_delete_reverts_stock_once(client: TestClient, ctx: AppContext, shop: Tenant) -> None:
    with ctx.db.writing() as session:
        drill = add_product(session, shop.account_id, "ABC-1", brand="ACME", quantity=10)
    kept = _create(client, shop, order_info("D-1")).json()["Id"]
    reverted = _create(client, shop, order_info("D-2")).json()["Id"]
    assert _stock(ctx, drill) == 6
    # Without revertStock the stock stays where the order left it.
    response = client.delete("/v2/orders", params=shop.q(orderId=kept))
    assert response.status_code == 204 and response.content == b""
    assert _stock(ctx, drill) == 6
    response = client.delete("/v2/orders", params=shop.q(orderId=reverted, revertStock="true"))
    assert response.status_code == 204
    assert _stock(ctx, drill) == 8
    # Repeats after a timeout: 204 again, stock never given back twice.
    assert client.delete("/v2/orders", params=shop.q(orderId=reverted, revertStock="true")).status_code == 204
    assert _stock(ctx, drill) == 8
    # A deleted order's stock can still be given back later, once.
    assert client.delete("/v2/orders", params=shop.q(orderId=kept, revertStock="true")).status_code == 204
    assert client.delete("/v2/orders", params=shop.q(orderId=kept, revertStock="true")).status_code == 204
    assert _stock(ctx, drill) == 10
    assert client.get("/v2/orders", params=shop.q(Integrated="false")).json()["Total"] == 0
    assert_error(client.get(f"/v2/orders/{kept}/documents", params=shop.q(documentType=0)), 404)
    with ctx.db.reading() as session:
        order = session.get(Order, reverted)
        assert order is not None and order.status == 70 and order.status_type is None
        actions = [h.action for h in order_history(session, reverted)]
    assert actions == ["create", "delete", "revert_stock"]
    # A deleted order's ExternalOrderId stays taken.
    assert_error(_create(client, shop, order_info("D-1")), 409)


def test_delete_rules(
    client: TestClient, shop: Tenant, add_order: AddOrder, make_tenant: Callable[..., Tenant]
) -> None:
    marketplace_order = add_order(shop, marketplace_id=100)
    response = client.delete("/v2/orders", params=shop.q(orderId=marketplace_order))
    assert_error(response, 412)
    b2b = add_order(shop, marketplace_id=100, origin="b2b")
    assert_error(client.delete("/v2/orders", params=shop.q(orderId=b2b)), 412)
    assert_error(client.delete("/v2/orders", params=shop.q(orderId=marketplace_order + 999)), 404)
    assert_error(client.delete("/v2/orders", params=shop.q()), 400)
    assert_error(client.delete("/v2/orders", params=shop.q(orderId="abc")), 400)
    assert_error(client.delete("/v2/orders", params=shop.q(orderId=99999999999999999999)), 400)
    mine = _create(client, shop, order_info("R-1")).json()["Id"]
    assert_error(client.delete("/v2/orders", params=shop.q(orderId=mine, revertStock="maybe")), 400)
    other = make_tenant(marketplaces=(24,))
    assert_error(client.delete("/v2/orders", params=other.q(orderId=mine)), 404)
    assert client.get("/v2/orders", params=shop.q(idFrom=mine, idTo=mine)).json()["Total"] == 1


def test_hostile_input_gets_4xx_never_500(
    client: TestClient, ctx: AppContext, shop: Tenant, add_order: AddOrder
) -> None:
    huge = 2**70
    cases: list[Any] = [
        order_info("H-1", DateCreated="9999-12-31T23:59:59-14:00"),
        order_info("H-2", DateCreated="0001-01-01T00:00:00+14:00"),
        order_info("H-3", MarketplaceId=huge),
        order_info("H-4", Buyer={**order_info()["Buyer"], "Code": huge}),
        order_info("H-5", Payments=[{"Amount": 1, "Method": huge}]),
        order_info("H-6", Payments=[{"Amount": 1, "Status": {"Key": huge}}]),
        order_info("H-7", Payments=[{"Amount": "1e400"}]),
        order_info("H-8", Payments=[{"Amount": -1}]),
        order_info("H-9", Shipping={**order_info()["Shipping"], "LogisticType": huge}),
        order_info("H-10", Items="not a list"),
        order_info("X" * 65),
        {"Items": None},
        "a string",
        [],
    ]
    for body in cases:
        response = _create(client, shop, body)
        assert 400 <= response.status_code < 500, (body, response.text)
        assert set(response.json()) == {"Status", "Message"}
    # NUL characters and the template marker in text are either stored harmlessly or refused, never a 500.
    odd = order_info("H-NUL", Notes="a\x00b\x01c")
    odd["Buyer"]["Name"] = "Ju\x00an"
    response = _create(client, shop, odd)
    assert response.status_code in (201, 400), response.text
    for order_id in ("1" * 30, "-1", "0"):
        assert 400 <= client.delete("/v2/orders", params=shop.q(orderId=order_id)).status_code < 500
        url = f"/v2/orders/{order_id}/messages"
        assert 400 <= client.post(url, params=shop.q(messageOptions=4, message="x")).status_code < 500
        assert 400 <= client.post(f"/v2/orders/{order_id}/split", params=shop.q(splitReasonId=1)).status_code < 500
    marketplace_order = add_order(shop, marketplace_id=100)
    response = client.post(
        f"/v2/orders/{marketplace_order}/messages", params=shop.q(messageOptions=4, message="ho\x00la")
    )
    assert response.status_code in (200, 400), response.text
    response = client.post(
        f"/v2/orders/{marketplace_order}/documents",
        params=shop.q(documentType=0, documentNumber="A\x00B"),
        files={"file": ("a\x00.pdf", PDF)},
    )
    assert response.status_code in (200, 400), response.text


def _create_in_parallel(ctx: AppContext, tenant: Tenant, raw: dict[str, Any], workers: int) -> list[tuple[int, bool]]:
    import threading
    from zoneinfo import ZoneInfo

    from alephee.orders.schemas import OrderInfoIn

    model = OrderInfoIn.model_validate(raw)
    barrier = threading.Barrier(workers)
    results: list[tuple[int, bool]] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait(timeout=30)
            with ctx.db.writing() as session:
                order, created = create_order(
                    session, tenant.account_id, "test", model, raw, ZoneInfo("America/Argentina/Buenos_Aires")
                )
            results.append((order["Id"], created))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


def test_concurrent_identical_creates_make_one_order(ctx: AppContext, shop: Tenant) -> None:
    """Four workers send the same order at once (a client retrying in parallel): one order, one stock move,
    every worker gets that order back."""
    with ctx.db.writing() as session:
        drill = add_product(session, shop.account_id, "ABC-1", brand="ACME", quantity=100)
    for round_ in range(3):
        results = _create_in_parallel(ctx, shop, order_info(f"PAR-{round_}"), 4)
        assert len(results) == 4
        assert len({order_id for order_id, _ in results}) == 1 and sum(created for _, created in results) == 1
    assert _stock(ctx, drill) == 100 - 3 * 2
