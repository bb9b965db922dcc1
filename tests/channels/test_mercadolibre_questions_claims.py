"""Questions and claims end to end through the worker against the local stand-in: a buyer's question arrives by
notification (linked to the hub's listing and product, ``question.received`` told), the seller's answer goes out
through the outbox and the stand-in shows it ANSWERED; a refused answer is shown on the question; a claim opened
on a sale marks the order (``ActiveClaims``), its closing with ``payment_refunded`` records the refund once; the
backstop searches find what no notification brought; a claim on the sale's payment finds its order the same ways."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from alephee.channels import post_sale
from alephee.channels.mercadolibre.standin import questions
from alephee.channels.post_sale_models import MarketplaceClaim, MarketplaceQuestion
from alephee.http.context import AppContext
from alephee.listings.models import Listing
from alephee.marketplaces.contract import ChannelNotice, PermanentDeliveryError
from alephee.marketplaces.models import OutboxMessage
from alephee.orders import rendering
from alephee.orders import statuses as st
from alephee.orders.models import Order
from alephee.sync.links import link_listings
from alephee.sync.worker import Worker
from alephee.webhooks.models import WebhookEvent
from tests.channels.mercadolibre_standin_kit import MLA, Linked, notify
from tests.fixtures.mercadolibre import item_body
from tests.fixtures.products import add_product


def item_with_product(ctx: AppContext, linked: Linked, sku: str) -> dict[str, Any]:
    """A stand-in item linked (by SKU) to a hub product and listing."""
    attributes = [{"id": "BRAND", "value_name": "Marca"}, {"id": "SELLER_SKU", "value_name": sku}]
    item = linked.standin.create_item(item_body(attributes=attributes, available_quantity=5))
    with ctx.db.writing() as session:
        add_product(session, linked.tenant.account_id, sku, quantity=5)
    assert linked.ctx.settings is not None
    link_listings(ctx.db, linked.ctx.settings, linked.channel, linked.tenant.account_id, MLA)
    return item


def worker(ctx: AppContext, linked: Linked) -> Worker:
    assert linked.ctx.settings is not None
    return Worker(ctx.db, linked.ctx.settings, pull=False)


def question_row(ctx: AppContext, external_id: int) -> MarketplaceQuestion:
    with ctx.db.reading() as session:
        row = session.scalar(select(MarketplaceQuestion).where(MarketplaceQuestion.external_id == str(external_id)))
        assert row is not None
        session.expunge(row)
        return row


def events(ctx: AppContext, account_id: int, kind: str) -> list[dict[str, Any]]:
    with ctx.db.reading() as session:
        rows = session.scalars(
            select(WebhookEvent).where(WebhookEvent.account_id == account_id, WebhookEvent.type == kind)
        )
        return [dict(row.data) for row in rows]


def test_a_question_arrives_and_its_answer_goes_out(ctx: AppContext, linked: Linked) -> None:
    item = item_with_product(ctx, linked, "MATE-1")
    asked = linked.standin.ask(item["id"], "¿Tiene stock en rojo?")
    notify(ctx, linked, "questions", f"/questions/{asked['id']}")
    worker(ctx, linked).run_once()

    row = question_row(ctx, asked["id"])
    with ctx.db.reading() as session:
        listing = session.scalar(select(Listing).where(Listing.external_id == item["id"]))
    assert listing is not None
    assert (row.status, row.text, row.item_id) == ("UNANSWERED", "¿Tiene stock en rojo?", item["id"])
    assert (row.listing_id, row.product_id) == (listing.id, listing.product_id)
    [event] = events(ctx, linked.tenant.account_id, "question.received")
    assert event["QuestionId"] == row.id and event["ExternalQuestionId"] == str(asked["id"])

    with ctx.db.writing() as session:
        queued = post_sale.request_answer(session, row.id, "  Sí, quedan tres.  ")
        assert (queued.answer_state, queued.answer_text) == ("queued", "Sí, quedan tres.")
    worker(ctx, linked).run_once()

    remote = linked.standin.question(asked["id"])
    assert remote["status"] == "ANSWERED" and remote["answer"]["text"] == "Sí, quedan tres."
    assert remote["answer"]["status"] == "ACTIVE"
    row = question_row(ctx, asked["id"])
    assert (row.status, row.answer_state, row.answer_status, row.answer_error) == ("ANSWERED", "sent", "ACTIVE", None)
    # A late notification of the question's older state never takes the answer back (and tells nobody again).
    notify(ctx, linked, "questions", f"/questions/{asked['id']}")
    worker(ctx, linked).run_once()
    assert question_row(ctx, asked["id"]).status == "ANSWERED"
    assert len(events(ctx, linked.tenant.account_id, "question.received")) == 1


def test_an_answer_mercado_libre_refuses_is_shown_on_the_question(ctx: AppContext, linked: Linked) -> None:
    item = item_with_product(ctx, linked, "MATE-2")
    asked = linked.standin.ask(item["id"], "Hola")
    notify(ctx, linked, "questions", f"/questions/{asked['id']}")
    worker(ctx, linked).run_once()
    row = question_row(ctx, asked["id"])
    # Moderation bans the question before the hub hears of it: the answer is refused for good.
    linked.standin.ban_question(asked["id"])
    with ctx.db.writing() as session:
        post_sale.request_answer(session, row.id, "Hola, sí.")
    worker(ctx, linked).run_once()
    row = question_row(ctx, asked["id"])
    assert row.answer_state == "refused"
    assert row.answer_error is not None and "invalid_question" in row.answer_error
    with ctx.db.reading() as session:
        outbox = session.scalar(select(OutboxMessage).where(OutboxMessage.topic == "question.answer"))
    assert outbox is not None and outbox.status == "failed" and "invalid_question" in (outbox.last_error or "")
    # The ban's notification brings the question's banned state (its text emptied).
    notify(ctx, linked, "questions", f"/questions/{asked['id']}")
    worker(ctx, linked).run_once()
    row = question_row(ctx, asked["id"])
    assert (row.status, row.text) == ("BANNED", "")


def test_a_transient_failure_keeps_the_answer_queued(ctx: AppContext, linked: Linked) -> None:
    item = item_with_product(ctx, linked, "MATE-3")
    asked = linked.standin.ask(item["id"], "¿Envío gratis?")
    notify(ctx, linked, "questions", f"/questions/{asked['id']}")
    worker(ctx, linked).run_once()
    row = question_row(ctx, asked["id"])
    linked.standin.add_fault("/answers", 503)
    with ctx.db.writing() as session:
        post_sale.request_answer(session, row.id, "Sí.")
    worker(ctx, linked).run_once()
    assert question_row(ctx, asked["id"]).answer_state == "queued"
    with ctx.db.reading() as session:
        outbox = session.scalar(select(OutboxMessage).where(OutboxMessage.topic == "question.answer"))
    assert outbox is not None and outbox.status == "pending"
    assert linked.standin.question(asked["id"])["status"] == "UNANSWERED"


def order_of(ctx: AppContext, external_id: int) -> Order:
    with ctx.db.reading() as session:
        order = session.scalar(select(Order).where(Order.external_order_id == str(external_id)))
        assert order is not None
        session.expunge(order)
        return order


def test_a_claim_marks_the_order_and_its_refund_is_recorded(ctx: AppContext, linked: Linked) -> None:
    item = item_with_product(ctx, linked, "TERMO-1")
    sale = linked.standin.buy(item["id"], 1)
    notify(ctx, linked, "orders_v2", f"/orders/{sale['id']}")
    worker(ctx, linked).run_once()
    order = order_of(ctx, sale["id"])
    assert order.status == st.READY_TO_SHIP

    claim = linked.standin.open_claim(sale["id"])
    resource = f"/post-purchase/v1/claims/{claim['id']}"
    notify(ctx, linked, "post_purchase", resource, ["claims"])
    worker(ctx, linked).run_once()
    order = order_of(ctx, sale["id"])
    assert rendering.detail_of(order.detail)["ActiveClaims"][0]["ExternalClaimId"] == claim["id"]
    with ctx.db.reading() as session:
        row = session.scalar(select(MarketplaceClaim).where(MarketplaceClaim.external_id == str(claim["id"])))
        assert row is not None and (row.order_id, row.status, row.reason_id) == (order.id, "opened", "PDD9549")
    [opened] = events(ctx, linked.tenant.account_id, "claim.opened")
    assert opened["OrderId"] == order.id and opened["ExternalClaimId"] == str(claim["id"])

    linked.standin.close_claim(claim["id"], "payment_refunded")
    notify(ctx, linked, "post_purchase", resource, ["claims"])
    worker(ctx, linked).run_once()
    order = order_of(ctx, sale["id"])
    assert order.status == st.REFUNDED and rendering.detail_of(order.detail)["ActiveClaims"] == []
    with ctx.db.reading() as session:
        row = session.scalar(select(MarketplaceClaim).where(MarketplaceClaim.external_id == str(claim["id"])))
        assert row is not None and (row.status, row.resolution_reason, row.refund_recorded) == (
            "closed",
            "payment_refunded",
            True,
        )
    [closed] = events(ctx, linked.tenant.account_id, "claim.closed")
    assert closed["Resolution"] == "payment_refunded"
    statuses = [e["Status"] for e in events(ctx, linked.tenant.account_id, "order.status_changed")]
    assert statuses == [st.CANCELLED, st.AWAITING_REFUND, st.REFUNDED]
    # The same news again changes nothing.
    notify(ctx, linked, "post_purchase", resource, ["claims"])
    worker(ctx, linked).run_once()
    assert len(events(ctx, linked.tenant.account_id, "order.status_changed")) == 3


def test_a_claim_on_a_payment_marks_its_order_by_notification_and_by_the_backstop(
    ctx: AppContext, linked: Linked
) -> None:
    item = item_with_product(ctx, linked, "MATE-1")
    sale = linked.standin.buy(item["id"], 1)
    notify(ctx, linked, "orders_v2", f"/orders/{sale['id']}")
    worker(ctx, linked).run_once()
    order = order_of(ctx, sale["id"])
    [payment] = sale["payments"]

    claim = linked.standin.open_claim(sale["id"], resource="payment")
    assert (claim["resource"], claim["resource_id"]) == ("payment", payment["id"])
    resource = f"/post-purchase/v1/claims/{claim['id']}"
    notify(ctx, linked, "post_purchase", resource, ["claims"])
    worker(ctx, linked).run_once()
    assert [c["ExternalClaimId"] for c in rendering.detail_of(order_of(ctx, sale["id"]).detail)["ActiveClaims"]] == [
        claim["id"]
    ]
    # Another claim on the same payment that no notification brought: the backstop's search links it too.
    second = linked.standin.open_claim(sale["id"], resource="payment", claim_type="return")
    assert linked.channel.pull_post_sale(linked.ctx)["Claims"] == 2
    with ctx.db.reading() as session:
        rows = session.scalars(select(MarketplaceClaim).order_by(MarketplaceClaim.external_id))
        assert [(r.external_id, r.order_id, r.resource) for r in rows] == [
            (str(claim["id"]), order.id, "payment"),
            (str(second["id"]), order.id, "payment"),
        ]
    active = rendering.detail_of(order_of(ctx, sale["id"]).detail)["ActiveClaims"]
    assert [c["ExternalClaimId"] for c in active] == [claim["id"], second["id"]]

    linked.standin.close_claim(claim["id"], "payment_refunded")
    notify(ctx, linked, "post_purchase", resource, ["claims"])
    worker(ctx, linked).run_once()
    refunded = order_of(ctx, sale["id"])
    assert refunded.status == st.REFUNDED
    assert [c["ExternalClaimId"] for c in rendering.detail_of(refunded.detail)["ActiveClaims"]] == [second["id"]]
    with ctx.db.reading() as session:
        row = session.scalar(select(MarketplaceClaim).where(MarketplaceClaim.external_id == str(claim["id"])))
        assert row is not None and (row.status, row.refund_recorded) == ("closed", True)


def test_the_backstop_finds_questions_and_claims_no_notification_brought(ctx: AppContext, linked: Linked) -> None:
    item = item_with_product(ctx, linked, "YERBA-1")
    first = linked.standin.ask(item["id"], "¿Es orgánica?")
    second = linked.standin.ask(item["id"], "¿Vence cuándo?")
    sale = linked.standin.buy(item["id"], 1)
    notify(ctx, linked, "orders_v2", f"/orders/{sale['id']}")
    worker(ctx, linked).run_once()
    claim = linked.standin.open_claim(sale["id"], resource="shipment")
    assert linked.channel.pull_post_sale(linked.ctx) == {"Questions": 2, "Claims": 1}
    assert question_row(ctx, first["id"]).status == "UNANSWERED"
    with ctx.db.reading() as session:
        row = session.scalar(select(MarketplaceClaim).where(MarketplaceClaim.external_id == str(claim["id"])))
        assert row is not None and row.order_id == order_of(ctx, sale["id"]).id and row.resource == "shipment"
    # Answered and closed elsewhere: the searches no longer list them, so the backstop reads them one by one.
    answer = {"question_id": second["id"], "text": "En 2027."}
    with linked.standin.store.begin() as tx:
        questions.answer(tx, linked.standin.notifier, linked.standin.seller.id, answer)
    linked.standin.close_claim(claim["id"], "item_returned")
    assert linked.channel.pull_post_sale(linked.ctx) == {"Questions": 2, "Claims": 1}
    assert question_row(ctx, second["id"]).status == "ANSWERED"
    order = order_of(ctx, sale["id"])
    assert order.status == st.READY_TO_SHIP  # closed without a refund: only the claim leaves the order
    assert rendering.detail_of(order.detail)["ActiveClaims"] == []


def test_notices_without_a_question_or_claim_to_read(linked: Linked) -> None:
    gone = linked.channel.read_notice(linked.ctx, ChannelNotice(topic="questions", resource="/questions/13999999999"))
    assert gone.ignored == "question 13999999999 no longer exists" and gone.extras == ()
    other = ChannelNotice(topic="post_purchase", resource="/post-purchase/v1/claims/5", actions=("returns",))
    assert linked.channel.read_notice(linked.ctx, other).ignored == "post_purchase actions ['returns'] not followed"
    with pytest.raises(PermanentDeliveryError):
        linked.channel.read_notice(
            linked.ctx, ChannelNotice(topic="post_purchase", resource="/post-purchase/v1/claims/5", actions=("claims",))
        )
