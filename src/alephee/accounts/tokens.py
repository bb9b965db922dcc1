"""Login tokens (CF-10.5): issued by GET /v2/accounts/{accountId}/logintoken; a module 1 token signs a user in to
the B2B portal once, a module 2 token confirms sensitive WebAPI calls until it expires."""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from alephee import clock
from alephee.accounts.models import (
    Account,
    LoginToken,
    User,
)
from alephee.config import Settings
from alephee.errors import DomainError, InvalidInput, PreconditionFailed, Unauthorized
from alephee.http.numbers import int_from_text

# --- login tokens (CF-10.5) -------------------------------------------------------------------------

MODULE_B2B = 1
MODULE_WEBAPI = 2
MODULES = (MODULE_B2B, MODULE_WEBAPI)

BAD_MODULE = "module must be 1 (Alephee B2B portal) or 2 (WebAPI)"
BAD_TTL = "ttl must be an integer between {lo} and {hi} seconds"
EMAIL_REQUIRED = "userEmail is required for module 1 (Alephee B2B portal)"
BAD_EMAIL = "userEmail is not a valid e-mail address"
USER_NOT_ALLOWED = "The user does not exist, is not active or is not linked to this account"
NO_B2B_PORTAL = "The account has no Alephee B2B portal"
TOKEN_INVALID = "Invalid confirmation token"
TOKEN_EXPIRED = "The confirmation token has expired"
TOKEN_USED = "The confirmation token was already used"


class BadModule(InvalidInput):
    """``module`` is not 1 (B2B portal) or 2 (WebAPI) (400)."""

    message = BAD_MODULE


class BadTtl(InvalidInput):
    """``ttl`` is not an integer within the configured bounds (400)."""

    message = BAD_TTL

    def __init__(self, lo: int, hi: int) -> None:
        super().__init__(BAD_TTL.format(lo=lo, hi=hi))


class EmailRequired(InvalidInput):
    """A module 1 token needs ``userEmail`` (400)."""

    message = EMAIL_REQUIRED


class BadEmail(InvalidInput):
    """``userEmail`` is not an e-mail address (400)."""

    message = BAD_EMAIL


class UserNotAllowed(Unauthorized):
    """The user does not exist, is not active or is not linked to the account (401)."""

    message = USER_NOT_ALLOWED


class NoB2bPortal(PreconditionFailed):
    """Module 1 asked for, but the account has no B2B portal (412)."""

    message = NO_B2B_PORTAL


class TokenInvalid(Unauthorized):
    """The token is unknown, or for another module or account (401)."""

    message = TOKEN_INVALID


class TokenExpired(Unauthorized):
    """The token has expired (401)."""

    message = TOKEN_EXPIRED


class TokenUsed(Unauthorized):
    """The single-use token was already used (401)."""

    message = TOKEN_USED


# What ``issue_login_token`` can refuse.
LOGIN_TOKEN_REFUSALS: tuple[type[DomainError], ...] = (
    BadModule,
    BadTtl,
    EmailRequired,
    BadEmail,
    UserNotAllowed,
    NoB2bPortal,
)
# What checking a confirmation token (``check_confirmation_token``) can refuse.
CONFIRMATION_REFUSALS: tuple[type[DomainError], ...] = (TokenInvalid, TokenExpired)

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A freshly issued login token (the secret is only known here)."""

    token: str
    url: str | None
    module: int
    ttl: int
    expires_at: datetime


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.strip().lower().encode()).hexdigest()


def _parse_int(value: str | None, default: int, refusal: InvalidInput) -> int:
    if value is None or value.strip() == "":
        return default
    number = int_from_text(value)
    if number is None:
        raise refusal
    return number


def issue_login_token(
    session: Session,
    settings: Settings,
    *,
    account_id: int,
    key_id: int | None,
    user_email: str | None,
    module: str | None,
    ttl: str | None,
) -> IssuedToken:
    """Validate the request (CF-10.5.2) and store a token that expires after ``ttl`` s (a module 1 login
    token is single-use: ``consume_login_token``; a module 2 one confirms calls until then:
    ``check_confirmation_token``)."""
    lo, hi = settings.login_token_min_ttl, settings.login_token_max_ttl
    mod = _parse_int(module, MODULE_B2B, BadModule())
    if mod not in MODULES:
        raise BadModule()
    seconds = _parse_int(ttl, settings.login_token_default_ttl, BadTtl(lo, hi))
    if not lo <= seconds <= hi:
        raise BadTtl(lo, hi)
    email = (user_email or "").strip()
    if mod == MODULE_B2B and not email:
        raise EmailRequired()
    if email and not EMAIL_PATTERN.match(email):
        raise BadEmail()
    account = session.get(Account, account_id)
    if account is None:  # the key was linked to it a moment ago; treat a race like an unknown account
        raise UserNotAllowed()
    user_id: int | None = None
    if email:
        user = session.scalar(
            select(User).where(User.account_id == account_id, func.lower(User.email) == email.lower())
        )
        if user is None or not user.active or user.deleted_at is not None:
            raise UserNotAllowed()
        user_id = user.id
    if mod == MODULE_B2B and not account.b2b_portal_enabled:
        raise NoB2bPortal()
    token = str(uuid.uuid4())
    now = clock.precise_utcnow()
    expires = now + timedelta(seconds=seconds)
    session.add(
        LoginToken(
            token_hash=_hash_token(token),
            account_id=account_id,
            user_id=user_id,
            module=mod,
            key_id=key_id,
            created_at=now,
            expires_at=expires,
        )
    )
    session.flush()
    url = None
    if mod == MODULE_B2B:
        base = (account.b2b_portal_url or settings.b2b_portal_base_url).rstrip("/")
        url = f"{base}/login/token?token={token}"
    return IssuedToken(token=token, url=url, module=mod, ttl=seconds, expires_at=expires)


@dataclass(frozen=True, slots=True)
class ConsumedToken:
    """What a consumed token was bound to."""

    account_id: int
    user_id: int | None
    module: int


def consume_login_token(
    session: Session, token: str | None, *, module: int, account_id: int | None = None
) -> ConsumedToken:
    """Use a token once: it must exist, be for ``module`` (and ``account_id``), be unexpired and unused.

    The check and the marking are one conditional UPDATE, so two concurrent uses cannot both succeed.
    Raises ``Unauthorized`` with a message saying which condition failed. The caller commits.
    """
    if not token or not token.strip():
        raise TokenInvalid()
    digest = _hash_token(token)
    row = session.scalar(select(LoginToken).where(LoginToken.token_hash == digest))
    if row is None or row.module != module or (account_id is not None and row.account_id != account_id):
        raise TokenInvalid()
    now = clock.precise_utcnow()
    if row.used_at is not None:
        raise TokenUsed()
    if row.expires_at <= now:
        raise TokenExpired()
    claimed = session.execute(
        update(LoginToken)
        .where(LoginToken.id == row.id, LoginToken.used_at.is_(None), LoginToken.expires_at > now)
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        raise TokenUsed()
    return ConsumedToken(account_id=row.account_id, user_id=row.user_id, module=row.module)


def check_confirmation_token(session: Session, token: str | None, *, account_id: int) -> None:
    """Accept a WebAPI (module 2) confirmation token for ``account_id`` during its whole life (``ttl``).

    Unlike a B2B login token, it is not single-use: a client removing prices in several chunks confirms each
    call with the same token (CF-40.5.2 only asks for a valid token, "obsolete" after its ttl). The first
    use is recorded (``used_at``). Raises ``Unauthorized`` saying which condition failed. The caller commits.
    """
    if not token or not token.strip():
        raise TokenInvalid()
    row = session.scalar(select(LoginToken).where(LoginToken.token_hash == _hash_token(token)))
    if row is None or row.module != MODULE_WEBAPI or row.account_id != account_id:
        raise TokenInvalid()
    now = clock.precise_utcnow()
    if row.expires_at <= now:
        raise TokenExpired()
    if row.used_at is None:
        session.execute(
            update(LoginToken)
            .where(LoginToken.id == row.id, LoginToken.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
