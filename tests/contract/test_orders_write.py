"""Contract tests of CF-21 (orders, write side): PUT /v2/orders/integrate exactly as the authoritative
example, PUT /v2/orders with the full transition table, both integration cycles end to end, and two workers
integrating and updating the same orders in parallel."""

from __future__ import annotations

import threading
from typing import Any

from fastapi.testclient import TestClient

from alephee.http.context import AppContext
from alephee.orders import shipping_rules as ship
from alephee.orders import status_updates
from alephee.orders import statuses as st
from alephee.orders.models import Order
from tests.fixtures.errors import assert_error
from tests.fixtures.orders import AddOrder
from tests.fixtures.tenants import Tenant


def integrate(client: TestClient, tenant: Tenant, body: Any) -> Any:
    return client.put("/v2/orders/integrate", params=tenant.q(), json=body)


def test_authoritative_integrate_example(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    found = add_order(seller)
    missing = found + 1000
    response = integrate(
        client,
        seller,
        [
            {"OrderId": found, "OwnOrderId": "123-test", "Integrated": True, "ErpStatus": "complete"},
            {"OrderId": missing, "OwnOrderId": "321-test", "Integrated": False, "ErpStatus": "pending"},
        ],
    )
    assert response.status_code == 200
    assert response.json() == {
        "Total": 2,
        "Results": [
            {
                "Status": "200",
                "Message": "Ok",
                "OrderStatus": {
                    "OrderId": found,
                    "OwnOrderId": "123-test",
                    "Integrated": True,
                    "ErpStatus": "complete",
                },
            },
            {
                "Status": "400",
                "Message": "Order not found",
                "OrderStatus": {
                    "OrderId": missing,
                    "OwnOrderId": "321-test",
                    "Integrated": False,
                    "ErpStatus": "pending",
                },
            },
        ],
    }
    [order] = client.get("/v2/orders", params=seller.q(Integrated="true")).json()["Results"]
    assert order["IntegratedOrderId"] == "123-test" and order["ErpStatus"] == "complete" and order["Integrated"]
    assert client.get("/v2/orders", params=seller.q(erpStatus="complete")).json()["Total"] == 1


def test_integrate_unset_idempotent_and_lenient(
    client: TestClient, ctx: AppContext, seller: Tenant, add_order: AddOrder, make_tenant: Any
) -> None:
    order_id = add_order(seller)
    foreign = add_order(make_tenant(marketplaces=(100,)))
    body = [{"orderid": order_id, "ownorderid": "A-1", "integrated": True, "erpstatus": "ok"}]
    assert integrate(client, seller, body).json()["Results"][0]["Status"] == "200"
    assert integrate(client, seller, body).json()["Results"][0]["Message"] == "Ok"  # repeat after a timeout
    with ctx.db.reading() as session:
        assert len(status_updates.order_history(session, order_id)) == 1  # the repeat recorded nothing
    unset = integrate(client, seller, [{"OrderId": order_id, "Integrated": False}]).json()["Results"][0]
    assert unset["OrderStatus"] == {"OrderId": order_id, "OwnOrderId": "A-1", "Integrated": False, "ErpStatus": "ok"}
    assert [o["Id"] for o in client.get("/v2/orders", params=seller.q()).json()["Results"]] == [order_id]
    results = integrate(client, seller, [{"OrderId": foreign}, {"OrderId": "x"}, 7, {"OrderId": order_id}]).json()
    assert [r["Status"] for r in results["Results"]] == ["400", "400", "400", "200"]
    assert results["Results"][0]["Message"] == "Order not found"  # another account's order
    assert results["Results"][1]["OrderStatus"] == {"OrderId": "x"}
    assert_error(integrate(client, seller, {"OrderId": order_id}), 400)
    assert_error(integrate(client, seller, [{"OrderId": order_id}] * 101), 413)
    assert_error(client.put("/v2/orders/integrate", params=seller.q(), content=b"[{"), 400)


def test_integrate_same_order_twice_in_one_batch(
    client: TestClient, ctx: AppContext, seller: Tenant, add_order: AddOrder
) -> None:
    order_id = add_order(seller)
    assert client.get("/v2/orders", params=seller.q()).json()["Results"][0]["ErpStatus"] != "second"  # rendered
    with ctx.db.reading() as session:
        version = session.get(Order, order_id).version  # type: ignore[union-attr]
    body = [
        {"OrderId": order_id, "OwnOrderId": "A-1", "Integrated": True, "ErpStatus": "first"},
        {"OrderId": order_id, "ErpStatus": "second"},
    ]
    results = integrate(client, seller, body).json()["Results"]
    # Each element answers the order as it stands after the whole batch; the later element wins.
    final = {"OrderId": order_id, "OwnOrderId": "A-1", "Integrated": True, "ErpStatus": "second"}
    assert [r["OrderStatus"] for r in results] == [final, final]
    with ctx.db.reading() as session:
        order = session.get(Order, order_id)
        assert order is not None and order.version == version + 1  # one write, one new version
        assert (order.integrated, order.integrated_order_id, order.erp_status) == (True, "A-1", "second")
        assert [h.erp_status for h in status_updates.order_history(session, order_id)] == ["first", "second"]
    [rendered] = client.get("/v2/orders", params=seller.q(Integrated="true")).json()["Results"]
    assert (rendered["IntegratedOrderId"], rendered["ErpStatus"]) == ("A-1", "second")  # not the cached render


def test_both_integration_cycles_end_to_end(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    made = [add_order(seller, origin="api", logistic_type=ship.CUSTOM) for _ in range(5)]
    # Normal cycle: not integrated → process → mark integrated → gone from the not-integrated query.
    fetched = client.get("/v2/orders", params=seller.q(Integrated="false")).json()["Results"]
    assert [o["Id"] for o in fetched] == made
    marks = [
        {"OrderId": o["Id"], "OwnOrderId": f"ERP-{o['Id']}", "Integrated": True, "ErpStatus": "imported"}
        for o in fetched
    ]
    assert all(r["Status"] == "200" for r in integrate(client, seller, marks).json()["Results"])
    assert client.get("/v2/orders", params=seller.q(Integrated="false")).json()["Total"] == 0
    before = client.get("/v2/orders", params=seller.q(Integrated="true")).json()["Results"][0]["LastUpdated"]
    # Late cancellation: one integrated order is cancelled afterwards.
    response = client.put("/v2/orders", params=seller.q(), json=[{"OrderId": made[2], "Status": 90}])
    assert response.json()["Results"][0]["Status"] == 200
    late = client.get("/v2/orders", params=seller.q(statusType=99, statusDateFrom=before)).json()
    assert [o["Id"] for o in late["Results"]] == [made[2]]
    assert late["Results"][0]["Integrated"] is True and late["Results"][0]["IsCancelled"] is True
    assert client.get("/v2/orders", params=seller.q(Integrated="false")).json()["Total"] == 0


def test_full_transition_table(client: TestClient, ctx: AppContext, seller: Tenant, add_order: AddOrder) -> None:
    cases = [(current, target) for current in sorted(st.STATUS_LABELS) for target in sorted(st.USER_TARGETS)]
    orders = {case: add_order(seller, status=case[0], origin="api", logistic_type=ship.CUSTOM) for case in cases}
    body = [{"OrderId": orders[case], "Status": case[1], "Tracking": {"Number": "T1", "Status": "x"}} for case in cases]
    results = []
    for start in range(0, len(body), 100):
        response = client.put("/v2/orders", params=seller.q(), json=body[start : start + 100])
        assert response.status_code == 200
        results.extend(response.json()["Results"])
    for (current, target), result in zip(cases, results, strict=True):
        allowed = current == target or target in st.TRANSITIONS[current]
        expected = 404 if current == st.DELETED else (200 if allowed else 412)
        assert result["Status"] == expected, (current, target, result)
        assert result["OrderStatus"]["OrderId"] == orders[(current, target)]
    with ctx.db.reading() as session:
        for (current, target), order_id in orders.items():
            history = status_updates.order_history(session, order_id)
            if current != st.DELETED and (current == target or target in st.TRANSITIONS[current]):
                assert history[-1].to_status == target and history[-1].tracking_number == "T1"
            else:
                assert history == []


def test_status_rules(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    automatic = add_order(seller, logistic_type=ship.ME2)
    manual = add_order(seller, logistic_type=ship.ME1)
    body = [
        {"OrderId": automatic, "Status": 20},
        {"OrderId": manual, "Status": 90},
        {"OrderId": manual, "Status": 15},
        {"OrderId": manual + 999, "Status": 20},
        {"OrderId": manual, "Status": 20, "Tracking": {"Number": "AR123", "Status": "dispatched"}},
        {"Status": 20},
    ]
    results = client.put("/v2/orders", params=seller.q(), json=body).json()
    assert results["Total"] == 6
    assert [r["Status"] for r in results["Results"]] == [412, 412, 400, 404, 200, 400]
    assert "automatically" in results["Results"][0]["Message"]
    assert results["Results"][4] == {"OrderStatus": body[4], "Status": 200, "Message": "OK"}
    [order] = client.get("/v2/orders", params=seller.q(idFrom=manual, idTo=manual)).json()["Results"]
    assert order["Status"]["Key"] == 20 and order["Shipping"]["Status"]["Value"] == "shipped"
    again = client.put("/v2/orders", params=seller.q(), json=[body[4]]).json()["Results"][0]
    assert again["Status"] == 200  # idempotent repeat


def test_two_workers_on_the_same_orders(ctx: AppContext, seller: Tenant, add_order: AddOrder) -> None:
    order_ids = [add_order(seller, origin="api", logistic_type=ship.CUSTOM) for _ in range(200)]
    errors: list[BaseException] = []

    def worker(name: str, rounds: list[tuple[str, list[Any]]]) -> None:
        try:
            for action, body in rounds:
                for start in range(0, len(body), 100):
                    with ctx.db.writing() as session:
                        if action == "integrate":
                            status_updates.integrate(session, seller.account_id, name, body[start : start + 100])
                        else:
                            status_updates.update_statuses(session, seller.account_id, name, body[start : start + 100])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    reversed_ids = list(reversed(order_ids))
    a = [
        (
            "integrate",
            [{"OrderId": i, "OwnOrderId": f"A-{i}", "Integrated": True, "ErpStatus": "a"} for i in order_ids],
        ),
        ("status", [{"OrderId": i, "Status": 20} for i in order_ids]),
        ("integrate", [{"OrderId": i, "Integrated": False, "ErpStatus": "a2"} for i in order_ids]),
    ]
    b = [
        ("status", [{"OrderId": i, "Status": 17} for i in reversed_ids]),
        (
            "integrate",
            [{"OrderId": i, "OwnOrderId": f"B-{i}", "Integrated": True, "ErpStatus": "b"} for i in reversed_ids],
        ),
        ("status", [{"OrderId": i, "Status": 80} for i in reversed_ids]),
    ]
    threads = [threading.Thread(target=worker, args=("A", a)), threading.Thread(target=worker, args=("B", b))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    with ctx.db.reading() as session:
        for order_id in order_ids:
            order = session.get(Order, order_id)
            assert order is not None
            history = status_updates.order_history(session, order_id)
            moves = [h for h in history if h.action == "status"]
            marks = [h for h in history if h.action == "integrate"]
            assert moves and marks
            # The order is exactly what its last recorded change says, and every move was legal.
            assert order.status == moves[-1].to_status
            assert (order.integrated, order.integrated_order_id, order.erp_status) == (
                marks[-1].integrated,
                marks[-1].integrated_order_id,
                marks[-1].erp_status,
            )
            for move in moves:
                assert move.from_status == move.to_status or st.may_transition(move.from_status, move.to_status)
            assert [m.from_status for m in moves[1:]] == [m.to_status for m in moves[:-1]]


# --- POST documents / split / messages, POST and DELETE orders: status, headers, exact names ---------------

from tests.fixtures.errors import assert_rate_headers  # noqa: E402
from tests.fixtures.orders import PDF, order_info  # noqa: E402


def test_write_endpoints_contract(client: TestClient, make_tenant: Any, add_order: AddOrder) -> None:
    tenant = make_tenant(marketplaces=(100, 24))
    a, b = (add_order(tenant, pack_id="2000003000000901", pack_size=2, external_shipping_id=41_000_000_901)
            for _ in range(2))  # fmt: skip
    # Documents: 200, JSON, the Documents[] entry of GET orders.
    response = client.post(
        f"/v2/orders/{a}/documents",
        params=tenant.q(documentType=0, documentNumber="A-1"),
        files={"file": ("factura.pdf", PDF, "application/pdf")},
    )
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    assert_rate_headers(response)
    assert list(response.json()) == ["Type", "Name", "Extension", "Fullfilename", "Size", "DocumentDate", "DateCreated"]
    # Split: 200 with the new ids.
    response = client.post(f"/v2/orders/{b}/split", params=tenant.q(splitReasonId=3))
    assert response.status_code == 200 and list(response.json()) == ["OrderId", "PackId", "SourcePackId",
                                                                    "ExternalShippingId"]  # fmt: skip
    assert_rate_headers(response)
    # Messages: 200 with a string body; 409 in the documented error shape.
    response = client.post(f"/v2/orders/{a}/messages", params=tenant.q(messageOptions=4, message="Hola"))
    assert response.status_code == 200 and response.json() == "OK"
    assert_rate_headers(response)
    assert_error(client.post(f"/v2/orders/{a}/messages", params=tenant.q(messageOptions=4, message="?")), 409)
    # Create: 201, the order as GET shows it, Location.
    response = client.post("/v2/orders", params=tenant.q(), json=order_info("C-1"))
    assert response.status_code == 201 and response.headers["location"].startswith("/v2/orders?idFrom=")
    assert_rate_headers(response)
    created = response.json()
    listed = client.get("/v2/orders", params=tenant.q(idFrom=created["Id"], idTo=created["Id"])).json()["Results"]
    assert list(created) == list(listed[0]) and created["Id"] == listed[0]["Id"]
    # Delete: 204, no body.
    response = client.delete("/v2/orders", params=tenant.q(orderId=created["Id"], revertStock="false"))
    assert response.status_code == 204 and response.content == b""
    assert_rate_headers(response)
    # Every 4xx is {"Status","Message"}; 401 before anything.
    for method, url in (
        ("post", f"/v2/orders/{a}/documents"),
        ("post", f"/v2/orders/{a}/split"),
        ("post", f"/v2/orders/{a}/messages"),
        ("post", "/v2/orders"),
        ("delete", "/v2/orders"),
    ):
        assert_error(client.request(method, url, params={"API_KEY": tenant.api_key}), 401)
        assert_error(client.request(method, url, params=tenant.q()), 400)


def test_write_endpoints_openapi(client: TestClient) -> None:
    paths = client.get("/swagger/docs/v2").json()["paths"]
    for path in ("/v2/orders/{orderId}/documents", "/v2/orders/{orderId}/messages"):
        content = paths[path]["post"]["requestBody"]["content"]
        assert set(content) == {"application/json", "multipart/form-data"}, path
    assert paths["/v2/orders/{orderId}/documents"]["post"]["requestBody"]["required"] is True
    assert paths["/v2/orders/{orderId}/messages"]["post"]["requestBody"]["required"] is False
    assert {"get", "put", "post", "delete"} <= set(paths["/v2/orders"])
    assert "201" in paths["/v2/orders"]["post"]["responses"] and "204" in paths["/v2/orders"]["delete"]["responses"]
    assert "splitReasonId" in {p["name"] for p in paths["/v2/orders/{orderId}/split"]["post"]["parameters"]}


def test_every_write_is_safe_to_repeat(
    client: TestClient, ctx: AppContext, make_tenant: Any, add_order: AddOrder
) -> None:
    """Each write sent twice (a retry after a timeout) gives the same answer and applies once (docs/compatibility.md,
    "Repeating a write after a timeout")."""
    from sqlalchemy import func, select

    from alephee.marketplaces.models import OutboxMessage
    from alephee.orders.models import OrderDocument, OrderHistory, OrderMessage

    tenant = make_tenant(marketplaces=(100, 24))
    a, b = (add_order(tenant, pack_id="2000003000000902", pack_size=2, external_shipping_id=41_000_000_902,
                      logistic_type=ship.ME1) for _ in range(2))  # fmt: skip
    requests: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
        ("PUT", "/v2/orders/integrate", {}, {"json": [{"OrderId": a, "OwnOrderId": "E-1", "ErpStatus": "ok"}]}),
        ("PUT", "/v2/orders", {}, {"json": [{"OrderId": a, "Status": 20, "Tracking": {"Number": "T-1"}}]}),
        ("POST", f"/v2/orders/{a}/documents", {"documentType": 0}, {"files": {"file": ("f.pdf", PDF)}}),
        ("POST", f"/v2/orders/{b}/split", {"splitReasonId": 1}, {}),
        ("POST", f"/v2/orders/{a}/messages", {"messageOptions": 4, "message": "Hola"}, {}),
        ("POST", "/v2/orders", {}, {"json": order_info("R-1")}),
    ]

    def counts() -> tuple[int, ...]:
        with ctx.db.reading() as session:
            return tuple(
                int(session.scalar(select(func.count()).select_from(model)) or 0)
                for model in (OutboxMessage, OrderHistory, OrderDocument, OrderMessage, Order)
            )

    for method, url, query, kwargs in requests:
        first = client.request(method, url, params=tenant.q(**query), **kwargs)
        assert first.status_code in (200, 201), (url, first.text)
        after_first = counts()
        second = client.request(method, url, params=tenant.q(**query), **kwargs)
        assert second.status_code == first.status_code, url
        assert second.json() == first.json(), url
        assert counts() == after_first, url
    created = client.get("/v2/orders", params=tenant.q(externalOrderIdFrom="R-1", externalOrderIdTo="R-1")).json()
    order_id = created["Results"][0]["Id"]
    for _ in range(2):
        assert client.delete("/v2/orders", params=tenant.q(orderId=order_id, revertStock="true")).status_code == 204
    with ctx.db.reading() as session:
        actions = [h.action for h in status_updates.order_history(session, order_id)]
    assert actions == ["create", "delete"]  # nothing moved: no stock to give back
