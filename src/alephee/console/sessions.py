"""Console sessions: open one after a checked sign-in, find the operator behind a cookie (with the accounts they
may see), CSRF, the one-shot flash message. Functions only flush; the console routes own the transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from alephee import clock
from alephee.config import Settings
from alephee.console.models import ConsoleSession, Operator
from alephee.console.operators import visible_accounts
from alephee.errors import Forbidden, NotFound, Unauthorized
from alephee.http import pages
from alephee.http.i18n import N_
from alephee.http.pages import MAX_COOKIE, Flash, csrf_matches, digest, new_secret

SESSION_REQUIRED = N_("Please sign in")
CSRF_FAILED = N_("The form expired: reload the page and try again")
ACCOUNT_NOT_VISIBLE = N_("Not found")


class SessionRequired(Unauthorized):
    """No valid console session (the page sends the browser to the sign-in form)."""

    message = SESSION_REQUIRED


class CsrfFailed(Forbidden):
    """A POST without this session's form token (403)."""

    message = CSRF_FAILED


class AccountNotVisible(NotFound):
    """An account (or an object of one) the operator was not granted: 404, as if it did not exist."""

    message = ACCOUNT_NOT_VISIBLE


@dataclass(frozen=True, slots=True)
class ConsoleViewer:
    """The signed-in operator of a request and the accounts they may see (every account for an admin)."""

    session_id: int
    operator_id: int
    email: str
    is_admin: bool
    account_ids: tuple[int, ...]
    csrf_token: str
    expires_at: datetime
    flash: Flash | None = None
    # The visible accounts' names, by id (for pickers and headings).
    account_names: dict[int, str] = field(default_factory=dict)

    def name_of(self, account_id: int | None) -> str:
        """A visible account's name ("" when unknown)."""
        return self.account_names.get(account_id, "") if account_id is not None else ""

    def sees(self, account_id: int | None) -> bool:
        """Whether the operator may see ``account_id``."""
        return account_id is not None and account_id in self.account_ids

    def require(self, account_id: int | None) -> int:
        """``account_id`` when visible, else ``AccountNotVisible`` (404)."""
        if account_id is None or not self.sees(account_id):
            raise AccountNotVisible
        return account_id


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session just opened: the cookie value (known only here) and its lifetime."""

    cookie: str
    ttl_seconds: int


def open_session(
    session: Session, settings: Settings, operator: Operator, *, previous: str | None = None
) -> NewSession:
    """A new session for a checked operator; the browser's previous one (if any) ends (no fixation)."""
    end_session(session, previous)
    now = clock.precise_utcnow()
    session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= now))
    cookie = new_secret()
    ttl = max(60, settings.console_session_ttl_seconds)
    session.add(
        ConsoleSession(
            token_hash=digest(cookie),
            operator_id=operator.id,
            csrf_token=new_secret(),
            created_at=now,
            expires_at=now + timedelta(seconds=ttl),
        )
    )
    session.flush()
    return NewSession(cookie=cookie, ttl_seconds=ttl)


def end_session(session: Session, cookie: str | None) -> None:
    """Sign out: forget the session behind ``cookie`` (nothing happens for an unknown cookie)."""
    if cookie and len(cookie) <= MAX_COOKIE:
        session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == digest(cookie)))


def authenticate(session: Session, cookie: str | None) -> ConsoleViewer | None:
    """The operator behind a cookie, or None (unknown, expired, operator disabled)."""
    if not cookie or len(cookie) > MAX_COOKIE:
        return None
    row = session.execute(
        select(ConsoleSession, Operator)
        .join(Operator, Operator.id == ConsoleSession.operator_id)
        .where(ConsoleSession.token_hash == digest(cookie))
    ).first()
    if row is None:
        return None
    console_session, operator = row
    if console_session.expires_at <= clock.precise_utcnow() or operator.disabled_at is not None:
        return None
    visible = visible_accounts(session, operator)
    flash = None
    if console_session.flash_text:
        flash = Flash(console_session.flash_level or "ok", console_session.flash_text)
    return ConsoleViewer(
        session_id=console_session.id,
        operator_id=operator.id,
        email=operator.email,
        is_admin=operator.is_admin,
        account_ids=tuple(visible),
        csrf_token=console_session.csrf_token,
        expires_at=console_session.expires_at,
        flash=flash,
        account_names=visible,
    )


def require_viewer(session: Session, cookie: str | None) -> ConsoleViewer:
    """``authenticate`` or ``SessionRequired``."""
    viewer = authenticate(session, cookie)
    if viewer is None:
        raise SessionRequired
    return viewer


def check_csrf(viewer: ConsoleViewer, submitted: str | None) -> None:
    """Every POST form carries the session's token."""
    if not csrf_matches(viewer.csrf_token, submitted):
        raise CsrfFailed


def set_flash(session: Session, viewer: ConsoleViewer, level: str, text: str) -> None:
    """Leave a message for the next page (same transaction as the action)."""
    pages.set_flash(session, ConsoleSession, viewer.session_id, level, text)


def pop_flash(session: Session, viewer: ConsoleViewer) -> None:
    """Clear the message the page is about to show."""
    pages.pop_flash(session, ConsoleSession, viewer.session_id, viewer.flash)
