"""The ``variations[]`` of a new Mercado Libre item, built from the hub's variations: one element per
variation with its SKU, attribute combination (by id when Mercado Libre has one), stock and pictures, at one
price; what is missing named per SKU; the ids read back by SKU."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alephee.channels.mercadolibre import variations as mlvar
from alephee.listings.variations import VariationFacts


def facts(sku: str, *pairs: tuple[str, str], price: str | None = "100", quantity: int = 1) -> VariationFacts:
    return VariationFacts(
        product_id=hash(sku) % 10_000,
        sku=sku,
        attributes=pairs,
        price=Decimal(price) if price is not None else None,
        quantity=quantity,
        pictures=(f"https://img.example/{sku}.jpg",),
    )


def test_each_variation_carries_its_combination_stock_sku_and_pictures() -> None:
    body = mlvar.variations_body([facts("R-N-M", ("Color", "Negro"), ("Talle", "M"), ("Manga", "Corta"))], Decimal(99))
    assert body == [
        {
            "attribute_combinations": [
                {"id": "COLOR", "value_name": "Negro"},
                {"id": "SIZE", "value_name": "M"},
                {"name": "Manga", "value_name": "Corta"},
            ],
            "available_quantity": 1,
            "price": 99,
            "attributes": [{"id": "SELLER_SKU", "value_name": "R-N-M"}],
            "picture_ids": ["https://img.example/R-N-M.jpg"],
        }
    ]


def test_missing_data_names_the_skus() -> None:
    sent = [facts("A"), facts("B", ("Color", "Rojo"), price=None), facts("C", ("Color", "Rojo"))]
    assert mlvar.missing_data(sent) == [
        "variation attributes (A)",
        "variation price (B)",
        "one distinct attribute combination per variation (some repeat)",
    ]


def test_one_price_or_a_clear_refusal() -> None:
    same = [facts("A", ("Color", "Rojo")), facts("B", ("Color", "Azul"))]
    assert mlvar.one_price(same) == Decimal(100)
    with pytest.raises(mlvar.DifferentPrices, match=r"A 100, B 120"):
        mlvar.one_price([facts("A", ("Color", "Rojo")), facts("B", ("Color", "Azul"), price="120")])


def test_item_pictures_show_every_variation_without_repeats_up_to_the_limit() -> None:
    first = facts("A", ("Color", "Rojo"))
    assert mlvar.item_pictures(["https://img.example/A.jpg", "p.jpg"], [first, first]) == (
        "https://img.example/A.jpg",
        "p.jpg",
    )
    many = [facts(f"V{n}", ("Talle", str(n))) for n in range(15)]
    pictures = mlvar.item_pictures([f"product-{n}.jpg" for n in range(3)], many)
    assert len(pictures) == mlvar.MAX_PICTURES and pictures[:2] == ("product-0.jpg", "https://img.example/V0.jpg")
    body = mlvar.variations_body(many, Decimal(1), pictures)
    assert [("picture_ids" in element) for element in body] == [n < 11 for n in range(15)]


def test_ids_are_read_back_by_sku() -> None:
    item = {
        "variations": [
            {"id": 180000000001, "attributes": [{"id": "SELLER_SKU", "value_name": "A"}]},
            {"id": "180000000002", "seller_custom_field": "B"},
            {"id": 180000000003, "attributes": []},
        ]
    }
    assert mlvar.variation_ids(item) == {"A": "180000000001", "B": "180000000002"}


SKUS = st.lists(st.text("ABCDEFGHIJ-0123456789", min_size=1, max_size=12), min_size=1, max_size=30, unique=True)


@given(skus=SKUS, quantities=st.lists(st.integers(-5, 10_000), min_size=30, max_size=30))
def test_any_set_of_variations_gives_one_element_each_with_its_sku(skus: list[str], quantities: list[int]) -> None:
    sent = [facts(sku, ("Talle", sku), quantity=q) for sku, q in zip(skus, quantities, strict=False)]
    body = mlvar.variations_body(sent, Decimal("10.5"))
    assert [element["attributes"] for element in body] == [[{"id": "SELLER_SKU", "value_name": s}] for s in skus]
    assert all(element["available_quantity"] >= 0 and element["price"] == 10.5 for element in body)
    assert not mlvar.missing_data(sent)
    answer = {"variations": [{"id": n + 1, **element} for n, element in enumerate(body)]}
    assert mlvar.variation_ids(answer) == {sku: str(n + 1) for n, sku in enumerate(skus)}
