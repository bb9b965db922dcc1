"""A POST /v2/products batch's rows read and locked while its elements are validated (``batch.CatalogAhead``):
the codes read ahead cover every SKU the validation keeps, a SKU they miss is read again, and what the probes
sent with the rows find (listings, announced stock alerts) spares the listeners only the reads that would find
nothing."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from alephee.http.context import AppContext
from alephee.http.results import ActionResultBuilder
from alephee.http.wire import clean_identifier
from alephee.listings import propagation
from alephee.listings.models import Listing
from alephee.products import bulk_update, rules
from alephee.products.batch import AccountContext, CatalogAhead
from alephee.products.models import Product
from alephee.products.schemas import sku_candidates
from alephee.webhooks.models import WebhookStockAlert
from tests.fixtures.listings import Shop, build_shop
from tests.fixtures.products import add_price_list, add_product
from tests.fixtures.tenants import Tenant

_ACCOUNT = AccountContext(
    account_id=1, profile=rules.AccountProfile(account_type="seller", b2b_portal=False), default_tax_rate=0
)  # type: ignore[arg-type]

_KEYS = st.sampled_from(["SKU", "sku", "Sku", "sKU", "Brand", "Stock", "stock", "Price"])
_SKUS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["A-1", " A-1 ", "a\tb", "x\u200by", "e\u0301", "", "   "]),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=2),
)
_VALUES = st.one_of(
    _SKUS,
    st.fixed_dictionaries({}, optional={"Quantity": st.integers(-5, 5), "Movement": st.integers(-5, 5)}),
    st.fixed_dictionaries({}, optional={"PriceWithTaxes": st.integers(0, 999), "Price": st.floats(0, 99)}),
)
_ELEMENTS = st.one_of(st.dictionaries(_KEYS, _VALUES, max_size=4), _SKUS)


@settings(max_examples=400, deadline=None)
@given(st.lists(_ELEMENTS, max_size=6))
def test_the_codes_read_ahead_cover_every_sku_the_validation_keeps(raw_items: list[Any]) -> None:
    kept = bulk_update._validate_elements(ActionResultBuilder("SKU"), raw_items, _ACCOUNT)
    codes, priced = sku_candidates(raw_items)
    assert {element.sku for element in kept} <= codes
    # Every code is a text the database can compare (no control character: the validation refuses those).
    assert all(clean_identifier(code) == code for code in codes)
    if any(element.item.Price is not None for element in kept):
        assert priced


def test_a_sku_the_read_ahead_did_not_name_is_read_again(ctx: AppContext, tenant: Tenant) -> None:
    account = tenant.account_id
    with ctx.db.writing() as session:
        first = add_product(session, account, "AHEAD-1")
        second = add_product(session, account, "AHEAD-2", own_code="OWN-2")
    with ctx.db.writing() as session:
        with CatalogAhead(session, account, {"AHEAD-1"}, with_kits=True) as ahead:
            catalog = ahead.catalog({"AHEAD-1", "OWN-2"})
            # Read again through the session: no pipeline any more, so the probes are not sent.
            ahead.probe(catalog.states.keys())
            ahead.finish()
        assert catalog.find("AHEAD-1", None)[0].id == first  # type: ignore[union-attr]
        assert catalog.find("OWN-2", None)[0].id == second  # type: ignore[union-attr]
        assert ahead.probed == {} and ahead.rows("prices") is None


def test_the_rows_read_ahead_answer_as_the_catalog_does(ctx: AppContext, tenant: Tenant, backend: str) -> None:
    account = tenant.account_id
    with ctx.db.writing() as session:
        plist = add_price_list(session, account, "General")
        ids = {
            sku: add_product(session, account, sku, own_code=f"OWN-{sku}", quantity=3, prices={plist: "121"})
            for sku in ("R-1", "R-2")
        }
    prices = (bulk_update._PG_PRICES_AHEAD, (plist,))
    with ctx.db.writing() as session:
        with CatalogAhead(
            session, account, {"R-1", "OWN-R-2", "NOPE"}, with_kits=True, reads={"prices": prices}
        ) as ahead:
            catalog = ahead.catalog({"R-1", "OWN-R-2"})
            price_rows = ahead.rows("prices")
            ahead.execute("UPDATE products SET quantity = 5 WHERE id = %s" if backend == "postgresql" else
                          "UPDATE products SET quantity = 5 WHERE id = ?", (ids["R-1"],))  # fmt: skip
            ahead.probe(catalog.states.keys())
            ahead.finish()
        assert sorted(catalog.states) == sorted(ids.values())
        assert catalog.find("OWN-R-2", None)[0].id == ids["R-2"]  # type: ignore[union-attr]
        assert catalog.find("NOPE", None)[0] is None
        assert session.get(Product, ids["R-1"]).quantity == 5  # type: ignore[union-attr]
    if backend == "postgresql":
        assert catalog.kits_of(ids.values()) == set()
        assert sorted(row[0] for row in price_rows or ()) == sorted(ids.values())
        # Neither product has a listing or an announced alert.
        assert ahead.probed == {"listed": set(), "alerted": set()}
    else:
        assert catalog.kits_of(ids.values()) is None and price_rows is None and ahead.probed == {}


@pytest.fixture
def shop(ctx: AppContext, make_tenant: Any) -> Shop:
    return build_shop(ctx, make_tenant)


def _quantities(ctx: AppContext, shop: Shop, sku: str) -> list[int]:
    with ctx.db.reading() as session:
        return sorted(
            session.scalars(select(Listing.available_quantity).where(Listing.product_id == shop.products[sku]))
        )


def test_listed_products_are_refreshed_and_unlisted_ones_read_no_listings(
    ctx: AppContext, client: Any, shop: Shop, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ctx.db.writing() as session:
        unlisted = add_product(session, shop.tenant.account_id, "UNLISTED", quantity=1)
    reads: list[list[int]] = []
    real = propagation._lock_with_prices

    def counted(session: Any, account_id: int, product_ids: list[int]) -> Any:
        reads.append(product_ids)
        return real(session, account_id, product_ids)

    monkeypatch.setattr(propagation, "_lock_with_prices", counted)
    body = [{"SKU": "UNLISTED", "Stock": {"Quantity": 7}}]
    assert client.post("/v2/products", params=shop.tenant.q(), json=body).status_code == 200
    # PostgreSQL's probe saw no listing of the product: no listings' read. SQLite probes on its own.
    assert reads == []
    body = [{"SKU": "UNLISTED", "Stock": {"Quantity": 8}}, {"SKU": "MKNJ-122", "Stock": {"Quantity": 4}}]
    assert client.post("/v2/products", params=shop.tenant.q(), json=body).status_code == 200
    assert _quantities(ctx, shop, "MKNJ-122") == [4, 4, 4]
    # Only the listed product's listings are read (PostgreSQL); SQLite reads the ids its own probe found some for.
    expected = [[shop.products["MKNJ-122"]]] if backend == "postgresql" else [[shop.products["MKNJ-122"], unlisted]]
    assert reads == expected


def test_an_announced_alert_is_cleared_when_its_product_has_no_thresholds_left(
    ctx: AppContext, client: Any, tenant: Tenant, backend: str
) -> None:
    account = tenant.account_id
    with ctx.db.writing() as session:
        announced = add_product(session, account, "WAS-LOW", quantity=1)
        add_product(session, account, "NEVER-LOW", quantity=1)
        session.add(WebhookStockAlert(product_id=announced, account_id=account, level="red", quantity=1))
    body = [{"SKU": "WAS-LOW", "Stock": {"Quantity": 50}}, {"SKU": "NEVER-LOW", "Stock": {"Movement": 2}}]
    assert client.post("/v2/products", params=tenant.q(), json=body).status_code == 200
    with ctx.db.reading() as session:
        # The product no longer has thresholds: its announced level goes away with the change.
        assert session.get(WebhookStockAlert, announced) is None
