"""Portal sessions: sign-in with a module-1 login token (CF-10.5.4), the browser session behind the cookie,
the CSRF token of every form, and the one-shot flash message. Functions only flush; the portal routes own the
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from alephee import clock
from alephee.accounts import tokens
from alephee.accounts.models import Account, User
from alephee.config import Settings
from alephee.errors import Forbidden, Unauthorized
from alephee.http import i18n, pages
from alephee.http.i18n import N_
from alephee.http.pages import Flash, csrf_matches, digest, new_secret
from alephee.portal.models import PortalCartItem, PortalSession

# The portal speaks Spanish, like the account's buyers (PRT-38), unless the language switch says otherwise: a
# browser's Accept-Language is not consulted.
DEFAULT_LANGUAGE = "es"

# Catalog msgids: the pages show them in the portal's language (Spanish unless switched, PRT-38).
LINK_INVALID = N_("The access link is not valid.")
LINK_EXPIRED = N_("The access link was already used or expired.")
ACCESS_DISABLED = N_("Your access to the B2B portal is not enabled. Ask your supplier.")
SESSION_REQUIRED = N_("Your session ended or is not valid.")
CSRF_FAILED = N_("The form expired. Reload the page and try again.")


class LoginLinkRefused(Unauthorized):
    """The login link cannot open a session; ``expired`` when it existed but was used or timed out (410)."""

    def __init__(self, *, expired: bool) -> None:
        super().__init__(LINK_EXPIRED if expired else LINK_INVALID)
        self.expired = expired


class AccessDisabled(Forbidden):
    """The user or the account's portal is not enabled."""

    message = ACCESS_DISABLED


class SessionRequired(Unauthorized):
    """No valid portal session."""

    message = SESSION_REQUIRED


class CsrfFailed(Forbidden):
    """A POST without this session's form token."""

    message = CSRF_FAILED


# --- sessions ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in portal user of a request."""

    session_id: int
    account_id: int
    user_id: int
    email: str
    name: str | None
    account_name: str
    timezone: str | None
    csrf_token: str
    expires_at: datetime
    flash: Flash | None = None
    cart_units: int = 0
    # The language of the page being served (the routes set it from the switch cookie).
    language: str = DEFAULT_LANGUAGE

    @property
    def display_name(self) -> str:
        """Name, else e-mail."""
        return self.name or self.email

    def say(self, message: str, **values: object) -> str:
        """``message`` (a msgid) in the viewer's language, filled with ``values``."""
        text = i18n.translations(self.language).gettext(message)
        return text.format(**values) if values else text

    def say_count(self, one: str, many: str, count: int, **values: object) -> str:
        """``say`` of the msgid for exactly one thing or for any other ``count`` (the rule of both languages)."""
        return self.say(one if count == 1 else many, **values)


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session just opened: the cookie value (known only here) and its expiry."""

    cookie: str
    expires_at: datetime
    ttl_seconds: int


def _user_allowed(user: User | None, account: Account | None, account_id: int) -> bool:
    return (
        user is not None
        and account is not None
        and user.account_id == account_id
        and user.active
        and user.deleted_at is None
        and account.b2b_portal_enabled
    )


def sign_in(session: Session, settings: Settings, token: str | None, *, previous: str | None = None) -> NewSession:
    """Consume a module-1 login token and open a session for its user (flushes; the caller commits, also when
    this raises: the refusals below leave the browser's previous session ended and the token consumed).

    Whatever the outcome, a session the browser already had (``previous`` cookie) ends: a link is the only
    way in, and a refused link must leave the browser signed out. A consumed token stays consumed even when
    the user turns out to be disabled.
    """
    try:
        consumed = tokens.consume_login_token(session, (token or "")[:200], module=tokens.MODULE_B2B)
    except Unauthorized as exc:
        _end(session, previous)
        raise LoginLinkRefused(expired=isinstance(exc, (tokens.TokenUsed, tokens.TokenExpired))) from None
    _end(session, previous)
    user = session.get(User, consumed.user_id) if consumed.user_id is not None else None
    account = session.get(Account, consumed.account_id)
    if not _user_allowed(user, account, consumed.account_id):
        session.flush()
        raise AccessDisabled
    assert user is not None
    now = clock.precise_utcnow()
    session.execute(delete(PortalSession).where(PortalSession.expires_at <= now))
    cookie = new_secret()
    ttl = max(60, settings.portal_session_ttl_seconds)
    expires = now + timedelta(seconds=ttl)
    session.add(
        PortalSession(
            token_hash=digest(cookie),
            account_id=consumed.account_id,
            user_id=user.id,
            csrf_token=new_secret(),
            created_at=now,
            expires_at=expires,
        )
    )
    session.flush()
    return NewSession(cookie=cookie, expires_at=expires, ttl_seconds=ttl)


def _end(session: Session, cookie: str | None) -> None:
    if cookie and len(cookie) <= 200:
        session.execute(delete(PortalSession).where(PortalSession.token_hash == digest(cookie)))


def end_session(session: Session, cookie: str | None) -> None:
    """Sign out: forget the session behind ``cookie`` (nothing happens for an unknown cookie)."""
    _end(session, cookie)


def authenticate(session: Session, cookie: str | None) -> Viewer | None:
    """The viewer behind a session cookie, or None (unknown, expired, user or portal disabled)."""
    if not cookie or len(cookie) > 200:
        return None
    row = session.execute(
        select(PortalSession, User, Account)
        .join(User, User.id == PortalSession.user_id)
        .join(Account, Account.id == PortalSession.account_id)
        .where(PortalSession.token_hash == digest(cookie))
    ).first()
    if row is None:
        return None
    portal_session, user, account = row
    if portal_session.expires_at <= clock.precise_utcnow() or not _user_allowed(user, account, account.id):
        return None
    units = session.scalar(
        select(func.coalesce(func.sum(PortalCartItem.quantity), 0)).where(
            PortalCartItem.user_id == user.id, PortalCartItem.account_id == account.id
        )
    )
    flash = None
    if portal_session.flash_text:
        flash = Flash(portal_session.flash_level or "ok", portal_session.flash_text)
    return Viewer(
        session_id=portal_session.id,
        account_id=account.id,
        user_id=user.id,
        email=user.email,
        name=user.name,
        account_name=account.name,
        timezone=account.timezone,
        csrf_token=portal_session.csrf_token,
        expires_at=portal_session.expires_at,
        flash=flash,
        cart_units=int(units or 0),
    )


def require_viewer(session: Session, cookie: str | None, language: str = DEFAULT_LANGUAGE) -> Viewer:
    """``authenticate`` or ``SessionRequired``; the viewer's messages speak ``language``."""
    viewer = authenticate(session, cookie)
    if viewer is None:
        raise SessionRequired
    return viewer if language == viewer.language else replace(viewer, language=language)


def check_csrf(viewer: Viewer, submitted: str | None) -> None:
    """Every POST form carries the session's token (compared in constant time)."""
    if not csrf_matches(viewer.csrf_token, submitted):
        raise CsrfFailed


def set_flash(session: Session, viewer: Viewer, level: str, text: str) -> None:
    """Leave a message for the next page (same transaction as the action)."""
    pages.set_flash(session, PortalSession, viewer.session_id, level, text)


def pop_flash(session: Session, viewer: Viewer) -> None:
    """Clear the message the page is about to show."""
    pages.pop_flash(session, PortalSession, viewer.session_id, viewer.flash)
