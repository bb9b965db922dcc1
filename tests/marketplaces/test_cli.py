"""Operator commands: worker, outbox list/retry, sandbox advance/status/listings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import update

from alephee.http.context import AppContext
from alephee.marketplaces.models import OutboxMessage
from tests.fixtures.marketplaces import put


def _fail(ctx: AppContext, *ids: int) -> None:
    with ctx.db.writing() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids))
            .values(status="failed", attempts=8, last_error="down")
        )


def test_worker_once_delivers_and_reports(ctx: AppContext, cli: Callable[..., Any]) -> None:
    put(ctx, payload={"listing_id": 1, "quantity": 2})
    put(ctx, aggregate_id=2, payload={"listing_id": 2, "quantity": 0, "status": "paused"})
    result = cli("worker", "--once", "--batch", "1")
    # (the webhook sender queues its feed purge when the worker starts: one more row than the two listings)
    assert result["Delivered"] == result["Claimed"] >= 2 and result["Failed"] == 0 and result["WorkerId"]
    listings = cli("sandbox", "listings", "--account", "1")
    assert sorted((r["ExternalId"], r["Status"], r["AvailableQuantity"]) for r in listings) == [
        ("MLA1000000001", "active", 2),
        ("MLA1000000002", "paused", 0),
    ]
    assert cli("sandbox", "listings", "--marketplace", "101") == []
    assert cli("sandbox", "status")["Listings"] == 2
    assert "--batch" in cli("worker", "--once", "--batch", "0", ok=False).output


def test_outbox_list_filters(ctx: AppContext, cli: Callable[..., Any]) -> None:
    first = put(ctx, account_id=1)
    second = put(ctx, account_id=2, aggregate_id=2)
    third = put(ctx, account_id=2, aggregate_id=3)
    _fail(ctx, third)
    assert [r["Id"] for r in cli("outbox", "list")] == [third, second, first]
    assert [r["Id"] for r in cli("outbox", "list", "--account", "2", "--status", "pending")] == [second]
    assert [r["Id"] for r in cli("outbox", "list", "--limit", "1")] == [third]
    row = cli("outbox", "list", "--status", "failed")[0]
    assert row["Topic"] == "listing.update" and row["LastError"] == "down" and row["Payload"]["listing_id"] == 3
    bad = cli("outbox", "list", "--status", "lost", ok=False)
    assert "status must be one of" in bad.output


def test_outbox_retry(ctx: AppContext, cli: Callable[..., Any]) -> None:
    ids = [put(ctx, account_id=account, aggregate_id=n) for n, account in enumerate((1, 1, 2), start=1)]
    _fail(ctx, *ids)
    assert cli("outbox", "retry", "--failed", "--account", "2") == {"Retried": [ids[2]], "Count": 1}
    assert cli("outbox", "retry", "--failed") == {"Retried": ids[:2], "Count": 2}
    assert cli("outbox", "retry", "--failed") == {"Retried": [], "Count": 0}
    assert "only failed messages" in cli("outbox", "retry", str(ids[0]), ok=False).output
    assert "not found" in cli("outbox", "retry", "999999", ok=False).output
    assert "either" in cli("outbox", "retry", ok=False).output
    assert "either" in cli("outbox", "retry", str(ids[0]), "--failed", ok=False).output


def test_sandbox_advance_moves_the_persistent_clock(ctx: AppContext, cli: Callable[..., Any]) -> None:
    before = cli("sandbox", "status")
    assert before["OffsetHours"] == 0
    after = cli("sandbox", "advance", "--hours", "36")
    assert after["OffsetHours"] == 36 and after["SandboxNow"] > before["SandboxNow"]
    assert cli("sandbox", "advance", "--hours", "1.5")["OffsetHours"] == 37.5
    assert cli("sandbox", "status")["OffsetHours"] == 37.5
    assert "negative" in cli("sandbox", "advance", "--hours", "-1", ok=False).output
