"""The Tiendanube stand-in's webhooks: the ``/webhooks`` resource (object, 422 bodies, URL rules, scopes), and
deliveries to a loopback receiver — the documented bodies for product, order, fulfillment and app events, the
``x-linkedstore-hmac-sha256`` signature checked here independently, retries until a 2xx, nothing sent while
suspended, and the privacy webhooks sent to the app's URLs."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from pathlib import Path

import pytest

from alephee.channels.tiendanube.standin.webhooks import INVALID_EVENT, default_retry_delays
from tests.channels.tiendanube_standin_kit import APP_ID, SECRET, Kit, Receiver, open_kit, product_body

WEBHOOK_FIELDS = {"id", "event", "url", "created_at", "updated_at"}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def register(kit: Kit, url: str, *events: str) -> None:
    for event in events:
        answer = kit.send("POST", "webhooks", {"event": event, "url": url})
        assert answer.status_code == 201, answer.text


def test_webhook_resource(tmp_path: Path) -> None:
    kit = open_kit(tmp_path)
    created = kit.send("POST", "webhooks", {"event": "order/paid", "url": "https://hub.example/tn/webhooks"})
    assert created.status_code == 201
    webhook = created.json()
    assert set(webhook) == WEBHOOK_FIELDS and webhook["event"] == "order/paid"
    wid = webhook["id"]
    assert kit.get(f"webhooks/{wid}").json() == webhook
    moved = kit.send("PUT", f"webhooks/{wid}", {"url": "https://hub.example/other"}).json()
    assert moved["url"] == "https://hub.example/other" and moved["event"] == "order/paid"
    kit.send("POST", "webhooks", {"event": "product/created", "url": "https://hub.example/tn/webhooks"})
    listed = kit.get("webhooks", per_page=1)
    assert listed.headers["x-total-count"] == "2" and len(listed.json()) == 1
    assert [w["event"] for w in kit.get("webhooks", event="product/created").json()] == ["product/created"]
    both = kit.send("POST", "webhooks", {"event": "order/nothing", "url": "ftp://x"})
    assert both.status_code == 422
    assert both.json() == {"event": [INVALID_EVENT], "url": ["invalid url specified"]}
    for url in ("https://api.tiendanube.com/hook", "https://www.nuvemshop.com.br/x", "not a url"):
        assert kit.send("POST", "webhooks", {"event": "order/paid", "url": url}).json() == {
            "url": ["invalid url specified"]}  # fmt: skip
    duplicate = kit.send("POST", "webhooks", {"event": "product/created", "url": "https://hub.example/tn/webhooks"})
    assert duplicate.status_code == 422
    assert kit.send("DELETE", f"webhooks/{wid}").json() == {}
    assert kit.get(f"webhooks/{wid}").status_code == 404


def test_strict_urls_and_scopes(tmp_path: Path) -> None:
    kit = open_kit(tmp_path, local_webhook_urls=False, scopes=("read_products",))
    for url in ("http://hub.example/tn", "https://localhost/tn", "https://127.0.0.1:8443/tn"):
        assert kit.send("POST", "webhooks", {"event": "product/created", "url": url}).status_code == 422
    assert (
        kit.send("POST", "webhooks", {"event": "product/created", "url": "https://hub.example/tn"}).status_code == 201
    )
    no_scope = kit.send("POST", "webhooks", {"event": "order/created", "url": "https://hub.example/tn"})
    assert no_scope.json() == {"event": [INVALID_EVENT]}
    assert (
        kit.send("POST", "webhooks", {"event": "app/uninstalled", "url": "https://hub.example/tn"}).status_code == 201
    )


def test_deliveries_are_signed_with_the_client_secret(tmp_path: Path, receiver: Receiver) -> None:
    kit = open_kit(tmp_path)
    register(kit, receiver.url, "product/created", "product/updated", "order/created", "order/paid", "order/fulfilled")
    product = kit.send("POST", "products", product_body()).json()
    order = kit.standin.place_order(kit.store_id, [(product["variants"][0]["id"], 1)])
    kit.send("POST", f"orders/{order['id']}/fulfill", {"shipping_tracking_number": "T1"})
    assert kit.standin.wait_webhooks(10)
    sid = kit.store_id
    bodies = receiver.bodies()
    assert {"store_id": sid, "event": "product/created", "id": product["id"]} in bodies
    assert {"store_id": sid, "event": "product/updated", "id": product["id"]} in bodies  # the sale took stock
    for event in ("order/created", "order/paid", "order/fulfilled"):
        assert {"store_id": sid, "event": event, "id": order["id"]} in bodies
    for raw, headers in receiver.received:
        expected = hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
        assert headers["x-linkedstore-hmac-sha256"] == expected
        assert headers["content-type"] == "application/json"
    assert all(delivery["delivered"] for delivery in kit.standin.deliveries(sid))


def test_fulfillment_order_events(tmp_path: Path, receiver: Receiver) -> None:
    kit = open_kit(tmp_path)
    register(kit, receiver.url, "fulfillment_order/status_updated", "order/packed")
    order = kit.standin.place_order(
        kit.store_id, [(kit.send("POST", "products", product_body()).json()["variants"][0]["id"], 1)]
    )
    (fo,) = kit.get(f"orders/{order['id']}/fulfillment-orders", version="2025-03").json()
    kit.send("PATCH", f"orders/{order['id']}/fulfillment-orders/{fo['id']}", {"status": "PACKED"}, version="2025-03")
    assert kit.standin.wait_webhooks(10)
    assert sorted(receiver.bodies(), key=lambda body: str(body["event"])) == [
        {"store_id": kit.store_id, "event": "fulfillment_order/status_updated", "order_id": order["id"],
         "fulfillment_id": fo["id"], "status": "PACKED"},
        {"store_id": kit.store_id, "event": "order/packed", "id": order["id"]},
    ]  # fmt: skip


def test_retries_until_a_2xx(tmp_path: Path) -> None:
    flaky = Receiver(failures=2)
    try:
        kit = open_kit(tmp_path, retry_delays=(0.0, 0.05, 0.05))
        register(kit, flaky.url, "product/created")
        kit.send("POST", "products", {"name": "Taza"})
        assert kit.standin.wait_webhooks(10)
        assert len(flaky.received) == 3
        (delivery,) = kit.standin.deliveries(kit.store_id)
        assert delivery["delivered"] and [a["status"] for a in delivery["attempts"]] == [500, 500, 200]
    finally:
        flaky.close()
    assert len(default_retry_delays()) == 17  # 18 attempts in all
    assert default_retry_delays()[:4] == (0.0, 300.0, 600.0, 900.0)


def test_app_events_and_suspension(tmp_path: Path, receiver: Receiver) -> None:
    kit = open_kit(tmp_path)
    variant = kit.send("POST", "products", product_body()).json()["variants"][0]["id"]
    register(kit, receiver.url, "app/suspended", "app/resumed", "app/uninstalled", "order/created")
    kit.standin.suspend(kit.store_id)
    kit.standin.place_order(kit.store_id, [(variant, 1)])  # a sale while suspended: no webhook leaves
    kit.standin.resume(kit.store_id)
    kit.standin.uninstall(kit.store_id)
    assert kit.standin.wait_webhooks(10)
    assert [body["event"] for body in receiver.bodies()] == ["app/suspended", "app/resumed", "app/uninstalled"]
    assert receiver.bodies()[-1] == {"store_id": kit.store_id, "event": "app/uninstalled", "id": APP_ID}
    assert kit.standin.registered_webhooks(kit.store_id) == []  # gone with the uninstall


def test_privacy_webhooks(tmp_path: Path, receiver: Receiver) -> None:
    urls = {event: receiver.url for event in ("store/redact", "customers/redact", "customers/data_request")}
    kit = open_kit(tmp_path, privacy_urls=urls)
    customer = {"id": 1, "email": "email@email.com", "phone": "+55 11 9999", "identification": "123"}
    assert kit.standin.redact_store(kit.store_id)
    assert kit.standin.redact_customer(kit.store_id, customer, [213, 3415])
    assert kit.standin.request_customer_data(kit.store_id, customer, [213], data_request_id=456)
    assert kit.standin.wait_webhooks(10)
    store_redact, customer_redact, data_request = receiver.bodies()
    assert store_redact == {"store_id": kit.store_id}
    assert customer_redact == {"store_id": kit.store_id, "customer": customer, "orders_to_redact": [213, 3415]}
    assert data_request == {
        "store_id": kit.store_id,
        "customer": customer,
        "orders_requested": [213],
        "checkouts_requested": [],
        "drafts_orders_requested": [],
        "data_request": {"id": 456},
    }
    for raw, headers in receiver.received:
        assert headers["x-linkedstore-hmac-sha256"] == hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    (tmp_path / "other").mkdir()
    assert not open_kit(tmp_path / "other").standin.redact_store(1)  # no URL configured: nothing sent
