"""The console's deliveries: the outbox rows going to the marketplaces and the webhook deliveries (the outbox
rows of ``webhook.*`` topics), with status, attempts, last error and payload; retrying one or every failed row
(``marketplaces.outbox.retry``, what ``alephee outbox retry`` runs); and the marketplaces' notification inbox."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alephee.console.health import AccountScope, in_scope
from alephee.errors import InvalidInput
from alephee.http.i18n import N_
from alephee.marketplaces import outbox
from alephee.marketplaces.models import ChannelNotification, OutboxMessage
from alephee.webhooks.events import TOPIC_PREFIX as WEBHOOK_TOPIC_PREFIX

PAGE_SIZE = 50
# Which deliveries a page lists: to the marketplaces, or to the integrators' webhooks.
KIND_MARKETPLACE = "marketplace"
KIND_WEBHOOK = "webhook"
KINDS = (KIND_MARKETPLACE, KIND_WEBHOOK)
NOTICE_STATUSES = ("pending", "in_flight", "done", "failed")


class BadDeliveryFilter(InvalidInput):
    """A filter value the deliveries page does not offer."""

    message = N_("Unknown delivery filter value")


@dataclass(frozen=True, slots=True)
class DeliveryFilters:
    """The deliveries page's filters; None = any."""

    kind: str = KIND_MARKETPLACE
    status: str | None = None
    account_id: int | None = None
    offset: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS or (self.status is not None and self.status not in outbox.STATUSES):
            raise BadDeliveryFilter()
        if self.offset < 0:
            raise BadDeliveryFilter()


def _kind(kind: str) -> object:
    webhook = OutboxMessage.topic.startswith(WEBHOOK_TOPIC_PREFIX)
    return webhook if kind == KIND_WEBHOOK else ~webhook


def find_deliveries(
    session: Session, accounts: AccountScope, filters: DeliveryFilters
) -> tuple[int, list[OutboxMessage]]:
    """The total and one page (newest first) of the operator's outbox rows of that kind."""
    conds = [in_scope(OutboxMessage.account_id, accounts), _kind(filters.kind)]
    if filters.status is not None:
        conds.append(OutboxMessage.status == filters.status)
    if filters.account_id is not None:
        conds.append(OutboxMessage.account_id == filters.account_id)
    total = session.scalar(select(func.count()).select_from(OutboxMessage).where(*conds)) or 0
    rows = session.scalars(
        select(OutboxMessage).where(*conds).order_by(OutboxMessage.id.desc()).offset(filters.offset).limit(PAGE_SIZE)
    )
    return total, list(rows)


def scoped_delivery(session: Session, accounts: AccountScope, message_id: int) -> OutboxMessage:
    """The outbox row when it belongs to one of the operator's accounts (else the 404 of ``outbox.retry``)."""
    row = session.get(OutboxMessage, message_id)
    if row is None or (accounts is not None and row.account_id not in accounts):
        raise outbox.OutboxMessageNotFound(outbox.ERR_NOT_FOUND.format(message_id))
    return row


def retry_one(session: Session, accounts: AccountScope, message_id: int) -> list[int]:
    """Put one failed row of the operator's back in the queue (409 when it is not failed)."""
    row = scoped_delivery(session, accounts, message_id)
    return outbox.retry(session, row.id, account_id=row.account_id)


def retry_failed(session: Session, accounts: AccountScope, kind: str) -> list[int]:
    """Put every failed row of that kind of the operator's accounts back in the queue; their ids."""
    if kind not in KINDS:
        raise BadDeliveryFilter()
    ids = session.scalars(
        select(OutboxMessage.id).where(
            in_scope(OutboxMessage.account_id, accounts), _kind(kind), OutboxMessage.status == "failed"
        )
    ).all()
    retried: list[int] = []
    for message_id in ids:
        retried.extend(outbox.retry(session, message_id))
    return retried


def find_notices(
    session: Session, accounts: AccountScope, status: str | None, offset: int = 0
) -> tuple[int, list[ChannelNotification]]:
    """The total and one page (newest first) of the inbox's notifications of the operator's accounts."""
    if (status is not None and status not in NOTICE_STATUSES) or offset < 0:
        raise BadDeliveryFilter()
    conds = [in_scope(ChannelNotification.account_id, accounts)]
    if accounts is not None:
        conds.append(ChannelNotification.account_id.is_not(None))
    if status is not None:
        conds.append(ChannelNotification.status == status)
    total = session.scalar(select(func.count()).select_from(ChannelNotification).where(*conds)) or 0
    rows = session.scalars(
        select(ChannelNotification)
        .where(*conds)
        .order_by(ChannelNotification.received_at.desc(), ChannelNotification.id.desc())
        .offset(offset)
        .limit(PAGE_SIZE)
    )
    return total, list(rows)
