"""webhook secrets encrypted

Widens ``webhook_subscriptions.secret`` so it holds the encrypted form of a secret (``enc:v1:`` + a Fernet
token: up to 363 characters for the longest, 200-character secret). Schema only: rows stored in clear stay
readable and are encrypted lazily by the application (after their next successful delivery, or all at once by
``alephee webhook rekey``), so this migration never needs the master key (docs/webhooks.md, Secrets at rest).

Revision ID: 0012
Revises: 0010
Create Date: 2026-11-27 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_subscriptions", schema=None) as batch_op:
        batch_op.alter_column(
            "secret", existing_type=sa.String(length=200), type_=sa.String(length=512), existing_nullable=False
        )


def downgrade() -> None:
    # On PostgreSQL this fails (rather than truncating) while a longer ciphertext is stored. Either way the
    # code of the previous revision would sign with the ciphertext: its integrators need new webhooks.
    with op.batch_alter_table("webhook_subscriptions", schema=None) as batch_op:
        batch_op.alter_column(
            "secret", existing_type=sa.String(length=512), type_=sa.String(length=200), existing_nullable=False
        )
