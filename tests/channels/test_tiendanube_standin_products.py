"""The Tiendanube stand-in's catalog over HTTP: the product and variant objects (field names, money as strings,
language objects), create rules and refusals, the list with paging headers, filters and ``fields``, lookup by SKU,
product ``PUT`` (categories), the variant endpoints (the collection ``PUT`` deletes what it omits, ``PATCH`` only
updates, stock ``replace``/``variation``/infinite), the ``stock-price`` batch (50 variants, per-variant results)
and its weighted bucket, and categories."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from alephee.channels.tiendanube.standin.limits import Bucket
from tests.channels.tiendanube_standin_kit import Kit, open_kit, product_body

PRODUCT_FIELDS = {
    "id", "name", "description", "handle", "attributes", "published", "free_shipping", "requires_shipping",
    "canonical_url", "video_url", "seo_title", "seo_description", "brand", "tags", "created_at", "updated_at",
    "variants", "images", "categories",
}  # fmt: skip
VARIANT_FIELDS = {
    "id", "product_id", "image_id", "position", "price", "compare_at_price", "promotional_price", "cost",
    "stock_management", "stock", "inventory_levels", "sku", "barcode", "mpn", "age_group", "gender", "weight",
    "width", "height", "depth", "values", "visible", "created_at", "updated_at",
}  # fmt: skip


def created(kit: Kit, body: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = kit.send("POST", "products", body or product_body())
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_product_object(tmp_path: Path) -> None:
    kit = open_kit(tmp_path)
    product = created(kit)
    assert set(product) == PRODUCT_FIELDS
    assert product["name"] == {"es": "Remera básica"} and product["handle"] == {"es": "remera-basica"}
    assert product["description"] == {"es": ""} and product["attributes"] == [{"es": "Talle"}]
    assert product["tags"] == "" and product["categories"] == []
    assert product["created_at"].endswith("+0000")
    small, medium = product["variants"]
    assert set(small) == VARIANT_FIELDS
    assert (small["price"], medium["price"]) == ("100.00", "100.00")
    assert (small["stock"], small["stock_management"], small["weight"]) == (10, True, "0.250")
    assert small["values"] == [{"es": "S"}] and small["product_id"] == product["id"]
    assert [small["position"], medium["position"]] == [1, 2]
    level = small["inventory_levels"][0]
    assert (level["stock"], level["variant_id"]) == (10, small["id"]) and len(level["location_id"]) == 26
    image = product["images"][0]
    assert image["position"] == 1 and image["product_id"] == product["id"] and image["src"].startswith("https://")
    assert kit.get(f"products/{product['id']}").json() == product


def test_create_rules(tmp_path: Path) -> None:
    kit = open_kit(tmp_path)
    virtual = created(kit, {"name": "Taza"})
    assert virtual["name"] == {"es": "Taza"}  # a plain string applies to every language
    (only,) = virtual["variants"]
    assert (only["values"], only["stock"], only["stock_management"], only["price"]) == ([], None, False, None)
    blank = kit.send("POST", "products", {"name": ""})
    assert (blank.status_code, blank.json()) == (422, {"name": ["can't be blank"]})
    body = product_body()
    body["variants"][1]["values"] = [{"es": "S"}]
    repeated = kit.send("POST", "products", body)
    assert repeated.status_code == 422 and repeated.json()["description"] == "Variants cannot be repeated"
    body = product_body()
    body["variants"][0]["values"] = []
    assert kit.send("POST", "products", body).status_code == 400
    video = kit.send("POST", "products", {"name": "x", "video_url": "http://video.example/v"})
    assert video.json() == {"code": 422, "message": "Unprocessable Entity",
                            "description": "The video url field is not a secure url"}  # fmt: skip
    price = kit.send("POST", "products", {"name": "x", "variants": [{"price": "abc", "values": []}]})
    assert price.status_code == 422 and price.json()["price"] == ["The price must be a number."]
    gender = kit.send("POST", "products", {"name": "x", "variants": [{"gender": "other", "values": []}]})
    assert gender.json()["gender"] == ["The selected gender is invalid."]
    assert kit.send("POST", "products", ["not", "an", "object"]).status_code == 400


def test_list_paging_filters_and_fields(tmp_path: Path) -> None:
    kit = open_kit(tmp_path)
    ids = [created(kit, product_body(sku=f"P{n}"))["id"] for n in range(5)]
    first = kit.get("products", per_page=2)
    assert first.status_code == 200 and first.headers["x-total-count"] == "5"
    assert [p["id"] for p in first.json()] == ids[:2]
    links = dict(reversed(part.split("; ")) for part in first.headers["link"].split(", "))
    assert set(links) == {'rel="next"', 'rel="last"'}
    next_url = links['rel="next"'].strip("<>")
    assert urlsplit(next_url).path == kit.url("products")
    assert parse_qs(urlsplit(next_url).query) == {"page": ["2"], "per_page": ["2"]}
    middle = kit.get("products", per_page=2, page=2)
    assert {part.split("; ")[1] for part in middle.headers["link"].split(", ")} == {
        'rel="next"', 'rel="last"', 'rel="first"', 'rel="prev"'}  # fmt: skip
    last = kit.get("products", per_page=2, page=3)
    assert [p["id"] for p in last.json()] == ids[4:]
    assert kit.get("products", since_id=ids[2]).json()[0]["id"] == ids[3]
    assert kit.get("products", per_page=201).status_code == 400
    assert kit.get("products", fields="id,name").json()[0] == {"id": ids[0], "name": {"es": "Remera básica"}}
    assert [p["id"] for p in kit.get("products", q="p3-m").json()] == [ids[3]]
    # ``ids`` names the products (an unknown one is left out), 30 at most.
    named = kit.get("products", ids=f"{ids[3]},{ids[1]},999999999").json()
    assert [p["id"] for p in named] == [ids[1], ids[3]]
    assert kit.get("products", ids=",".join(str(n) for n in range(1, 32))).status_code == 400
    assert kit.get("products", updated_at_min="2999-01-01T00:00:00-03:00").json() == []
    assert len(kit.get("products", updated_at_min="2000-01-01T00:00:00+0000").json()) == 5
    assert kit.get("products", sort_by="created-at-descending").json()[0]["id"] == ids[-1]
    assert [p["id"] for p in kit.get("products", ids=f"{ids[1]},{ids[2]}").json()] == ids[1:3]


def test_by_sku_and_delete(tmp_path: Path) -> None:
    kit = open_kit(tmp_path)
    product = created(kit)
    assert kit.get("products/sku/REM-M").json()["id"] == product["id"]
    missing = kit.get("products/sku/NOPE")
    assert missing.status_code == 404 and missing.json()["code"] == 404
    assert (kit.send("DELETE", f"products/{product['id']}").json()) == {}
    gone = kit.get(f"products/{product['id']}")
    assert gone.json() == {"code": 404, "message": "Not Found", "description": "Product with such id does not exist"}


def test_product_put_and_categories(tmp_path: Path) -> None:
    kit = open_kit(tmp_path)
    shirts = kit.send("POST", "categories", {"name": {"es": "Remeras"}}).json()
    child = kit.send("POST", "categories", {"name": "Mangas cortas", "parent": shirts["id"]}).json()
    assert child["parent"] == shirts["id"] and child["handle"] == {"es": "mangas-cortas"}
    assert kit.get(f"categories/{shirts['id']}").json()["subcategories"] == [child["id"]]
    product = created(kit, product_body() | {"categories": [shirts["id"]]})
    assert [category["id"] for category in product["categories"]] == [shirts["id"]]
    changed = kit.send("PUT", f"products/{product['id']}", {"published": False, "variants": []}).json()
    assert changed["published"] is False and len(changed["variants"]) == 2  # variants are not product fields
    assert [c["id"] for c in changed["categories"]] == [shirts["id"]]  # omitted: kept
    cleared = kit.send("PUT", f"products/{product['id']}", {"categories": []}).json()
    assert cleared["categories"] == []
    unknown = kit.send("PUT", f"products/{product['id']}", {"categories": [1]})
    assert unknown.status_code == 422
    assert kit.send("POST", "categories", {"name": ""}).json() == {"name": ["can't be blank"]}
    assert kit.get("categories", parent_id=str(shirts["id"])).json()[0]["id"] == child["id"]
    assert kit.send("DELETE", f"categories/{shirts['id']}").json() == {}
    assert kit.get(f"categories/{child['id']}").json()["parent"] is None


def test_variant_endpoints(tmp_path: Path) -> None:
    kit = open_kit(tmp_path)
    product = created(kit)
    pid = product["id"]
    small, medium = product["variants"]
    large = kit.send("POST", f"products/{pid}/variants", {"values": [{"es": "L"}], "price": "19.00"})
    assert large.status_code == 201 and large.json()["price"] == "19.00" and large.json()["position"] == 3
    again = kit.send("POST", f"products/{pid}/variants", {"values": [{"es": "L"}]})
    assert again.json()["description"] == "Variants cannot be repeated"
    one = kit.send("PUT", f"products/{pid}/variants/{small['id']}", {"promotional_price": "29.90", "stock": ""})
    assert (one.json()["promotional_price"], one.json()["stock"], one.json()["stock_management"]) == (
        "29.90",
        None,
        False,
    )
    assert kit.get(f"products/{pid}/variants/{small['id']}").json()["promotional_price"] == "29.90"
    patched = kit.send("PATCH", f"products/{pid}/variants", [{"id": medium["id"], "sku": "NEW-M"}]).json()
    assert [v["sku"] for v in patched] == ["REM-S", "NEW-M", None] and len(patched) == 3
    clash = kit.send("PATCH", f"products/{pid}/variants", [{"id": medium["id"], "values": [{"es": "S"}]}])
    assert clash.status_code == 422 and clash.json()["duplicate_variant_ids"] == sorted([small["id"], medium["id"]])
    no_id = kit.send("PATCH", f"products/{pid}/variants", [{"sku": "x"}])
    assert no_id.status_code == 422
    # The collection PUT keeps what it names (by values), creates the new and deletes the rest.
    whole = kit.send("PUT", f"products/{pid}/variants", [{"values": [{"es": "M"}], "price": 50},
                                                          {"values": [{"es": "XL"}], "stock": 2}])  # fmt: skip
    assert whole.status_code == 200
    assert [(v["values"], v["price"]) for v in whole.json()] == [([{"es": "M"}], "50.00"), ([{"es": "XL"}], None)]
    assert whole.json()[0]["id"] == medium["id"]
    assert kit.get(f"products/{pid}/variants/{small['id']}").status_code == 404
    assert kit.send("PUT", f"products/{pid}/variants", []).json()["description"] == "There must be at least one variant"
    assert kit.send("PUT", f"products/{pid}/variants", {"values": []}).json()["description"] == "Invalid input format"
    assert kit.send("PUT", f"products/{pid}/variants", [{"price": 1}]).json()["description"] == (
        "Variant values should not be empty")  # fmt: skip
    twice = kit.send("PUT", f"products/{pid}/variants", [{"values": ["M"]}, {"values": ["M"]}])
    assert twice.json()["description"] == "Variant values should not be repeated"
    listed = kit.get(f"products/{pid}/variants", per_page=1)
    assert listed.headers["x-total-count"] == "2" and len(listed.json()) == 1
    xl = whole.json()[1]["id"]
    assert kit.send("DELETE", f"products/{pid}/variants/{xl}").json() == {}
    assert kit.send("DELETE", f"products/{pid}/variants/{medium['id']}").status_code == 422  # the last one stays
    assert kit.get("products/1/variants").status_code == 404


def test_variant_stock_endpoint(tmp_path: Path) -> None:
    kit = open_kit(tmp_path)
    product = created(kit)
    pid, small = product["id"], product["variants"][0]
    every = kit.send("POST", f"products/{pid}/variants/stock", {"action": "replace", "value": 7}).json()
    assert [v["stock"] for v in every] == [7, 7]
    less = kit.send("POST", f"products/{pid}/variants/stock", {"action": "variation", "value": -9, "id": small["id"]})
    assert [v["stock"] for v in less.json()] == [0]  # clamped at 0
    infinite = kit.send("POST", f"products/{pid}/variants/stock", {"action": "replace", "value": None})
    assert all(v["stock"] is None and v["stock_management"] is False for v in infinite.json())
    bad = kit.send("POST", f"products/{pid}/variants/stock", {"action": "set", "value": 1})
    assert bad.json() == {"code": 422, "message": "Unprocessable Entity",
                          "description": "Valid actions are 'replace', 'variation'."}  # fmt: skip
    missing = kit.send("POST", "products/1/variants/stock", {"action": "replace", "value": 1})
    assert missing.json()["description"] == "Product with such id does not exist"


def test_stock_price_batch(tmp_path: Path) -> None:
    kit = open_kit(tmp_path)
    one, two = created(kit, product_body("A")), created(kit, product_body("B"))
    body = [
        {"id": one["id"], "variants": [{"id": one["variants"][0]["id"], "price": 1000,
                                        "inventory_levels": [{"stock": 300}]}]},
        {"id": two["id"], "variants": [{"id": two["variants"][0]["id"], "price": 222.03},
                                       {"id": two["variants"][1]["id"], "inventory_levels": [{"stock": 100}]},
                                       {"id": one["variants"][1]["id"], "price": 1}]},
    ]  # fmt: skip
    answer = kit.send("PATCH", "products/stock-price", body)
    assert answer.status_code == 200
    result = answer.json()
    assert result[0] == {"id": one["id"], "variants": [{"id": one["variants"][0]["id"], "success": True}]}
    assert [v["success"] for v in result[1]["variants"]] == [True, True, False]  # a variant of another product
    after_one, after_two = kit.get(f"products/{one['id']}").json(), kit.get(f"products/{two['id']}").json()
    assert (after_one["variants"][0]["price"], after_one["variants"][0]["stock"]) == ("1000.00", 300)
    assert after_one["variants"][1]["price"] == "100.00"
    assert (after_two["variants"][0]["price"], after_two["variants"][1]["stock"]) == ("222.03", 100)
    too_many = [{"id": one["id"], "variants": [{"id": one["variants"][0]["id"], "price": 1}] * 51}]
    assert kit.send("PATCH", "products/stock-price", too_many).json() == {
        "code": 422, "message": "Unprocessable Entity", "description": "Too many variants sent for update"}  # fmt: skip
    wrong = kit.send("PATCH", "products/stock-price", [{"id": one["id"], "variants": [{"id": 1, "price": "x"}]}])
    assert wrong.status_code == 422 and wrong.json()["price"] == ["The price must be a number."]
    negative = [{"id": one["id"], "variants": [{"id": one["variants"][0]["id"], "inventory_levels": [{"stock": -1}]}]}]
    assert kit.send("PATCH", "products/stock-price", negative).json()["stock"] == ["The stock must be at least 0."]
    assert kit.get(f"products/{one['id']}").json()["variants"][0]["stock"] == 300  # nothing applied


def test_weighted_bucket_of_variant_updates(tmp_path: Path) -> None:
    kit = open_kit(tmp_path, variant_rate_limit=Bucket(3, 0.001))
    product = created(kit)
    ids = [variant["id"] for variant in product["variants"]]
    body = [{"id": product["id"], "variants": [{"id": ids[0], "price": 1}, {"id": ids[1], "price": 2}]}]
    assert kit.send("PATCH", "products/stock-price", body).status_code == 200  # costs 2 of 3
    assert kit.send("PATCH", "products/stock-price", body).status_code == 429
    assert kit.get(f"products/{product['id']}").status_code == 200  # reads are not weighed


def test_image_endpoints(tmp_path: Path) -> None:
    kit = open_kit(tmp_path)
    product = created(kit)
    pid, first = product["id"], product["images"][0]
    added = kit.send("POST", f"products/{pid}/images", {"src": "https://cdn.hub.example/back.png", "position": 2})
    assert added.status_code == 201
    image = added.json()
    assert set(image) == {"id", "product_id", "src", "position", "alt", "created_at", "updated_at"}
    assert image["src"].endswith("-back.png") and image["position"] == 2
    uploaded = kit.send(
        "POST", f"products/{pid}/images", {"filename": "mewtwo.gif", "attachment": "R0lGODlhAQABAAAAACw="}
    )
    assert uploaded.status_code == 201 and uploaded.json()["position"] == 3
    assert kit.send("POST", f"products/{pid}/images", {"filename": "x.bmp", "attachment": "AAAA"}).status_code == 422
    assert kit.send("POST", f"products/{pid}/images", {"position": 1}).json() == {"src": ["can't be blank"]}
    listed = kit.get(f"products/{pid}/images")
    assert listed.headers["x-total-count"] == "3" and listed.json()[0]["id"] == first["id"]
    moved = kit.send("PUT", f"products/{pid}/images/{image['id']}", {"position": 1}).json()
    assert moved["position"] == 1 and kit.get(f"products/{pid}/images/{image['id']}").json() == moved
    kit.send("PUT", f"products/{pid}/variants/{product['variants'][0]['id']}", {"image_id": image["id"]})
    assert kit.send("DELETE", f"products/{pid}/images/{image['id']}").json() == {}
    assert kit.get(f"products/{pid}/images/{image['id']}").status_code == 404
    assert kit.get(f"products/{pid}").json()["variants"][0]["image_id"] is None
