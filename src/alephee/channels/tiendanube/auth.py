"""The app install of a Tiendanube/Nuvemshop store: the authorization URL, the code exchange that stores the
store's token (encrypted; it never expires) and id, the store's name, and the webhooks the hub needs.

The platform has only the authorization-code grant, no refresh: the token is valid until the app is uninstalled
or authorized again (the newest one wins), so the connection keeps it as both of its tokens and a 401 later
means "install again" (``calls.Api`` then disconnects the connection with the reason).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from pydantic import SecretStr
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alephee.channels import connections
from alephee.channels.tiendanube import upkeep
from alephee.channels.tiendanube.client import StoreAuth, TiendanubeClient, TiendanubeError, as_id
from alephee.channels.tiendanube.standin.app import PREFIX as STANDIN_PREFIX
from alephee.clock import utcnow
from alephee.config import Settings
from alephee.db import Database
from alephee.errors import Conflict, PreconditionFailed

CONNECTOR = "tiendanube"
# ``ChannelConnection.api_base`` of a connection to the local stand-in this hub serves.
STANDIN = "standin"
# The stand-in's own application (used only when the hub has no application configured).
STANDIN_APP_ID = "1000"
STANDIN_CLIENT_SECRET = "standin-secret"
CALLBACK_PATH = "/channels/tiendanube/callback"
WEBHOOKS_PATH = "/channels/tiendanube/webhooks"
# The events the hub registers on every install (spec §4.2): what changes orders and products, and the app's
# own life cycle. The privacy events are app URLs set in the partner portal, not registrations.
WEBHOOK_EVENTS: tuple[str, ...] = (
    "order/created",
    "order/paid",
    "order/updated",
    "order/cancelled",
    "order/fulfilled",
    "product/updated",
    "product/deleted",
    "app/uninstalled",
    "app/suspended",
    "app/resumed",
)


class NotConfigured(PreconditionFailed):
    """The Tiendanube application's credentials are not configured."""

    message = (
        "The Tiendanube application is not configured: set ALEPHEE_TIENDANUBE_APP_ID and "
        "ALEPHEE_TIENDANUBE_CLIENT_SECRET (docs/channels.md)"
    )


class ExchangeFailed(Conflict):
    """Tiendanube refused the authorization code or could not be reached: the install must start again."""

    message = "Tiendanube refused the authorization; install the app again"


@dataclass(frozen=True, slots=True)
class Connected:
    """What a completed install linked; ``webhooks_error`` says why the webhooks could not be registered."""

    account_id: int
    marketplace_id: int
    store_id: int
    name: str
    webhooks_error: str | None = None
    # The page of the hub that started the install (the console), to send the owner back to.
    return_to: str | None = None


@dataclass(frozen=True, slots=True)
class WebhookReport:
    """What a reconciliation of the store's webhooks did (event names)."""

    created: tuple[str, ...] = ()
    fixed: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()
    removed: tuple[int, ...] = field(default=())


def credentials(settings: Settings) -> tuple[str, str]:
    """The application's id and secret; ``NotConfigured`` when either is unset."""
    secret = settings.tiendanube_client_secret
    if not settings.tiendanube_app_id or secret is None or not secret.get_secret_value():
        raise NotConfigured()
    return settings.tiendanube_app_id, secret.get_secret_value()


def standin_credentials(settings: Settings) -> tuple[str, str]:
    """The application the local stand-in accepts: the configured one, else the stand-in's own."""
    secret = settings.tiendanube_client_secret
    if settings.tiendanube_app_id and secret is not None and secret.get_secret_value():
        return settings.tiendanube_app_id, secret.get_secret_value()
    return STANDIN_APP_ID, STANDIN_CLIENT_SECRET


def standin_url(settings: Settings) -> str:
    """Where this hub serves the local stand-in (API and authorization alike)."""
    return settings.public_url.rstrip("/") + STANDIN_PREFIX


def for_connection(settings: Settings, api_base: str | None) -> Settings:
    """The settings one connection's calls use: the configured API, or ``api_base`` when the connection names
    another one; ``standin`` is this hub's own local Tiendanube (``alephee demo`` connects there), with the
    configured application or the stand-in's own — so nothing the demo sets up ever calls the real platform."""
    if api_base is None:
        return settings
    if api_base != STANDIN:
        return settings.model_copy(update={"tiendanube_api_url": api_base})
    base = standin_url(settings)
    app_id, secret = standin_credentials(settings)
    return settings.model_copy(
        update={
            "tiendanube_api_url": base,
            "tiendanube_auth_url": base,
            "tiendanube_app_id": app_id,
            "tiendanube_client_secret": SecretStr(secret),
        }
    )


def webhook_url(settings: Settings) -> str:
    """Where the platform posts the store's webhooks (HTTPS behind a proxy in production)."""
    return settings.public_url.rstrip("/") + WEBHOOKS_PATH


def authorization_url(settings: Settings, state: str) -> str:
    """``{auth}/apps/{app_id}/authorize?state=..`` (the redirect URL and the scopes are the app's own, set in the
    partner portal)."""
    app_id, _secret = credentials(settings)
    return f"{settings.tiendanube_auth_url.rstrip('/')}/apps/{app_id}/authorize?{urlencode({'state': state})}"


def start(
    session: Session, settings: Settings, account_id: int, marketplace_id: int, *, return_to: str | None = None
) -> str:
    """Check the account's marketplace, record a fresh single-use ``state`` and return the URL the store owner
    opens; ``return_to`` (a path of this hub) is where the callback sends the owner once connected."""
    target = connections.check_target(session, account_id, marketplace_id, CONNECTOR)
    credentials(settings)  # refuse before recording anything
    state = connections.new_state(
        session,
        target,
        now=utcnow(),
        ttl_seconds=settings.channel_oauth_state_ttl_seconds,
        code_verifier=None,
        return_to=return_to,
    )
    return authorization_url(settings, state)


def store_name(info: dict[str, object], store_id: int) -> str:
    """The store's name in its main language (any language when that one is missing)."""
    name = info.get("name")
    if isinstance(name, dict):
        main = info.get("main_language")
        chosen = name.get(main) if isinstance(main, str) else None
        chosen = chosen or next((v for v in name.values() if isinstance(v, str) and v), None)
        if isinstance(chosen, str) and chosen.strip():
            return chosen.strip()[:120]
    elif isinstance(name, str) and name.strip():
        return name.strip()[:120]
    return f"Store {store_id}"


def complete(
    db: Database, settings: Settings, code: str, state: str, client: TiendanubeClient, *, api_base: str | None = None
) -> Connected:
    """The callback: consume ``state`` (its own transaction, so it is spent even when the exchange fails),
    exchange ``code``, read the store's name, store the connection (token encrypted, store id as its seller id,
    the configured API version), then register the webhooks — all calls outside any transaction. A store whose
    webhooks could not be registered is still connected (the backstop reads its orders); the reason is kept as
    the connection's last error."""
    app_id, client_secret = credentials(settings)
    with db.writing() as session:
        attempt = connections.consume_state(session, state, CONNECTOR, now=utcnow())
        account_id, marketplace_id, return_to = attempt.account_id, attempt.marketplace_id, attempt.return_to
    try:
        grant = client.token(app_id, client_secret, code, auth_url=settings.tiendanube_auth_url)
    except TiendanubeError as exc:
        raise ExchangeFailed(f"Tiendanube refused the authorization: {exc.refusal()}; install the app again") from None
    version = settings.tiendanube_api_version
    store = StoreAuth(grant.store_id, grant.access_token, version, settings.tiendanube_api_url)
    try:
        name = store_name(client.store(store), grant.store_id)
    except TiendanubeError:
        name = f"Store {grant.store_id}"  # the name is cosmetic: the install stands without it
    # Two installs of the same account and marketplace may complete at once: the one that inserts second meets
    # the unique pair and stores its grant over the first one's row instead (the newest token wins).
    for attempt_number in (1, 2):
        try:
            with db.writing() as session:
                connections.store_grant(
                    session,
                    settings,
                    connections.Grant(
                        account_id=account_id,
                        marketplace_id=marketplace_id,
                        connector=CONNECTOR,
                        access_token=grant.access_token,
                        refresh_token=None,
                        expires_in=None,
                        seller_id=grant.store_id,
                        nickname=name,
                        api_base=api_base,
                        api_version=version,
                    ),
                )
            break
        except IntegrityError:
            if attempt_number == 2:
                raise
    problem = None
    try:
        ensure_webhooks(client, store, webhook_url(settings))
    except TiendanubeError as exc:
        problem = f"The webhooks could not be registered: {exc.refusal()}"
    try:
        found = upkeep.read_locations(client, store)
    except TiendanubeError:
        found = None  # read again by the next reconciliation; stock goes without a location meanwhile
    with db.writing() as session:
        upkeep.save_locations(session, account_id, marketplace_id, found)
        if problem is None:
            upkeep.mark_checked(session, account_id, marketplace_id, now=utcnow())
        else:
            connections.connection_of(session, account_id, marketplace_id).last_error = problem
            session.flush()
    return Connected(account_id, marketplace_id, grant.store_id, name, problem, return_to)


def ensure_webhooks(client: TiendanubeClient, store: StoreAuth, url: str) -> WebhookReport:
    """Make the store's webhooks be exactly one per ``WEBHOOK_EVENTS`` event pointing at ``url`` (idempotent):
    list the app's webhooks, keep the right ones, point a wrong one at ``url`` (``PUT``), create what is missing
    and delete the duplicates of an event (the list holds only this app's webhooks)."""
    existing: dict[str, list[dict[str, object]]] = {}
    for page in client.pages(store, "/webhooks"):
        for hook in page:
            existing.setdefault(str(hook.get("event") or ""), []).append(hook)
    created: list[str] = []
    fixed: list[str] = []
    kept: list[str] = []
    removed: list[int] = []
    for event in WEBHOOK_EVENTS:
        hooks = existing.get(event, [])
        right = [h for h in hooks if h.get("url") == url]
        wrong = [h for h in hooks if h.get("url") != url]
        if right:
            kept.append(event)
            extras = right[1:] + wrong
        elif wrong:
            client.put(store, f"/webhooks/{wrong[0].get('id')}", {"event": event, "url": url})
            fixed.append(event)
            extras = wrong[1:]
        else:
            client.post(store, "/webhooks", {"event": event, "url": url})
            created.append(event)
            extras = []
        for extra in extras:
            client.delete(store, f"/webhooks/{extra.get('id')}")
            gone = as_id(extra.get("id"))
            if isinstance(gone, int):
                removed.append(gone)
    return WebhookReport(tuple(created), tuple(fixed), tuple(kept), tuple(removed))
