"""A worker round with nothing due opens no write transaction on SQLite (its one write lock stays with the API
and the other steps); a due row is claimed as before. On PostgreSQL the claims go straight to their write
transaction (they skip locked rows and wait for nobody)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import event

from alephee.http.context import AppContext
from alephee.sync.inbox import InboxReader
from alephee.sync.worker import Worker
from tests.fixtures.marketplaces import put
from tests.marketplaces.test_worker_batches import channel_of


@pytest.fixture
def write_transactions(ctx: AppContext) -> Iterator[list[int]]:
    """Counts the write transactions begun on the test database while the test runs."""
    begun: list[int] = []

    def count(_conn: Any) -> None:
        begun.append(1)

    event.listen(ctx.db.write_engine, "begin", count)
    yield begun
    event.remove(ctx.db.write_engine, "begin", count)


def test_an_idle_claim_takes_the_write_lock_only_on_postgresql(
    ctx: AppContext, make_worker: Callable[..., Worker], write_transactions: list[int]
) -> None:
    worker = make_worker()

    assert worker.claim(50) == []
    assert InboxReader(ctx.db, ctx.settings).claim(50) == []

    assert len(write_transactions) == (2 if ctx.db.dialect == "postgresql" else 0)


def test_a_due_row_is_claimed_in_one_write_transaction(
    ctx: AppContext,
    make_worker: Callable[..., Worker],
    use_channel: Callable[[str, Any], None],
    write_transactions: list[int],
) -> None:
    channel_of(use_channel)
    put(ctx, aggregate_id=7)
    write_transactions.clear()

    claimed = make_worker().claim(50)

    assert [item.aggregate_id for item in claimed] == [7]
    assert len(write_transactions) == 1
