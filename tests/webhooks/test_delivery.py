"""Delivery by the outbox worker to a real local receiver: signature, retries, feed fallback, ordering per
order, rolled-back changes, several subscriptions, removed webhooks, and the feed purge."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select

from alephee import clock
from alephee.http.context import AppContext
from alephee.marketplaces.delivery import DELIVERED, FAILED
from alephee.marketplaces.models import OutboxMessage
from alephee.webhooks import events, sender, service
from alephee.webhooks.models import ACKNOWLEDGED, OPEN
from alephee.webhooks.models import DELIVERED as EVENT_DELIVERED
from tests.fixtures.tenants import Tenant
from tests.fixtures.webhooks import Hooks, Receiver, load_example


def test_a_delivery_is_signed_and_the_example_receiver_verifies_it(
    hooks: Hooks, receiver: Receiver, tenant: Tenant
) -> None:
    webhook_id, secret = hooks.subscribe(tenant.account_id, receiver.url, ["order.created"])
    event_id = hooks.emit(tenant.account_id, events.ORDER_CREATED, {"OrderId": 42}, {"Status": 10})
    stats = hooks.run()
    assert (stats.claimed, stats.delivered) == (1, 1)

    [request] = receiver.requests
    assert request.path == "/hooks?src=alephee"
    body = request.json
    assert list(body) == ["Id", "Type", "AccountId", "OccurredAt", "Data"]
    assert body["Id"] == event_id and body["Type"] == "order.created" and body["AccountId"] == tenant.account_id
    assert body["Data"] == {"OrderId": 42, "Status": 10}
    assert len(body["OccurredAt"]) == 20 and body["OccurredAt"].endswith("Z")
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert headers["content-type"].startswith("application/json")
    assert headers["x-alephee-event"] == "order.created"
    assert headers["x-alephee-event-id"] == str(event_id)
    assert headers["x-alephee-attempt"] == "1"
    assert headers["x-alephee-delivery"] == str(hooks.outbox()[0].id)

    example = load_example()
    now = clock.utcnow().timestamp()
    example.verify(secret, request.headers, request.body, now=now)  # does not raise
    with pytest.raises(example.InvalidSignature):
        example.verify("whsec_another-secret-entirely", request.headers, request.body, now=now)
    with pytest.raises(example.InvalidSignature):
        example.verify(secret, request.headers, request.body + b" ", now=now)
    with pytest.raises(example.InvalidSignature, match="stale"):
        example.verify(secret, request.headers, request.body, now=now + 301)
    # The recipe of docs/webhooks.md, by hand.
    expected = sender.signature(secret, headers["x-alephee-timestamp"], request.body)
    assert headers["x-alephee-signature"] == expected
    assert webhook_id > 0

    [event] = hooks.feed()
    assert event.state == EVENT_DELIVERED and event.delivered_at is not None and event.pending_deliveries == 0


def test_a_receiver_failure_is_retried_with_backoff(hooks: Hooks, receiver: Receiver, tenant: Tenant) -> None:
    hooks.subscribe(tenant.account_id, receiver.url)
    receiver.answer(500)
    hooks.emit(tenant.account_id, events.ORDER_CREATED, {"OrderId": 1})
    first = hooks.run()
    assert (first.claimed, first.retried) == (1, 1)
    [row] = hooks.outbox()
    assert row.status == "pending" and row.available_at > clock.precise_utcnow()
    assert "500" in (row.last_error or "")
    assert hooks.run().claimed == 0  # waiting for its backoff
    clock.advance(timedelta(seconds=hooks.settings.outbox_backoff_base_seconds + 0.1))
    assert hooks.run().delivered == 1

    assert [r.status for r in receiver.requests] == [500, 200]
    assert [r.headers["X-Alephee-Attempt"] for r in receiver.requests] == ["1", "2"]
    assert receiver.requests[0].headers["X-Alephee-Delivery"] == receiver.requests[1].headers["X-Alephee-Delivery"]
    assert receiver.requests[0].json["Id"] == receiver.requests[1].json["Id"]
    [event] = hooks.feed()
    assert event.state == EVENT_DELIVERED


def test_after_the_last_retry_the_event_stays_in_the_feed(hooks: Hooks, receiver: Receiver, tenant: Tenant) -> None:
    hooks.subscribe(tenant.account_id, receiver.url)
    receiver.default_status = 503
    event_id = hooks.emit(tenant.account_id, events.ORDER_STATUS_CHANGED, {"OrderId": 7}, {"Status": 20})
    hooks.drain()
    assert len(receiver.requests) == hooks.settings.outbox_max_attempts == 3
    [row] = hooks.outbox()
    assert row.status == FAILED and row.attempts == 3
    [event] = hooks.feed()
    assert (event.id, event.state, event.delivered_at, event.pending_deliveries) == (event_id, OPEN, None, 1)

    # The integrator reads it from the feed and acknowledges it.
    with hooks.ctx.db.writing() as session:
        result = service.acknowledge(session, tenant.account_id, [event_id])
    assert result == {"Total": 1, "Results": [{"Id": event_id, "Status": 200, "Message": "Acknowledged"}]}
    [event] = hooks.feed()
    assert event.state == ACKNOWLEDGED and event.acknowledged_at is not None

    # A late successful retry (operator's ``outbox retry``) counts the delivery but keeps the acknowledgement.
    receiver.default_status = 200
    with hooks.ctx.db.writing() as session:
        from alephee.marketplaces import outbox

        outbox.retry(session, row.id)
    assert hooks.run().delivered == 1
    [event] = hooks.feed()
    assert event.state == ACKNOWLEDGED and event.delivered_at is not None


def test_deliveries_of_one_order_keep_their_order(hooks: Hooks, receiver: Receiver, tenant: Tenant) -> None:
    hooks.subscribe(tenant.account_id, receiver.url)
    receiver.answer(500)  # the first event of order 5 fails once
    first = hooks.emit(tenant.account_id, events.ORDER_CREATED, {"OrderId": 5})
    second = hooks.emit(tenant.account_id, events.ORDER_STATUS_CHANGED, {"OrderId": 5}, {"Status": 10})
    other = hooks.emit(tenant.account_id, events.ORDER_CREATED, {"OrderId": 6})
    third = hooks.emit(tenant.account_id, events.ORDER_CANCELLED, {"OrderId": 5}, {"Status": 90})
    stats = hooks.run()
    # Order 5's later events wait behind its failed first one; order 6 is not held up.
    assert (stats.claimed, stats.retried, stats.delivered) == (2, 1, 1)
    assert [r.json["Id"] for r in receiver.delivered()] == [other]
    hooks.drain()
    order5 = [r.json["Id"] for r in receiver.delivered() if r.json["Data"]["OrderId"] == 5]
    assert order5 == [first, second, third]
    assert {e.state for e in hooks.feed()} == {EVENT_DELIVERED}


def test_a_rolled_back_change_emits_nothing(hooks: Hooks, receiver: Receiver, tenant: Tenant) -> None:
    hooks.subscribe(tenant.account_id, receiver.url)

    class Boom(Exception):
        pass

    with pytest.raises(Boom), hooks.ctx.db.writing() as session:
        events.emit(session, tenant.account_id, events.ORDER_CREATED, {"OrderId": 9})
        session.flush()
        raise Boom
    assert hooks.feed() == [] and hooks.outbox() == []
    assert hooks.drain().claimed == 0
    assert receiver.requests == []


def test_every_subscription_gets_its_types_and_the_event_is_delivered_when_all_did(
    hooks: Hooks, receiver: Receiver, make_tenant: Callable[..., Tenant]
) -> None:
    mine, other = make_tenant(), make_tenant()
    everything, _ = hooks.subscribe(mine.account_id, receiver.url + "&all=1")
    orders_only, _ = hooks.subscribe(mine.account_id, receiver.url + "&orders=1", ["order.created"])
    hooks.subscribe(mine.account_id, receiver.url + "&off=1", ["*"], active=False)
    hooks.subscribe(other.account_id, receiver.url + "&other=1")
    created = hooks.emit(mine.account_id, events.ORDER_CREATED, {"OrderId": 1})
    listing = hooks.emit(mine.account_id, events.LISTING_STATUS_CHANGED, {"ListingId": 3}, {"Status": "paused"})
    receiver.answer(500)  # the first delivery (order.created to "everything") fails once
    stats = hooks.run()
    assert stats.claimed == 3  # two for order.created, one for listing.status_changed
    by_id = {e.id: e for e in hooks.feed()}
    assert by_id[created].state == OPEN and by_id[created].pending_deliveries == 1
    assert by_id[listing].state == EVENT_DELIVERED
    hooks.drain()
    by_id = {e.id: e for e in hooks.feed()}
    assert by_id[created].state == EVENT_DELIVERED and by_id[created].pending_deliveries == 0
    paths = sorted(r.path.split("&", 1)[1] for r in receiver.delivered())
    assert paths == ["all=1", "all=1", "orders=1"]
    aggregates = {(m.aggregate_type, m.aggregate_id) for m in hooks.outbox()}
    assert aggregates == {(f"wh{everything}:order", 1), (f"wh{orders_only}:order", 1), (f"wh{everything}:listing", 3)}


def test_an_account_without_webhooks_only_gets_the_feed(hooks: Hooks, tenant: Tenant) -> None:
    hooks.emit(tenant.account_id, events.ORDER_CREATED, {"OrderId": 1})
    assert hooks.outbox() == []
    [event] = hooks.feed()
    assert event.state == OPEN and event.pending_deliveries == 0


def test_a_removed_webhook_is_not_called_and_its_event_stays_open(
    hooks: Hooks, receiver: Receiver, tenant: Tenant
) -> None:
    webhook_id, _ = hooks.subscribe(tenant.account_id, receiver.url)
    hooks.emit(tenant.account_id, events.ORDER_CREATED, {"OrderId": 1})
    with hooks.ctx.db.writing() as session:
        service.delete_subscription(session, webhook_id, tenant.account_id)
    stats = hooks.run()
    assert stats.failed == 1 and receiver.requests == []
    [row] = hooks.outbox()
    assert row.status == FAILED and "no longer exists" in (row.last_error or "")
    assert hooks.feed()[0].state == OPEN


def test_a_private_target_is_refused_at_delivery_when_not_allowed(
    ctx: AppContext, receiver: Receiver, tenant: Tenant
) -> None:
    from alephee.marketplaces.delivery import register_sender, unregister_sender

    permissive = Hooks(ctx)
    webhook_id, _ = permissive.subscribe(tenant.account_id, receiver.url)
    strict = Hooks(ctx, webhook_allow_private_targets=False)
    previous = register_sender(events.TOPIC_PREFIX, strict.sender)
    try:
        strict.emit(tenant.account_id, events.ORDER_CREATED, {"OrderId": 1})
        assert strict.run().failed == 1  # permanent: never retried
    finally:
        unregister_sender(events.TOPIC_PREFIX, previous)
    assert receiver.requests == []
    [row] = strict.outbox()
    assert row.status == FAILED and "private" in (row.last_error or "") and webhook_id


def test_an_unreachable_receiver_is_a_transient_failure(hooks: Hooks, tenant: Tenant) -> None:
    from tests.fixtures.servers import free_port

    hooks.subscribe(tenant.account_id, f"http://127.0.0.1:{free_port()}/nobody")
    hooks.emit(tenant.account_id, events.ORDER_CREATED, {"OrderId": 1})
    assert hooks.run().retried == 1
    [row] = hooks.outbox()
    assert row.status == "pending" and "ConnectionRefused" in (row.last_error or "")


def test_the_worker_purges_old_events_and_keeps_the_purge_scheduled(hooks: Hooks, tenant: Tenant) -> None:
    with clock.frozen(clock.utcnow() - timedelta(days=31)):
        old = hooks.emit(tenant.account_id, events.ORDER_CREATED, {"OrderId": 1})
    recent = hooks.emit(tenant.account_id, events.ORDER_CREATED, {"OrderId": 2})
    with hooks.ctx.db.writing() as session:
        assert sender.ensure_purge_scheduled(session) is True
    with hooks.ctx.db.writing() as session:
        assert sender.ensure_purge_scheduled(session) is False  # one is enough
    assert hooks.run().delivered == 1
    assert [e.id for e in hooks.feed()] == [recent] and old != recent
    with hooks.ctx.db.reading() as session:
        queued = session.scalars(
            select(OutboxMessage).where(OutboxMessage.topic == events.PURGE_TOPIC).order_by(OutboxMessage.id)
        ).all()
    assert [q.status for q in queued] == [DELIVERED, "pending"]
    interval = hooks.settings.notifications_purge_interval_seconds
    assert queued[1].available_at >= clock.utcnow() + timedelta(seconds=interval - 1)
    assert hooks.run().claimed == 0
    clock.advance(timedelta(seconds=interval + 1))
    assert hooks.run().delivered == 1  # the next purge runs and queues the one after
