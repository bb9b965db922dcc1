"""The common POST /v2/products elements read without the generic validation (``schemas.quick_update_in``,
``rules.plainly_valid``) give what the generic validation and the rules give, and the batch's array
parameters written as literals (``batch.array_literal``) read back as the lists they were made of."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from sqlalchemy import select

from alephee.accounts.schemas import AccountType
from alephee.http.results import ActionResultBuilder
from alephee.http.wire import read_input
from alephee.products import bulk_update, rules
from alephee.products.batch import AccountContext, ProductState, array_literal, only_items_with_messages
from alephee.products.models import Product, ProductPrice
from alephee.products.schemas import KIT, NORMAL, VARIATION_CHILD, VARIATION_MASTER, ProductUpdateIn, quick_update_in
from tests.fixtures.products import add_price_list, add_product
from tests.fixtures.tenants import Tenant

PROFILES = [
    rules.AccountProfile(account_type=kind.value, b2b_portal=b2b)
    for kind in (AccountType.DISTRIBUTOR, AccountType.SELLER)
    for b2b in (False, True)
]


def _state(model: Any) -> Any:
    """Everything a model holds, nested models included, and which fields were sent."""
    if isinstance(model, BaseModel):
        return (
            type(model).__name__,
            sorted(model.model_fields_set),
            {name: _state(getattr(model, name)) for name in type(model).model_fields},
        )
    if isinstance(model, Decimal):
        return ("Decimal", str(model))
    return model


def _generic(raw: Any) -> ProductUpdateIn | None:
    try:
        return read_input(ProductUpdateIn, raw)
    except ValidationError:
        return None


def _same_as_generic(raw: Any) -> None:
    quick = quick_update_in(raw)
    if quick is None:
        return
    generic = _generic(raw)
    assert generic is not None, raw
    assert _state(quick) == _state(generic), raw
    if rules.plainly_valid(quick.Stock, quick.Price):
        for profile in PROFILES:
            assert quick.Stock is None or rules.stock_problems(quick.Stock, profile) == [], raw
            assert quick.Price is None or rules.price_problems(quick.Price, profile) == [], raw


COMMON = [
    {"SKU": "A-1", "Stock": {"Quantity": 5}},
    {"SKU": "A-1", "Stock": {"Movement": -3}},
    {"sku": "A-1", "stock": {"movement": 0}},
    {"SKU": "A-1", "Price": {"PriceWithTaxes": 1210.5}},
    {"SKU": "A-1", "Price": {"Price": 1000}},
    {"Sku": " A-1 ", "Stock": {"QUANTITY": 2_000_000_000}, "PRICE": {"pricewithtaxes": 0.0001}},
    {"SKU": "CAFÉ", "Stock": {"Quantity": 1}},
    {"SKU": "CAFE\u0301", "Stock": {"Quantity": 1}},
]
NOT_QUICK = [
    {"SKU": "A-1"},
    {"SKU": "A-1", "Stock": {}},
    {"SKU": "A-1", "Stock": None},
    {"SKU": "A-1", "Stock": {"Quantity": True}},
    {"SKU": "A-1", "Stock": {"Quantity": 2.0}},
    {"SKU": "A-1", "Stock": {"Quantity": "5"}},
    {"SKU": "A-1", "Stock": {"Quantity": 1, "quantity": 2}},
    {"SKU": "A-1", "sku": "B", "Stock": {"Quantity": 1}},
    {"SKU": "A-1", "Stock": {"Quantity": 1, "Alert": {"RedQty": 1}}},
    {"SKU": "A-1", "Price": {"PriceWithTaxes": float("nan")}},
    {"SKU": "A-1", "Price": {"PriceWithTaxes": "12.5"}},
    {"SKU": "A-1", "Price": {"Cost": 5}},
    {"SKU": 1025700, "Stock": {"Quantity": 1}},
    {"SKU": "A\t1", "Stock": {"Quantity": 1}},
    {"SKU": "A-1", "Brand": "Bosch", "Stock": {"Quantity": 1}},
    {"SKU": "A-1", "Stock": {"Quantity": 1}, "ProductAdditionalData": None},
    ["SKU", "A-1"],
]


@pytest.mark.parametrize("raw", COMMON)
def test_common_elements_are_read_quickly_as_the_generic_validation_reads_them(raw: dict[str, Any]) -> None:
    assert quick_update_in(raw) is not None
    _same_as_generic(raw)


@pytest.mark.parametrize("raw", NOT_QUICK)
def test_other_elements_go_the_generic_way(raw: Any) -> None:
    assert quick_update_in(raw) is None


_KEYS = st.sampled_from(["SKU", "sku", "Sku", "Stock", "stock", "Price", "PRICE", "Brand", "Features", "x"])
_INNER_KEYS = st.sampled_from(["Quantity", "quantity", "Movement", "MOVEMENT", "Price", "PriceWithTaxes", "Cost"])
_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3_000_000_000, max_value=3_000_000_000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=False, allow_infinity=False, places=6).map(float),
    st.text(max_size=6),
)


@settings(max_examples=400, deadline=None)
@given(
    st.dictionaries(
        _KEYS,
        st.one_of(_VALUES, st.dictionaries(_INNER_KEYS, _VALUES, max_size=3)),
        min_size=1,
        max_size=3,
    )
)
def test_any_element_read_quickly_is_what_the_generic_validation_gives(raw: dict[str, Any]) -> None:
    _same_as_generic(raw)


def _results(raw_items: list[Any], profile: rules.AccountProfile) -> tuple[Any, list[tuple[int, str, Any]]]:
    builder = ActionResultBuilder("SKU")
    account = AccountContext(account_id=1, profile=profile, default_tax_rate=Decimal(21))
    elements = bulk_update._validate_elements(builder, raw_items, account)
    kept = [(e.number, e.sku, _state(e.item)) for e in elements]
    return only_items_with_messages(builder).model_dump(), kept


def test_a_batch_validates_alike_with_and_without_the_quick_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    body: list[Any] = [
        *COMMON,
        *NOT_QUICK,
        {"SKU": "A-1", "Stock": {"Quantity": -1}},
        {"SKU": "A-1", "Stock": {"Movement": -2_000_000_001}},
        {"SKU": "A-1", "Stock": {"Quantity": 1, "Movement": 1}},
        {"SKU": "A-1", "Price": {"Price": 1, "PriceWithTaxes": 2}},
        {"SKU": "A-1", "Price": {"PriceWithTaxes": 0}},
        {"SKU": "A-1", "Price": {"PriceWithTaxes": 1.00001}},
        {"SKU": "A-1", "Price": {"PriceWithTaxes": 1e15}},
        {"SKU": "   ", "Stock": {"Quantity": 1}},
    ]
    for profile in PROFILES:
        quick = _results(body, profile)
        monkeypatch.setattr(bulk_update, "quick_update_in", lambda raw: None)
        generic = _results(body, profile)
        monkeypatch.undo()
        assert quick == generic


def test_array_literals_read_back_as_their_lists(ctx: Any, backend: str) -> None:
    texts = ['a"b', "", "x\\y", "NULL", "CAFÉ", "a,b", "{}", " sp ", "null"]
    assert array_literal([1, None, -3]) == "{1,null,-3}"
    assert array_literal([True, False, None]) == "{true,false,null}"
    # A text with a control character is left to psycopg (JSON would escape it in a way arrays do not read).
    assert array_literal(["a\nb"]) == ["a\nb"]
    if backend != "postgresql":
        pytest.skip("SQLite takes one value per parameter (no arrays)")
    with ctx.db.writing() as session:
        conn = session.connection()
        row = conn.exec_driver_sql(
            "SELECT %s::text[], %s::text[], %s::integer[], %s::boolean[]",
            (array_literal(texts), array_literal(["a\nb", "c"]), array_literal([1, None]), array_literal([True, None])),
        ).one()
        session.rollback()
    assert list(row) == [texts, ["a\nb", "c"], [1, None], [True, None]]


@pytest.mark.parametrize("raw", COMMON[:6])
def test_plainly_applicable_elements_pass_the_product_rules(raw: dict[str, Any]) -> None:
    item = quick_update_in(raw)
    assert item is not None and rules.plainly_valid(item.Stock, item.Price)
    for profile in PROFILES:
        account = AccountContext(account_id=1, profile=profile, default_tax_rate=Decimal(21))
        for product_type in (NORMAL, KIT, VARIATION_CHILD, VARIATION_MASTER):
            for shared in (False, True):
                for price_list_id in (None, 7):
                    product = _product(product_type, shared)
                    if rules.plainly_applicable(item.Stock, item.Price, profile, product_type, shared, price_list_id):
                        assert bulk_update._product_problems(item, account, product, price_list_id) == []


def _product(product_type: int, shared: bool) -> ProductState:
    return ProductState(
        id=1,
        brand_id=1,
        brand_name="B",
        sku="A-1",
        own_code=None,
        product_type=product_type,
        parent_id=None,
        source_product_id=9 if shared else None,
        tax_rate=None,
        tax_rule_code=None,
        measure_unit=None,
        measure_per_unit=None,
        quantity=0,
        b2b_quantity=0,
        min_publication_quantity=0,
        max_publication_quantity=0,
        alert_red=0,
        alert_yellow=0,
        measurable_quantity=None,
        visibility=None,
    )


def _catalog(ctx: Any, tenant: Tenant) -> None:
    """Products of every kind the batch below names, with prices in the account's only list."""
    account = tenant.account_id
    with ctx.db.writing() as session:
        plist = add_price_list(session, account, "General")
        add_product(session, account, "N-1", quantity=5, prices={plist: "121"})
        add_product(session, account, "N-2", quantity=1)
        add_product(session, account, "N-3", quantity=0, prices={plist: "50"})
        add_product(session, account, "KIT", product_type=KIT)
        add_product(session, account, "MASTER", product_type=VARIATION_MASTER)
        add_product(session, account, "SHARED", quantity=3, source_product_id=add_product(session, account, "SRC"))


_BODY: list[Any] = [
    {"SKU": "N-1", "Stock": {"Movement": -7}},  # clamped at 0: the warning
    {"SKU": "N-1", "Stock": {"Quantity": 9}, "Price": {"PriceWithTaxes": 242}},
    {"sku": "N-2", "stock": {"movement": 3}, "price": {"price": 100.5}},
    {"SKU": "N-3", "Price": {"PriceWithTaxes": 0.00001}},
    {"SKU": "N-3", "Price": {"Price": 10, "PriceWithTaxes": 12}},
    {"SKU": "N-3", "Stock": {"Quantity": -1}},
    {"SKU": "KIT", "Stock": {"Quantity": 4}},
    {"SKU": "MASTER", "Stock": {"Movement": 1}},
    {"SKU": "SHARED", "Price": {"PriceWithTaxes": 99}},
    {"SKU": "SHARED", "Stock": {"Quantity": 8}},
    {"SKU": "NOPE", "Stock": {"Quantity": 1}},
    {"SKU": "N-2", "Stock": {"Quantity": 2, "B2BQuantity": 1}},
    {"SKU": " N-3 ", "Stock": {"Movement": 2}},
]


def _state_of(ctx: Any, account_id: int) -> dict[str, Any]:
    with ctx.db.reading() as session:
        rows = session.execute(
            select(Product.sku, Product.quantity, ProductPrice.price, ProductPrice.price_with_taxes)
            .outerjoin(ProductPrice, ProductPrice.product_id == Product.id)
            .where(Product.account_id == account_id)
        ).all()
    return {sku: (quantity, price, gross) for sku, quantity, price, gross in rows}


def test_a_batch_applies_alike_with_and_without_the_quick_reading(
    client: Any, ctx: Any, make_tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    generic_tenant, quick_tenant = make_tenant(), make_tenant()
    for tenant in (generic_tenant, quick_tenant):
        _catalog(ctx, tenant)
    monkeypatch.setattr(bulk_update, "quick_update_in", lambda raw: None)
    generic = client.post("/v2/products", params=generic_tenant.q(), json=_BODY)
    monkeypatch.undo()
    quick = client.post("/v2/products", params=quick_tenant.q(), json=_BODY)
    assert generic.status_code == quick.status_code == 200, quick.text
    assert quick.json() == generic.json()
    assert quick.json()["Quantities"]["Warning"] == 1
    assert _state_of(ctx, quick_tenant.account_id) == _state_of(ctx, generic_tenant.account_id)
