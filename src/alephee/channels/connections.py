"""Channel connections of the accounts: which marketplace link may be connected, the single-use OAuth
``state`` values, the status list and the disconnection (plain functions over a session; they only flush)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import import_module
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from alephee.accounts.models import AccountMarketplace
from alephee.accounts.service import UnknownMarketplace, require_account_row
from alephee.channels.models import CONNECTED, DISCONNECTED, PAUSED, ChannelConnection, ChannelOAuthState
from alephee.channels.post_sale import open_counts
from alephee.clock import utcnow
from alephee.config import Settings
from alephee.db import Database
from alephee.errors import InvalidInput, NotFound
from alephee.http.wire import format_utc
from alephee.marketplaces.models import Marketplace
from alephee.webhooks.crypto import encrypt_secret
from alephee.webhooks.events import CHANNEL_CONNECTED, CHANNEL_DISCONNECTED, emit


class WrongConnector(InvalidInput):
    """The marketplace is served by another connector than the one asked for."""

    message = "The marketplace is not served by this connector"


class AccountNotLinked(InvalidInput):
    """The account has not added the marketplace (``alephee marketplace add``)."""

    message = "The account is not linked to the marketplace"


class ConnectionNotFound(NotFound):
    """The account has no connection to the marketplace."""

    message = "The account has no connection to the marketplace"


class NoAuthorization(InvalidInput):
    """The marketplace's connector is not connected by an authorization (or has no connector)."""

    message = "This marketplace is not connected through an authorization; nothing to connect"


# connector name → "module:function" starting its authorization: ``start(session, settings, account_id,
# marketplace_id) -> URL``; imported on first use, like the channel registry.
AUTHORIZERS: dict[str, str] = {
    "mercadolibre": "alephee.channels.mercadolibre.auth:start",
    "tiendanube": "alephee.channels.tiendanube.auth:start",
}


class InvalidState(InvalidInput):
    """The callback's ``state`` is unknown, expired or already used: nothing is connected."""

    message = "This authorization link is unknown, expired or already used; start again with alephee channel connect"


@dataclass(frozen=True, slots=True)
class Target:
    """An account's marketplace that a connector may connect."""

    account_id: int
    marketplace_id: int
    connector: str
    site_id: str | None


def check_target(session: Session, account_id: int, marketplace_id: int, connector: str) -> Target:
    """The account and marketplace, refused unless both exist, the marketplace is served by ``connector`` and the
    account is linked to it."""
    require_account_row(session, account_id)
    marketplace = session.get(Marketplace, marketplace_id)
    if marketplace is None:
        raise UnknownMarketplace(marketplace_id)
    if marketplace.connector != connector:
        raise WrongConnector(
            f"Marketplace {marketplace_id} ({marketplace.name}) is served by the connector "
            f"'{marketplace.connector}', not '{connector}'"
        )
    if session.get(AccountMarketplace, (account_id, marketplace_id)) is None:
        raise AccountNotLinked(
            f"Account {account_id} is not linked to marketplace {marketplace_id}; "
            f"link it first with: alephee marketplace add --account {account_id} --marketplace {marketplace_id}"
        )
    return Target(account_id, marketplace_id, connector, marketplace.site_id)


def lives_on(db: Database, connector: str, api_base: str) -> bool:
    """Whether a connection of ``connector`` calls ``api_base`` (the local stand-in's mark): what decides that
    ``alephee serve`` alone serves the stand-in the demo connected. False before the database is migrated."""
    try:
        with db.reading() as session:
            query = (
                select(ChannelConnection.id)
                .where(ChannelConnection.connector == connector, ChannelConnection.api_base == api_base)
                .limit(1)
            )
            return session.scalar(query) is not None
    except SQLAlchemyError:  # a database not migrated yet has no connection anywhere
        return False


def connector_of(session: Session, marketplace_id: int) -> str:
    """The connector serving the marketplace; ``UnknownMarketplace`` when it is not in the catalogue."""
    marketplace = session.get(Marketplace, marketplace_id)
    if marketplace is None:
        raise UnknownMarketplace(marketplace_id)
    return marketplace.connector


def start_authorization(
    session: Session, settings: Settings, account_id: int, marketplace_id: int, *, return_to: str | None = None
) -> str:
    """The URL where the seller authorizes this hub on the marketplace, from its connector's own ``start``
    (``AUTHORIZERS``); ``NoAuthorization`` for marketplaces connected otherwise. ``return_to`` (a path of this
    hub) is where the callback sends the seller once connected (see ``return_target``)."""
    connector = connector_of(session, marketplace_id)
    target = AUTHORIZERS.get(connector)
    if target is None:
        raise NoAuthorization(f"Marketplace {marketplace_id} (connector '{connector}') has no authorization to start")
    module, _, attribute = target.partition(":")
    start: Callable[..., str] = getattr(import_module(module), attribute)
    return start(session, settings, account_id, marketplace_id, return_to=return_to)


def return_target(return_to: str, account_id: int, marketplace_id: int) -> str:
    """Where a callback sends the seller back after connecting from a page of the hub (the console): its
    ``return_to`` path, saying which account and marketplace were linked."""
    separator = "&" if "?" in return_to else "?"
    return f"{return_to}{separator}connected={account_id}-{marketplace_id}"


class BadReturnPath(InvalidInput):
    """A return path that is not a plain path of this hub (an absolute URL would make the callback an open
    redirect)."""

    message = "The return path must be a path of this hub"


MAX_RETURN_TO = 300


def safe_return_path(value: str | None) -> str | None:
    """``value`` when it is a plain absolute path of this hub (``/...``, not ``//host``, no backslash or control
    character), None when absent; ``BadReturnPath`` otherwise."""
    if value is None:
        return None
    if (
        not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or len(value) > MAX_RETURN_TO
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)
    ):
        raise BadReturnPath()
    return value


def new_state(
    session: Session,
    target: Target,
    *,
    now: datetime,
    ttl_seconds: int,
    code_verifier: str | None,
    return_to: str | None = None,
) -> str:
    """Record a fresh random ``state`` for one authorization attempt and return it; ``return_to`` (a path of
    this hub) is where the callback sends the seller once connected."""
    state = secrets.token_urlsafe(32)
    session.add(
        ChannelOAuthState(
            state=state,
            account_id=target.account_id,
            marketplace_id=target.marketplace_id,
            connector=target.connector,
            code_verifier=code_verifier,
            return_to=safe_return_path(return_to),
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_seconds),
        )
    )
    session.flush()
    return state


def consume_state(session: Session, state: str, connector: str, *, now: datetime) -> ChannelOAuthState:
    """Mark ``state`` used (one conditional UPDATE, so two callbacks racing with it cannot both pass) and return
    it; ``InvalidState`` when it is unknown, of another connector, expired or already used."""
    if not state or len(state) > 64:
        raise InvalidState()
    claimed = session.execute(
        update(ChannelOAuthState)
        .where(
            ChannelOAuthState.state == state,
            ChannelOAuthState.connector == connector,
            ChannelOAuthState.used_at.is_(None),
            ChannelOAuthState.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidState()
    row = session.get(ChannelOAuthState, state, populate_existing=True)
    assert row is not None
    return row


def find_connection(
    session: Session, account_id: int, marketplace_id: int, *, lock: bool = False
) -> ChannelConnection | None:
    """The account's connection to the marketplace, if any (row-locked on PostgreSQL with ``lock``)."""
    query = select(ChannelConnection).where(
        ChannelConnection.account_id == account_id, ChannelConnection.marketplace_id == marketplace_id
    )
    if lock:
        query = query.with_for_update()
    return session.scalars(query).one_or_none()


def connection_of(session: Session, account_id: int, marketplace_id: int, *, lock: bool = False) -> ChannelConnection:
    """The account's connection to the marketplace; ``ConnectionNotFound`` when it has none."""
    row = find_connection(session, account_id, marketplace_id, lock=lock)
    if row is None:
        raise ConnectionNotFound(f"Account {account_id} has no connection to marketplace {marketplace_id}")
    return row


def disconnect(session: Session, account_id: int, marketplace_id: int, *, now: datetime, reason: str | None) -> None:
    """Forget the connection's tokens and mark it disconnected (``reason`` shown as its last error); the
    account's integrators hear of it (``channel.disconnected``) when it was connected."""
    row = connection_of(session, account_id, marketplace_id, lock=True)
    was_connected = row.status in (CONNECTED, PAUSED)
    row.access_token = None
    row.refresh_token = None
    row.token_expires_at = None
    row.status = DISCONNECTED
    row.last_error = reason
    row.updated_at = now
    session.flush()
    if was_connected:
        announce(session, row, connected=False)


def pause(session: Session, account_id: int, marketplace_id: int, *, now: datetime, reason: str) -> bool:
    """Pause a connected connection (its token kept, ``reason`` shown as its last error): its rows are held
    until ``resume``. Whether it was connected (False: already paused, disconnected or absent)."""
    paused = session.execute(
        update(ChannelConnection)
        .where(
            ChannelConnection.account_id == account_id,
            ChannelConnection.marketplace_id == marketplace_id,
            ChannelConnection.status == CONNECTED,
        )
        .values(status=PAUSED, last_error=reason, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(paused.rowcount)  # type: ignore[attr-defined]


def resume(session: Session, account_id: int, marketplace_id: int, *, now: datetime) -> bool:
    """Bring a paused connection back (its last error cleared). Whether it was paused."""
    resumed = session.execute(
        update(ChannelConnection)
        .where(
            ChannelConnection.account_id == account_id,
            ChannelConnection.marketplace_id == marketplace_id,
            ChannelConnection.status == PAUSED,
        )
        .values(status=CONNECTED, last_error=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(resumed.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Grant:
    """What an authorization gave: the tokens (kept out of ``repr``) and whose they are. ``expires_in`` None =
    the token does not expire (Tiendanube); ``api_base`` where the connection's marketplace answers (None =
    the configured API); ``api_version`` the API version its calls use (None = the connector's configured one)."""

    account_id: int
    marketplace_id: int
    connector: str
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_in: int | None
    seller_id: int | None
    nickname: str | None
    site_id: str | None = None
    api_base: str | None = None
    api_version: str | None = None


def store_grant(session: Session, settings: Settings, grant: Grant) -> ChannelConnection:
    """Write ``grant`` on the pair's connection (created when absent), the tokens encrypted with the hub's key;
    a connection that was not connected announces ``channel.connected``."""
    now = utcnow()
    row = find_connection(session, grant.account_id, grant.marketplace_id)
    if row is None:
        row = ChannelConnection(
            account_id=grant.account_id, marketplace_id=grant.marketplace_id, created_at=now, status=DISCONNECTED
        )
        session.add(row)
    was_connected = row.status == CONNECTED and row.refresh_token is not None
    row.connector = grant.connector
    row.seller_id = grant.seller_id
    row.nickname = grant.nickname
    row.site_id = grant.site_id
    row.api_base = grant.api_base
    row.api_version = grant.api_version
    row.access_token = encrypt_secret(settings, grant.access_token)
    # Tokens that never expire come without a refresh token: the access token stands for both.
    row.refresh_token = encrypt_secret(settings, grant.refresh_token or grant.access_token)
    row.token_expires_at = now + timedelta(seconds=grant.expires_in) if grant.expires_in is not None else None
    row.status = CONNECTED
    row.last_error = None
    row.updated_at = now
    session.flush()
    if not was_connected:
        announce(session, row, connected=True)
    return row


def announce(session: Session, row: ChannelConnection, *, connected: bool) -> None:
    """Tell the account's integrators that a channel connection was made or lost (webhook events
    ``channel.connected`` / ``channel.disconnected``, ``Reason`` = why it was lost)."""
    emit(
        session,
        row.account_id,
        CHANNEL_CONNECTED if connected else CHANNEL_DISCONNECTED,
        {"MarketplaceId": row.marketplace_id},
        {"Connector": row.connector, "SellerId": row.seller_id, "Nickname": row.nickname}
        | ({} if connected else {"Reason": row.last_error}),
    )


def status(session: Session, account_id: int | None = None) -> list[dict[str, Any]]:
    """Every connection (of one account when given), in a stable order, as the CLI prints it."""
    query = select(ChannelConnection).order_by(ChannelConnection.account_id, ChannelConnection.marketplace_id)
    if account_id is not None:
        query = query.where(ChannelConnection.account_id == account_id)
    waiting = open_counts(session, None if account_id is None else (account_id,))
    return [
        {
            "AccountId": row.account_id,
            "MarketplaceId": row.marketplace_id,
            "Connector": row.connector,
            "Connected": row.status == CONNECTED and row.refresh_token is not None,
            "Status": row.status,
            "SellerId": row.seller_id,
            "Nickname": row.nickname,
            "TokenExpiresAt": format_utc(row.token_expires_at) if row.token_expires_at else None,
            "LastSyncAt": format_utc(row.last_sync_at) if row.last_sync_at else None,
            "LastError": row.last_error,
            # The store's stock locations as last read, and the account's choice among them (None: the store's
            # default; with one location stock is written without any).
            "Locations": row.locations,
            "StockLocation": row.stock_location,
            "WebhooksCheckedAt": format_utc(row.webhooks_checked_at) if row.webhooks_checked_at else None,
            "PostSaleCheckedAt": format_utc(row.post_sale_checked_at) if row.post_sale_checked_at else None,
            # The buyers waiting on the seller: unanswered questions and open claims (as last read).
            "UnansweredQuestions": waiting.get((row.account_id, row.marketplace_id), (0, 0))[0],
            "OpenClaims": waiting.get((row.account_id, row.marketplace_id), (0, 0))[1],
        }
        for row in session.scalars(query)
    ]
