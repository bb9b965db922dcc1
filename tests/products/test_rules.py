"""Rule-by-rule unit tests of the price and stock rules of POST /v2/products (CF-40.3.5-CF-40.3.9)."""

from __future__ import annotations

from decimal import Decimal
from itertools import combinations
from typing import Any

import pytest
from pydantic import ValidationError

from alephee.products import rules
from alephee.products.rules import B2B, COST, MARGIN, MEASURABLE, PT, SRP, AccountProfile, P, ProductFacts
from alephee.products.schemas import ProductPriceIn, ProductStockIn, ProductUpdateIn, parse_amount, parse_integer

BRAND = AccountProfile(account_type="brand", b2b_portal=False)
DISTRIBUTOR = AccountProfile(account_type="distributor", b2b_portal=False)
SELLER = AccountProfile(account_type="seller", b2b_portal=False)
OFFICIAL = AccountProfile(account_type="official_store", b2b_portal=False)
B2B_SELLER = AccountProfile(account_type="seller", b2b_portal=True)
B2B_DISTRIBUTOR = AccountProfile(account_type="distributor", b2b_portal=True)
NORMAL = ProductFacts(product_type=1, shared=False, measure_unit=None, measure_per_unit=None)
SHARED = ProductFacts(product_type=1, shared=True, measure_unit=None, measure_per_unit=None)
KIT = ProductFacts(product_type=2, shared=False, measure_unit=None, measure_per_unit=None)
MASTER = ProductFacts(product_type=6, shared=False, measure_unit=None, measure_per_unit=None)
CHILD = ProductFacts(product_type=5, shared=False, measure_unit=None, measure_per_unit=None)
BULK = ProductFacts(product_type=1, shared=False, measure_unit="kg", measure_per_unit=Decimal("0.5"))

FIELDS = (P, PT, SRP, COST, MARGIN, B2B, MEASURABLE)
VALUES: dict[str, Any] = {
    P: 100,
    PT: 121,
    SRP: 150,
    COST: 60,
    MARGIN: 25.5,
    B2B: 10,
    MEASURABLE: {"Price": 1000, "Unit": "kg"},
}


def price(**fields: Any) -> ProductPriceIn:
    return ProductPriceIn.model_validate(fields)


def stock(**fields: Any) -> ProductStockIn:
    return ProductStockIn.model_validate(fields)


def codes(problems: list[rules.Problem]) -> list[int]:
    return [p.code for p in problems]


# --- combinations (CF-40.3.6): every subset of the seven price attributes -----------------------------------


def expected_combination_ok(sent: frozenset[str]) -> bool:
    """The table: the 8 read rows, SRP alone and the two triples (inferred), SalesMargin/B2BDiscountRate as
    modifiers, MeasurablePriceWithTaxes alone, Price/PriceWithTaxes never together."""
    if P in sent and PT in sent:
        return False
    if MEASURABLE in sent:
        return sent == {MEASURABLE}
    base = sent - {MARGIN, B2B}
    return not base or base in rules.ACCEPTED_BASE_COMBINATIONS


ALL_SUBSETS = [frozenset(c) for n in range(1, len(FIELDS) + 1) for c in combinations(FIELDS, n)]


@pytest.mark.parametrize("sent", ALL_SUBSETS, ids=lambda s: "+".join(sorted(s)))
def test_every_combination_of_price_attributes(sent: frozenset[str]) -> None:
    problem = rules.combination_problem(sent)
    assert (problem is None) == expected_combination_ok(sent)
    if P in sent and PT in sent:
        assert problem is not None and problem.code == rules.CODE_PRICE_EXCLUSIVE


def test_the_eight_documented_rows_are_accepted() -> None:
    read = [combo for combo, source in rules.ACCEPTED_BASE_COMBINATIONS.items() if source == "read"]
    assert sorted(map(sorted, read)) == sorted(
        map(sorted, [{COST, P}, {COST, PT}, {COST, SRP}, {COST}, {P, SRP}, {PT, SRP}, {P}, {PT}])
    )
    for combo in read:
        assert rules.combination_problem(combo) is None


@pytest.mark.parametrize("sent", ALL_SUBSETS, ids=lambda s: "+".join(sorted(s)))
def test_every_combination_through_the_full_price_check(sent: frozenset[str]) -> None:
    body = {name: VALUES[name] for name in sent}
    problems = rules.price_problems(price(**body), B2B_SELLER)
    assert (not problems) == expected_combination_ok(sent), problems


def test_empty_price_object_is_an_error() -> None:
    assert codes(rules.price_problems(price(), SELLER)) == [rules.CODE_PRICE_EMPTY]
    # Null values count as not sent.
    assert codes(rules.price_problems(price(Price=None, Cost=None), SELLER)) == [rules.CODE_PRICE_EMPTY]


def test_price_and_price_with_taxes_are_exclusive() -> None:
    problems = rules.price_problems(price(Price=100, PriceWithTaxes=121), DISTRIBUTOR)
    assert codes(problems) == [rules.CODE_PRICE_EXCLUSIVE]
    assert "cannot be sent together" in problems[0].message


def test_measurable_price_replaces_the_others() -> None:
    problems = rules.price_problems(price(MeasurablePriceWithTaxes={"Price": 10, "Unit": "kg"}, Cost=5), BRAND)
    assert codes(problems) == [rules.CODE_PRICE_COMBINATION]
    assert rules.price_problems(price(MeasurablePriceWithTaxes={"Price": 10, "Unit": "kg"}), BRAND) == []
    missing_unit = rules.price_problems(price(MeasurablePriceWithTaxes={"Price": 10}), BRAND)
    assert codes(missing_unit) == [rules.CODE_MEASURABLE]


# --- values (CF-40.3.5 rules 1-2) ---------------------------------------------------------------------------------


@pytest.mark.parametrize("field", [P, PT, SRP, COST, B2B])
@pytest.mark.parametrize(
    ("value", "code"),
    [
        (0, rules.CODE_PRICE_NOT_POSITIVE),
        (-1, rules.CODE_PRICE_NOT_POSITIVE),
        ("-0.01", rules.CODE_PRICE_NOT_POSITIVE),
        (1.23456, rules.CODE_PRICE_DECIMALS),
        ("7430.00001", rules.CODE_PRICE_DECIMALS),
        (1e20, rules.CODE_AMOUNT_TOO_LARGE),
        (1288.44, None),
        (7430, None),
        ("7430.00", None),
        (0.0001, None),
        ("1288.4400", None),
        ("99999999999999.9999", None),
    ],
)
def test_price_values(field: str, value: Any, code: int | None) -> None:
    problems = rules.price_problems(price(**{field: value}), B2B_DISTRIBUTOR)
    assert codes(problems) == ([code] if code else [])
    if code:
        assert problems[0].value is not None and field in problems[0].message


@pytest.mark.parametrize("raw", ["1,288.44", "1288,44", "1.288,44", "12e3", "", "abc", True])
def test_amounts_need_a_plain_decimal_format(raw: Any) -> None:
    with pytest.raises(ValidationError):
        price(Price=raw)


def test_amounts_are_exact() -> None:
    assert parse_amount(6000.60) == Decimal("6000.6")
    assert parse_amount("0.1") == Decimal("0.1")
    assert parse_amount(0.1) + parse_amount(0.2) == Decimal("0.3")
    assert rules.decimals(Decimal("7430.00")) == 0
    assert rules.decimals(Decimal("1288.4400")) == 2


# --- SalesMargin (CF-40.3.5 rule 6) ------------------------------------------------------------------------------


@pytest.mark.parametrize("account", [SELLER, OFFICIAL, AccountProfile("puis", False)])
def test_sales_margin_is_for_seller_accounts(account: AccountProfile) -> None:
    assert rules.price_problems(price(SalesMargin=25.5), account) == []


@pytest.mark.parametrize("account", [BRAND, DISTRIBUTOR])
def test_sales_margin_is_refused_to_catalog_owners(account: AccountProfile) -> None:
    assert codes(rules.price_problems(price(SalesMargin=25), account)) == [rules.CODE_MARGIN_SELLER_ONLY]


@pytest.mark.parametrize(
    ("value", "ok"), [(25.5, True), (30, True), ("45.00", True), (25.55, True), (25.505, False), (1.12345, False)]
)
def test_sales_margin_has_at_most_two_decimals(value: Any, ok: bool) -> None:
    problems = rules.price_problems(price(SalesMargin=value), SELLER)
    assert codes(problems) == ([] if ok else [rules.CODE_MARGIN_DECIMALS])


# --- account types (CF-40.3.5 table, CF-40.3.8) -----------------------------------------------------------------------


@pytest.mark.parametrize("field", [P, PT, SRP])
def test_sellers_cannot_price_products_shared_by_a_wholesaler(field: str) -> None:
    body = price(**{field: VALUES[field]})
    assert codes(rules.price_product_problems(body, SELLER, SHARED)) == [rules.CODE_PRICE_NOT_ALLOWED]
    assert rules.price_product_problems(body, SELLER, NORMAL) == []
    assert rules.price_product_problems(body, DISTRIBUTOR, SHARED) == []
    assert rules.price_product_problems(body, BRAND, NORMAL) == []


def test_sellers_may_set_cost_on_shared_products() -> None:
    assert rules.price_product_problems(price(Cost=10), SELLER, SHARED) == []


def test_b2b_discount_rate_needs_a_b2b_portal() -> None:
    assert codes(rules.price_problems(price(B2BDiscountRate=5), DISTRIBUTOR)) == [rules.CODE_B2B_ONLY]
    assert rules.price_problems(price(B2BDiscountRate=5), B2B_DISTRIBUTOR) == []
    assert rules.price_problems(price(PriceWithTaxes=100, B2BDiscountRate=5), B2B_SELLER) == []


# --- measurable products (CF-40.3.9) --------------------------------------------------------------------------------


def test_measurable_price_needs_the_conversion_attribute() -> None:
    body = price(MeasurablePriceWithTaxes={"Price": 1000, "Unit": "kg"})
    assert codes(rules.price_product_problems(body, BRAND, NORMAL)) == [rules.CODE_MEASURABLE]
    assert rules.price_product_problems(body, BRAND, BULK) == []
    liters = price(MeasurablePriceWithTaxes={"Price": 1000, "Unit": "l"})
    assert codes(rules.price_product_problems(liters, BRAND, BULK)) == [rules.CODE_MEASURABLE]


def test_measurable_conversions() -> None:
    assert rules.measurable_unit_price(Decimal(1000), "kg", BULK) == Decimal("500.0000")
    assert rules.measurable_unit_price(Decimal(1), "g", BULK) == Decimal("500.0000")
    assert rules.measurable_units(Decimal(10), "kg", BULK) == 20
    assert rules.measurable_units(Decimal("10.4"), "kg", BULK) == 20
    assert rules.measurable_units(Decimal(2600), "g", BULK) == 5
    assert rules.unit_factor("kg", "g") == 1000
    assert rules.unit_factor("kg", "l") is None


# --- tax derivation (CF-40.3.6) --------------------------------------------------------------------------------------


def test_tax_derivation_rounds_to_four_places() -> None:
    assert rules.without_taxes(Decimal("6000.60"), Decimal(21)) == Decimal("4959.1736")
    assert rules.with_taxes(Decimal("4959.1736"), Decimal(21)) == Decimal("6000.6001")
    assert rules.with_taxes(Decimal(100), Decimal("10.5")) == Decimal("110.5000")
    assert rules.with_taxes(Decimal(100), Decimal(0)) == Decimal(100)


# --- stock (CF-40.3.7) ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["Quantity", "MinPublicationQuantity", "MaxPublicationQuantity", "B2BQuantity"])
def test_stock_fields_must_not_be_negative(field: str) -> None:
    problems = rules.stock_problems(stock(**{field: -1}), B2B_SELLER)
    assert codes(problems) == [rules.CODE_STOCK_NEGATIVE]


def test_movement_may_be_negative() -> None:
    assert rules.stock_problems(stock(Movement=-5), SELLER) == []
    assert rules.stock_problems(stock(Movement=5), SELLER) == []


def test_alert_thresholds_must_not_be_negative() -> None:
    assert codes(rules.stock_problems(stock(Alert={"RedQty": -1}), SELLER)) == [rules.CODE_STOCK_NEGATIVE]
    assert rules.stock_problems(stock(Alert={"RedQty": 1, "YellowQty": 3}), SELLER) == []


@pytest.mark.parametrize("raw", [1.5, "1.5", "2,0", True, "", "ten"])
def test_stock_values_are_integers(raw: Any) -> None:
    with pytest.raises(ValidationError):
        stock(Quantity=raw)


def test_integral_numbers_are_integers() -> None:
    assert stock(Quantity=2.0).Quantity == 2
    assert stock(Quantity="7").Quantity == 7
    assert parse_integer(" 3 ") == 3


def test_huge_stock_is_refused() -> None:
    problems = rules.stock_problems(stock(Quantity=rules.MAX_STOCK + 1), SELLER)
    assert codes(problems) == [rules.CODE_STOCK_TOO_LARGE]
    assert codes(rules.stock_problems(stock(Movement=-(rules.MAX_STOCK + 1)), SELLER)) == [rules.CODE_STOCK_TOO_LARGE]


def test_quantity_and_movement_are_exclusive() -> None:
    assert codes(rules.stock_problems(stock(Quantity=1, Movement=1), SELLER)) == [rules.CODE_STOCK_EXCLUSIVE]


def test_empty_stock_object_is_an_error() -> None:
    assert codes(rules.stock_problems(stock(), SELLER)) == [rules.CODE_STOCK_EMPTY]
    assert codes(rules.stock_problems(stock(Alert={}), SELLER)) == [rules.CODE_STOCK_EMPTY]
    assert codes(rules.stock_problems(stock(Relationships={"Quantity": 1}), SELLER)) == [rules.CODE_STOCK_EMPTY]


@pytest.mark.parametrize("field", ["MinPublicationQuantity", "MaxPublicationQuantity"])
def test_publication_quantities_by_account_type(field: str) -> None:
    body = stock(**{field: 2})
    assert rules.stock_problems(body, SELLER) == []
    assert rules.stock_problems(body, OFFICIAL) == []
    assert codes(rules.stock_problems(body, BRAND)) == [rules.CODE_PUBLICATION_SELLER_ONLY]
    assert codes(rules.stock_problems(body, DISTRIBUTOR)) == [rules.CODE_PUBLICATION_SELLER_ONLY]


def test_b2b_quantity_needs_a_b2b_portal() -> None:
    assert codes(rules.stock_problems(stock(B2BQuantity=3), DISTRIBUTOR)) == [rules.CODE_B2B_ONLY]
    assert rules.stock_problems(stock(B2BQuantity=3), B2B_DISTRIBUTOR) == []


def test_measurable_quantity_rules() -> None:
    measured = {"Quantity": 12.5, "Unit": "kg"}
    assert rules.stock_problems(stock(MeasurableQuantity=measured), SELLER) == []
    assert codes(rules.stock_problems(stock(MeasurableQuantity=measured, Quantity=1), SELLER)) == [
        rules.CODE_MEASURABLE
    ]
    assert codes(rules.stock_problems(stock(MeasurableQuantity={"Quantity": 1}), SELLER)) == [rules.CODE_MEASURABLE]
    assert codes(rules.stock_problems(stock(MeasurableQuantity={"Quantity": -1, "Unit": "kg"}), SELLER)) == [
        rules.CODE_STOCK_NEGATIVE
    ]
    assert codes(rules.stock_product_problems(stock(MeasurableQuantity=measured), NORMAL)) == [rules.CODE_MEASURABLE]
    assert rules.stock_product_problems(stock(MeasurableQuantity=measured), BULK) == []


@pytest.mark.parametrize("body", [{"Quantity": 3}, {"Movement": -1}])
def test_kit_and_master_stock_is_derived(body: dict[str, int]) -> None:
    assert codes(rules.stock_product_problems(stock(**body), KIT)) == [rules.CODE_STOCK_DERIVED]
    assert codes(rules.stock_product_problems(stock(**body), MASTER)) == [rules.CODE_STOCK_DERIVED]
    assert rules.stock_product_problems(stock(**body), CHILD) == []
    # Publication limits of a kit are its own.
    assert rules.stock_product_problems(stock(MinPublicationQuantity=1), KIT) == []


def test_movement_is_clamped_at_zero_with_a_warning() -> None:
    assert rules.apply_movement(5, -3) == (2, None)
    assert rules.apply_movement(5, 3) == (8, None)
    assert rules.apply_movement(5, -5) == (0, None)
    value, warning = rules.apply_movement(2, -5)
    assert value == 0 and warning is not None and warning.code == rules.CODE_MOVEMENT_CLAMPED
    assert "-5" in warning.message and "-3" in warning.message


@pytest.mark.parametrize(
    ("quantity", "min_pub", "max_pub", "expected"),
    [(15, 0, 0, 15), (0, 0, 0, 0), (3, 3, 0, 0), (4, 3, 0, 4), (15, 0, 10, 10), (5, 0, 10, 5), (12, 2, 10, 10)],
)
def test_publish_quantity(quantity: int, min_pub: int, max_pub: int, expected: int) -> None:
    assert rules.publish_quantity(quantity, min_pub, max_pub) == expected


# --- the element shape --------------------------------------------------------------------------------------------


def test_element_names_are_case_insensitive_and_codes_become_text() -> None:
    item = ProductUpdateIn.model_validate({"sku": 1025700, "BRAND": 55, "stock": {"quantity": 2}})
    assert item.SKU == "1025700" and item.Brand == "55" and item.Stock is not None and item.Stock.Quantity == 2
    misspelt = ProductUpdateIn.model_validate({"SKU": "A", "Stock": {"MinpublishedationQuantity": 3}})
    assert misspelt.Stock is not None and misspelt.Stock.MinPublicationQuantity is None


# --- tables of the arithmetic rules -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("net", "rate", "gross"),
    [
        ("100", "21", "121.0000"),
        ("100", "0", "100.0000"),
        ("100", "10.5", "110.5000"),
        ("0.01", "21", "0.0121"),
        ("33.3333", "27", "42.3333"),
    ],
)
def test_with_taxes_table(net: str, rate: str, gross: str) -> None:
    assert rules.with_taxes(Decimal(net), Decimal(rate)) == Decimal(gross)


@pytest.mark.parametrize(
    ("gross", "rate", "net"),
    [
        ("121", "21", "100.0000"),
        ("100", "0", "100.0000"),
        ("6000.60", "21", "4959.1736"),
        ("1", "3", "0.9709"),
    ],
)
def test_without_taxes_table(gross: str, rate: str, net: str) -> None:
    assert rules.without_taxes(Decimal(gross), Decimal(rate)) == Decimal(net)


@pytest.mark.parametrize(
    ("quantity", "movement", "result", "clamped"),
    [
        (10, 5, 15, False),
        (10, -10, 0, False),
        (10, -3, 7, False),
        (10, -11, 0, True),
        (0, -1, 0, True),
        (0, 0, 0, False),
    ],
)
def test_apply_movement_table(quantity: int, movement: int, result: int, clamped: bool) -> None:
    got, warning = rules.apply_movement(quantity, movement)
    assert got == result
    if clamped:
        assert warning is not None
        assert warning.code == rules.CODE_MOVEMENT_CLAMPED
        assert warning.message == rules.MOVEMENT_CLAMPED.format(movement=movement, result=quantity + movement)
    else:
        assert warning is None
