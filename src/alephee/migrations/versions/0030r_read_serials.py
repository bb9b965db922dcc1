"""read caches: a change counter per account, moved by database triggers on every write to what reads show

Revision ID: 0030r_read_serials
Revises: 0026_oauth_return_to
Create Date: 2026-12-05 01:30:00

``read_serials`` holds one counter per account (``account_id``), moved by every committed transaction that
inserts, updates or deletes that account's ``orders`` or ``order_account_options`` rows, and one counter
under ``account_id = 0`` moved by every change to what the API key lookup reads (``api_keys``,
``api_key_accounts``, an account's type, time zone or removal). The read caches of ``db.StateCache`` reuse a
result while its counter is unchanged (docs/architecture.md, "Reading while nothing changed").

Triggers, not application hooks: every writer is covered, whatever it runs (ORM flushes, bulk statements,
plain SQL, another process, cascaded deletes). On PostgreSQL they are deferred constraint triggers: the
counter row is written once per account and transaction, at commit, so concurrent writers of one account
hold its lock only for the commit itself. SQLite serialises writers anyway: a plain row trigger.

On SQLite a later migration that recreates one of these tables (``batch_alter_table``) drops its triggers:
run ``create_triggers`` for it again (``tests/test_migrations.py`` checks they are all there).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030r_read_serials"
down_revision: str | Sequence[str] | None = "0026_oauth_return_to"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Key lookups are counted under this account id (accounts start at 1).
KEYS = 0

# (table, events, the account id of a row or None for KEYS): every write that changes what a cached read
# shows. ``UPDATE OF`` lists the columns the key lookup reads (api_keys and accounts have others that change
# without affecting it).
WATCHED = (
    ("orders", ("INSERT", "UPDATE", "DELETE"), "account_id"),
    ("order_account_options", ("INSERT", "UPDATE", "DELETE"), "account_id"),
    ("api_keys", ("INSERT", "UPDATE OF key_hash, rate_limit, revoked_at", "DELETE"), None),
    ("api_key_accounts", ("INSERT", "UPDATE", "DELETE"), None),
    ("accounts", ("UPDATE OF account_type, timezone", "DELETE"), None),
)

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION read_serials_bump() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    accounts bigint[];
    account bigint;
BEGIN
    IF TG_NARGS > 0 THEN
        accounts := ARRAY[TG_ARGV[0]::bigint];
    ELSIF TG_OP = 'INSERT' THEN
        accounts := ARRAY[NEW.account_id];
    ELSIF TG_OP = 'DELETE' OR NEW.account_id = OLD.account_id THEN
        accounts := ARRAY[OLD.account_id];
    ELSE
        accounts := ARRAY[NEW.account_id, OLD.account_id];
    END IF;
    FOREACH account IN ARRAY accounts LOOP
        -- Once per account and transaction (the mark is transaction-local): one bump is enough to make the
        -- committed value differ from every earlier one.
        IF current_setting('alephee.read_serial_' || account, true) IS DISTINCT FROM 'bumped' THEN
            INSERT INTO read_serials (account_id, serial) VALUES (account, 1)
            ON CONFLICT (account_id) DO UPDATE SET serial = read_serials.serial + 1;
            PERFORM set_config('alephee.read_serial_' || account, 'bumped', true);
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


def _bump_sqlite(account: str) -> str:
    return (
        f"INSERT INTO read_serials (account_id, serial) {account} "
        "ON CONFLICT (account_id) DO UPDATE SET serial = serial + 1;"
    )


def trigger_name(table: str, event: str) -> str:
    """The name of the trigger of ``table`` on ``event``."""
    return f"read_serials_{table}_{event.split()[0].lower()}"


def create_triggers(table: str) -> None:
    """(Re)create the triggers of one watched table (after a migration that recreated it on SQLite)."""
    _, events, column = next(watched for watched in WATCHED if watched[0] == table)
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute(
            f"CREATE TRIGGER {trigger_name(table, 'TRUNCATE')} AFTER TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION read_serials_bump_all()"
        )
    for event in events:
        name = trigger_name(table, event)
        if postgresql:
            argument = "" if column else f"'{KEYS}'"
            op.execute(
                f"CREATE CONSTRAINT TRIGGER {name} AFTER {event} ON {table} DEFERRABLE INITIALLY DEFERRED "
                f"FOR EACH ROW EXECUTE FUNCTION read_serials_bump({argument})"
            )
            continue
        if column is None:
            body = _bump_sqlite(f"VALUES ({KEYS}, 1)")
        elif event == "INSERT":
            body = _bump_sqlite(f"VALUES (NEW.{column}, 1)")
        elif event == "DELETE":
            body = _bump_sqlite(f"VALUES (OLD.{column}, 1)")
        else:  # an update counts for the row's account before and after (a row moved between accounts)
            body = _bump_sqlite(f"VALUES (NEW.{column}, 1)") + _bump_sqlite(
                f"SELECT OLD.{column}, 1 WHERE OLD.{column} <> NEW.{column}"
            )
        op.execute(f"CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN {body} END")


def upgrade() -> None:
    op.create_table(
        "read_serials",
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("serial", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_read_serials")),
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
