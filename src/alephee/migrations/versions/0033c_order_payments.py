"""order_payments: the orders' payment ids, indexed, so a claim on a payment finds its order

Revision ID: 0033c_order_payments
Revises: 0032m_post_sale_checked
Create Date: 2026-12-05 07:40:00

A new table filled from the stored order documents (``Payments[].ExternalPaymentId``, distinct non-empty ids of
at most 100 characters, as ``orders.payment_ids`` keeps them; the rule is copied here as it is at this revision:
a migration must not change with later code). Orders are read in batches by id and each batch's rows are
inserted with one statement. The downgrade drops the table (the documents still hold the ids).
"""

from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

revision: str = "0033c_order_payments"
down_revision: str | Sequence[str] | None = "0032m_post_sale_checked"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000
MAX_ID_LENGTH = 100


def payment_ids(detail_json: str | None) -> list[str]:
    """The distinct non-empty payment ids of one stored order document, in their order."""
    try:
        detail = orjson.loads(detail_json or "{}")
    except orjson.JSONDecodeError:
        return []
    payments = detail.get("Payments") if isinstance(detail, dict) else None
    found: dict[str, None] = {}
    for payment in payments if isinstance(payments, list) else []:
        value = payment.get("ExternalPaymentId") if isinstance(payment, dict) else None
        text = str(value).strip() if value is not None else ""
        if text and len(text) <= MAX_ID_LENGTH:
            found[text] = None
    return list(found)


def backfill(bind: Any) -> int:
    """Insert the rows of every stored order (batches by id); how many rows were inserted."""
    select_batch = sa.text(
        "SELECT id, account_id, marketplace_id, detail FROM orders WHERE id > :last ORDER BY id LIMIT :batch"
    )
    write = sa.text(
        "INSERT INTO order_payments (order_id, external_payment_id, account_id, marketplace_id)"
        " VALUES (:order_id, :external_payment_id, :account_id, :marketplace_id)"
    )
    last, inserted = 0, 0
    while True:
        batch = bind.execute(select_batch, {"last": last, "batch": BATCH}).all()
        if not batch:
            return inserted
        last = batch[-1][0]
        rows = [
            {"order_id": order_id, "external_payment_id": value, "account_id": account, "marketplace_id": channel}
            for order_id, account, channel, detail in batch
            for value in payment_ids(detail)
        ]
        if rows:
            bind.execute(write, rows)
            inserted += len(rows)


def upgrade() -> None:
    op.create_table(
        "order_payments",
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("external_payment_id", sa.String(length=100), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("marketplace_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("order_id", "external_payment_id"),
    )
    op.create_index(
        "ix_order_payments_lookup",
        "order_payments",
        ["account_id", "marketplace_id", "external_payment_id", "order_id"],
    )
    backfill(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_order_payments_lookup", table_name="order_payments")
    op.drop_table("order_payments")
