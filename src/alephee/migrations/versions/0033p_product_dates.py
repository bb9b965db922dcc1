"""products: the indexed copy of ``date_updated`` moves to ``product_dates`` on PostgreSQL, written by triggers

Revision ID: 0033p_product_dates
Revises: 0033c_order_payments
Create Date: 2026-12-05 07:40:00

Every product write changes ``date_updated``. While ``products`` indexed it (for the ``dateUpdatedFrom``
filter), no product update could be a HOT update on PostgreSQL: each one wrote an entry in all ten indexes of
the table. On PostgreSQL ``product_dates`` (product id, account, date) now holds the indexed copy; ``products``
keeps the column (what reads show) without an index, so an update that changes no other indexed column (stock,
fiscal data, listing data) rewrites the row on its page and touches no index.

Triggers keep the copy, not application code: every writer is covered, whatever it runs (ORM flushes, bulk
statements over arrays, plain SQL, another process). They are statement-level triggers over the transition
tables (one INSERT or UPDATE of the copies per statement, whatever its row count); the copies whose date and
account are unchanged are not rewritten. Deletes (and an id change, which no code makes) reach the copies
through the foreign key.

SQLite has no HOT updates to win and a copy written by row triggers cost it more than the index (≈ 30 % more
CPU for a batch's plain writes, docs/performance.md): there ``product_dates`` is a view of ``products``, whose
``date_updated`` index stays. The filter reads ``product_dates`` on both.

``products`` and ``product_prices`` (whose updates change no indexed column either) get ``fillfactor = 70`` on
PostgreSQL: the room a HOT update needs on the row's page. It applies to pages written from now on (a new
database, or after ``VACUUM FULL``); a full page makes room as its old row versions are pruned.

On SQLite a later migration that recreates ``products`` (``batch_alter_table``) must drop the view first and
run ``create_view`` after (SQLite refuses to rename a table while a view names a missing one).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import alephee.db

revision: str = "0033p_product_dates"
down_revision: str | Sequence[str] | None = "0033c_order_payments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Tables whose updates can be HOT (no indexed column changes), given room on the row's page, and how full
# their pages are written. 70: PostgreSQL then prunes a page's dead versions while room is left (it tries below
# the fill factor's free space); at 90 only 57 % of a fresh catalog's product updates were HOT, at 70 97 %.
FILLED = ("products", "product_prices")
FILLFACTOR = 70

# The row count up to which an update's copies are written with a plan made once per session.
SMALL_STATEMENT = 64
_UPDATE_COPIES = (
    "UPDATE product_dates AS d SET account_id = n.account_id, date_updated = n.date_updated"
    " FROM new_products AS n WHERE d.product_id = n.id"
    " AND (d.account_id, d.date_updated) IS DISTINCT FROM (n.account_id, n.date_updated)"
)

# The triggers of products that write the copies, by event.
TRIGGERS = {"INSERT": "product_dates_insert", "UPDATE": "product_dates_update"}

_PG_INSERT = """
CREATE OR REPLACE FUNCTION product_dates_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO product_dates (product_id, account_id, date_updated)
    SELECT id, account_id, date_updated FROM new_products;
    RETURN NULL;
END $$
"""

# A statement of a few rows (one product's stock move, an ORM flush) runs a static UPDATE, whose plan PL/pgSQL
# makes once per session (index probes) and reuses: re-planning it for every such statement would cost more
# than the write. A larger one runs it through EXECUTE, planned from its transition table's real row count (a
# plan cached from another size would be wrong: a loop of probes over the whole catalog, or a hash join reading
# every copy for one row). An id change (never made by the hub) reaches the copy through the foreign key's
# ON UPDATE CASCADE before this runs.
_PG_UPDATE = f"""
CREATE OR REPLACE FUNCTION product_dates_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(*) FROM new_products) <= {SMALL_STATEMENT} THEN
        {_UPDATE_COPIES};
    ELSE
        EXECUTE '{_UPDATE_COPIES}';
    END IF;
    RETURN NULL;
END $$
"""

# On SQLite: the filter's reads go to the products index through it.
_SQLITE_VIEW = "CREATE VIEW product_dates AS SELECT id AS product_id, account_id, date_updated FROM products"


def create_view() -> None:
    """(Re)create SQLite's ``product_dates`` view (after a migration that recreated ``products``)."""
    op.execute(_SQLITE_VIEW)


def _create_triggers() -> None:
    op.execute(_PG_INSERT)
    op.execute(_PG_UPDATE)
    for event, name in TRIGGERS.items():
        # Transition tables need one trigger per event and no column list.
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON products REFERENCING NEW TABLE AS new_products"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        create_view()
        return
    op.create_table(
        "product_dates",
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("date_updated", alephee.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_product_dates_product_id_products"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("product_id", name=op.f("pk_product_dates")),
    )
    op.execute(
        "INSERT INTO product_dates (product_id, account_id, date_updated)"
        " SELECT id, account_id, date_updated FROM products"
    )
    # Built after the copy: one sort instead of a hundred thousand insertions.
    op.create_index(
        op.f("ix_product_dates_account_id_date_updated"), "product_dates", ["account_id", "date_updated"], unique=False
    )
    _create_triggers()
    op.drop_index("ix_products_account_id_date_updated", table_name="products")
    for table in FILLED:
        op.execute(f"ALTER TABLE {table} SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP VIEW IF EXISTS product_dates")
        return
    for name in TRIGGERS.values():
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON products")
        op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    for table in FILLED:
        op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
    op.create_index("ix_products_account_id_date_updated", "products", ["account_id", "date_updated"], unique=False)
    op.drop_index(op.f("ix_product_dates_account_id_date_updated"), table_name="product_dates")
    op.drop_table("product_dates")
