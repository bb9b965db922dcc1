"""The OAuth link of a Mercado Libre seller: the authorization URL, the code exchange that stores the tokens and
the seller's identity, and the token refresh (serialised per connection, the new refresh token persisted first).

Refresh tokens are single-use and only the newest one is valid, so two processes refreshing the same connection
at once would lose it: the refresh takes a lease on the connection (committed under the row lock), calls
Mercado Libre with no transaction open, and commits the new pair before the access token is used; a process
that finds the lease taken waits for that new pair. ``invalid_grant`` means
the grant is gone: the connection is marked disconnected with the reason, and the seller must authorize again.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from pydantic import SecretStr
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alephee.channels import connections
from alephee.channels.mercadolibre.client import MercadoLibreClient, MercadoLibreError, SellerIdentity, TokenGrant
from alephee.channels.mercadolibre.standin.app import DEFAULT_APPLICATION_ID
from alephee.channels.mercadolibre.standin.app import PREFIX as STANDIN_PREFIX
from alephee.channels.models import CONNECTED, ChannelConnection
from alephee.clock import utcnow
from alephee.config import Settings
from alephee.db import Database
from alephee.errors import Conflict, PreconditionFailed
from alephee.webhooks.crypto import decrypt_secret, encrypt_secret

CONNECTOR = "mercadolibre"
# ``ChannelConnection.api_base`` of a connection to the local stand-in this hub serves.
STANDIN = "standin"
# The secret of the stand-in's own application (used only when the hub has no application configured).
STANDIN_CLIENT_SECRET = "standin-secret"
CALLBACK_PATH = "/channels/mercadolibre/callback"
# Authorization host of each site (CF: Mercado Libre OAuth, authorization redirect).
AUTH_HOSTS: dict[str, str] = {
    "MLA": "https://auth.mercadolibre.com.ar",
    "MLB": "https://auth.mercadolivre.com.br",
    "MLM": "https://auth.mercadolibre.com.mx",
    "MLC": "https://auth.mercadolibre.cl",
    "MCO": "https://auth.mercadolibre.com.co",
    "MLU": "https://auth.mercadolibre.com.uy",
}
# An access token this close to its expiry is refreshed before use.
REFRESH_MARGIN = timedelta(minutes=5)
# How often a process waiting for another one's refresh looks at the row again.
REFRESH_POLL_SECONDS = 0.05


class NotConfigured(PreconditionFailed):
    """The Mercado Libre application's credentials are not configured."""

    message = (
        "The Mercado Libre application is not configured: set ALEPHEE_MERCADOLIBRE_CLIENT_ID and "
        "ALEPHEE_MERCADOLIBRE_CLIENT_SECRET (docs/channels.md)"
    )


class UnknownSite(PreconditionFailed):
    """The marketplace's site has no known authorization host."""

    message = "The marketplace's site has no known Mercado Libre authorization host; set ALEPHEE_MERCADOLIBRE_AUTH_URL"


class Disconnected(Conflict):
    """The connection has no usable grant any more (revoked, expired or lost): the seller must authorize again."""

    message = "The Mercado Libre connection is disconnected; connect it again with alephee channel connect"


class ExchangeFailed(Conflict):
    """Mercado Libre refused the authorization code or could not be reached."""

    message = "Mercado Libre refused the authorization"


@dataclass(frozen=True, slots=True)
class Connected:
    """What a completed authorization linked."""

    account_id: int
    marketplace_id: int
    seller_id: int
    nickname: str
    # The path of this hub the attempt asked to come back to (the console), if any.
    return_to: str | None = None


def credentials(settings: Settings) -> tuple[str, str]:
    """The application's client id and secret; ``NotConfigured`` when either is unset."""
    secret = settings.mercadolibre_client_secret
    if not settings.mercadolibre_client_id or secret is None or not secret.get_secret_value():
        raise NotConfigured()
    return settings.mercadolibre_client_id, secret.get_secret_value()


def for_connection(settings: Settings, api_base: str | None) -> Settings:
    """The settings one connection's calls use: the configured API, or ``api_base`` when the connection names
    another one; ``standin`` is this hub's own local Mercado Libre (``alephee demo`` connects there), reached at
    ``ALEPHEE_PUBLIC_URL`` + ``/_standin/mercadolibre`` with the configured application, or the stand-in's own
    when none is configured — so nothing the demo sets up ever calls the real marketplace."""
    if api_base is None:
        return settings
    if api_base != STANDIN:
        return settings.model_copy(update={"mercadolibre_api_url": api_base})
    base = settings.public_url.rstrip("/") + STANDIN_PREFIX
    client_id, secret = standin_credentials(settings)
    return settings.model_copy(
        update={
            "mercadolibre_api_url": base,
            "mercadolibre_auth_url": base,
            "mercadolibre_client_id": client_id,
            "mercadolibre_client_secret": SecretStr(secret),
        }
    )


def standin_credentials(settings: Settings) -> tuple[str, str]:
    """The application the local stand-in accepts: the configured one, else the stand-in's own."""
    secret = settings.mercadolibre_client_secret
    if settings.mercadolibre_client_id and secret is not None and secret.get_secret_value():
        return settings.mercadolibre_client_id, secret.get_secret_value()
    return str(DEFAULT_APPLICATION_ID), STANDIN_CLIENT_SECRET


def redirect_uri(settings: Settings) -> str:
    """The callback URL; it must equal, character for character, the Redirect URI set on the application."""
    return settings.public_url.rstrip("/") + CALLBACK_PATH


def auth_host(settings: Settings, site_id: str | None) -> str:
    """Where the seller authorizes: ``mercadolibre_auth_url`` when set, else the site's own host."""
    if settings.mercadolibre_auth_url:
        return settings.mercadolibre_auth_url.rstrip("/")
    host = AUTH_HOSTS.get((site_id or "").upper())
    if host is None:
        raise UnknownSite(f"Site {site_id!r} has no known Mercado Libre authorization host")
    return host


def pkce_challenge(verifier: str) -> str:
    """The S256 challenge of a PKCE verifier (RFC 7636)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorization_url(settings: Settings, site_id: str | None, state: str, *, code_verifier: str | None = None) -> str:
    """``{auth host}/authorization?response_type=code&client_id=..&redirect_uri=..&state=..`` (plus the PKCE
    challenge when a verifier is given)."""
    client_id, _secret = credentials(settings)
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri(settings),
        "state": state,
    }
    if code_verifier is not None:
        params |= {"code_challenge": pkce_challenge(code_verifier), "code_challenge_method": "S256"}
    return f"{auth_host(settings, site_id)}/authorization?{urlencode(params)}"


def start(
    session: Session, settings: Settings, account_id: int, marketplace_id: int, *, return_to: str | None = None
) -> str:
    """Check the account's marketplace, record a fresh ``state`` and return the URL the seller opens;
    ``return_to`` (a path of this hub) is where the callback sends the seller once connected."""
    target = connections.check_target(session, account_id, marketplace_id, CONNECTOR)
    credentials(settings)  # refuse before recording anything
    auth_host(settings, target.site_id)
    verifier = secrets.token_urlsafe(64) if settings.mercadolibre_pkce else None
    state = connections.new_state(
        session,
        target,
        now=utcnow(),
        ttl_seconds=settings.channel_oauth_state_ttl_seconds,
        code_verifier=verifier,
        return_to=return_to,
    )
    return authorization_url(settings, target.site_id, state, code_verifier=verifier)


def complete(db: Database, settings: Settings, code: str, state: str, client: MercadoLibreClient) -> Connected:
    """The callback: consume ``state`` (its own transaction, so it is spent even when the exchange fails),
    exchange ``code`` and read ``/users/me`` outside any transaction, then store the connection."""
    client_id, client_secret = credentials(settings)
    with db.writing() as session:
        attempt = connections.consume_state(session, state, CONNECTOR, now=utcnow())
        account_id, marketplace_id, verifier = attempt.account_id, attempt.marketplace_id, attempt.code_verifier
        return_to = attempt.return_to
    form = {
        "grant_type": "authorization_code",
        "client_id": client_id,
        "client_secret": client_secret,
        "code": code,
        "redirect_uri": redirect_uri(settings),
    }
    if verifier:
        form["code_verifier"] = verifier
    try:
        grant = client.token(form)
        seller = client.users_me(grant.access_token)
    except MercadoLibreError as exc:
        raise ExchangeFailed(
            f"Mercado Libre refused the authorization: {exc.error} {exc.description}".strip()
        ) from None
    # Two authorizations of the same account and marketplace may complete at once: the one that inserts second
    # meets the unique pair and stores its grant over the first one's row instead (the newest grant wins).
    for attempt in (1, 2):
        try:
            with db.writing() as session:
                _store(session, settings, account_id, marketplace_id, grant, seller)
            break
        except IntegrityError:
            if attempt == 2:
                raise
    return Connected(account_id, marketplace_id, seller.id, seller.nickname, return_to)


def _store(
    session: Session,
    settings: Settings,
    account_id: int,
    marketplace_id: int,
    grant: TokenGrant,
    seller: SellerIdentity,
) -> None:
    """Write the grant and the seller's identity on the pair's connection (created when absent), encrypted."""
    connections.store_grant(
        session,
        settings,
        connections.Grant(
            account_id=account_id,
            marketplace_id=marketplace_id,
            connector=CONNECTOR,
            access_token=grant.access_token,
            refresh_token=grant.refresh_token,
            expires_in=grant.expires_in,
            seller_id=seller.id,
            nickname=seller.nickname,
            site_id=seller.site_id,
        ),
    )


def refresh(
    db: Database,
    settings: Settings,
    account_id: int,
    marketplace_id: int,
    client: MercadoLibreClient,
    *,
    force: bool = False,
) -> str:
    """A fresh access token for the connection: refreshed when it is (nearly) expired, or always with ``force``.

    One process at a time refreshes a connection: it takes a lease on the row (``refreshing_until``, set under
    the row lock and committed), calls Mercado Libre with no transaction open, then stores the new pair and
    releases the lease. Another process that finds the lease taken waits for the new token instead of spending
    the same single-use refresh token. ``Disconnected`` when the grant is gone (the connection then says why).
    """
    client_id, client_secret = credentials(settings)
    lease = timedelta(seconds=2 * settings.mercadolibre_timeout_seconds)  # outlives the one call it covers
    give_up = time.monotonic() + lease.total_seconds()
    while True:
        with db.writing() as session:
            row = connections.connection_of(session, account_id, marketplace_id, lock=True)
            if row.status != CONNECTED or row.refresh_token is None:
                raise Disconnected()
            now = utcnow()
            if _fresh(row, now) and not force:
                return decrypt_secret(settings, row.access_token or "")
            if row.refreshing_until is None or row.refreshing_until <= now:
                row.refreshing_until = now + lease
                refresh_token = decrypt_secret(settings, row.refresh_token)
                session.flush()
                break
        # Another process holds the lease: its new token is what this caller wants too.
        if time.monotonic() >= give_up:
            raise MercadoLibreError(0, "refresh_in_progress", "another process is refreshing this connection")
        force = False
        time.sleep(REFRESH_POLL_SECONDS)
    form = {
        "grant_type": "refresh_token",
        "client_id": client_id,
        "client_secret": client_secret,
        "refresh_token": refresh_token,
    }
    try:
        grant = client.token(form)
    except MercadoLibreError as exc:
        lost = None
        if not exc.transient and exc.error in ("invalid_grant", "unauthorized_client"):
            lost = f"{exc.error}: {exc.description}".rstrip(": ")
        with db.writing() as session:
            row = connections.connection_of(session, account_id, marketplace_id, lock=True)
            row.refreshing_until = None
            if lost is not None:
                connections.disconnect(session, account_id, marketplace_id, now=utcnow(), reason=lost)
        if lost is not None:
            raise Disconnected(f"The Mercado Libre connection is disconnected ({lost}); connect it again") from None
        raise
    with db.writing() as session:
        row = connections.connection_of(session, account_id, marketplace_id, lock=True)
        now = utcnow()
        row.access_token = encrypt_secret(settings, grant.access_token)
        row.refresh_token = encrypt_secret(settings, grant.refresh_token)
        row.token_expires_at = now + timedelta(seconds=grant.expires_in)
        row.refreshing_until = None
        row.last_error = None
        row.updated_at = now
        session.flush()
    return grant.access_token


def _fresh(row: ChannelConnection, now: datetime) -> bool:
    """Whether the connection's access token can be used as it is (not within ``REFRESH_MARGIN`` of expiry)."""
    return bool(row.access_token and row.token_expires_at and row.token_expires_at - REFRESH_MARGIN > now)


def access_token(
    db: Database, settings: Settings, account_id: int, marketplace_id: int, client: MercadoLibreClient
) -> str:
    """The connection's access token, refreshed first when it is (nearly) expired. A fresh token is read in a
    plain read: only a refresh takes the row lock and a write transaction."""
    with db.reading() as session:
        token = usable_token(settings, connections.connection_of(session, account_id, marketplace_id))
    return token if token is not None else refresh(db, settings, account_id, marketplace_id, client)


def usable_token(settings: Settings, row: ChannelConnection) -> str | None:
    """The connection's access token when it can be used as it is (connected, not near expiry), else None."""
    if row.status == CONNECTED and row.refresh_token is not None and _fresh(row, utcnow()):
        return decrypt_secret(settings, row.access_token or "")
    return None
