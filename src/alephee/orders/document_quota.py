"""The per-account storage quota of documents and message attachments (``ALEPHEE_DOCUMENTS_QUOTA_BYTES``).

Usage is what the account's rows say it stored: the size of every order document plus every message
attachment (the same bytes attached to two orders count twice, as two documents the account keeps). It is
summed from the indexes ``ix_order_documents_account`` and ``ix_order_messages_account_attachment`` when a
new file is about to be stored; a retry of an upload already stored never gets here and costs nothing.
"""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from alephee.config import Settings
from alephee.errors import PayloadTooLarge
from alephee.orders.models import OrderDocument, OrderMessage


class QuotaExceeded(PayloadTooLarge):
    """The account's document storage quota would be exceeded (413)."""

    message = (
        "The account's document storage is full: {used} of {quota} bytes used, the file needs {size}. "
        "Nothing was stored"
    )


# Namespace of the PostgreSQL advisory lock that serialises an account's uploads (any constant of our own).
_LOCK_NAMESPACE = 0x0D0C


def used_bytes(session: Session, account_id: int) -> int:
    """Bytes of documents and message attachments the account has stored."""
    documents = select(func.coalesce(func.sum(OrderDocument.size), 0)).where(OrderDocument.account_id == account_id)
    attachments = select(func.coalesce(func.sum(OrderMessage.attachment_size), 0)).where(
        OrderMessage.account_id == account_id
    )
    return int(session.scalar(documents) or 0) + int(session.scalar(attachments) or 0)


def reserve(session: Session, settings: Settings, account_id: int, size: int) -> None:
    """Refuse (413, nothing stored) a new file of ``size`` bytes that would take the account over its quota.

    Call it in the write transaction that stores the file, right before storing it. On PostgreSQL the account's
    uploads are serialised until that transaction ends, so two uploads at once cannot both fit in the last
    free bytes; SQLite writers are serialised already (BEGIN IMMEDIATE).
    """
    quota = settings.documents_quota_bytes
    if quota <= 0:
        return
    if session.get_bind().dialect.name == "postgresql":
        lock = text("SELECT pg_advisory_xact_lock(:space, :account)")
        session.execute(lock, {"space": _LOCK_NAMESPACE, "account": account_id})
    used = used_bytes(session, account_id)
    if used + size > quota:
        raise QuotaExceeded(QuotaExceeded.message.format(used=used, quota=quota, size=size))
