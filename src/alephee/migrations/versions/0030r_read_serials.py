"""read caches: change counters per account, moved by database triggers on every write to what reads show

Revision ID: 0030r_read_serials
Revises: 0030t_connection_locations
Create Date: 2026-12-05 01:30:00

``read_serials`` holds counters of committed changes, one row per ``(account_id, scope)``:

* scope 0 of an account: every insert, update or delete of its ``orders`` or ``order_account_options`` rows;
* scope 1 of an account (its backlog): the same, but only writes to orders that are not integrated before or
  after the write (and its options): what ``Integrated=false`` pages, the integration cycle, read;
* ``(0, 0)``: every change to what the API key lookup reads (``api_keys``, ``api_key_accounts``, an account's
  type, time zone or removal).

The read caches of ``db.StateCache`` reuse a result while its counter is unchanged (docs/architecture.md,
"Reading while nothing changed").

Triggers, not application hooks: every writer is covered, whatever it runs (ORM flushes, bulk statements,
plain SQL, another process, cascaded deletes). On PostgreSQL they are deferred constraint triggers: a counter
row is written once per transaction, at commit, so concurrent writers of one account hold its lock only for
the commit itself; TRUNCATE moves every counter. SQLite serialises writers anyway: plain row triggers.

On SQLite a later migration that recreates one of these tables (``batch_alter_table``) drops its triggers:
run ``create_triggers`` for it again (``tests/test_migrations.py`` checks they are all there).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030r_read_serials"
down_revision: str | Sequence[str] | None = "0030t_connection_locations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Key lookups are counted under this account id (accounts start at 1), scope 0.
KEYS = 0
ALL, BACKLOG = 0, 1

# (table, events, what its rows count for): every write that changes what a cached read shows. ``UPDATE OF``
# lists the columns the key lookup reads (api_keys and accounts have others that change without affecting it).
WATCHED = (
    ("orders", ("INSERT", "UPDATE", "DELETE"), "orders"),
    ("order_account_options", ("INSERT", "UPDATE", "DELETE"), "options"),
    ("api_keys", ("INSERT", "UPDATE OF key_hash, rate_limit, revoked_at", "DELETE"), "keys"),
    ("api_key_accounts", ("INSERT", "UPDATE", "DELETE"), "keys"),
    ("accounts", ("UPDATE OF account_type, timezone", "DELETE"), "keys"),
)

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION read_serials_bump() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    targets bigint[] := '{}';  -- (account, scope) pairs, flattened
    i integer;
    mark text;
BEGIN
    IF TG_ARGV[0] = 'keys' THEN
        targets := ARRAY[0, 0];
    ELSE
        IF TG_OP <> 'DELETE' THEN
            targets := targets || ARRAY[NEW.account_id, 0];
            IF TG_ARGV[0] = 'options' THEN
                targets := targets || ARRAY[NEW.account_id, 1];
            ELSIF NOT NEW.integrated THEN
                targets := targets || ARRAY[NEW.account_id, 1];
            END IF;
        END IF;
        IF TG_OP <> 'INSERT' THEN
            targets := targets || ARRAY[OLD.account_id, 0];
            IF TG_ARGV[0] = 'options' THEN
                targets := targets || ARRAY[OLD.account_id, 1];
            ELSIF NOT OLD.integrated THEN
                targets := targets || ARRAY[OLD.account_id, 1];
            END IF;
        END IF;
    END IF;
    FOR i IN 1 .. coalesce(array_length(targets, 1), 0) BY 2 LOOP
        -- Once per counter and transaction (the mark is transaction-local): one bump is enough to make the
        -- committed value differ from every earlier one.
        mark := 'alephee.read_serial_' || targets[i] || '_' || targets[i + 1];
        IF current_setting(mark, true) IS DISTINCT FROM 'bumped' THEN
            INSERT INTO read_serials (account_id, scope, serial) VALUES (targets[i], targets[i + 1], 1)
            ON CONFLICT (account_id, scope) DO UPDATE SET serial = read_serials.serial + 1;
            PERFORM set_config(mark, 'bumped', true);
        END IF;
    END LOOP;
    RETURN NULL;
END $$
"""

# TRUNCATE (PostgreSQL only) names no row: every counter moves.
_PG_TRUNCATE_FUNCTION = """
CREATE OR REPLACE FUNCTION read_serials_bump_all() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE read_serials SET serial = serial + 1;
    RETURN NULL;
END $$
"""


def _bump(account: str, scope: int, when: str = "1") -> str:
    # SQLite: INSERT ... SELECT needs its WHERE before ON CONFLICT (the parser's rule for upserts).
    return (
        f"INSERT INTO read_serials (account_id, scope, serial) SELECT {account}, {scope}, 1 WHERE {when} "
        "ON CONFLICT (account_id, scope) DO UPDATE SET serial = serial + 1;"
    )


def _sqlite_body(event: str, kind: str) -> str:
    if kind == "keys":
        return _bump(str(KEYS), ALL)
    rows = {"INSERT": ("NEW",), "DELETE": ("OLD",)}.get(event, ("NEW", "OLD"))
    body = ""
    for row in rows:
        # An update counts for the row's account before and after (a row moved between accounts); a counter
        # moved twice by one write is still a moved counter.
        body += _bump(f"{row}.account_id", ALL)
        body += _bump(f"{row}.account_id", BACKLOG, "1" if kind == "options" else f"NOT {row}.integrated")
    return body


def trigger_name(table: str, event: str) -> str:
    """The name of the trigger of ``table`` on ``event``."""
    return f"read_serials_{table}_{event.split()[0].lower()}"


def create_triggers(table: str) -> None:
    """(Re)create the triggers of one watched table (after a migration that recreated it on SQLite)."""
    _, events, kind = next(watched for watched in WATCHED if watched[0] == table)
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute(
            f"CREATE TRIGGER {trigger_name(table, 'TRUNCATE')} AFTER TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION read_serials_bump_all()"
        )
    for event in events:
        name = trigger_name(table, event)
        if postgresql:
            op.execute(
                f"CREATE CONSTRAINT TRIGGER {name} AFTER {event} ON {table} DEFERRABLE INITIALLY DEFERRED "
                f"FOR EACH ROW EXECUTE FUNCTION read_serials_bump('{kind}')"
            )
        else:
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN {_sqlite_body(event.split()[0], kind)} END"
            )


def upgrade() -> None:
    op.create_table(
        "read_serials",
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("scope", sa.SmallInteger(), nullable=False),
        sa.Column("serial", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "scope", name=op.f("pk_read_serials")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(_PG_TRUNCATE_FUNCTION)
    for table, *_ in WATCHED:
        create_triggers(table)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table, events, _ in WATCHED:
        for event in (*events, *(("TRUNCATE",) if postgresql else ())):
            name = trigger_name(table, event)
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}" if postgresql else f"DROP TRIGGER IF EXISTS {name}")
    if postgresql:
        op.execute("DROP FUNCTION IF EXISTS read_serials_bump()")
        op.execute("DROP FUNCTION IF EXISTS read_serials_bump_all()")
    op.drop_table("read_serials")
