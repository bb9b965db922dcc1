"""channels: the connections of accounts to marketplace sellers and the pending OAuth authorizations

Revision ID: 0018_channel_connections
Revises: 0017_order_b2b_reservations
Create Date: 2026-12-04 18:25:00

Two new tables, empty at creation: ``channel_connections`` (one per account and marketplace; tokens stored
encrypted) and ``channel_oauth_states`` (single-use, expiring ``state`` values of authorization attempts).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import alephee.db

revision: str = "0018_channel_connections"
down_revision: str | Sequence[str] | None = "0017_order_b2b_reservations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "channel_connections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("marketplace_id", sa.Integer(), nullable=False),
        sa.Column("connector", sa.String(length=30), nullable=False),
        sa.Column("seller_id", sa.BigInteger(), nullable=True),
        sa.Column("nickname", sa.String(length=120), nullable=True),
        sa.Column("site_id", sa.String(length=8), nullable=True),
        sa.Column("access_token", sa.Text(), nullable=True),
        sa.Column("refresh_token", sa.Text(), nullable=True),
        sa.Column("token_expires_at", alephee.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("refreshing_until", alephee.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_sync_at", alephee.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", alephee.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", alephee.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_channel_connections_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["marketplace_id"], ["marketplaces.id"], name=op.f("fk_channel_connections_marketplace_id_marketplaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_connections")),
        sa.UniqueConstraint(
            "account_id", "marketplace_id", name=op.f("uq_channel_connections_account_id_marketplace_id")
        ),
    )
    op.create_table(
        "channel_oauth_states",
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("marketplace_id", sa.Integer(), nullable=False),
        sa.Column("connector", sa.String(length=30), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=True),
        sa.Column("created_at", alephee.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", alephee.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("used_at", alephee.db.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_channel_oauth_states_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["marketplace_id"], ["marketplaces.id"], name=op.f("fk_channel_oauth_states_marketplace_id_marketplaces")
        ),
        sa.PrimaryKeyConstraint("state", name=op.f("pk_channel_oauth_states")),
    )


def downgrade() -> None:
    op.drop_table("channel_oauth_states")
    op.drop_table("channel_connections")
