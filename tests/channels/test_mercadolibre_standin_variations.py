"""The stand-in's items with variations over HTTP: published with their attribute combinations (by id or by
name), their SKU attribute and pictures of the item, under the legacy model's one price; sold one variation at a
time (the order line names the variation and its attributes, and that variation's stock goes down)."""

from __future__ import annotations

from typing import Any

from tests.fixtures.mercadolibre import StandIn, item_body

PICTURES = [{"source": "http://pictures.example/remera-negra.jpg"}, {"source": "http://pictures.example/remera.jpg"}]


def variation(color: str, size: str, sku: str, quantity: int, **extra: Any) -> dict[str, Any]:
    return {
        "attribute_combinations": [{"id": "COLOR", "value_name": color}, {"name": "Largo", "value_name": size}],
        "available_quantity": quantity,
        "price": 350,
        "attributes": [{"id": "SELLER_SKU", "value_name": sku}],
        **extra,
    }


def body_with(variations: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    body = item_body(pictures=PICTURES, variations=variations, **overrides)
    del body["available_quantity"]  # an item with variations takes its stock from them
    return body


def test_an_item_is_published_with_its_variations(ml: StandIn) -> None:
    sent = [
        variation("Negro", "Corto", "REM-NEG-C", 2, picture_ids=["http://pictures.example/remera-negra.jpg"]),
        variation("Blanco", "Corto", "REM-BLA-C", 3),
    ]
    answer = ml.api.post("/items", json=body_with(sent), headers=ml.headers())
    assert answer.status_code == 201, answer.text
    item = answer.json()
    black, white = item["variations"]
    assert black["id"] != white["id"] and item["available_quantity"] == 5
    assert [(a["id"], a["name"], a["value_name"]) for a in black["attribute_combinations"]] == [
        ("COLOR", "Color", "Negro"),
        (None, "Largo", "Corto"),
    ]
    assert [(a["id"], a["value_name"]) for a in white["attributes"]] == [("SELLER_SKU", "REM-BLA-C")]
    assert black["picture_ids"] == [item["pictures"][0]["id"]] and black["price"] == 350
    assert ml.api.get(f"/items/{item['id']}", headers=ml.headers()).json()["variations"] == item["variations"]


def test_variations_at_different_prices_repeated_combinations_and_foreign_pictures_are_refused(ml: StandIn) -> None:
    sent = [
        variation("Negro", "Corto", "A", 1, price=400, picture_ids=["http://elsewhere.example/x.jpg"]),
        variation("Negro", "Corto", "B", 1),
    ]
    answer = ml.api.post("/items", json=body_with(sent), headers=ml.headers())
    assert answer.status_code == 400
    assert {cause["code"] for cause in answer.json()["cause"]} == {
        "item.variations.price.different",
        "item.variations.attribute_combinations.duplicated",
        "item.variations.picture_ids.invalid",
    }


def test_a_sale_of_a_variation_names_it_and_takes_its_stock(ml: StandIn) -> None:
    item = ml.standin.create_item(body_with([variation("Negro", "Corto", "N", 2), variation("Azul", "Corto", "A", 4)]))
    blue = item["variations"][1]
    answer = ml.api.post("/_test/orders", json={"item_id": item["id"], "quantity": 3, "variation_id": blue["id"]})
    assert answer.status_code in (200, 201), answer.text
    line = answer.json()["order_items"][0]["item"]
    assert (line["variation_id"], line["seller_sku"]) == (blue["id"], "A")
    assert [a["value_name"] for a in line["variation_attributes"]] == ["Azul", "Corto"]
    after = ml.api.get(f"/items/{item['id']}", headers=ml.headers()).json()
    assert [v["available_quantity"] for v in after["variations"]] == [2, 1] and after["available_quantity"] == 3
    # The variation's stock is the limit of a purchase.
    too_many = ml.api.post("/_test/orders", json={"item_id": item["id"], "quantity": 2, "variation_id": blue["id"]})
    assert too_many.status_code == 400


def test_a_put_sends_every_variation_or_the_left_out_ones_are_deleted(ml: StandIn) -> None:
    item = ml.standin.create_item(body_with([variation("Negro", "Corto", "N", 2), variation("Azul", "Corto", "A", 4)]))
    black, _blue = (v["id"] for v in item["variations"])
    url = f"/items/{item['id']}"
    kept = ml.api.put(url, json={"variations": [{"id": black, "available_quantity": 5}]}, headers=ml.headers())
    assert kept.status_code == 200
    assert [(v["id"], v["available_quantity"]) for v in kept.json()["variations"]] == [(black, 5)]
