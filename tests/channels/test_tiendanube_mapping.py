"""Tiendanube's JSON in the channel contract's terms and the hub's catalog in Tiendanube's, as tables and
properties: ids beyond 32 bits, money strings written and read back, language objects, variation options,
stock-price batches, listing states and orders (variants, payments, shipping, discounts, cancellations)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alephee.channels.tiendanube import mapping as tn
from alephee.channels.tiendanube.client import as_money
from alephee.orders import shipping_rules as ship
from tests.channels.tiendanube_fake import order_json, product_json

ids = st.integers(min_value=2**32, max_value=2**63 - 1)
money = st.decimals(min_value=Decimal("0"), max_value=Decimal("99999999.99"), places=2, allow_nan=False)
languages = st.lists(st.sampled_from(["es", "pt", "en"]), min_size=1, max_size=3, unique=True)
texts = st.text(min_size=1, max_size=30).filter(lambda t: t.strip() != "")


# --- scalars and language objects ------------------------------------------------------------------------------


@given(ids)
def test_ids_beyond_32_bits_as_numbers_or_strings(value: int) -> None:
    assert tn.to_int(value) == value
    assert tn.to_int(str(value)) == value
    assert tn.id_text(str(value)) == str(value)


@given(money)
def test_money_strings_round_trip(value: Decimal) -> None:
    wire = tn.wire_money(value)
    assert as_money(wire) == value
    assert wire.count(".") == 1 and len(wire.split(".")[1]) == 2


@given(texts, languages)
def test_language_objects_in_every_store_language(text: str, codes: list[str]) -> None:
    obj = tn.language_object(text, codes)
    assert list(obj) == codes and set(obj.values()) == {text}
    assert tn.pick_language(obj, codes[-1]) == text.strip()


def test_store_languages_main_first_and_active_only() -> None:
    store = {
        "main_language": "pt",
        "languages": {"es": {"active": True}, "pt": {"active": True}, "en": {"active": False}},
    }
    assert tn.store_languages(store) == ("pt", "es")
    assert tn.store_languages({}) == ("es",)


def test_pick_language_falls_back_to_any() -> None:
    assert tn.pick_language({"es": "", "pt": "Camiseta"}, "es") == "Camiseta"
    assert tn.pick_language("Plain", "es") == "Plain"
    assert tn.pick_language({}, "es") is None


# --- catalog out ---------------------------------------------------------------------------------------------


def test_options_are_the_attributes_variations_differ_in() -> None:
    pairs = [
        [("Color", "Rojo"), ("Talle", "S"), ("Material", "Algodón")],
        [("Color", "Rojo"), ("Talle", "M"), ("Material", "Algodón")],
        [("Color", "Azul"), ("Talle", "S"), ("Material", "Algodón")],
    ]
    assert tn.variation_options(pairs) == ("Color", "Talle")
    assert tn.variation_options([[("Color", "Rojo")]]) == ("Color",)
    assert tn.variation_options([]) == ()


def test_product_body_with_variants() -> None:
    product = tn.ProductIn(
        name="Remera",
        description="Algodón",
        brand="Acme",
        pictures=("https://cdn.example/1.jpg",),
        options=("Color",),
        variants=(
            tn.VariantIn("REM-R", Decimal("100"), 3, ("Rojo",), barcode="779"),
            tn.VariantIn("REM-A", Decimal("99.999"), -2, ("Azul",)),
        ),
    )
    assert tn.missing_for_publish(product) == []
    body = tn.product_body(product, ("es", "pt"))
    assert body["name"] == {"es": "Remera", "pt": "Remera"}
    assert body["description"] == {"es": "Algodón", "pt": "Algodón"}
    assert body["attributes"] == [{"es": "Color", "pt": "Color"}]
    assert body["variants"][0] == {
        "sku": "REM-R",
        "price": "100.00",
        "stock": 3,
        "values": [{"es": "Rojo", "pt": "Rojo"}],
        "barcode": "779",
    }
    assert body["variants"][1]["price"] == "100.00" and body["variants"][1]["stock"] == 0
    assert body["images"] == [{"src": "https://cdn.example/1.jpg"}] and body["brand"] == "Acme"


def test_missing_data_is_named() -> None:
    product = tn.ProductIn(
        name=" ",
        options=("Color",),
        variants=(tn.VariantIn("A", None, 1, ("Rojo",)), tn.VariantIn("B", Decimal(1), 1, ("",))),
    )
    missing = tn.missing_for_publish(product)
    assert "name" in missing and "price of A" in missing and "variation values (Color) of B" in missing
    repeated = tn.ProductIn(
        name="X",
        options=("Color",),
        variants=(tn.VariantIn("A", Decimal(1), 1, ("Rojo",)), tn.VariantIn("B", Decimal(1), 1, ("rojo",))),
    )
    assert tn.missing_for_publish(repeated) == ["distinct variation values of B"]


@given(st.lists(st.tuples(ids, ids, money, st.integers(0, 1000)), min_size=1, max_size=180))
def test_stock_price_batches_hold_at_most_50_variants(rows: list[tuple[int, int, Decimal, int]]) -> None:
    changes = [tn.VariantChange(pid % 7 + 2**40, vid, None, price, stock) for pid, vid, price, stock in rows]
    batches = tn.stock_price_batches(changes)
    assert all(sum(len(p["variants"]) for p in batch) <= 50 for batch in batches)
    sent = sorted(
        (p["id"], v["id"], as_money(v["price"]), v["inventory_levels"][0]["stock"])
        for batch in batches
        for p in batch
        for v in p["variants"]
    )
    assert sent == sorted((c.product_id, c.variant_id, c.price, c.stock) for c in changes)


def test_variant_change_only_what_differs_and_infinite_stock_kept() -> None:
    variant = {"id": 2**40, "sku": "A", "price": "10.00", "stock": 5, "stock_management": True}
    assert tn.variant_change(1, variant, Decimal("10.00"), 5) is None
    change = tn.variant_change(1, variant, Decimal("12"), 5)
    assert change is not None and change.price == Decimal(12) and change.stock is None
    infinite = {"id": 7, "sku": "B", "price": "10.00", "stock": None, "stock_management": False}
    assert tn.variant_change(1, infinite, Decimal("10.00"), 3) is None
    priced = tn.variant_change(1, infinite, Decimal("11.00"), 3)
    assert priced is not None and priced.stock is None and priced.price == Decimal("11.00")


def test_failed_variants_are_read() -> None:
    answer = [
        {"id": 1, "variants": [{"id": 10, "success": True}, {"id": 11, "success": False, "message": "bad"}]},
        {"id": 2, "variants": [{"id": 20}]},
    ]
    assert tn.failed_variants(answer) == [(11, "bad"), (20, "not applied")]


# --- products and orders in ------------------------------------------------------------------------------------


def test_listing_state_of_a_product_with_variants() -> None:
    product = product_json(
        2**40,
        [(2**41, "REM-R", "100.00", 3, ["Rojo"]), (2**41 + 1, "REM-A", "100.00", None, ["Azul"])],
        attributes=["Color"],
    )
    state = tn.listing_state(product, "es")
    assert state.external_id == str(2**40) and state.status == "active" and state.sku is None
    assert state.variations == ((str(2**41), "REM-R"), (str(2**41 + 1), "REM-A"))
    assert state.available_quantity == 3 and state.price == Decimal("100.00") and state.title == "Remera básica"


def test_listing_state_single_variant_hidden_or_out_of_stock() -> None:
    hidden = product_json(5, [(6, "SKU-1", "9.90", 4, [])], published=False)
    state = tn.listing_state(hidden)
    assert state.sku == "SKU-1" and state.variations == () and state.status == "paused"
    assert state.sub_status == ("paused_by_seller",)
    empty = tn.listing_state(product_json(5, [(6, "SKU-1", "9.90", 0, [])]))
    assert empty.status == "paused" and empty.sub_status == ("out_of_stock",)


def test_order_maps_lines_payment_shipping_and_extras() -> None:
    order = order_json(
        2**40 + 5,
        [(2**33, "426215948", "REM-R", "2", "100.00")],
        payment_status="paid",
        shipping_status="unpacked",
    )
    mapped = tn.channel_order(order)
    assert mapped.external_order_id == str(2**40 + 5) and mapped.status == "open"
    (item,) = mapped.items
    assert item.external_listing_id == str(2**33) and item.sku == "REM-R" and item.quantity == 2
    assert item.unit_price == Decimal("100.00") and item.full_unit_price == Decimal("120.00")
    (paid,) = mapped.payments
    assert paid.status == "approved" and paid.method == "credit_card" and paid.installments == 3
    assert paid.amount == Decimal("215.00")
    assert mapped.currency == "ARS" and mapped.total == Decimal("215.00")
    assert mapped.shipping_status == ship.READY_TO_SHIP and mapped.logistic_type == "custom"
    assert mapped.shipping_address["zip_code"] == "1425" and mapped.shipping_address["city"] == "CABA"
    assert mapped.buyer == {"id": 77, "first_name": "Ana Pérez", "email": "ana@buyer.example", "phone": "+5411"}
    assert mapped.shipping_option == "Envío a domicilio" and mapped.shipping_cost == Decimal("30.00")
    assert mapped.seller_shipping_cost == Decimal("0.00")
    assert paid.discounts == (("PROMO", Decimal("15.00")),) and paid.shipping_amount == Decimal("30.00")
    assert mapped.raw["number"] == "306" and mapped.raw["coupons"] == ["PROMO"]
    assert mapped.raw["variants"] == {str(2**33): "426215948"}


@pytest.mark.parametrize(
    ("status", "shipping", "expected"),
    [
        ("open", "fulfilled", ship.SHIPPED),
        ("open", "shipped", ship.SHIPPED),
        ("closed", "delivered", ship.DELIVERED),
        ("open", "unfulfilled", ship.READY_TO_SHIP),
        ("cancelled", "unpacked", ship.READY_TO_SHIP),
    ],
)
def test_order_statuses(status: str, shipping: str, expected: str) -> None:
    mapped = tn.channel_order(order_json(1, [(2, 3, "A", 1, "1.00")], status=status, shipping_status=shipping))
    assert mapped.shipping_status == expected and mapped.status == status


@pytest.mark.parametrize(
    ("payment_status", "expected"),
    [("pending", "pending"), ("authorized", "in_process"), ("refunded", "refunded"), ("voided", "cancelled")],
)
def test_payment_statuses(payment_status: str, expected: str) -> None:
    mapped = tn.channel_order(order_json(1, [(2, 3, "A", 1, "1.00")], payment_status=payment_status))
    assert mapped.payments[0].status == expected


@given(ids, st.integers(1, 50), money)
def test_any_order_line_maps(product_id: int, quantity: int, price: Decimal) -> None:
    order = order_json(1, [(product_id, str(product_id + 1), None, str(quantity), str(price))])
    (item,) = tn.channel_order(order).items
    assert item.external_listing_id == str(product_id) and item.quantity == quantity and item.unit_price == price


def test_product_edits_hold_only_the_product_fields_that_differ() -> None:
    product = tn.ProductIn(
        name="Remera", variants=(tn.VariantIn("R-1", None, 1),), description="<p>Nueva</p>", brand="Acme"
    )
    shown = {"name": {"es": "Remera", "pt": "Remera"}, "description": {"es": "<p>Vieja</p>"}, "brand": "Acme"}

    body = tn.product_edits(product, shown, ("es", "pt"))

    assert body == {"description": {"es": "<p>Nueva</p>", "pt": "<p>Nueva</p>"}}
    assert "variants" not in body
    assert tn.product_edits(product, shown | body, ("es", "pt")) == {}
    # A description or brand the hub lacks leaves the store's.
    bare = tn.ProductIn(name="Remera", variants=product.variants)
    assert tn.product_edits(bare, shown, ("es", "pt")) == {}
    # A plain-string name in the store is compared as it is.
    assert tn.product_edits(bare, {"name": "Otra"}, ("es",)) == {"name": {"es": "Remera"}}


def test_variant_edits_hold_barcode_values_and_a_missing_sku() -> None:
    hub = tn.VariantIn("R-M", Decimal(10), 3, values=("M",), barcode="779")
    shown = {"id": 1, "sku": "R-M", "barcode": None, "values": [{"es": "M"}], "price": "1.00", "stock": 0}

    assert tn.variant_edits(shown, hub, ("es",)) == {"barcode": "779"}
    assert tn.variant_edits(shown | {"barcode": "779"}, hub, ("es",)) == {}
    moved = tn.variant_edits({"sku": None, "barcode": "779", "values": [{"es": "L"}]}, hub, ("es",))
    assert moved == {"sku": "R-M", "values": [{"es": "M"}]}
    # A SKU the store shows is how the variant is linked (e.g. the seller's own code): never rewritten.
    assert tn.variant_edits({"sku": "OWN-1", "barcode": "779", "values": [{"es": "M"}]}, hub, ("es",)) == {}
