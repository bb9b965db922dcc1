"""The Tiendanube stand-in's install flow and transport rules: the authorization page and its form, the token
exchange (JSON and form bodies, single-use expiring codes, wrong secret), the ``Authentication: bearer`` header
(not ``Authorization``, lowercase ``bearer``), the token tied to its store and replaced on re-install, 401 after
uninstall and 402 while suspended, ``User-Agent``, ``Content-Type`` and JSON errors, the leaky bucket with its
headers, injected faults, two stand-ins on one file, and malformed bodies on every write path answered 4xx."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient

from alephee import clock
from alephee.channels.tiendanube.standin.app import TiendanubeStandIn, create_app
from alephee.channels.tiendanube.standin.limits import Bucket
from tests.channels.tiendanube_standin_kit import APP_ID, REDIRECT, SECRET, USER_AGENT, open_kit


def code_from(api: TestClient, **query: str) -> str:
    answer = api.get(f"/apps/{APP_ID}/authorize", params={"state": "csrf-1"} | query, follow_redirects=False)
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith(REDIRECT + "?")
    back = parse_qs(urlsplit(location).query)
    assert back["state"] == ["csrf-1"]
    return back["code"][0]


def exchange(api: TestClient, code: str, **extra: str) -> tuple[int, dict[str, object]]:
    body = {"client_id": str(APP_ID), "client_secret": SECRET, "grant_type": "authorization_code", "code": code}
    answer = api.post("/apps/authorize/token", json=body | extra)
    return answer.status_code, answer.json()


def test_install_with_auto_approve_and_the_token_exchange(tmp_path: Path) -> None:
    kit = open_kit(tmp_path)
    status, grant = exchange(kit.api, code_from(kit.api))
    assert status == 200
    assert set(grant) == {"access_token", "token_type", "scope", "user_id"}
    assert grant["token_type"] == "bearer" and grant["user_id"] == str(kit.store_id)
    assert grant["scope"] == "write_products,write_orders,read_customers,write_fulfillment_orders,read_locations"
    answer = kit.api.get(f"/v1/{kit.store_id}/store", headers={"Authentication": f"bearer {grant['access_token']}",
                                                               "User-Agent": USER_AGENT})  # fmt: skip
    assert answer.status_code == 200 and answer.json()["id"] == kit.store_id
    # The new token replaced the one issued before.
    assert kit.get("store").status_code == 401


def test_the_install_page_posts_to_itself(tmp_path: Path) -> None:
    kit = open_kit(tmp_path, auto_approve=False)
    other = kit.standin.create_store(name="Loja Dois", email="dono@dois.example", country="BR", languages=("pt",))
    page = kit.api.get(f"/apps/{APP_ID}/authorize", params={"state": "xyz"})
    assert page.status_code == 200 and "<form" in page.text and 'method="post"' in page.text
    assert str(other["id"]) in page.text and "write_products" in page.text
    approve = kit.api.post(f"/apps/{APP_ID}/authorize", data={"state": "xyz", "store_id": str(other["id"])},
                           follow_redirects=False)  # fmt: skip
    assert approve.status_code == 302
    back = parse_qs(urlsplit(approve.headers["location"]).query)
    assert back["state"] == ["xyz"]
    status, grant = exchange(kit.api, back["code"][0])
    assert (status, grant["user_id"]) == (200, str(other["id"]))
    assert kit.api.get("/apps/999/authorize").status_code == 404


def test_codes_are_single_use_expire_and_need_the_secret(tmp_path: Path) -> None:
    kit = open_kit(tmp_path)
    code = code_from(kit.api)
    status, body = exchange(kit.api, code, client_secret="wrong")
    assert (status, body["error"]) == (401, "invalid_client")
    assert exchange(kit.api, code)[0] == 200
    status, body = exchange(kit.api, code)
    assert (status, body["error"]) == (400, "invalid_grant")
    late = code_from(kit.api)
    with clock.frozen(clock.precise_utcnow() + timedelta(minutes=5, seconds=1)):
        assert exchange(kit.api, late)[1]["error"] == "invalid_grant"
    status, body = exchange(kit.api, code_from(kit.api), grant_type="client_credentials")
    assert (status, body["error"]) == (400, "unsupported_grant_type")
    # The legacy form body works too.
    form = {"client_id": str(APP_ID), "client_secret": SECRET, "grant_type": "authorization_code",
            "code": code_from(kit.api)}  # fmt: skip
    answer = kit.api.post("/apps/authorize/token", data=form)
    assert answer.status_code == 200 and answer.json()["user_id"] == str(kit.store_id)
    broken = kit.api.post("/apps/authorize/token", content=b"{nope", headers={"content-type": "application/json"})
    assert (broken.status_code, broken.json()) == (400, {"error": "Problems parsing JSON"})


def test_authentication_header_rules(tmp_path: Path) -> None:
    kit = open_kit(tmp_path)
    path = f"/v1/{kit.store_id}/store"
    good = kit.headers
    assert kit.api.get(path, headers=good).status_code == 200
    for headers in (
        {"Authorization": f"bearer {kit.token}", "User-Agent": USER_AGENT},
        {"Authentication": f"Bearer {kit.token}", "User-Agent": USER_AGENT},
        {"Authentication": "bearer nope", "User-Agent": USER_AGENT},
        {"User-Agent": USER_AGENT},
    ):
        answer = kit.api.get(path, headers=headers)
        assert answer.status_code == 401
        assert answer.json() == {"code": 401, "message": "Unauthorized", "description": "Invalid access token"}
    no_agent = kit.api.get(path, headers={"Authentication": f"bearer {kit.token}", "User-Agent": ""})
    assert no_agent.status_code == 400 and no_agent.json()["code"] == 400
    other = kit.standin.create_store(name="Otra", email="otra@x.example")
    assert kit.api.get(f"/v1/{other['id']}/store", headers=good).status_code == 401  # token of another store
    assert kit.api.get(f"/v3/{kit.store_id}/store", headers=good).status_code == 404
    assert kit.get("nothing-here").status_code == 404


def test_body_rules(tmp_path: Path) -> None:
    kit = open_kit(tmp_path)
    path = kit.url("products")
    plain = kit.api.post(path, headers=kit.headers | {"Content-Type": "text/plain"}, content=b'{"name": "x"}')
    assert plain.status_code == 415
    broken = kit.api.post(path, headers=kit.headers | {"Content-Type": "application/json"}, content=b'{"name": ')
    assert (broken.status_code, broken.json()) == (400, {"error": "Problems parsing JSON"})
    wrong_method = kit.api.request("PATCH", kit.url("store"), headers=kit.headers, json={})
    assert wrong_method.status_code == 405


def test_store_document(tmp_path: Path) -> None:
    kit = open_kit(tmp_path)
    answer = kit.get("store")
    assert answer.headers["x-main-language"] == "es"
    shop = answer.json()
    assert shop["name"] == {"es": "Tienda Uno"} and shop["email"] == "owner@uno.example"
    assert (shop["country"], shop["main_currency"], shop["main_language"]) == ("AR", "ARS", "es")
    assert shop["languages"] == {"es": {"currency": "ARS", "active": True}}
    assert not any(key.startswith("_") for key in shop)
    assert kit.get("store", fields="id,main_language").json() == {"id": kit.store_id, "main_language": "es"}
    brazil = kit.standin.create_store(name="Loja", email="d@loja.example", country="BR", languages=("pt", "es"))
    assert (brazil["main_currency"], brazil["main_language"]) == ("BRL", "pt")
    assert brazil["original_domain"].endswith(".nuvemshop.com.br")


def test_uninstall_and_suspension(tmp_path: Path) -> None:
    kit = open_kit(tmp_path)
    kit.standin.suspend(kit.store_id)
    suspended = kit.get("store")
    assert suspended.status_code == 402 and suspended.json()["code"] == 402
    assert kit.standin.standing(kit.store_id) == "suspended"
    kit.standin.resume(kit.store_id)
    assert kit.get("store").status_code == 200
    kit.standin.uninstall(kit.store_id)
    assert kit.get("store").status_code == 401
    assert kit.standin.standing(kit.store_id) == "uninstalled"
    # A re-install gives a working token again.
    token = kit.standin.issue_token(kit.store_id)["access_token"]
    again = kit.api.get(kit.url("store"), headers={"Authentication": f"bearer {token}", "User-Agent": USER_AGENT})
    assert again.status_code == 200


def test_leaky_bucket(tmp_path: Path) -> None:
    kit = open_kit(tmp_path, rate_limit=Bucket(3, 0.001))
    first = kit.get("store")
    assert first.headers["x-rate-limit-limit"] == "3"
    assert first.headers["x-rate-limit-remaining"] == "2"
    assert int(first.headers["x-rate-limit-reset"]) > 0  # milliseconds until the bucket is empty
    assert [kit.get("store").status_code for _ in range(2)] == [200, 200]
    over = kit.get("store")
    assert over.status_code == 429 and over.json()["code"] == 429
    assert over.headers["x-rate-limit-remaining"] == "0" and "x-rate-limit-reset" in over.headers
    # Another store has its own bucket.
    other = kit.standin.create_store(name="Otra", email="otra@x.example")
    token = kit.standin.issue_token(other["id"])["access_token"]
    fine = kit.api.get(f"/v1/{other['id']}/store", headers={"Authentication": f"bearer {token}", "User-Agent": "x"})
    assert fine.status_code == 200


def test_big_plans_get_ten_times_the_bucket(tmp_path: Path) -> None:
    kit = open_kit(tmp_path, rate_limit=Bucket(40, 2))
    shop = kit.standin.create_store(name="Grande", email="g@x.example", plan_name="Evolution")
    token = kit.standin.issue_token(shop["id"])["access_token"]
    answer = kit.api.get(f"/v1/{shop['id']}/store", headers={"Authentication": f"bearer {token}", "User-Agent": "x"})
    assert answer.headers["x-rate-limit-limit"] == "400"


def test_injected_faults(tmp_path: Path) -> None:
    kit = open_kit(tmp_path)
    kit.standin.add_fault(f"/v1/{kit.store_id}/products", 503, count=2, method="GET")
    assert [kit.get("products").status_code for _ in range(3)] == [503, 503, 200]
    kit.standin.add_fault(f"/v1/{kit.store_id}/store", 500)
    failed = kit.get("store")
    assert failed.json() == {"code": 500, "message": "Internal Server Error", "description": None}
    kit.standin.add_fault("/apps/authorize/token", 429)
    assert kit.api.post("/apps/authorize/token", json={}).status_code == 429


def test_two_standins_on_one_file_share_state(tmp_path: Path) -> None:
    kit = open_kit(tmp_path)
    second = TiendanubeStandIn(tmp_path / "tn.sqlite3", app_id=APP_ID, client_secret=SECRET, redirect_url=REDIRECT,
                               rate_limit=None)  # fmt: skip
    try:
        api = TestClient(create_app(second))
        created = kit.send("POST", "products", {"name": "Taza"})
        assert created.status_code == 201
        seen = api.get(f"/v1/{kit.store_id}/products/{created.json()['id']}", headers=kit.headers)
        assert seen.status_code == 200 and seen.json()["name"] == {"es": "Taza"}
    finally:
        second.close()
        kit.standin.close()


JUNK: list[object] = [None, 1, "x", [], {}, [None], [{}], True, {"id": "x"}, [{"id": 1, "variants": [None]}]]
FIELDS = ("name", "variants", "values", "price", "stock", "categories", "images", "attributes", "products", "customer",
          "status", "reason", "tracking_info", "event", "url", "action", "value", "id", "src", "attachment",
          "inventory_levels", "total", "parent", "description", "happened_at", "recipient", "fulfillment")  # fmt: skip


def test_bad_bodies_never_answer_500(tmp_path: Path) -> None:
    kit = open_kit(tmp_path)
    body = {"name": "Taza", "variants": [{"price": 10}], "images": [{"src": "https://cdn.hub.example/t.jpg"}]}
    product = kit.send("POST", "products", body)
    pid, vid, image = product.json()["id"], product.json()["variants"][0]["id"], product.json()["images"][0]["id"]
    order = kit.standin.place_order(kit.store_id, [(vid, 1)])
    fo = kit.get(f"orders/{order['id']}/fulfillment-orders").json()[0]["id"]
    hook = kit.send("POST", "webhooks", {"event": "order/paid", "url": "https://hub.example/tn"}).json()["id"]
    targets = [("POST", "products"), ("PUT", f"products/{pid}"), ("PATCH", "products/stock-price"),
               ("POST", f"products/{pid}/variants"), ("PUT", f"products/{pid}/variants"),
               ("PATCH", f"products/{pid}/variants"), ("POST", f"products/{pid}/variants/stock"),
               ("PUT", f"products/{pid}/variants/{vid}"), ("POST", f"products/{pid}/images"),
               ("PUT", f"products/{pid}/images/{image}"), ("POST", "categories"), ("POST", "orders"),
               ("PUT", f"orders/{order['id']}"), ("POST", f"orders/{order['id']}/cancel"),
               ("PATCH", f"orders/{order['id']}/fulfillment-orders/{fo}"),
               ("POST", f"orders/{order['id']}/fulfillment-orders/{fo}/tracking-events"),
               ("POST", "webhooks"), ("PUT", f"webhooks/{hook}")]  # fmt: skip
    bodies = JUNK + [{field: junk} for field in FIELDS for junk in JUNK[:6]]
    for method, path in targets:
        for body in bodies:
            answer = kit.send(method, path, body) if body is not None else kit.send(method, path)
            assert answer.status_code < 500, (method, path, body, answer.text)
