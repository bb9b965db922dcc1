"""Operators: create, list, disable, change a password, grant accounts; check a sign-in; which accounts an operator
may see; and the audit rows of what operators do. Functions only flush; the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alephee import clock
from alephee.accounts.models import Account, AuditEntry
from alephee.accounts.service import require_account_row
from alephee.accounts.tokens import EMAIL_PATTERN
from alephee.console import passwords
from alephee.console.models import Operator, OperatorAccount
from alephee.errors import Conflict, InvalidInput, NotFound
from alephee.http.wire import format_utc

# Security events of the console, as the audit log names them.
LOGIN_FAILED = "console_login_failed"
LOGIN_THROTTLED = "console_login_throttled"
LOGIN_OK = "console_login"


class BadOperatorEmail(InvalidInput):
    """Not an e-mail address (400)."""

    message = "The e-mail address is not valid"


class OperatorExists(Conflict):
    """Another operator has this e-mail (409)."""

    message = "An operator with this e-mail already exists"


class OperatorNotFound(NotFound):
    """No operator with this id or e-mail (404)."""

    message = "Operator not found"


class AdminWithAccounts(InvalidInput):
    """``--admin`` and ``--account`` together: an admin sees every account already (400)."""

    message = "An admin sees every account: give either --admin or --account, not both"


class OperatorWithoutAccounts(InvalidInput):
    """An operator who is not an admin needs at least one account (400)."""

    message = "An operator who is not an admin needs at least one --account"


@dataclass(frozen=True, slots=True)
class OperatorView:
    """An operator as the CLI prints it."""

    id: int
    email: str
    is_admin: bool
    disabled: bool
    account_ids: list[int]
    created_at: datetime
    last_login_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        """PascalCase, like every command's output."""
        return {
            "OperatorId": self.id,
            "Email": self.email,
            "Admin": self.is_admin,
            "Disabled": self.disabled,
            "AccountIds": self.account_ids,
            "DateCreated": format_utc(self.created_at),
            "LastLogin": format_utc(self.last_login_at) if self.last_login_at else None,
        }


def normalize_email(raw: str | None) -> str:
    """An e-mail as stored: trimmed, lower-case (refused when it is not an address)."""
    email = (raw or "").strip().lower()
    if len(email) > 254 or not EMAIL_PATTERN.match(email):
        raise BadOperatorEmail
    return email


def create_operator(
    session: Session, email: str, password: str, *, admin: bool = False, account_ids: Sequence[int] = ()
) -> Operator:
    """A new operator: an admin, or one who sees ``account_ids`` only."""
    address = normalize_email(email)
    if admin and account_ids:
        raise AdminWithAccounts
    if not admin and not account_ids:
        raise OperatorWithoutAccounts
    hashed = passwords.hash_password(password)
    if session.scalar(select(Operator.id).where(Operator.email == address)) is not None:
        raise OperatorExists
    for account_id in account_ids:
        require_account_row(session, account_id)
    operator = Operator(email=address, password_hash=hashed, is_admin=admin)
    session.add(operator)
    session.flush()
    for account_id in dict.fromkeys(account_ids):
        session.add(OperatorAccount(operator_id=operator.id, account_id=account_id))
    session.flush()
    return operator


def find_operator(session: Session, key: str) -> Operator:
    """An operator by id (digits) or e-mail."""
    text = key.strip()
    operator = (
        session.get(Operator, int(text))
        if text.isascii() and text.isdigit() and len(text) < 10
        else session.scalar(select(Operator).where(Operator.email == text.lower()))
    )
    if operator is None:
        raise OperatorNotFound
    return operator


def granted_account_ids(session: Session, operator_id: int) -> list[int]:
    """The accounts granted to an operator (not counting an admin's "all")."""
    return list(
        session.scalars(
            select(OperatorAccount.account_id)
            .where(OperatorAccount.operator_id == operator_id)
            .order_by(OperatorAccount.account_id)
        )
    )


def visible_account_ids(session: Session, operator: Operator) -> list[int]:
    """The accounts an operator may see: every account for an admin, the granted ones otherwise."""
    return list(visible_accounts(session, operator))


def visible_accounts(session: Session, operator: Operator) -> dict[int, str]:
    """The accounts an operator may see, id → name, by id."""
    query = select(Account.id, Account.name).order_by(Account.id)
    if not operator.is_admin:
        query = query.join(OperatorAccount, OperatorAccount.account_id == Account.id).where(
            OperatorAccount.operator_id == operator.id
        )
    return {account_id: name for account_id, name in session.execute(query)}


def view(session: Session, operator: Operator) -> OperatorView:
    """The CLI's picture of an operator."""
    return OperatorView(
        id=operator.id,
        email=operator.email,
        is_admin=operator.is_admin,
        disabled=operator.disabled_at is not None,
        account_ids=granted_account_ids(session, operator.id),
        created_at=operator.created_at,
        last_login_at=operator.last_login_at,
    )


def list_operators(session: Session) -> list[OperatorView]:
    """Every operator, oldest first."""
    return [view(session, row) for row in session.scalars(select(Operator).order_by(Operator.id))]


def disable_operator(session: Session, key: str) -> Operator:
    """Disable an operator: their sessions stop at the next request (checked on every page)."""
    operator = find_operator(session, key)
    if operator.disabled_at is None:
        operator.disabled_at = clock.utcnow()
    session.flush()
    return operator


def set_password(session: Session, key: str, password: str) -> Operator:
    """Replace an operator's password (their open sessions stay open)."""
    operator = find_operator(session, key)
    operator.password_hash = passwords.hash_password(password)
    session.flush()
    return operator


def check_credentials(session: Session, email: str | None, password: str | None) -> Operator | None:
    """The enabled operator with this e-mail and password, or None (the same work is done for an unknown
    e-mail). A hash made with older parameters is renewed and the sign-in time recorded."""
    address = (email or "").strip().lower()[:254]
    operator = session.scalar(select(Operator).where(Operator.email == address)) if address else None
    if not passwords.verify(operator.password_hash if operator else None, password or ""):
        return None
    assert operator is not None
    if operator.disabled_at is not None:
        return None
    if passwords.needs_rehash(operator.password_hash):
        operator.password_hash = passwords.hash_password(password or "")
    operator.last_login_at = clock.utcnow()
    session.flush()
    return operator


def count_operators(session: Session) -> int:
    """How many operators exist (the login page says how to create the first one when there is none)."""
    return int(session.scalar(select(func.count(Operator.id))) or 0)


def record(
    session: Session,
    *,
    request_id: str,
    operator_id: int | None,
    account_id: int | None,
    method: str,
    endpoint: str,
    path: str,
    status: int,
    event: str | None = None,
    query: str = "",
) -> None:
    """An audit row for a console action or sign-in attempt (``key_id`` 0: no API key was used). Never holds a
    password."""
    session.add(
        AuditEntry(
            request_id=request_id[:64],
            key_id=0,
            operator_id=operator_id,
            account_id=account_id,
            method=method[:8],
            endpoint=endpoint[:80],
            path=path[:300],
            status=status,
            items=0,
            duration_ms=0,
            event=event,
            query=query[:500],
        )
    )
    session.flush()
