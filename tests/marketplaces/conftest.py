"""Fixtures of the marketplace tests: fake channels swapped into the registry, settings for fast retries."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from alephee.context import AppContext
from alephee.marketplaces.channels import (
    BaseChannel,
    ChannelContext,
    ListingPush,
    ListingReceipt,
    ListingStatusPush,
    OrderStatusPush,
    TransientDeliveryError,
    register_channel,
    unregister_channel,
)
from alephee.marketplaces.outbox import enqueue
from alephee.marketplaces.worker import Worker
from tests.conftest import make_settings

SANDBOX = 100  # a catalogue marketplace whose connector is "sandbox"


@dataclass
class FakeChannel(BaseChannel):
    """A remote-like channel (no database) that records deliveries and fails on demand.

    ``fail_first`` transient failures per outbox row, or every time while ``always_fail`` is set;
    ``permanent`` raises a permanent error instead.
    """

    fail_first: int = 0
    always_fail: bool = False
    error: Exception | None = None
    delivered: list[tuple[int, int | None]] = field(default_factory=list)
    calls: dict[int | None, int] = field(default_factory=dict)
    connector: str = "sandbox"
    in_database: bool = False

    def _call(self, ctx: ChannelContext, aggregate: int | None) -> None:
        count = self.calls.get(ctx.message_id, 0) + 1
        self.calls[ctx.message_id] = count
        if self.error is not None:
            raise self.error
        if self.always_fail or count <= self.fail_first:
            raise TransientDeliveryError(f"marketplace unavailable (call {count})")
        self.delivered.append((aggregate or 0, ctx.message_id))

    def publish_listing(self, ctx: ChannelContext, listing: ListingPush) -> ListingReceipt:
        self._call(ctx, listing.listing_id)
        return ListingReceipt(external_id=listing.external_id or "X", status="active")

    def set_listing_status(self, ctx: ChannelContext, change: ListingStatusPush) -> ListingReceipt:
        self._call(ctx, change.listing_id)
        return ListingReceipt(external_id=change.external_id or "X", status=change.status)

    def push_order_status(self, ctx: ChannelContext, update: OrderStatusPush) -> None:
        self._call(ctx, update.order.order_id)


@pytest.fixture
def use_channel() -> Iterator[Callable[[str, Any], None]]:
    """Make a connector resolve to a given channel instance for the test (restored afterwards)."""
    saved: list[tuple[str, Any]] = []

    def use(connector: str, channel: Any) -> None:
        saved.append((connector, register_channel(connector, lambda: channel)))

    yield use
    for connector, previous in reversed(saved):
        unregister_channel(connector, previous)


@pytest.fixture
def make_worker(ctx: AppContext) -> Callable[..., Worker]:
    """A worker on the test database; settings overrides (e.g. ``outbox_max_attempts=3``) apply to it only."""

    def make(worker_id: str | None = None, **overrides: Any) -> Worker:
        values: dict[str, Any] = {"outbox_backoff_base_seconds": 1.0, "outbox_backoff_max_seconds": 60.0}
        values.update(overrides)
        return Worker(ctx.db, make_settings(ctx.settings.database_url, **values), worker_id=worker_id)

    return make


def put(
    ctx: AppContext,
    *,
    topic: str = "listing.update",
    aggregate_id: int = 1,
    payload: dict[str, Any] | None = None,
    account_id: int = 1,
    marketplace_id: int | None = SANDBOX,
    aggregate_type: str | None = None,
) -> int:
    """Enqueue one row in its own transaction; returns its id."""
    with ctx.db.writing() as session:
        row = enqueue(
            session,
            account_id=account_id,
            marketplace_id=marketplace_id,
            topic=topic,
            aggregate_type=aggregate_type or topic.split(".")[0],
            aggregate_id=aggregate_id,
            payload=payload if payload is not None else {"listing_id": aggregate_id, "price": "10", "quantity": 1},
        )
        session.flush()
        return row.id


@pytest.fixture
def cli(ctx: AppContext) -> Callable[..., Any]:
    """Run an ``alephee`` command on the test database; returns its JSON output (or the result if ``ok=False``)."""
    import json

    from typer.testing import CliRunner

    from alephee.cli import app

    runner = CliRunner()

    def run(*args: str, ok: bool = True) -> Any:
        result = runner.invoke(app, list(args), env={"ALEPHEE_DATABASE_URL": ctx.settings.database_url})
        if ok:
            assert result.exit_code == 0, result.output
            return json.loads(result.stdout.strip().splitlines()[-1])
        assert result.exit_code != 0
        return result

    return run
