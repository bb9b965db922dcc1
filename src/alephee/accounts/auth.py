"""Authentication by ``API_KEY`` (+ ``accountId``) query parameters, then the rate limit (CF-00.1.2, CF-00.6.2).

Order of checks: key present and valid → account present and linked → rate limit (429) → the route's own
validation. A 401 consumes no quota.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, Path, Query, Request
from sqlalchemy import Connection, bindparam, select

from alephee import clock
from alephee.accounts.models import Account, ApiKey, ApiKeyAccount
from alephee.db import ReadState
from alephee.errors import DomainError, InvalidInput, Unauthorized
from alephee.http.context import AppContext, get_context
from alephee.http.numbers import int_from_text
from alephee.http.ratelimit import RateLimitExceeded
from alephee.http.routing import RefusedText, refuse_bad_text

MISSING_KEY = "The API_KEY query parameter is required"
INVALID_KEY = "Invalid API_KEY"
MISSING_ACCOUNT = "The accountId query parameter is required"
ACCOUNT_NOT_LINKED = "The accountId is not associated with the given API_KEY"
PATH_QUERY_MISMATCH = "The accountId query parameter does not match the accountId in the path"


# The audit log's name for a valid key asking for an account it does not serve (http/observe.py).
ACCOUNT_NOT_LINKED_EVENT = "account_not_linked"


class AccountNotLinked(Unauthorized):
    """A valid key named an account it does not serve (401). ``account_id`` is the account asked for (None
    when it was not a number); the error handler records it so the attempt reaches the audit log."""

    message = ACCOUNT_NOT_LINKED
    security_event = ACCOUNT_NOT_LINKED_EVENT

    def __init__(self, account_id: int | None) -> None:
        super().__init__(ACCOUNT_NOT_LINKED)
        self.account_id = account_id


class MissingKey(Unauthorized):
    """The API_KEY query parameter is missing (401)."""

    message = MISSING_KEY


class InvalidKey(Unauthorized):
    """The API_KEY is unknown or revoked (401)."""

    message = INVALID_KEY


class MissingAccount(Unauthorized):
    """The accountId query parameter is missing (401)."""

    message = MISSING_ACCOUNT


class PathAccountMismatch(InvalidInput):
    """The accountId of the query string differs from the one in the path (400)."""

    message = PATH_QUERY_MISMATCH


# What authentication can refuse before a route's own rules run, in the documented order (then a query or path
# value with a control character, once the caller is known): for routes that need only the key (``Key``), for
# routes scoped by ``accountId`` in the query string (``Account``) and in the path (``PathAccount``).
KEY_REFUSALS: tuple[type[DomainError], ...] = (MissingKey, InvalidKey, RateLimitExceeded, RefusedText)
AUTHENTICATED: tuple[type[DomainError], ...] = (
    MissingKey,
    InvalidKey,
    MissingAccount,
    AccountNotLinked,
    RateLimitExceeded,
    RefusedText,
)
PATH_AUTHENTICATED: tuple[type[DomainError], ...] = (*AUTHENTICATED, PathAccountMismatch)


def normalize_key(secret: str) -> str:
    """Keys are GUIDs: compare them without regard to case or surrounding blanks."""
    return secret.strip().upper()


def hash_key(secret: str) -> str:
    """SHA-256 of a normalised key (keys are random 122-bit GUIDs, so a fast hash is enough)."""
    return hashlib.sha256(normalize_key(secret).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class LinkedAccount:
    """An account a key may act for, with what rules need to know about it."""

    id: int
    account_type: str
    timezone: str | None


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated API key."""

    key_id: int
    rate_limit: int | None
    accounts: dict[int, LinkedAccount]

    @property
    def account_ids(self) -> list[int]:
        """Ids of the accounts the key serves, ascending."""
        return sorted(self.accounts)


@dataclass(frozen=True, slots=True)
class AccountScope:
    """An authenticated key acting for one of its accounts."""

    caller: Caller
    account_id: int
    account_type: str
    tz: ZoneInfo


# The StateCache of key lookups (reused while no key, link or account they read has changed; see
# authenticate_account).
KEY_CACHE = "api_keys"

# Built once: every authenticated request runs it (revocation is checked per request, on every process).
_KEY_LOOKUP = (
    select(ApiKey.id, ApiKey.key_hash, ApiKey.rate_limit, Account.id, Account.account_type, Account.timezone)
    .outerjoin(ApiKeyAccount, ApiKeyAccount.key_id == ApiKey.id)
    .outerjoin(Account, Account.id == ApiKeyAccount.account_id)
    .where(ApiKey.key_hash == bindparam("digest"), ApiKey.revoked_at.is_(None))
)


def _lookup(
    ctx: AppContext, secret: str | None, connection: Connection | None = None, state: ReadState | None = None
) -> Caller:
    if not secret or not secret.strip():
        raise MissingKey()
    digest = hash_key(secret)
    known_keys = ctx.db.state_cache(KEY_CACHE)
    if state is not None:
        # No key, link or account changed since a lookup of this key: its answer still holds (a revocation
        # moves the key lookup's counter).
        known: Caller | None = known_keys.get(state, digest)
        if known is not None:
            return known
    if connection is not None:
        rows = connection.execute(_KEY_LOOKUP, {"digest": digest}).all()
    else:
        with ctx.db.read_engine.connect() as own:
            rows = own.execute(_KEY_LOOKUP, {"digest": digest}).all()
    if not rows or not hmac.compare_digest(rows[0][1], digest):
        raise InvalidKey()
    accounts = {
        row[3]: LinkedAccount(id=row[3], account_type=row[4], timezone=row[5]) for row in rows if row[3] is not None
    }
    caller = Caller(key_id=rows[0][0], rate_limit=rows[0][2], accounts=accounts)
    if state is not None:
        known_keys.put(state, digest, caller)
    return caller


def _apply_rate_limit(request: Request, ctx: AppContext, caller: Caller) -> None:
    route = request.scope.get("route")
    name = getattr(route, "name", None) or request.scope.get("path", "")
    rpm = caller.rate_limit or ctx.settings.rpm_for(name, clock.precise_utcnow())
    decision = ctx.limiter.hit(caller.key_id, name, rpm)
    request.scope.setdefault("state", {})["ratelimit"] = decision
    if not decision.allowed:
        raise RateLimitExceeded()
    # Authenticated and within the limit: now the request's own values may be refused (400).
    refuse_bad_text(request)


def _scope_for(ctx: AppContext, caller: Caller, raw_account: str | None) -> AccountScope:
    if raw_account is None or not raw_account.strip():
        raise MissingAccount()
    account_id = int_from_text(raw_account)
    if account_id is None:
        raise AccountNotLinked(None)
    linked = caller.accounts.get(account_id)
    if linked is None:
        raise AccountNotLinked(account_id)
    tz = ZoneInfo(linked.timezone) if linked.timezone else ctx.settings.tz
    return AccountScope(caller=caller, account_id=account_id, account_type=linked.account_type, tz=tz)


API_KEY_DOC = "Your API key (GUID). Names are case-insensitive."
ApiKeyParam = Query(None, alias="API_KEY", description=API_KEY_DOC)


def _remember(request: Request, key_id: int, account_id: int | None) -> None:
    # For the access log, the metrics and the audit log (written by the middleware).
    request.scope.setdefault("state", {})["caller"] = (key_id, account_id)


def require_key(
    request: Request,
    api_key: str | None = ApiKeyParam,
    ctx: AppContext = Depends(get_context),
) -> Caller:
    """Dependency for routes that need only the key (``GET /v2/accounts``)."""
    caller = _lookup(ctx, api_key)
    _remember(request, caller.key_id, None)
    _apply_rate_limit(request, ctx, caller)
    return caller


ACCOUNT_ID_DOC = "Account id linked to the key."


def authenticate_account(
    request: Request,
    ctx: AppContext,
    api_key: str | None,
    account_id: str | None,
    connection: Connection | None = None,
    state: ReadState | None = None,
) -> AccountScope:
    """Key, then account, then rate limit (401/429) for a request scoped to ``accountId`` from the query string.

    ``connection``: run the key lookup on the request's own read connection instead of a pooled one of its own.
    ``state``: the key lookup's ``ReadState`` (``db.read_states``), taken first; while it is unchanged the lookup
    is not repeated.
    """
    caller = _lookup(ctx, api_key, connection, state)
    _remember(request, caller.key_id, None)  # known before the account check, so a refusal is audited
    scope = _scope_for(ctx, caller, account_id)
    _remember(request, caller.key_id, scope.account_id)
    _apply_rate_limit(request, ctx, caller)
    return scope


def require_account(
    request: Request,
    api_key: str | None = ApiKeyParam,
    account_id: str | None = Query(None, alias="accountId", description=ACCOUNT_ID_DOC),
    ctx: AppContext = Depends(get_context),
) -> AccountScope:
    """Dependency for routes scoped to ``accountId`` from the query string."""
    return authenticate_account(request, ctx, api_key, account_id)


def require_path_account(
    request: Request,
    path_account: str = Path(..., alias="accountId", description="Account id linked to the key."),
    api_key: str | None = ApiKeyParam,
    query_account: str | None = Query(
        None, alias="accountId", description="Optional; when given it must equal the path value."
    ),
    ctx: AppContext = Depends(get_context),
) -> AccountScope:
    """Dependency for ``/v2/accounts/{accountId}/...`` routes: the account comes from the path."""
    caller = _lookup(ctx, api_key)
    _remember(request, caller.key_id, None)  # known before the account check, so a refusal is audited
    scope = _scope_for(ctx, caller, path_account)
    _remember(request, caller.key_id, scope.account_id)
    _apply_rate_limit(request, ctx, caller)
    if query_account is not None and query_account.strip() and query_account.strip() != str(scope.account_id):
        raise PathAccountMismatch()
    return scope


# The typed dependencies of routes (see ``http.deps`` for sessions and the context).
Account = Annotated[AccountScope, Depends(require_account)]
PathAccount = Annotated[AccountScope, Depends(require_path_account)]
Key = Annotated[Caller, Depends(require_key)]
