"""marketplace_questions and marketplace_claims: buyers' pre-sale questions and the claims on the seller's sales

Revision ID: 0031e_questions_claims
Revises: 0030r_read_serials
Create Date: 2026-12-05 04:30:00

Two new tables, filled from the marketplaces' notifications and backstop searches; nothing to backfill.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import alephee.db

revision: str = "0031e_questions_claims"
down_revision: str | Sequence[str] | None = "0031a_listing_kept_states"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "marketplace_questions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("marketplace_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=40), nullable=False),
        sa.Column("item_id", sa.String(length=40), nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=True),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("buyer_id", sa.BigInteger(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("hold", sa.Boolean(), nullable=False),
        sa.Column("date_created", alephee.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("answer_text", sa.Text(), nullable=True),
        sa.Column("answer_status", sa.String(length=16), nullable=True),
        sa.Column("answer_date", alephee.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("answer_state", sa.String(length=16), nullable=True),
        sa.Column("answer_error", sa.Text(), nullable=True),
        sa.Column("updated_at", alephee.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["marketplace_id"], ["marketplaces.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "marketplace_id", "external_id", name="uq_marketplace_questions_external"),
    )
    op.create_index(
        "ix_marketplace_questions_list",
        "marketplace_questions",
        ["account_id", "marketplace_id", "status", "date_created"],
    )
    op.create_table(
        "marketplace_claims",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("marketplace_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("resource", sa.String(length=16), nullable=True),
        sa.Column("resource_id", sa.String(length=40), nullable=True),
        sa.Column("type", sa.String(length=24), nullable=True),
        sa.Column("stage", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason_id", sa.String(length=24), nullable=True),
        sa.Column("resolution_reason", sa.String(length=64), nullable=True),
        sa.Column("date_created", alephee.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_updated", alephee.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("refund_recorded", sa.Boolean(), nullable=False),
        sa.Column("raw", sa.JSON(), nullable=True),
        sa.Column("updated_at", alephee.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["marketplace_id"], ["marketplaces.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "marketplace_id", "external_id", name="uq_marketplace_claims_external"),
    )
    op.create_index(
        "ix_marketplace_claims_list", "marketplace_claims", ["account_id", "marketplace_id", "status", "date_created"]
    )
    op.create_index("ix_marketplace_claims_order", "marketplace_claims", ["order_id"])


def downgrade() -> None:
    op.drop_index("ix_marketplace_claims_order", table_name="marketplace_claims")
    op.drop_index("ix_marketplace_claims_list", table_name="marketplace_claims")
    op.drop_table("marketplace_claims")
    op.drop_index("ix_marketplace_questions_list", table_name="marketplace_questions")
    op.drop_table("marketplace_questions")
