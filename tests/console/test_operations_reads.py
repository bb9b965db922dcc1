"""The console's operation reads without HTTP: the overview's health rows and chart series, listings with their
pause reasons and deliveries, the deliveries and inbox, orders through the API's filters, each scoped to the
operator's accounts; the SVG charts; the return path of console-started authorizations."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import update

from alephee import clock
from alephee.channels import connections
from alephee.channels.mercadolibre import auth
from alephee.console import charts, delivery_reads, health, listing_reads, order_reads
from alephee.console.health import Series
from alephee.http.context import AppContext
from alephee.listings import statuses
from alephee.marketplaces import outbox
from alephee.marketplaces.models import ChannelNotification, OutboxMessage
from alephee.orders import statuses as st
from alephee.orders.access import OrderNotFound
from tests.fixtures.listings import Shop, build_shop
from tests.fixtures.tenants import Tenant

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def shop(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> Shop:
    with clock.frozen(NOW - timedelta(days=2)):
        return build_shop(ctx, make_tenant)


def _connect(ctx: AppContext, account_id: int, marketplace_id: int = 1) -> None:
    with ctx.db.writing() as session:
        connections.store_grant(
            session,
            ctx.settings,
            connections.Grant(
                account_id=account_id,
                marketplace_id=marketplace_id,
                connector="mercadolibre",
                access_token="APP_USR-access",
                refresh_token="TG-refresh",
                expires_in=21600,
                seller_id=777,
                nickname="SELLER777",
            ),
        )


def _fail_listing_rows(ctx: AppContext, listing_id: int, error: str) -> list[int]:
    with ctx.db.writing() as session:
        return list(
            session.scalars(
                update(OutboxMessage)
                .where(OutboxMessage.aggregate_type == "listing", OutboxMessage.aggregate_id == listing_id)
                .values(status="failed", attempts=5, last_error=error)
                .returning(OutboxMessage.id)
            )
        )


def test_health_rows_count_each_channel_of_the_operators_accounts(
    ctx: AppContext, shop: Shop, make_tenant: Callable[..., Tenant], add_order: Callable[..., int]
) -> None:
    other = make_tenant(marketplaces=(1,))
    _connect(ctx, other.account_id)
    account = shop.tenant.account_id
    with clock.frozen(NOW - timedelta(hours=1)):
        _connect(ctx, account)
    with ctx.db.writing() as session:
        connections.disconnect(session, account, 1, now=NOW, reason="invalid_grant: the seller revoked the app")
    add_order(shop.tenant, marketplace_id=100, sale_date=NOW - timedelta(hours=2))
    add_order(shop.tenant, marketplace_id=100, sale_date=NOW - timedelta(hours=30))
    add_order(other, marketplace_id=1, sale_date=NOW - timedelta(hours=2))
    _fail_listing_rows(ctx, shop.listings[("MKNJ-122", 1)], "item.title.invalid: the title is too long")
    with ctx.db.writing() as session:
        session.add(
            ChannelNotification(
                connector="mercadolibre",
                topic="orders_v2",
                resource="/orders/1",
                seller_id="777",
                account_id=account,
                marketplace_id=1,
                received_at=NOW - timedelta(minutes=5),
                available_at=NOW,
            )
        )
    with ctx.db.reading() as session:
        rows = health.channel_health(session, {account}, NOW, connectors={"mercadolibre"})
    by_marketplace = {r.marketplace_id: r for r in rows}
    assert sorted(by_marketplace) == [1, 20, 100]
    assert {r.account_id for r in rows} == {account}
    ml = by_marketplace[1]
    assert not ml.connected and ml.reason == "invalid_grant: the seller revoked the app"
    assert ml.listings_with_errors == 1 and ml.outbox_failed >= 1
    assert ml.inbox_pending == 1 and ml.inbox_lag_seconds(NOW) == 300
    sandbox = by_marketplace[100]
    assert sandbox.connected and not sandbox.connectable
    assert sandbox.orders_24h == 1
    assert sandbox.listings.get(statuses.ACTIVE, 0) >= 1 and sandbox.listings.get(statuses.PAUSED, 0) >= 1
    assert by_marketplace[20].reason == health.REASON_NO_CONNECTOR
    with ctx.db.reading() as session:
        everyone = health.channel_health(session, None, NOW, connectors={"mercadolibre"})
        fresh = health.channel_health(session, {other.account_id}, NOW, connectors={"mercadolibre"})
    assert {r.account_id for r in everyone} == {account, other.account_id}
    assert fresh[0].connected and fresh[0].nickname == "SELLER777" and fresh[0].orders_24h == 1
    assert fresh[0].token_expires_at is not None


def test_never_connected_channel_says_so(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> None:
    tenant = make_tenant(marketplaces=(1,))
    with ctx.db.reading() as session:
        (row,) = health.channel_health(session, [tenant.account_id], NOW, connectors={"mercadolibre"})
    assert not row.connected and row.reason == health.REASON_NEVER and row.connectable


def test_chart_series(ctx: AppContext, shop: Shop, add_order: Callable[..., int]) -> None:
    for days_ago in (0, 0, 3):
        add_order(shop.tenant, marketplace_id=100, sale_date=NOW - timedelta(days=days_ago, hours=1))
    add_order(shop.tenant, marketplace_id=1, sale_date=NOW - timedelta(days=40))
    with ctx.db.writing() as session:
        for n, seconds in enumerate((1, 2, 3, 100)):
            row = outbox.enqueue(
                session,
                account_id=shop.tenant.account_id,
                topic="listing.stock",
                aggregate_type="listing",
                aggregate_id=n,
                payload={},
                marketplace_id=1,
            )
            row.created_at = NOW - timedelta(hours=1, seconds=seconds)
            row.status, row.delivered_at = "delivered", NOW - timedelta(hours=1)
    with ctx.db.reading() as session:
        orders = health.orders_per_day(session, {shop.tenant.account_id}, NOW)
        latency = health.sync_latency(session, {shop.tenant.account_id}, NOW)
        nobody = health.orders_per_day(session, {-1}, NOW)
    assert [s.name for s in orders] == ["Sandbox Mercado Libre Argentina"]
    assert len(orders[0].values) == health.CHART_DAYS
    assert orders[0].values[-1] == 2 and orders[0].values[-4] == 1 and sum(v or 0 for v in orders[0].values) == 3
    assert nobody == []
    p50, p99 = latency
    assert (p50.name, p99.name) == ("p50", "p99")
    assert p50.values[-1] == 2 and p99.values[-1] == 100 and p50.values[0] is None


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert health.percentile(values, 0.5) == 50 and health.percentile(values, 0.99) == 99
    assert health.percentile([7.0], 0.99) == 7


def test_line_chart_is_inline_svg_with_escaped_names() -> None:
    days = health.chart_days(NOW, 5)
    svg = charts.line_chart("Orders", days, [Series("<b>Shop</b>", [1, None, 3, 4, 0])], empty="nothing")
    assert svg.startswith("<svg") and "<polyline" in svg and "<circle" in svg
    assert "&lt;b&gt;Shop&lt;/b&gt;" in svg and "<b>" not in svg
    assert "http" not in svg.replace("http://www.w3.org", "")
    assert charts.line_chart("Orders", days, [], empty="<nothing>") == '<p class="empty">&lt;nothing&gt;</p>'


def test_listing_pause_reasons_filters_and_retry(
    ctx: AppContext, shop: Shop, make_tenant: Callable[..., Tenant]
) -> None:
    account = shop.tenant.account_id
    failed = _fail_listing_rows(ctx, shop.listings[("MKNJ-122", 1)], "item.price.invalid: price below minimum")
    with ctx.db.reading() as session:
        total, _ = listing_reads.find_listings(session, {account}, listing_reads.ListingFilters())
        _, paused = listing_reads.find_listings(session, {account}, listing_reads.ListingFilters(status="paused"))
        _, erring = listing_reads.find_listings(session, {account}, listing_reads.ListingFilters(error="with"))
        _, on_ml = listing_reads.find_listings(session, None, listing_reads.ListingFilters(marketplace_id=1))
        hidden, _ = listing_reads.find_listings(session, {-1}, listing_reads.ListingFilters())
    assert total == len(shop.listings) and hidden == 0
    empty = next(r for r in paused if r.id == shop.listings[("EMPTY", 100)])
    assert empty.pause_reason == listing_reads.PAUSE_MIN_STOCK
    (bad,) = erring
    assert bad.id == shop.listings[("MKNJ-122", 1)]
    assert (
        bad.pause_reason == listing_reads.PAUSE_MARKETPLACE and bad.error == "item.price.invalid: price below minimum"
    )
    assert [r.id for r in on_ml] == [bad.id]
    with ctx.db.reading() as session:
        detail = listing_reads.listing_detail(session, {account}, bad.id)
        with pytest.raises(listing_reads.ListingNotFound):
            listing_reads.listing_detail(session, {make_tenant().account_id}, bad.id)
    assert [d.id for d in detail.deliveries] == sorted(failed, reverse=True)
    with ctx.db.writing() as session:
        assert listing_reads.retry_listing(session, {account}, bad.id) == sorted(failed)
    with ctx.db.reading() as session:
        assert listing_reads.find_listings(session, {account}, listing_reads.ListingFilters(error="with"))[0] == 0
    with pytest.raises(listing_reads.BadListingFilter):
        listing_reads.ListingFilters(status="sold")


@pytest.mark.parametrize(
    ("status", "reason", "expected"),
    [
        (statuses.PAUSED, statuses.REASON_NO_PRICE, listing_reads.PAUSE_NO_PRICE),
        (statuses.PAUSED, statuses.REASON_STOCK, listing_reads.PAUSE_MIN_STOCK),
        (statuses.PAUSED, statuses.REASON_USER, listing_reads.PAUSE_SELLER),
        (statuses.PAUSED, statuses.REASON_MARKETPLACE, listing_reads.PAUSE_MARKETPLACE),
        (statuses.ACTIVE, None, None),
    ],
)
def test_pause_reason_names(status: str, reason: str | None, expected: str | None) -> None:
    class Row:
        pass

    row: Any = Row()
    row.status, row.status_reason = status, reason
    assert listing_reads.pause_reason(row, None) == expected


def test_deliveries_by_kind_retry_and_inbox(ctx: AppContext, shop: Shop, make_tenant: Callable[..., Tenant]) -> None:
    account = shop.tenant.account_id
    other = make_tenant()
    with ctx.db.writing() as session:
        hook = outbox.enqueue(
            session,
            account_id=account,
            topic="webhook.order.created",
            aggregate_type="wh1:order",
            aggregate_id=1,
            payload={"event_id": 1},
        )
        foreign = outbox.enqueue(
            session,
            account_id=other.account_id,
            topic="webhook.order.created",
            aggregate_type="wh2:order",
            aggregate_id=1,
            payload={"event_id": 2},
        )
        session.flush()
        hook.status = foreign.status = "failed"
        hook_id, foreign_id = hook.id, foreign.id
        session.add(
            ChannelNotification(
                connector="mercadolibre",
                topic="items",
                resource="/items/MLA1",
                account_id=account,
                marketplace_id=1,
                received_at=NOW,
                available_at=NOW,
            )
        )
    mine = {account}
    with ctx.db.reading() as session:
        total, rows = delivery_reads.find_deliveries(session, mine, delivery_reads.DeliveryFilters())
        _, hooks = delivery_reads.find_deliveries(session, mine, delivery_reads.DeliveryFilters(kind="webhook"))
        _, everyone = delivery_reads.find_deliveries(session, None, delivery_reads.DeliveryFilters(kind="webhook"))
        notices_total, notices = delivery_reads.find_notices(session, mine, None)
        assert delivery_reads.find_notices(session, {other.account_id}, None)[0] == 0
    assert total == len(rows) > 0 and all(not r.topic.startswith("webhook.") for r in rows)
    assert [r.id for r in hooks] == [hook_id]
    assert {r.id for r in everyone} == {hook_id, foreign_id}
    assert notices_total == 1 and notices[0].resource == "/items/MLA1"
    with ctx.db.writing() as session, pytest.raises(outbox.OutboxMessageNotFound):
        delivery_reads.retry_one(session, mine, foreign_id)
    with ctx.db.writing() as session, pytest.raises(outbox.OutboxMessageNotFailed):
        delivery_reads.retry_one(session, mine, rows[0].id)
    with ctx.db.writing() as session:
        assert delivery_reads.retry_failed(session, mine, "webhook") == [hook_id]
    with ctx.db.reading() as session:
        _, still = delivery_reads.find_deliveries(session, None, delivery_reads.DeliveryFilters("webhook", "failed"))
    assert [r.id for r in still] == [foreign_id]
    with pytest.raises(delivery_reads.BadDeliveryFilter):
        delivery_reads.DeliveryFilters(kind="fax")


def test_orders_use_the_api_filters_and_show_the_timeline(
    ctx: AppContext, shop: Shop, make_tenant: Callable[..., Tenant], add_order: Callable[..., int]
) -> None:
    account = shop.tenant.account_id
    first = add_order(shop.tenant, marketplace_id=100)
    second = add_order(shop.tenant, marketplace_id=1, status=st.SHIPPED, integrated=True)
    with ctx.db.reading() as session:
        total, page = order_reads.find_orders(session, ctx.settings, account, order_reads.order_filters({}), 0)
        _, by_market = order_reads.find_orders(
            session, ctx.settings, account, order_reads.order_filters({"marketplaceId": "1", "Integrated": "true"}), 0
        )
        detail = order_reads.order_page(session, {account}, first)
        with pytest.raises(OrderNotFound):
            order_reads.order_page(session, {make_tenant().account_id}, first)
    assert total == 1 and [o["Id"] for o in page] == [first]  # the API's default: not yet integrated
    assert [o["Id"] for o in by_market] == [second]
    assert detail.order["Id"] == first and detail.account_id == account
    assert detail.order["Items"] and detail.order["Buyer"]
    with pytest.raises(Exception, match="statusType"):
        order_reads.order_filters({"statusType": "7"})


def test_return_path_is_kept_on_the_state_and_must_be_local(
    ctx: AppContext, make_tenant: Callable[..., Tenant]
) -> None:
    tenant = make_tenant(marketplaces=(1,))
    settings = ctx.settings.model_copy(
        update={
            "mercadolibre_client_id": "123",
            "mercadolibre_client_secret": SecretStr("s3cret"),
            "mercadolibre_auth_url": "http://127.0.0.1:9",
        }
    )
    for bad in ("https://evil.example/", "//evil.example/x", "/\\evil", "console", "/a\nb"):
        with pytest.raises(connections.BadReturnPath):
            connections.safe_return_path(bad)
    with ctx.db.writing() as session:
        url = auth.start(session, settings, tenant.account_id, 1, return_to="/console/channels")
    state = url.split("state=")[1].split("&")[0]
    with ctx.db.writing() as session:
        assert connections.consume_state(session, state, "mercadolibre", now=clock.utcnow()).return_to == (
            "/console/channels"
        )
