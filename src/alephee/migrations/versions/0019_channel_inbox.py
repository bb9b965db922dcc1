"""channels: the inbox of marketplace notifications, the category mappings, and where a connection's API is

Revision ID: 0019_channel_inbox
Revises: 0018_channel_connections
Create Date: 2026-12-04 19:21:23

Two new tables, empty at creation (``channel_notifications``, ``channel_category_mappings``) and one nullable
column on ``channel_connections`` (``api_base``, null = the configured API): nothing to backfill.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import alephee.db

revision: str = "0019_channel_inbox"
down_revision: str | Sequence[str] | None = "0018_channel_connections"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "channel_category_mappings",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("marketplace_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=300), nullable=False),
        sa.Column("external_category_id", sa.String(length=40), nullable=False),
        sa.Column("external_category_name", sa.String(length=200), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("updated_at", alephee.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_channel_category_mappings_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["marketplace_id"],
            ["marketplaces.id"],
            name=op.f("fk_channel_category_mappings_marketplace_id_marketplaces"),
        ),
        sa.PrimaryKeyConstraint("account_id", "marketplace_id", "category", name=op.f("pk_channel_category_mappings")),
    )
    op.create_table(
        "channel_notifications",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("connector", sa.String(length=30), nullable=False),
        sa.Column("topic", sa.String(length=60), nullable=False),
        sa.Column("resource", sa.String(length=300), nullable=False),
        sa.Column("seller_id", sa.String(length=40), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("marketplace_id", sa.Integer(), nullable=True),
        sa.Column("actions", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("received_count", sa.Integer(), nullable=False),
        sa.Column("available_at", alephee.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("locked_by", sa.String(length=80), nullable=True),
        sa.Column("locked_until", alephee.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("received_at", alephee.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("processed_at", alephee.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_channel_notifications_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["marketplace_id"], ["marketplaces.id"], name=op.f("fk_channel_notifications_marketplace_id_marketplaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_notifications")),
        sa.UniqueConstraint(
            "connector", "topic", "resource", name=op.f("uq_channel_notifications_connector_topic_resource")
        ),
    )
    with op.batch_alter_table("channel_notifications", schema=None) as batch_op:
        batch_op.create_index("ix_channel_notifications_status_available_at", ["status", "available_at"], unique=False)

    with op.batch_alter_table("channel_connections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("api_base", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("channel_connections", schema=None) as batch_op:
        batch_op.drop_column("api_base")

    with op.batch_alter_table("channel_notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_channel_notifications_status_available_at")

    op.drop_table("channel_notifications")
    op.drop_table("channel_category_mappings")
