"""Searching the audit log for the Audit page: by account, who (an API key or a console operator), what (an
endpoint name, or security events only), when (a time range), newest first, offset-paged, each row with the
operator's e-mail or the key's label and prefix (read in the same query). Every filter rides an index of
``audit_log`` (account/operator/key with ``id``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alephee.accounts.models import ApiKey, AuditEntry
from alephee.console.models import Operator


@dataclass(frozen=True, slots=True)
class AuditFilters:
    """What to look for; ``account_ids`` bounds the search (the accounts the reader may see), ``include_unbound``
    adds rows of no account (sign-in attempts: only for readers who see every account)."""

    account_ids: Sequence[int]
    include_unbound: bool = False
    account_id: int | None = None
    key_id: int | None = None
    operator_id: int | None = None
    endpoint: str | None = None
    security_only: bool = False
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuditRow:
    """An audit entry and who made it: the operator's e-mail, or the API key's label and prefix (None when the
    operator or key no longer exists, or the row has none)."""

    entry: AuditEntry
    operator_email: str | None
    key_label: str | None
    key_prefix: str | None


@dataclass(frozen=True, slots=True)
class AuditPage:
    """One page of matching rows and how many match in all."""

    total: int
    rows: list[AuditRow]


def search_audit(session: Session, filters: AuditFilters, *, offset: int, limit: int) -> AuditPage:
    """The rows matching ``filters``, newest first."""
    bound = AuditEntry.account_id.in_(list(filters.account_ids))
    conditions = [bound | AuditEntry.account_id.is_(None) if filters.include_unbound else bound]
    if filters.account_id is not None:
        conditions.append(AuditEntry.account_id == filters.account_id)
    if filters.key_id is not None:
        conditions.append(AuditEntry.key_id == filters.key_id)
    if filters.operator_id is not None:
        conditions.append(AuditEntry.operator_id == filters.operator_id)
    if filters.endpoint:
        conditions.append(AuditEntry.endpoint.startswith(filters.endpoint[:80], autoescape=True))
    if filters.security_only:
        conditions.append(AuditEntry.event.is_not(None))
    if filters.since is not None:
        conditions.append(AuditEntry.created_at >= filters.since)
    if filters.until is not None:
        conditions.append(AuditEntry.created_at < filters.until)
    total = session.scalar(select(func.count(AuditEntry.id)).where(*conditions)) or 0
    # Who, in the same query: outer joins on primary keys (an operator row has key_id 0, which no key has).
    rows = session.execute(
        select(AuditEntry, Operator.email, ApiKey.label, ApiKey.key_prefix)
        .outerjoin(Operator, Operator.id == AuditEntry.operator_id)
        .outerjoin(ApiKey, ApiKey.id == AuditEntry.key_id)
        .where(*conditions)
        .order_by(AuditEntry.id.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return AuditPage(
        total=int(total), rows=[AuditRow(entry, email, label, prefix) for entry, email, label, prefix in rows]
    )
