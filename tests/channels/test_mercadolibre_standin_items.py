"""The stand-in's items over HTTP: publishing and its validation causes, the item document, multigets,
updates under the stock, pause, close, title, variation and price-automation rules, descriptions, the seller's
item search with offset and scan paging, and the category predictor."""

from __future__ import annotations

import re

from tests.fixtures.mercadolibre import BRAZIL, OTHER, SELLER, StandIn, item_body

ITEM_FIELDS = {
    "id", "site_id", "title", "seller_id", "category_id", "user_product_id", "price", "base_price", "original_price",
    "currency_id", "initial_quantity", "available_quantity", "sold_quantity", "buying_mode", "listing_type_id",
    "condition", "permalink", "pictures", "descriptions", "shipping", "attributes", "variations", "status",
    "sub_status", "tags", "catalog_product_id", "catalog_listing", "channels", "date_created", "last_updated",
    "seller_custom_field", "health",
}  # fmt: skip
UTC_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_publish_answers_the_full_item(ml: StandIn) -> None:
    answer = ml.api.post("/items", json=item_body(), headers=ml.headers())
    assert answer.status_code == 201, answer.text
    item = answer.json()
    assert set(item) >= ITEM_FIELDS
    assert re.fullmatch(r"MLA\d{10}", item["id"])
    assert (item["status"], item["sub_status"], item["seller_id"]) == ("active", [], SELLER.id)
    assert item["permalink"].startswith("https://articulo.mercadolibre.com.ar/MLA-")
    assert UTC_MS.match(item["date_created"]) and UTC_MS.match(item["last_updated"])
    assert {"id": "SELLER_SKU", "value_name": "SKU-1"}.items() <= item["attributes"][1].items()
    assert set(item["pictures"][0]) == {"id", "url", "secure_url", "size", "max_size", "quality"}
    read = ml.api.get(f"/items/{item['id']}", headers=ml.headers())
    assert read.status_code == 200 and read.json() == item


def test_publish_with_no_stock_is_paused_out_of_stock_and_variations_get_int64_ids(ml: StandIn) -> None:
    item = ml.api.post("/items", json=item_body(available_quantity=0), headers=ml.headers()).json()
    assert (item["status"], item["sub_status"]) == ("paused", ["out_of_stock"])
    variations = [
        {"attribute_combinations": [{"id": "COLOR", "value_name": "Rojo"}], "available_quantity": 2, "price": 350,
         "attributes": [{"id": "SELLER_SKU", "value_name": "SKU-R"}]},
        {"attribute_combinations": [{"id": "COLOR", "value_name": "Azul"}], "available_quantity": 3, "price": 350},
    ]  # fmt: skip
    item = ml.api.post("/items", json=item_body(variations=variations), headers=ml.headers()).json()
    assert [type(v["id"]) for v in item["variations"]] == [int, int]
    assert (
        item["available_quantity"] == 5 and item["variations"][0]["attribute_combinations"][0]["value_name"] == "Rojo"
    )


def test_publish_refusals_carry_causes(ml: StandIn) -> None:
    bad = item_body(category_id="XYZ12", price=0, currency_id="USD", available_quantity=-1, buying_mode="auction")
    bad |= {"condition": "broken", "listing_type_id": "platinum", "pictures": [{"url": "x"}], "title": ""}
    answer = ml.api.post("/items", json=bad, headers=ml.headers())
    assert answer.status_code == 400
    body = answer.json()
    assert (body["error"], body["status"]) == ("validation_error", 400)
    codes = {cause["code"] for cause in body["cause"]}
    assert codes == {
        "item.title.required", "item.category_id.invalid", "item.price.invalid", "item.currency_id.invalid",
        "item.available_quantity.invalid", "item.buying_mode.invalid", "item.condition.invalid",
        "item.listing_type_id.invalid", "item.pictures.invalid",
    }  # fmt: skip
    category = next(c for c in body["cause"] if c["code"] == "item.category_id.invalid")
    assert set(category) == {"department", "cause_id", "type", "code", "references", "message"}
    assert category["message"] == "Category XYZ12 does not exist" and category["type"] == "error"
    mlb_category = ml.api.post("/items", json=item_body(category_id="MLB3530"), headers=ml.headers())
    assert mlb_category.json()["cause"][0]["code"] == "item.category_id.invalid"
    extra = ml.api.post("/items", json=item_body(description="no"), headers=ml.headers())
    assert extra.status_code == 400
    assert extra.json() == {
        "message": "body.invalid_fields",
        "error": "The fields [description] are invalid for requested call.",
        "status": 400,
        "cause": [],
    }
    brazil = ml.api.post("/items", json=item_body(category_id="MLB1055", currency_id="BRL"), headers=ml.headers(BRAZIL))
    assert brazil.status_code == 201 and brazil.json()["id"].startswith("MLB")


def test_private_calls_need_a_token_of_the_owner(ml: StandIn) -> None:
    unauthorized = {"message": "invalid access token", "error": "unauthorized", "status": 401, "cause": []}
    assert ml.api.post("/items", json=item_body()).json() == unauthorized
    answer = ml.api.post("/items", json=item_body(), headers={"Authorization": "Bearer APP_USR-nope"})
    assert (answer.status_code, answer.json()) == (401, unauthorized)
    item = ml.item()
    assert ml.api.put(f"/items/{item['id']}", json={"price": 5}, headers=ml.headers(OTHER)).status_code == 403
    public = ml.api.get(f"/items/{item['id']}", headers=ml.headers(OTHER)).json()
    assert (public["available_quantity"], public["sold_quantity"]) == (1, None)  # bucketed for others
    assert ml.api.get(f"/users/{SELLER.id}/items/search", headers=ml.headers(OTHER)).status_code == 403
    assert ml.api.get("/items/MLA0000000001", headers=ml.headers()).status_code == 404


def test_multigets(ml: StandIn) -> None:
    first, second = ml.item(), ml.item()
    ids = f"{first['id']},MLA9999999999,{second['id']}"
    bulk = ml.api.get("/items/bulk", params={"ids": ids}, headers=ml.headers())
    assert bulk.status_code == 200
    assert [(e["id"], e["status_code"]) for e in bulk.json()] == [
        (first["id"], 200),
        ("MLA9999999999", 404),
        (second["id"], 200),
    ]
    assert bulk.json()[0]["body"]["title"] == first["title"]
    old = ml.api.get("/items", params={"ids": ids}, headers=ml.headers()).json()
    assert [e["code"] for e in old] == [200, 404, 200] and "status_code" not in old[0]
    too_many = ",".join([first["id"]] * 21)
    assert ml.api.get("/items/bulk", params={"ids": too_many}, headers=ml.headers()).status_code == 400


def test_stock_zero_pauses_restock_reactivates_but_a_seller_pause_sticks(ml: StandIn) -> None:
    item = ml.item()
    url, headers = f"/items/{item['id']}", ml.headers()
    paused = ml.api.put(url, json={"available_quantity": 0}, headers=headers).json()
    assert (paused["status"], paused["sub_status"]) == ("paused", ["out_of_stock"])
    active = ml.api.put(url, json={"available_quantity": 5}, headers=headers).json()
    assert (active["status"], active["sub_status"], active["available_quantity"]) == ("active", [], 5)
    by_seller = ml.api.put(url, json={"status": "paused"}, headers=headers).json()
    assert (by_seller["status"], by_seller["sub_status"]) == ("paused", ["paused_by_seller"])
    ml.api.put(url, json={"available_quantity": 0}, headers=headers)
    still = ml.api.put(url, json={"available_quantity": 7}, headers=headers).json()
    assert (still["status"], still["sub_status"]) == ("paused", ["paused_by_seller"])
    assert ml.api.put(url, json={"status": "active"}, headers=headers).json()["status"] == "active"
    assert ml.api.put(url, json={"status": "Paused"}, headers=headers).status_code == 400


def test_closed_is_final_and_delete_follows_close(ml: StandIn) -> None:
    item = ml.item()
    url, headers = f"/items/{item['id']}", ml.headers()
    assert ml.api.put(url, json={"deleted": "true"}, headers=headers).status_code == 400
    assert ml.api.put(url, json={"status": "closed"}, headers=headers).json()["status"] == "closed"
    refused = ml.api.put(url, json={"status": "active"}, headers=headers)
    assert refused.status_code == 400 and refused.json()["cause"][0]["code"] == "item.status.not_modifiable"
    deleted = ml.api.put(url, json={"deleted": "true"}, headers=headers).json()
    assert (deleted["status"], deleted["sub_status"]) == ("closed", ["deleted"])


def test_title_freezes_after_a_sale(ml: StandIn) -> None:
    item = ml.item()
    url, headers = f"/items/{item['id']}", ml.headers()
    assert ml.api.put(url, json={"title": "Nuevo titulo"}, headers=headers).json()["title"] == "Nuevo titulo"
    ml.standin.buy(item["id"])
    refused = ml.api.put(url, json={"title": "Otro"}, headers=headers)
    assert refused.status_code == 400 and refused.json()["cause"][0]["code"] == "item.title.not_modifiable"


def test_variations_put_keeps_listed_ids_and_deletes_the_others(ml: StandIn) -> None:
    combos = [{"attribute_combinations": [{"id": "SIZE", "value_name": s}], "available_quantity": 2} for s in "SML"]
    item = ml.item(variations=combos)
    small, medium, _large = (v["id"] for v in item["variations"])
    url, headers = f"/items/{item['id']}", ml.headers()
    # The legacy model keeps one price per item: variations left at different prices are refused.
    apart = {"variations": [{"id": small, "available_quantity": 7, "price": 400}, {"id": medium}]}
    refused = ml.api.put(url, json=apart, headers=headers)
    assert refused.status_code == 400 and refused.json()["cause"][0]["code"] == "item.variations.price.different"
    body = {"variations": [{"id": small, "available_quantity": 7, "price": 400}, {"id": medium, "price": 400}]}
    updated = ml.api.put(url, json=body, headers=headers).json()
    assert [(v["id"], v["available_quantity"], v["price"]) for v in updated["variations"]] == [
        (small, 7, 400),
        (medium, 2, 400),
    ]
    assert updated["available_quantity"] == 9 and updated["price"] == 400
    unknown = ml.api.put(url, json={"variations": [{"id": 1, "available_quantity": 1}]}, headers=headers)
    assert unknown.status_code == 400 and unknown.json()["cause"][0]["code"] == "item.variations.id.invalid"


def test_price_automation_refuses_price_only_and_ignores_price_with_a_warning(ml: StandIn) -> None:
    item = ml.item()
    url, headers = f"/items/{item['id']}", ml.headers()
    assert ml.api.put(url, json={"price": 999}, headers=headers).json()["price"] == 999
    tagged = ml.api.post(f"/_test/items/{item['id']}/tags", json={"tags": ["price_automation"]})
    assert tagged.status_code == 200 and "price_automation" in tagged.json()["tags"]
    refused = ml.api.put(url, json={"price": 1200}, headers=headers)
    assert refused.status_code == 400 and refused.json()["cause"][0]["code"] == "item.price.automation"
    mixed = ml.api.put(url, json={"price": 1200, "available_quantity": 3}, headers=headers)
    assert mixed.status_code == 200
    assert (mixed.json()["price"], mixed.json()["available_quantity"]) == (999, 3)
    assert mixed.json()["warnings"][0]["type"] == "warning"


def test_description(ml: StandIn) -> None:
    item = ml.item()
    url, headers = f"/items/{item['id']}/description", ml.headers()
    assert ml.api.get(url, headers=headers).status_code == 404
    assert ml.api.post(url, json={"plain_text": "Hola"}, headers=headers).status_code == 201
    assert ml.api.get(url, headers=headers).json()["plain_text"] == "Hola"
    assert ml.api.post(url, json={"plain_text": "x"}, headers=ml.headers(OTHER)).status_code == 403


def test_item_search_filters_and_offset_limits(ml: StandIn) -> None:
    first = ml.item()
    ml.item(attributes=[{"id": "SELLER_SKU", "value_name": "SKU-2"}])
    paused = ml.item(available_quantity=0)
    ml.item(OTHER)
    url, headers = f"/users/{SELLER.id}/items/search", ml.headers()
    everything = ml.api.get(url, headers=headers).json()
    assert everything["paging"] == {"limit": 50, "offset": 0, "total": 3}
    assert everything["seller_id"] == str(SELLER.id) and everything["results"][0] == first["id"]
    assert set(everything) >= {"seller_id", "query", "paging", "results", "orders", "available_orders"}
    by_sku = ml.api.get(url, params={"seller_sku": "SKU-1"}, headers=headers).json()["results"]
    assert by_sku == [first["id"], paused["id"]]
    assert ml.api.get(url, params={"status": "paused"}, headers=headers).json()["results"] == [paused["id"]]
    page = ml.api.get(url, params={"offset": 1, "limit": 1}, headers=headers).json()
    assert page["paging"] == {"limit": 1, "offset": 1, "total": 3} and len(page["results"]) == 1
    assert ml.api.get(url, params={"limit": 101}, headers=headers).status_code == 400
    assert ml.api.get(url, params={"offset": 1000, "limit": 50}, headers=headers).status_code == 400


def test_scan_pages_past_a_thousand_items(ml: StandIn) -> None:
    created = ml.standin.create_items([item_body(title=f"Item {n}") for n in range(1030)])
    url, headers = f"/users/{SELLER.id}/items/search", ml.headers()
    assert ml.api.get(url, params={"offset": 1000}, headers=headers).status_code == 400
    seen: list[str] = []
    answer = ml.api.get(url, params={"search_type": "scan", "limit": 100}, headers=headers).json()
    while answer["results"]:
        seen += answer["results"]
        params = {"search_type": "scan", "limit": 100, "scroll_id": answer["scroll_id"]}
        answer = ml.api.get(url, params=params, headers=headers).json()
    assert answer["scroll_id"] is None
    assert seen == [item["id"] for item in created]
    bad = ml.api.get(url, params={"search_type": "scan", "scroll_id": "nope"}, headers=headers)
    assert bad.status_code == 400


def test_category_predictor(ml: StandIn) -> None:
    answer = ml.api.get("/sites/MLA/domain_discovery/search", params={"q": "Celular Samsung Galaxy A54 128gb"})
    assert answer.status_code == 200
    best = answer.json()[0]
    assert best == {
        "domain_id": "MLA-CELLPHONES",
        "domain_name": "Celulares",
        "category_id": "MLA1055",
        "category_name": "Celulares y Smartphones",
        "attributes": [{"id": "BRAND", "value_id": "206", "value_name": "Samsung"}],
    }
    assert ml.api.get("/sites/MLB/domain_discovery/search", params={"q": "Notebook"}).json()[0]["category_id"] == (
        "MLB1652"
    )
    assert ml.api.get("/sites/MLA/domain_discovery/search", params={"q": "qwerty zzz"}).json() == []
    assert ml.api.get("/sites/MLA/domain_discovery/search").status_code == 400
    assert ml.api.get("/sites/XXX/domain_discovery/search", params={"q": "libro"}).status_code == 404
