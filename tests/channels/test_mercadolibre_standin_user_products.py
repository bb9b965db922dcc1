"""The stand-in's items of the User Products model over HTTP: one variation per item, sent with ``family_name``
and no title, each with its own price and a ``user_product_id`` of the site; the model's rules refused as
Mercado Libre would; ``user_products`` and ``stock-location`` notified; sales and shipments naming the user
product."""

from __future__ import annotations

from typing import Any

from tests.fixtures.mercadolibre import StandIn, item_body


def up_body(sku: str, price: int, **overrides: Any) -> dict[str, Any]:
    body = item_body(**({"family_name": "Remera lisa", "price": price, "tags": ["user_product_listing"]} | overrides))
    if "title" not in overrides:
        del body["title"]
    body["attributes"] = [{"id": "SIZE", "value_name": sku[-1]}, {"id": "SELLER_SKU", "value_name": sku}]
    return body


def feeds(ml: StandIn, topic: str) -> list[dict[str, Any]]:
    params = {"app_id": str(ml.standin.notifier.application_id), "topic": topic, "limit": "50"}
    answer = ml.api.get("/missed_feeds", params=params, headers=ml.headers())
    assert answer.status_code == 200, answer.text
    return list(answer.json()["messages"])


def test_each_variation_is_an_item_with_its_own_price_and_user_product(ml: StandIn) -> None:
    small = ml.api.post("/items", json=up_body("REM-S", 15900), headers=ml.headers())
    large = ml.api.post("/items", json=up_body("REM-L", 17900), headers=ml.headers())
    assert small.status_code == large.status_code == 201, small.text
    first, second = small.json(), large.json()
    assert (first["price"], second["price"]) == (15900, 17900)
    assert first["user_product_id"].startswith("MLAU") and first["user_product_id"] != second["user_product_id"]
    assert first["family_id"] == second["family_id"] and first["family_name"] == "Remera lisa"
    assert first["title"] == "Remera lisa" and "user_product_listing" in first["tags"]
    assert (
        ml.api.get(f"/items/{first['id']}", headers=ml.headers()).json()["user_product_id"] == first["user_product_id"]
    )
    # Another family gets another family id.
    other = ml.api.post("/items", json=up_body("PAN-S", 100, family_name="Pantalón"), headers=ml.headers()).json()
    assert other["family_id"] != first["family_id"]


def test_the_models_rules_are_refused(ml: StandIn) -> None:
    with_title = up_body("REM-S", 15900, title="Remera lisa talle S")
    no_family = up_body("REM-S", 15900)
    del no_family["family_name"]
    with_variations = up_body("REM-S", 15900, variations=[{"attribute_combinations": [], "available_quantity": 1}])
    legacy_with_family = item_body(family_name="Remera lisa")
    codes = {}
    for name, body in (("title", with_title), ("family", no_family), ("variations", with_variations),
                       ("legacy", legacy_with_family)):  # fmt: skip
        answer = ml.api.post("/items", json=body, headers=ml.headers())
        assert answer.status_code == 400, name
        codes[name] = {cause["code"] for cause in answer.json()["cause"]}
    assert "item.title.invalid" in codes["title"]
    assert "item.family_name.required" in codes["family"]
    assert "item.variations.invalid" in codes["variations"]
    assert "item.family_name.invalid" in codes["legacy"]


def test_user_products_and_stock_location_are_notified(ml: StandIn) -> None:
    item = ml.api.post("/items", json=up_body("REM-S", 15900), headers=ml.headers()).json()
    resource = f"/user-products/{item['user_product_id']}"
    ml.api.put(f"/items/{item['id']}", json={"available_quantity": 4}, headers=ml.headers())
    ml.api.put(f"/items/{item['id']}", json={"price": 16000}, headers=ml.headers())
    assert [(f["resource"], f.get("actions")) for f in feeds(ml, "user_products")] == [
        (resource, ["created"]),
        (resource, ["updated"]),
        (resource, ["updated"]),
    ]
    assert [f["resource"] for f in feeds(ml, "stock-location")] == [f"{resource}/stock"]
    # A legacy item notifies neither.
    ml.api.post("/items", json=item_body(), headers=ml.headers())
    assert len(feeds(ml, "user_products")) == 3


def test_a_sale_names_the_user_product_in_the_order_and_the_shipment(ml: StandIn) -> None:
    item = ml.api.post("/items", json=up_body("REM-S", 15900), headers=ml.headers()).json()
    order = ml.standin.buy(item["id"], 2)
    line = order["order_items"][0]["item"]
    assert (line["user_product_id"], line["seller_sku"]) == (item["user_product_id"], "REM-S")
    shipment_id = order["shipping"]["id"]
    rows = ml.api.get(f"/shipments/{shipment_id}/orders", headers=ml.headers() | {"X-New-Domain": "true"})
    assert rows.status_code == 200, rows.text
    assert [r["user_product_id"] for r in rows.json()] == [item["user_product_id"]]
    stored = ml.api.get(f"/items/{item['id']}", headers=ml.headers()).json()
    assert stored["available_quantity"] == 8
    assert [f["resource"] for f in feeds(ml, "stock-location")] == [f"/user-products/{item['user_product_id']}/stock"]
