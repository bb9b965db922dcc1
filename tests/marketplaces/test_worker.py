"""The outbox worker: delivery through the channel, retries with backoff, failure, ordering, leases, and
several workers at once delivering every row exactly once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from alephee import clock
from alephee.http.context import AppContext
from alephee.marketplaces.contract import PermanentDeliveryError
from alephee.marketplaces.delivery import (
    DELIVERED,
    FAILED,
    IN_FLIGHT,
    PENDING,
    OutboxItem,
    register_sender,
    unregister_sender,
)
from alephee.marketplaces.models import OutboxMessage, SandboxEvent, SandboxListing, SandboxOrder
from alephee.sync.backoff import backoff_delay
from alephee.sync.worker import Worker
from tests.fixtures.database import make_settings
from tests.fixtures.marketplaces import FakeChannel, put

HOUR = timedelta(hours=1)


def row(ctx: AppContext, message_id: int) -> OutboxMessage:
    with ctx.db.reading() as session:
        found = session.get(OutboxMessage, message_id)
        assert found is not None
        return found


def statuses(ctx: AppContext) -> dict[str, int]:
    with ctx.db.reading() as session:
        return dict(session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())  # type: ignore[arg-type]


def test_enqueued_change_reaches_the_sandbox(ctx: AppContext, make_worker: Callable[..., Worker]) -> None:
    message_id = put(
        ctx,
        payload={
            "listing_id": 1,
            "external_id": "MLA5",
            "sku": "S",
            "price": "99.90",
            "quantity": 4,
            "status": "active",
        },
    )
    stats = make_worker().drain()
    assert (stats.claimed, stats.delivered) == (1, 1)
    delivered = row(ctx, message_id)
    assert delivered.status == DELIVERED and delivered.delivered_at is not None and delivered.attempts == 1
    assert delivered.locked_by is None and delivered.locked_until is None
    with ctx.db.reading() as session:
        listing = session.scalar(select(SandboxListing))
        assert listing is not None and (listing.external_id, listing.available_quantity) == ("MLA5", 4)
        assert session.scalar(select(SandboxEvent.message_id)) == message_id


def test_a_flaky_channel_gets_the_row_delivered_after_retries(
    ctx: AppContext, make_worker: Callable[..., Worker], use_channel: Callable[[str, Any], None]
) -> None:
    channel = FakeChannel(fail_first=3)
    use_channel("sandbox", channel)
    worker = make_worker()
    message_id = put(ctx)
    for attempt in range(1, 4):
        assert worker.run_once().retried == 1
        retried = row(ctx, message_id)
        assert retried.status == PENDING and retried.attempts == attempt
        assert "marketplace unavailable" in (retried.last_error or "")
        # Backoff: not due again until the delay has passed.
        assert retried.available_at > clock.utcnow()
        assert worker.run_once().claimed == 0
        clock.advance(HOUR)
    assert worker.run_once().delivered == 1
    assert row(ctx, message_id).status == DELIVERED and row(ctx, message_id).attempts == 4
    assert channel.delivered == [(1, message_id)]


def test_a_channel_that_keeps_failing_leaves_the_row_failed_until_retried(
    ctx: AppContext,
    make_worker: Callable[..., Worker],
    use_channel: Callable[[str, Any], None],
    cli: Callable[..., Any],
) -> None:
    channel = FakeChannel(always_fail=True)
    use_channel("sandbox", channel)
    worker = make_worker(outbox_max_attempts=3)
    message_id = put(ctx)
    for _ in range(3):
        worker.run_once()
        clock.advance(HOUR)
    failed = row(ctx, message_id)
    assert failed.status == FAILED and failed.attempts == 3 and "unavailable" in (failed.last_error or "")
    assert worker.run_once().claimed == 0  # failed is final until an operator acts

    listed = cli("outbox", "list", "--status", "failed")
    assert [(r["Id"], r["Status"], r["Attempts"]) for r in listed] == [(message_id, "failed", 3)]
    assert "unavailable" in listed[0]["LastError"]

    assert cli("outbox", "retry", str(message_id)) == {"Retried": [message_id], "Count": 1}
    requeued = row(ctx, message_id)
    assert (requeued.status, requeued.attempts) == (PENDING, 0)
    channel.always_fail = False
    assert worker.run_once().delivered == 1
    assert row(ctx, message_id).status == DELIVERED


def test_permanent_errors_fail_at_once(
    ctx: AppContext, make_worker: Callable[..., Worker], use_channel: Callable[[str, Any], None]
) -> None:
    use_channel("sandbox", FakeChannel(error=PermanentDeliveryError("listing refused")))
    message_id = put(ctx)
    unknown_topic = put(ctx, topic="listing.teleport", aggregate_id=2)
    no_connector = put(ctx, marketplace_id=20, aggregate_id=3)  # Amazon: no connector yet
    stats = make_worker().drain()
    assert (stats.failed, stats.retried) == (3, 0)
    assert row(ctx, message_id).last_error == "listing refused" and row(ctx, message_id).attempts == 1
    assert "unknown outbox topic" in (row(ctx, unknown_topic).last_error or "")
    assert "has no connector" in (row(ctx, no_connector).last_error or "")


def test_unexpected_exceptions_are_retried(
    ctx: AppContext, make_worker: Callable[..., Worker], use_channel: Callable[[str, Any], None]
) -> None:
    use_channel("sandbox", FakeChannel(error=RuntimeError("boom")))
    message_id = put(ctx)
    assert make_worker().run_once().retried == 1
    assert row(ctx, message_id).last_error == "RuntimeError: boom" and row(ctx, message_id).status == PENDING


def test_backoff_is_exponential_capped_and_deterministic() -> None:
    settings = make_settings("sqlite://", outbox_backoff_base_seconds=2.0, outbox_backoff_max_seconds=100.0)
    delays = [backoff_delay(settings, 7, n) for n in range(1, 10)]
    assert delays == [backoff_delay(settings, 7, n) for n in range(1, 10)]
    for n, delay in enumerate(delays, start=1):
        ceiling = min(100.0, 2.0 * 2 ** (n - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert backoff_delay(settings, 8, 3) != backoff_delay(settings, 7, 3)  # jitter spreads rows apart
    reseeded = make_settings("sqlite://", outbox_backoff_base_seconds=2.0, outbox_jitter_seed=5)
    assert backoff_delay(reseeded, 7, 3) != backoff_delay(settings, 7, 3)


def test_the_inbox_is_read_while_the_claimed_rows_are_delivered(
    ctx: AppContext, make_worker: Callable[..., Worker]
) -> None:
    if ctx.db.dialect != "postgresql":
        pytest.skip("SQLite has one writer: its inbox step follows the deliveries (next test)")
    put(ctx)
    worker = make_worker()
    reading = threading.Event()
    waited: list[bool] = []
    deliver = worker._deliver

    def read_notices(batch: int | None = None) -> int:
        reading.set()
        return 0

    def delivering(item: OutboxItem) -> str:
        waited.append(reading.wait(5))  # the inbox's step has started before this delivery ends
        return deliver(item)

    worker.read_notices = read_notices  # type: ignore[method-assign]
    worker._deliver = delivering  # type: ignore[method-assign]
    stats = worker.run_once()

    assert waited == [True] and (stats.claimed, stats.delivered) == (1, 1)
    assert statuses(ctx) == {DELIVERED: 1}


def test_a_round_with_nothing_to_deliver_still_reads_the_inbox(
    ctx: AppContext, make_worker: Callable[..., Worker]
) -> None:
    worker = make_worker()
    calls: list[int | None] = []
    worker.read_notices = lambda batch=None: calls.append(batch) or 0  # type: ignore[method-assign]
    worker.run_once(7)
    assert calls == [7]


def test_on_sqlite_the_inbox_waits_for_the_deliveries(ctx: AppContext, make_worker: Callable[..., Worker]) -> None:
    # One writer: an inbox transaction beside the deliveries' would wait on their write lock (and they on it).
    if ctx.db.dialect != "sqlite":
        pytest.skip("PostgreSQL reads the inbox beside the deliveries (previous test)")
    put(ctx)
    worker = make_worker()
    threads: list[str] = []
    worker.read_notices = lambda batch=None: threads.append(threading.current_thread().name) or 0  # type: ignore[method-assign]
    stats = worker.run_once()
    assert (stats.claimed, stats.delivered) == (1, 1)
    assert threads == [threading.current_thread().name]


def test_rows_of_one_aggregate_are_delivered_in_order(
    ctx: AppContext, make_worker: Callable[..., Worker], use_channel: Callable[[str, Any], None]
) -> None:
    channel = FakeChannel(fail_first=1)  # every row fails once: its successors must wait for it
    use_channel("sandbox", channel)
    ids: dict[int, list[int]] = {}
    for n in range(24):
        aggregate = n % 4 + 1
        ids.setdefault(aggregate, []).append(put(ctx, aggregate_id=aggregate))
    workers = [make_worker(f"w{i}") for i in range(3)]
    for _ in range(200):
        if statuses(ctx).get(DELIVERED) == 24:
            break
        for worker in workers:
            worker.run_once(batch=5)
        clock.advance(HOUR)
    assert statuses(ctx) == {DELIVERED: 24}
    for aggregate, expected in ids.items():
        assert [m for a, m in channel.delivered if a == aggregate] == expected


def test_an_older_pending_row_blocks_its_aggregate(ctx: AppContext, make_worker: Callable[..., Worker]) -> None:
    first = put(ctx, aggregate_id=1)
    second = put(ctx, aggregate_id=1)
    other = put(ctx, aggregate_id=2)
    with ctx.db.writing() as session:
        session.execute(
            update(OutboxMessage).where(OutboxMessage.id == first).values(available_at=clock.utcnow() + HOUR)
        )
    assert [item.id for item in make_worker().claim(10)] == [other]
    assert row(ctx, second).status == PENDING
    # A failed row no longer blocks: it will not be delivered without an operator.
    with ctx.db.writing() as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.id == first).values(status=FAILED))
    assert [item.id for item in make_worker().claim(10)] == [second]


def test_an_expired_lease_is_reclaimed(ctx: AppContext, make_worker: Callable[..., Worker]) -> None:
    message_id = put(ctx)
    crashed = make_worker("crashed")
    assert [i.id for i in crashed.claim(10)] == [message_id]
    assert row(ctx, message_id).status == IN_FLIGHT and row(ctx, message_id).locked_by == "crashed"
    rescuer = make_worker("rescuer")
    assert rescuer.run_once().claimed == 0  # the lease still holds
    clock.advance(timedelta(seconds=crashed.settings.outbox_lease_seconds + 1))
    assert rescuer.run_once().delivered == 1
    done = row(ctx, message_id)
    # The crashed attempt counts: a row that kills workers ends up failed instead of looping.
    assert done.status == DELIVERED and done.attempts == 2


def test_a_worker_that_lost_its_lease_does_not_apply_the_row_again(
    ctx: AppContext, make_worker: Callable[..., Worker]
) -> None:
    message_id = put(ctx, payload={"listing_id": 1, "quantity": 3})
    slow = make_worker("slow")
    [item] = slow.claim(10)
    clock.advance(timedelta(seconds=slow.settings.outbox_lease_seconds + 1))
    assert make_worker("fast").run_once().delivered == 1
    stats_outcome = slow._deliver(item)
    assert stats_outcome == "lost"
    with ctx.db.reading() as session:
        assert session.scalar(select(func.count()).select_from(SandboxEvent)) == 1
    assert row(ctx, message_id).status == DELIVERED


def test_rows_without_marketplace_and_webhooks_wait_for_their_sender(
    ctx: AppContext, make_worker: Callable[..., Worker]
) -> None:
    webhook = put(ctx, topic="webhook.order.created", marketplace_id=None, aggregate_id=7)
    webhook_with_marketplace = put(ctx, topic="webhook.listing.changed", aggregate_id=8)
    orphan = put(ctx, topic="order.status", marketplace_id=None, aggregate_id=9, payload={"status": 10})
    assert make_worker().run_once().claimed == 0
    assert statuses(ctx) == {PENDING: 3}

    received: list[int] = []

    class Hooks:
        def in_database(self, session: Any, item: OutboxItem) -> bool:
            return False

        def send(self, session: Any, item: OutboxItem) -> None:
            received.append(item.id)

    previous = register_sender("webhook.", Hooks(), without_marketplace=True)
    try:
        assert make_worker().drain().delivered == 3
    finally:
        unregister_sender("webhook.", previous)
    assert sorted(received) == [webhook, webhook_with_marketplace, orphan]


def _pending_or_in_flight(ctx: AppContext) -> int:
    with ctx.db.reading() as session:
        return (
            session.scalar(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status.in_((PENDING, IN_FLIGHT)))
            )
            or 0
        )


def _webhook_chores_delivered(ctx: AppContext) -> int:
    """Delivered outbox rows of the webhook sender's own chores (``alephee worker`` queues a feed purge when it
    starts), which the exactly-once counts leave out."""
    with ctx.db.reading() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.aggregate_type.startswith("wh"), OutboxMessage.status == DELIVERED)
            )
            or 0
        )


def _assert_exactly_once(ctx: AppContext, total: int, delivered_by_workers: int) -> None:
    assert delivered_by_workers - _webhook_chores_delivered(ctx) == total
    with ctx.db.reading() as session:
        counts = dict(
            session.execute(
                select(OutboxMessage.status, func.count())
                .where(~OutboxMessage.aggregate_type.startswith("wh"))
                .group_by(OutboxMessage.status)
            ).all()
        )
        assert counts == {DELIVERED: total}
        # Every row was claimed once (each claim counts an attempt) and applied once by the sandbox.
        assert session.scalar(select(func.max(OutboxMessage.attempts))) == 1
        assert session.scalar(select(func.count(func.distinct(SandboxEvent.message_id)))) == total
        assert session.scalar(select(func.count()).select_from(SandboxEvent)) == total


def test_parallel_worker_threads_deliver_every_row_exactly_once(
    ctx: AppContext, make_worker: Callable[..., Worker]
) -> None:
    total = 300
    with ctx.db.writing() as session:
        from alephee.marketplaces.outbox import enqueue

        for n in range(total):
            aggregate = n % 60 + 1
            enqueue(
                session,
                account_id=1,
                marketplace_id=100,
                topic="listing.update",
                aggregate_type="listing",
                aggregate_id=aggregate,
                payload={"listing_id": aggregate, "quantity": n, "price": "10"},
            )
    counts: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(worker: Worker) -> None:
        delivered = 0
        try:
            while _pending_or_in_flight(ctx):
                stats = worker.run_once(batch=16)
                delivered += stats.delivered
                assert stats.lost == 0 and stats.failed == 0
        except BaseException as exc:  # reported to the main thread
            errors.append(exc)
        with lock:
            counts.append(delivered)

    threads = [threading.Thread(target=run, args=(make_worker(f"t{i}"),)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert len(counts) == 4 and sum(1 for c in counts if c) >= 2  # the work really was shared
    _assert_exactly_once(ctx, total, sum(counts))
    # The last push of each listing won (per-aggregate order held under concurrency).
    with ctx.db.reading() as session:
        quantities = dict(session.execute(select(SandboxListing.listing_id, SandboxListing.available_quantity)).all())  # type: ignore[arg-type]
    assert quantities == {a: total - 60 + a - 1 for a in range(1, 61)}


def test_parallel_worker_processes_deliver_every_row_exactly_once(
    ctx: AppContext, tmp_path: Path, make_worker: Callable[..., Worker]
) -> None:
    total = 200
    with ctx.db.writing() as session:
        from alephee.marketplaces.outbox import enqueue

        for n in range(total):
            enqueue(
                session,
                account_id=1,
                marketplace_id=100,
                topic="listing.update",
                aggregate_type="listing",
                aggregate_id=n + 1,
                payload={"listing_id": n + 1, "quantity": 1},
            )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ALEPHEE_")},
        "ALEPHEE_DATABASE_URL": ctx.settings.database_url,
        "ALEPHEE_LOG_LEVEL": "WARNING",
    }
    exe = str(Path(sys.executable).with_name("alephee"))
    processes = [
        subprocess.Popen(
            [exe, "worker", "--once", "--batch", "10"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    results = []
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err.decode()
        results.append(json.loads(out.decode().strip().splitlines()[-1]))
    assert all(r["LeaseLost"] == 0 and r["Failed"] == 0 for r in results)
    # A process that found the queue momentarily empty may stop early; whatever is left is drained here.
    leftover = make_worker().drain().delivered
    _assert_exactly_once(ctx, total, sum(r["Delivered"] for r in results) + leftover)


def test_every_topic_reaches_the_sandbox_through_the_worker(
    ctx: AppContext, make_worker: Callable[..., Worker]
) -> None:
    from alephee.sandbox import state as sandbox

    with ctx.db.writing() as session:
        for external in ("5001", "5002"):
            sandbox.create_order(
                session,
                account_id=1,
                marketplace_id=100,
                external_order_id=external,
                items=[{"external_listing_id": "MLA1000000001", "quantity": 1, "unit_price": "10"}],
                pack_id="P1",
                pack_size=2,
                logistic_type="self_service",
            )
    put(ctx, payload={"ListingId": 1, "Price": 10, "Quantity": 3, "Status": "Active"})
    put(ctx, topic="listing.status", payload={"status": 2})
    # Order topics as the orders domain sends them: the hub order id is the row's aggregate id.
    put(
        ctx,
        topic="order.status",
        aggregate_id=71,
        payload={"OrderId": 71, "ExternalOrderId": "5001", "Status": 20, "Tracking": {"Number": "T1", "Status": "ok"}},
    )
    put(ctx, topic="order.document", aggregate_id=71, payload={"document_type": 0, "document_number": "A-1"})
    put(ctx, topic="order.message", aggregate_id=71, payload={"message_option": 4, "message": "hola"})
    put(ctx, topic="order.label", aggregate_id=71, payload={"format": "txt"})
    put(ctx, topic="order.split", aggregate_id=72, payload={"external_order_id": "5002", "split_reason_id": 1})
    put(
        ctx,
        topic="order.packaging",
        aggregate_id=72,
        payload={"order_id": 72, "order_ids": [72], "external_order_id": "5002", "package_info": {"Weight": 1.5}},
    )
    stats = make_worker().drain()
    assert (stats.delivered, stats.failed, stats.retried) == (8, 0, 0)
    with ctx.db.reading() as session:
        kinds = list(session.scalars(select(SandboxEvent.kind).order_by(SandboxEvent.message_id)))
        listing = session.scalar(select(SandboxListing))
        orders = {o.external_order_id: o for o in session.scalars(select(SandboxOrder))}
    assert kinds == [
        "listing.update",
        "listing.status",
        "order.status",
        "order.document",
        "order.message",
        "order.label",
        "order.split",
        "order.packaging",
    ]
    assert listing is not None and (listing.status, listing.available_quantity) == ("paused", 3)
    assert set(orders) == {"5001", "5002"}  # no shadow order: every push found its order
    first = orders["5001"]
    assert (first.hub_order_id, first.tracking_number, first.shipping_status) == (71, "T1", "shipped")
    assert first.detail["tracking"] == {"status": "ok"}
    assert orders["5002"].detail["package_info"] == {"Weight": 1.5}
