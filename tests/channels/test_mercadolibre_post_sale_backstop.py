"""The worker's periodic backstop of questions and claims against the local stand-in: after a successful pull of a
connected seller it searches the unanswered questions and open claims no notification brought, at most once per
``channel_post_sale_seconds`` per connection (counted in calls to the stand-in's searches), and one connection's
failing search neither stops the others nor the worker."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from alephee import clock
from alephee.channels import backstop, connections
from alephee.channels.models import ChannelConnection
from alephee.channels.post_sale_models import MarketplaceClaim, MarketplaceQuestion
from alephee.http.context import AppContext
from alephee.orders import rendering
from alephee.orders.models import Order
from alephee.sync.feeds import Feed
from alephee.sync.links import link_listings
from alephee.sync.worker import Worker
from tests.channels.mercadolibre_standin_kit import MLA, Linked
from tests.fixtures.mercadolibre import item_body
from tests.fixtures.products import add_product
from tests.fixtures.tenants import Tenant

SEARCHES = ("/questions/search", "/post-purchase/v1/claims/search")


@pytest.fixture
def searches(linked: Linked) -> list[str]:
    """The paths of the stand-in's question and claim searches the hub called, in order."""
    seen: list[str] = []

    def count(request: httpx.Request) -> None:
        if request.url.path in SEARCHES:
            seen.append(request.url.path)

    linked.http.event_hooks["request"].append(count)
    return seen


def worker(ctx: AppContext, linked: Linked) -> Worker:
    """A worker as the composition root builds it: pulling, with the channel connections' gate."""
    assert linked.ctx.settings is not None
    return Worker(ctx.db, linked.ctx.settings, gate=backstop.ConnectionGate(ctx.db))


def sold_item(ctx: AppContext, linked: Linked, sku: str) -> dict[str, Any]:
    """A stand-in item linked (by SKU) to a hub product and listing."""
    attributes = [{"id": "BRAND", "value_name": "Marca"}, {"id": "SELLER_SKU", "value_name": sku}]
    item = linked.standin.create_item(item_body(attributes=attributes, available_quantity=5))
    with ctx.db.writing() as session:
        add_product(session, linked.tenant.account_id, sku, quantity=5)
    assert linked.ctx.settings is not None
    link_listings(ctx.db, linked.ctx.settings, linked.channel, linked.tenant.account_id, MLA)
    return item


def counts(ctx: AppContext, account_id: int) -> tuple[int, int]:
    """How many questions and claims the hub keeps for the account."""
    with ctx.db.reading() as session:
        questions = session.scalar(
            select(func.count()).select_from(MarketplaceQuestion).where(MarketplaceQuestion.account_id == account_id)
        )
        claims = session.scalar(
            select(func.count()).select_from(MarketplaceClaim).where(MarketplaceClaim.account_id == account_id)
        )
    return questions or 0, claims or 0


def connection(ctx: AppContext, account_id: int) -> ChannelConnection:
    with ctx.db.reading() as session:
        row = session.scalar(select(ChannelConnection).where(ChannelConnection.account_id == account_id))
        assert row is not None
        session.expunge(row)
        return row


def test_the_worker_finds_a_question_and_a_claim_no_notification_brought(
    ctx: AppContext, linked: Linked, searches: list[str]
) -> None:
    item = sold_item(ctx, linked, "MATE-9")
    asked = linked.standin.ask(item["id"], "¿Viene con bombilla?")
    sale = linked.standin.buy(item["id"], 1)
    claim = linked.standin.open_claim(sale["id"])

    worker(ctx, linked).run_once(pull=True)

    with ctx.db.reading() as session:
        asked_id = str(asked["id"])
        question = session.scalar(select(MarketplaceQuestion).where(MarketplaceQuestion.external_id == asked_id))
        kept = session.scalar(select(MarketplaceClaim).where(MarketplaceClaim.external_id == str(claim["id"])))
        order = session.scalar(select(Order).where(Order.external_order_id == str(sale["id"])))
        assert question is not None and question.status == "UNANSWERED" and question.listing_id is not None
        # The orders backstop of the same round brought the sale: the claim is linked and listed on it.
        assert order is not None and kept is not None and kept.order_id == order.id
        assert rendering.detail_of(order.detail)["ActiveClaims"][0]["ExternalClaimId"] == claim["id"]
    assert searches == list(SEARCHES)
    row = connection(ctx, linked.tenant.account_id)
    assert row.post_sale_checked_at is not None and row.last_error is None
    # ``alephee channel status`` counts what waits on the seller.
    with ctx.db.reading() as session:
        [status] = connections.status(session, linked.tenant.account_id)
    assert (status["UnansweredQuestions"], status["OpenClaims"]) == (1, 1) and status["PostSaleCheckedAt"]


def test_the_searches_are_paced_per_connection(ctx: AppContext, linked: Linked, searches: list[str]) -> None:
    assert linked.ctx.settings is not None
    settings = linked.ctx.settings.model_copy(update={"channel_post_sale_seconds": 900.0})
    feed = Feed(linked.tenant.account_id, MLA, str(linked.standin.seller.id))
    now = clock.utcnow()
    item = sold_item(ctx, linked, "MATE-10")
    linked.standin.ask(item["id"], "¿Hay en azul?")

    first = backstop.post_sale_due(ctx.db, settings, feed, now=now, channel=linked.channel)
    assert first == {"Questions": 1, "Claims": 0} and searches == list(SEARCHES)
    # Within the interval (another worker, or the next backstop round): no call to the marketplace.
    linked.standin.ask(item["id"], "¿Y en verde?")
    later = now + timedelta(minutes=10)
    assert backstop.post_sale_due(ctx.db, settings, feed, now=later, channel=linked.channel) is None
    assert len(searches) == 2 and counts(ctx, linked.tenant.account_id) == (1, 0)
    # Once the interval has passed, searched again; 0 turns the periodic search off.
    after = now + timedelta(minutes=16)
    assert backstop.post_sale_due(ctx.db, settings, feed, now=after, channel=linked.channel) == {
        "Questions": 2,
        "Claims": 0,
    }
    assert len(searches) == 4
    off = settings.model_copy(update={"channel_post_sale_seconds": 0.0})
    assert backstop.post_sale_due(ctx.db, off, feed, now=after + timedelta(days=1), channel=linked.channel) is None
    assert len(searches) == 4


def test_a_manual_sync_counts_as_the_search(ctx: AppContext, linked: Linked, searches: list[str]) -> None:
    assert linked.ctx.settings is not None
    now = clock.utcnow()
    report = backstop.sync_channel(ctx.db, linked.ctx.settings, linked.tenant.account_id, MLA.id, now=now)
    assert report.post_sale == {"Questions": 0, "Claims": 0} and len(searches) == 2
    feed = Feed(linked.tenant.account_id, MLA, str(linked.standin.seller.id))
    soon = now + timedelta(minutes=1)
    assert backstop.post_sale_due(ctx.db, linked.ctx.settings, feed, now=soon, channel=linked.channel) is None
    assert len(searches) == 2


def test_a_failing_connection_does_not_stop_another(
    ctx: AppContext,
    linked: Linked,
    make_tenant: Callable[..., Tenant],
    use_channel: Callable[[str, Any], None],
    searches: list[str],
) -> None:
    # A second account connected to the same seller (making a tenant registers a channel of its own: put back
    # the one talking to the stand-in).
    other = make_tenant(marketplaces=(MLA.id,))
    use_channel("mercadolibre", linked.channel)
    grant = linked.standin.issue_token()
    assert linked.ctx.settings is not None
    with ctx.db.writing() as session:
        connections.store_grant(
            session,
            linked.ctx.settings,
            connections.Grant(
                account_id=other.account_id,
                marketplace_id=MLA.id,
                connector="mercadolibre",
                access_token=str(grant["access_token"]),
                refresh_token=str(grant["refresh_token"]),
                expires_in=int(grant["expires_in"]),
                seller_id=linked.standin.seller.id,
                nickname=linked.standin.seller.nickname,
                site_id=linked.standin.seller.site_id,
            ),
        )
    item = linked.standin.create_item(item_body(available_quantity=3))
    linked.standin.ask(item["id"], "¿Hacen factura A?")
    # The first question search of the round fails (whichever connection makes it); the other connection's works.
    linked.standin.add_fault("/questions/search", 503)

    worker(ctx, linked).run_once(pull=True)

    accounts = (linked.tenant.account_id, other.account_id)
    outcome = {account: (counts(ctx, account), connection(ctx, account).last_error) for account in accounts}
    failed = [a for a, (_, error) in outcome.items() if error is not None]
    assert len(failed) == 1
    [good] = [a for a in accounts if a not in failed]
    assert outcome[good] == ((1, 0), None)
    error = outcome[failed[0]][1]
    assert error is not None and error.startswith("questions and claims search failed")
    assert counts(ctx, failed[0]) == (0, 0)
    # The failed connection's search is tried again after the interval, not before.
    assert connection(ctx, failed[0]).post_sale_checked_at is not None
