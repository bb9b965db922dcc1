"""The stand-in's notifications, faults and shared state: every change POSTs the notification body to a loopback
receiver (retried until it answers 200), undelivered ones stay in ``/missed_feeds``; injected 429/500 answers; two
stand-in objects on one file (two server processes) see the same codes, tokens, items and orders."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from alephee.channels.mercadolibre.standin.app import PREFIX, MercadoLibreStandIn, create_app
from tests.fixtures.mercadolibre import SELLER, StandIn, item_body, open_standin

NOTICE_FIELDS = {"_id", "resource", "user_id", "topic", "application_id", "attempts", "sent", "received"}


class Receiver:
    """An application's callback URL on 127.0.0.1: records each body; answers 500 to the first ``failures``."""

    def __init__(self, failures: int = 0) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.failures = failures
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                receiver.bodies.append(body)
                failing = receiver.failures > 0
                receiver.failures -= 1
                self.send_response(500 if failing else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notifications"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def served(path: Path, url: str, retry_delays: tuple[float, ...]) -> tuple[MercadoLibreStandIn, TestClient]:
    standin = open_standin(path, notifications_url=url, retry_delays=retry_delays)
    return standin, TestClient(create_app(standin))


def test_changes_are_delivered_to_the_callback_url(tmp_path: Path, receiver: Receiver) -> None:
    standin, api = served(tmp_path / "ml.sqlite3", receiver.url, (0.01,))
    item = standin.create_item(item_body())
    order = standin.buy(item["id"])
    message = standin.buyer_message(order["pack_id"], "Hola")
    assert standin.wait_notifications()
    by_topic = {(body["topic"], body["resource"]) for body in receiver.bodies}
    assert {
        ("items", f"/items/{item['id']}"),
        ("orders_v2", f"/orders/{order['id']}"),
        ("shipments", f"/shipments/{order['shipping']['id']}"),
        ("messages", message["id"]),
    } <= by_topic
    first = receiver.bodies[0]
    assert set(first) >= NOTICE_FIELDS
    assert (first["user_id"], first["application_id"], first["attempts"]) == (SELLER.id, 5503910054141466, 1)
    assert first["sent"].endswith("Z") and first["received"].endswith("Z")
    assert next(b for b in receiver.bodies if b["topic"] == "messages")["actions"] == ["created"]
    missed = api.get("/missed_feeds", params={"app_id": "5503910054141466"}, headers=bearer(standin))
    assert missed.status_code == 200 and missed.json() == {"messages": []}
    standin.close()


def test_failed_deliveries_are_retried_then_listed_in_missed_feeds(tmp_path: Path) -> None:
    failing = Receiver(failures=10)
    standin, api = served(tmp_path / "ml.sqlite3", failing.url, (0.01, 0.01))
    item = standin.create_item(item_body())
    assert standin.wait_notifications()
    assert [body["attempts"] for body in failing.bodies] == [1, 2, 3]  # the first try and two retries
    headers = bearer(standin)
    listed = api.get("/missed_feeds", params={"app_id": "5503910054141466", "topic": "items", "site_id": "MLA"},
                     headers=headers).json()["messages"]  # fmt: skip
    assert len(listed) == 1 and listed[0]["resource"] == f"/items/{item['id']}"
    assert listed[0]["attempts"] == 3 and listed[0]["response"]["http_code"] == 500
    assert listed[0]["request"]["url"] == failing.url
    assert (
        api.get("/missed_feeds", params={"app_id": "5503910054141466", "topic": "items"}, headers=headers).status_code
        == 400
    )
    assert api.get("/missed_feeds", params={"app_id": "1"}, headers=headers).status_code == 400
    assert api.get("/missed_feeds", params={"app_id": "5503910054141466", "topic": "orders_v2"},
                   headers=headers).json() == {"messages": []}  # fmt: skip
    failing.close()
    recovering = Receiver(failures=1)
    standin.close()
    standin, api = served(tmp_path / "other.sqlite3", recovering.url, (0.01,))
    standin.create_item(item_body())
    assert standin.wait_notifications()
    assert [body["attempts"] for body in recovering.bodies] == [1, 2]
    assert api.get("/missed_feeds", params={"app_id": "5503910054141466"}, headers=bearer(standin)).json() == {
        "messages": []
    }
    recovering.close()
    standin.close()


def bearer(standin: MercadoLibreStandIn) -> dict[str, str]:
    return {"Authorization": f"Bearer {standin.issue_token()['access_token']}"}


def test_injected_faults_answer_the_next_calls(ml: StandIn) -> None:
    headers = ml.headers()
    added = ml.api.post("/_test/faults", json={"path_prefix": "/orders", "status": 429, "count": 2})
    assert added.status_code == 201
    for _ in range(2):
        answer = ml.api.get("/orders/search", params={"seller": str(SELLER.id)}, headers=headers)
        assert answer.status_code == 429
        assert answer.json() == {
            "message": "Too Many Requests",
            "error": "too_many_requests",
            "status": 429,
            "cause": [],
        }
    assert ml.api.get("/orders/search", params={"seller": str(SELLER.id)}, headers=headers).status_code == 200
    ml.standin.add_fault("/items", 500, method="POST")
    assert ml.api.post("/items", json=item_body(), headers=headers).status_code == 500
    assert ml.api.post("/items", json=item_body(), headers=headers).status_code == 201
    assert ml.api.post("/_test/faults", json={"path_prefix": "/items", "status": 404}).status_code == 400


def test_two_standins_on_one_file_share_state(ml: StandIn) -> None:
    second = MercadoLibreStandIn(ml.path, client_id="5503910054141466", auto_approve=True)
    other_api = TestClient(create_app(second))
    redirect = "https://hub.example/callback"
    query = {"response_type": "code", "client_id": "5503910054141466", "redirect_uri": redirect}
    location = ml.api.get("/authorization/approve", params=query, follow_redirects=False).headers["location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    form = {"grant_type": "authorization_code", "client_id": "5503910054141466", "client_secret": "s",
            "code": code, "redirect_uri": redirect}  # fmt: skip
    grant = other_api.post("/oauth/token", data=form).json()  # the code issued by the first, spent on the second
    headers = {"Authorization": f"Bearer {grant['access_token']}"}
    assert ml.api.get("/users/me", headers=headers).json()["id"] == SELLER.id
    item = other_api.post("/items", json=item_body(), headers=headers).json()
    order = ml.standin.buy(item["id"])
    assert other_api.get(f"/orders/{order['id']}", headers=headers).json()["id"] == order["id"]
    assert other_api.get(f"/items/{item['id']}", headers=headers).json()["available_quantity"] == 9
    refresh = {"grant_type": "refresh_token", "client_id": "5503910054141466", "client_secret": "s",
               "refresh_token": grant["refresh_token"]}  # fmt: skip
    assert ml.api.post("/oauth/token", data=refresh).status_code == 200
    assert other_api.post("/oauth/token", data=refresh).json()["error"] == "invalid_grant"  # spent on the first
    second.close()


def test_authorization_page_picks_the_seller(ml: StandIn) -> None:
    query = {"response_type": "code", "client_id": "5503910054141466", "redirect_uri": "https://hub.example/cb"}
    page = ml.api.get("/authorization", params=query)
    assert page.status_code == 200 and "OTHERSELLER" in page.text and 'id="authorize"' in page.text
    picked = ml.api.get("/authorization", params=query | {"seller_id": "241461055"})
    assert "Seller OTHERSELLER (241461055, MLA)" in picked.text
    location = ml.api.get(
        "/authorization/approve", params=query | {"seller_id": "241461055"}, follow_redirects=False
    ).headers["location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    form = {"grant_type": "authorization_code", "client_id": "5503910054141466", "client_secret": "s",
            "code": code, "redirect_uri": "https://hub.example/cb"}  # fmt: skip
    assert ml.api.post("/oauth/token", data=form).json()["user_id"] == 241461055
    assert ml.api.get("/authorization", params=query | {"seller_id": "1"}).status_code == 400


def test_purchases_from_two_standins_at_once_lose_no_stock(ml: StandIn) -> None:
    second = open_standin(ml.path)
    item = ml.item(available_quantity=12)
    errors: list[BaseException] = []

    def buy(standin: MercadoLibreStandIn) -> None:
        try:
            for _ in range(3):
                standin.buy(item["id"])
        except BaseException as exc:  # collected: the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=buy, args=(s,)) for s in (ml.standin, second, ml.standin, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    sold = ml.api.get(f"/items/{item['id']}", headers=ml.headers()).json()
    assert (sold["available_quantity"], sold["sold_quantity"], sold["status"]) == (0, 12, "paused")
    orders = ml.api.get("/orders/search", params={"seller": str(SELLER.id)}, headers=ml.headers()).json()
    assert orders["paging"]["total"] == 12 and len({o["id"] for o in orders["results"]}) == 12
    second.close()


def test_mounted_under_the_hub_prefix(tmp_path: Path) -> None:
    standin = open_standin(tmp_path / "ml.sqlite3")
    app = FastAPI()
    app.include_router(standin.router(), prefix=PREFIX)
    api = TestClient(app)
    headers = {"Authorization": f"Bearer {standin.issue_token()['access_token']}"}
    standin.add_fault("/items", 503)
    refused = api.post(f"{PREFIX}/items", json=item_body(), headers=headers)
    assert (refused.status_code, refused.json()["error"]) == (503, "service_not_available")
    created = api.post(f"{PREFIX}/items", json=item_body(), headers=headers)
    assert created.status_code == 201
    missing = api.get(f"{PREFIX}/orders/2000000000000999", headers=headers)
    assert (missing.status_code, missing.json()["error"]) == (404, "order_not_found")
    standin.close()
