"""queue tables: autovacuum and autoanalyze after about 1 % of their rows changed, on PostgreSQL

Revision ID: 0034v_queue_autovacuum
Revises: 0033p_product_dates
Create Date: 2026-12-05 17:00:00

The hub's queue tables live the life of a queue: a row is inserted, claimed and updated a few times (leased,
retried, marked done), then left alone until it is purged. Their state column is indexed, so an update that moves
it is never a HOT update: each leaves a dead row version and dead index entries that every claim walks until a
vacuum removes them. PostgreSQL's defaults vacuum a table once 20 % of its rows are dead (plus 50); these tables
keep their done rows for days (the outbox until an operator deletes them), so at a million rows that is 200,000
dead versions under the claims. Here a vacuum starts after about 1 % (plus 1,000) and an analyze (the planner's
view of how many rows are pending) after about 2 % (plus 1,000).

* ``outbox``: pending → in_flight → delivered (or back to pending to retry), claimed by every worker round.
* ``channel_notifications``: the marketplaces' notifications, leased like the outbox and re-opened by a repeat.
* ``webhook_events``: the feed; each delivery decrements ``pending_deliveries`` (the last one moves ``state``), the
  client acknowledges, the worker deletes the events past the retention.

``sandbox_events`` is not one of them: it is only appended to (the sandbox's inbox), leaves no dead rows, and
PostgreSQL's insert-driven autovacuum (13+) already covers it.

Storage parameters only: no lock beyond a brief ``SHARE UPDATE EXCLUSIVE`` per table, nothing rewritten. They
act only while the server's ``autovacuum`` is on (docs/operations.md, "PostgreSQL settings"). SQLite has no
vacuum of dead rows to tune: nothing to do there.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0034v_queue_autovacuum"
down_revision: str | Sequence[str] | None = "0033p_product_dates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The tables whose rows are queued, claimed and marked done (see the module's docstring).
QUEUE_TABLES = ("outbox", "channel_notifications", "webhook_events")

# A vacuum after threshold + scale factor × rows dead rows, an analyze after as many changed ones. A few
# hundredths instead of the default 0.2 / 0.1: a queue's done rows stay, so the default's share of a grown table
# is hundreds of thousands of dead versions under every claim; a threshold of 1,000 instead of 50 so that a nearly
# empty queue is not vacuumed for every few dozen rows it handled.
AUTOVACUUM = {
    "autovacuum_vacuum_scale_factor": "0.01",
    "autovacuum_vacuum_threshold": "1000",
    "autovacuum_analyze_scale_factor": "0.02",
    "autovacuum_analyze_threshold": "1000",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    settings = ", ".join(f"{name} = {value}" for name, value in AUTOVACUUM.items())
    for table in QUEUE_TABLES:
        op.execute(f"ALTER TABLE {table} SET ({settings})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    names = ", ".join(AUTOVACUUM)
    for table in QUEUE_TABLES:
        op.execute(f"ALTER TABLE {table} RESET ({names})")
