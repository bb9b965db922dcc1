"""The outbox's live rows (pending or in flight) have partial indexes of their own, and the worker's claim reads
them: it takes the oldest live row of each listing without walking the delivered history, however long it is
(migration 0035o_outbox_live_indexes)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import insert, text

from alephee import clock
from alephee.db import alembic_config
from alephee.http.context import AppContext
from alephee.marketplaces.delivery import DELIVERED, PENDING
from alephee.marketplaces.models import OUTBOX_LIVE, OutboxMessage
from alephee.sync.worker import Worker

REVISION = "0035o_outbox_live_indexes"
LIVE_INDEXES = ("ix_outbox_live_id", "ix_outbox_live_aggregate")
LISTINGS = 20
HISTORY = 150  # delivered rows per listing


def test_the_revision_follows_the_queue_autovacuum_and_is_a_head() -> None:
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert scripts.get_revision(REVISION).down_revision == "0034v_queue_autovacuum"
    heads = set(scripts.get_heads())
    assert REVISION in heads and "0034v_queue_autovacuum" not in heads


def _index_definitions(ctx: AppContext) -> dict[str, str]:
    with ctx.db.reading() as session:
        if ctx.db.dialect == "postgresql":
            query = "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'outbox'"
        else:
            query = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'outbox'"
        return {name: sql or "" for name, sql in session.execute(text(query))}


def test_the_live_indexes_hold_only_pending_and_in_flight_rows(ctx: AppContext) -> None:
    definitions = _index_definitions(ctx)
    for name in LIVE_INDEXES:
        where = definitions[name].split(" WHERE ", 1)[1]
        assert "'pending'" in where and "'in_flight'" in where and "delivered" not in where, definitions[name]
    assert OUTBOX_LIVE == "status IN ('pending', 'in_flight')"


def _history(ctx: AppContext) -> list[int]:
    """A long delivered history for each of ``LISTINGS`` listings, then two pending rows of each even listing;
    returns the ids of the rows a claim must take (the older pending row of each even listing)."""
    now = clock.utcnow()
    rows = [
        {
            "account_id": 1,
            "marketplace_id": 100,
            "topic": "listing.update",
            "aggregate_type": "listing",
            "aggregate_id": listing,
            "payload": {"listing_id": listing, "quantity": n},
            "status": DELIVERED,
            "attempts": 1,
            "available_at": now - timedelta(hours=1),
            "created_at": now - timedelta(hours=1),
            "delivered_at": now - timedelta(hours=1),
        }
        for n in range(HISTORY)
        for listing in range(1, LISTINGS + 1)
    ]
    live = [
        {**row, "status": PENDING, "delivered_at": None, "payload": {"listing_id": row["aggregate_id"], "quantity": n}}
        for n in range(2)
        for row in rows[:LISTINGS]
        if row["aggregate_id"] % 2 == 0
    ]
    with ctx.db.writing() as session:
        session.execute(insert(OutboxMessage), rows)
        ids = list(session.scalars(insert(OutboxMessage).returning(OutboxMessage.id), live))
    with ctx.db.write_engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE outbox")
    return ids[: len(ids) // 2]


def test_a_claim_takes_the_oldest_live_row_of_each_listing_through_the_live_indexes(
    ctx: AppContext, make_worker: Callable[..., Worker]
) -> None:
    heads = _history(ctx)
    worker = make_worker()
    query = worker.candidates(100, clock.precise_utcnow())
    with ctx.db.reading() as session:
        connection = session.connection()
        # As the worker sends it: the values bound as parameters, which PostgreSQL may plan without seeing (a
        # generic plan, forced here).
        compiled = query.compile(connection)
        if ctx.db.dialect == "postgresql":
            connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
            params: Any = compiled.params
            explain = "EXPLAIN"
        else:
            params = tuple(compiled.params[name] for name in compiled.positiontup or ())
            explain = "EXPLAIN QUERY PLAN"
        plan = " ".join(str(row[-1]) for row in connection.exec_driver_sql(f"{explain} {compiled}", params))
    # The probe for an older live row of the same listing reads a live index, and nothing reads the primary key
    # or the full aggregate index from the first delivered row, nor the whole table. (PostgreSQL may also find
    # the due rows by seeking the pending and in-flight ones in the status index, which skips the delivered too.)
    assert "ix_outbox_live_" in plan, plan
    assert not re.search(r"Seq Scan|SCAN outbox\b|pk_outbox|ix_outbox_aggregate_type_aggregate_id_id", plan), plan
    assert [item.id for item in worker.claim(100)] == heads
