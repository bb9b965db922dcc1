"""What POST /v2/products tells its listeners: stock alerts from thresholds set in the same batch, levels cleared
when the thresholds go, and the hints a change carries (merged conservatively)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from alephee.http.context import AppContext
from alephee.products import hooks, stock
from alephee.products.hooks import CatalogChange
from alephee.webhooks.models import WebhookEvent, WebhookStockAlert
from tests.fixtures.products import add_product
from tests.fixtures.tenants import Tenant


def _post(client: TestClient, tenant: Tenant, body: list[dict[str, object]]) -> None:
    response = client.post("/v2/products", params=tenant.q(), json=body)
    assert response.status_code == 200, response.text


def _alerts(ctx: AppContext) -> list[tuple[str, int]]:
    with ctx.db.reading() as session:
        events = session.scalars(select(WebhookEvent).order_by(WebhookEvent.id))
        return [(e.data["Sku"], e.data["Quantity"]) for e in events if e.type == "product.stock_alert"]


def test_thresholds_set_with_the_stock_alert_in_the_same_batch(
    client: TestClient, ctx: AppContext, tenant: Tenant
) -> None:
    with ctx.db.writing() as session:
        add_product(session, tenant.account_id, "A", quantity=50)
        add_product(session, tenant.account_id, "B", quantity=50)
    _post(
        client,
        tenant,
        [
            {"SKU": "A", "Stock": {"Quantity": 2, "Alert": {"RedQty": 3, "YellowQty": 6}}},
            {"SKU": "B", "Stock": {"Quantity": 1}},  # no thresholds: never an alert
        ],
    )
    assert _alerts(ctx) == [("A", 2)]
    # The thresholds removed: the announced level goes, so setting them again alerts again.
    _post(client, tenant, [{"SKU": "A", "Stock": {"Quantity": 2, "Alert": {"RedQty": 0, "YellowQty": 0}}}])
    with ctx.db.reading() as session:
        assert session.scalars(select(WebhookStockAlert)).all() == []
    _post(client, tenant, [{"SKU": "A", "Stock": {"Movement": -1, "Alert": {"RedQty": 3}}}])
    assert _alerts(ctx) == [("A", 2), ("A", 1)]


def test_a_merged_change_keeps_only_the_hints_both_writers_gave() -> None:
    first = CatalogChange(account_id=1, stock_product_ids=frozenset({1, 2}), unwatched_product_ids=frozenset({1, 2}))
    second = CatalogChange(account_id=1, stock_product_ids=frozenset({2, 3}), unwatched_product_ids=frozenset({3}))
    merged = first.merged(second)
    assert merged.stock_product_ids == {1, 2, 3} and merged.unwatched_product_ids == frozenset()
    assert first.merged(first).unwatched_product_ids == {1, 2}


def test_a_merged_change_keeps_every_text_change_and_the_first_former_name() -> None:
    first = CatalogChange(account_id=1, text_product_ids=frozenset({1}), former_names=((2, "Remera"),))
    second = CatalogChange(account_id=1, text_product_ids=frozenset({3}), former_names=((2, "Remera azul"), (4, "X")))
    merged = first.merged(second)
    assert merged.text_product_ids == {1, 3} and dict(merged.former_names) == {2: "Remera", 4: "X"}
    assert not CatalogChange(account_id=1, former_names=((2, "Remera"),)).empty
    assert CatalogChange(account_id=1).empty


def test_stock_snapshots_are_shared_only_while_a_change_is_told(ctx: AppContext, tenant: Tenant) -> None:
    with ctx.db.writing() as session:
        pid = add_product(session, tenant.account_id, "S", quantity=4)
    with ctx.db.writing() as session:
        assert stock.stock_snapshots(session, [pid])[pid].quantity == 4
        assert hooks.shared_reads(session) is None
        session.info[hooks.SHARED_READS] = {}
        assert stock.stock_snapshots(session, [pid])[pid].quantity == 4
        assert set(hooks.shared_reads(session)["stock_snapshots"]) == {pid}  # type: ignore[index]
        session.info.pop(hooks.SHARED_READS)
