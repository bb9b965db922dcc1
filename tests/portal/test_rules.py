"""Unit tests of the portal's price and availability rules (portal/rules.py): no database."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as s

from alephee.portal import rules
from alephee.portal.rules import PriceListFacts

D = Decimal


def test_portal_list_is_the_b2b_list_else_the_default() -> None:
    general = PriceListFacts(id=1, is_b2b=False, is_default=True, discount_rate=None)
    wholesale = PriceListFacts(id=7, is_b2b=True, is_default=False, discount_rate=D(10))
    second_b2b = PriceListFacts(id=9, is_b2b=True, is_default=False, discount_rate=D(20))
    other = PriceListFacts(id=3, is_b2b=False, is_default=False, discount_rate=None)
    assert rules.portal_price_list([general, second_b2b, wholesale]) == wholesale
    assert rules.portal_price_list([other, general]) == general
    assert rules.portal_price_list([other]) is None
    assert rules.portal_price_list([]) is None


def test_cascade_of_list_and_product_discounts() -> None:
    price = rules.b2b_price(D("1000"), D("10"), D("5"))
    assert price is not None
    assert (price.full, price.unit) == (D("1000.00"), D("855.00"))
    assert (price.list_discount, price.product_discount) == (D("100.00"), D("45.00"))
    assert price.discounted


def test_without_discounts_the_unit_price_is_the_base_in_cents() -> None:
    price = rules.b2b_price(D("250.505"), None, D(0))
    assert price is not None
    assert (price.full, price.unit, price.list_discount, price.product_discount) == (
        D("250.51"), D("250.51"), D("0.00"), D("0.00"),
    )  # fmt: skip
    assert not price.discounted


def test_rounding_half_up_to_cents() -> None:
    price = rules.b2b_price(D("250.50"), D("10"), None)
    assert price is not None
    assert price.unit == D("225.45")  # 225.45 exactly
    price = rules.b2b_price(D("99.99"), D("12.5"), D("7.5"))
    assert price is not None
    # 99.99 × 0.875 = 87.49125 → 87.49; × 0.925 = 80.928... → 80.93
    assert price.unit == D("80.93")
    assert price.list_discount == D("12.50")  # 99.99 − 87.49
    assert price.product_discount == D("6.56")  # 87.49 − 80.93


@pytest.mark.parametrize("base", [None, D(0), D("-5"), D("0.004")])
def test_no_positive_price_means_not_sold(base: Decimal | None) -> None:
    assert rules.b2b_price(base, D(10), D(5)) is None


@pytest.mark.parametrize(
    ("rate", "clamped"), [(None, D(0)), (D("-3"), D(0)), (D("0"), D(0)), (D("12.5"), D("12.5")), (D("150"), D(100))]
)
def test_rates_are_clamped_to_0_100(rate: Decimal | None, clamped: Decimal) -> None:
    assert rules.clamp_rate(rate) == clamped


def test_a_full_discount_gives_a_zero_price() -> None:
    price = rules.b2b_price(D("80"), D("100"), D("30"))
    assert price is not None
    assert price.unit == D("0.00")
    assert price.list_discount + price.product_discount == D("80.00")


@given(
    base=s.decimals(min_value=D("0.01"), max_value=D("9999999"), places=4),
    list_rate=s.decimals(min_value=D(0), max_value=D(100), places=4),
    product_rate=s.decimals(min_value=D(0), max_value=D(100), places=4),
)
def test_discount_amounts_always_add_up(base: Decimal, list_rate: Decimal, product_rate: Decimal) -> None:
    price = rules.b2b_price(base, list_rate, product_rate)
    if price is None:
        assert rules.money(base) <= 0
        return
    assert price.full - price.list_discount - price.product_discount == price.unit
    assert D(0) <= price.unit <= price.full
    assert price.list_discount >= 0
    assert price.product_discount >= 0
    assert price.unit.as_tuple().exponent == -2


def test_availability_is_the_b2b_quantity_never_negative() -> None:
    assert rules.available(7) == 7
    assert rules.available(0) == 0
    assert rules.available(-4) == 0
    assert rules.available(None) == 0


def test_listed_products() -> None:
    assert rules.is_listed(1, 1)
    assert rules.is_listed(2, 0)  # kits
    assert rules.is_listed(5, 2)  # variations
    assert not rules.is_listed(6, 1)  # variation masters: their variations are sold
    assert not rules.is_listed(1, 4)  # observed and rejected
    assert not rules.is_listed(1, 5)  # deleted


def test_purchasable_needs_price_stock_and_listing() -> None:
    price = rules.b2b_price(D(10), None, None)
    assert rules.purchasable(price, 1)
    assert not rules.purchasable(price, 0)
    assert not rules.purchasable(None, 5)
    assert not rules.purchasable(price, 5, listed=False)


@pytest.mark.parametrize(
    ("requested", "available", "expected"),
    [
        (3, 10, rules.QuantityDecision(3, False)),
        (10, 10, rules.QuantityDecision(10, False)),
        (11, 10, rules.QuantityDecision(10, True)),
        (5, 0, rules.QuantityDecision(0, True)),
        (0, 4, rules.QuantityDecision(0, False)),
        (-2, 4, rules.QuantityDecision(0, False)),
        (10**12, 5, rules.QuantityDecision(5, True)),
    ],
)
def test_a_line_never_exceeds_the_stock(requested: int, available: int, expected: rules.QuantityDecision) -> None:
    assert rules.line_quantity(requested, available) == expected


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("3", 3),
        (" 12 ", 12),
        ("0", 0),
        ("", None),
        (None, None),
        ("-1", None),
        ("2.5", None),
        ("1e3", None),
        ("٣", None),  # a non-ASCII digit
        ("99999999999999999999999", rules.MAX_LINE_QUANTITY),
    ],
)
def test_parse_quantity(raw: str | None, parsed: int | None) -> None:
    assert rules.parse_quantity(raw) == parsed


def test_totals() -> None:
    a = rules.b2b_price(D("1000"), D("10"), D("5"))
    b = rules.b2b_price(D("250.50"), D("10"), None)
    assert a is not None and b is not None
    t = rules.totals([(a, 2), (b, 3)])
    assert (t.lines, t.units) == (2, 5)
    assert t.full == D("2751.50")
    assert t.list_discount == D("275.15")
    assert t.product_discount == D("90.00")
    assert t.total == D("2386.35") == t.full - t.list_discount - t.product_discount


def test_kit_component_prices_are_shared_by_base_price() -> None:
    kit = rules.b2b_price(D("1800"), D("10"), None)  # unit 1620
    assert kit is not None
    shares = rules.component_prices(kit, [(1, D("1000")), (4, D("250"))])
    assert shares == [(D("810.00"), D("900.00")), (D("202.50"), D("225.00"))]
    assert rules.component_prices(kit, [(1, D("1000")), (4, None)]) == [None, None]
    assert rules.component_prices(kit, []) == []
