"""orders: indexes of the per-account document storage quota

Revision ID: 0015_doc_quota
Revises: 0014
Create Date: 2026-12-04 13:00:00

The bytes an account stored (order documents plus message attachments) are summed when a new file is about to
be stored (orders/document_quota.py); these indexes answer the two sums from the index alone instead of
reading every document row of the hub. On a large PostgreSQL table create them CONCURRENTLY by hand first
(docs/operations.md, Deploying and migrating): this migration then skips them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_doc_quota"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# name: (table, columns)
INDEXES = {
    "ix_order_documents_account": ("order_documents", ["account_id", "size"]),
    "ix_order_messages_account_attachment": ("order_messages", ["account_id", "attachment_size"]),
}


def _indexes(table: str) -> set[str]:
    return {index["name"] for index in sa.inspect(op.get_bind()).get_indexes(table)}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        if name not in _indexes(table):
            op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, (table, _columns) in INDEXES.items():
        op.drop_index(name, table_name=table)
