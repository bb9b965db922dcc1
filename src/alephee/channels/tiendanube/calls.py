"""Calls to a connected Tiendanube store on behalf of an account: the connection read once per operation (token,
store id, API version and base), the platform's errors turned into the delivery errors the worker understands.

* not connected (missing, disconnected or paused) → ``ConnectionHeld``: the row waits, it is not failed;
* 401 (the app was uninstalled, or authorized again elsewhere) → the connection is disconnected with the reason
  (``channel.disconnected`` announced) and the row held until the store owner installs the app again;
* 402 (the store's or the app's subscription is unpaid) → the connection is paused with the reason and the row
  held; ``app/resumed`` (or connecting again) brings it back;
* 429, 5xx, no answer, the local pacing giving up → ``TransientDeliveryError`` with the wait the store asked for;
* any other refusal (400, 404, 422...) → ``PermanentDeliveryError`` naming what the platform refused.

Usage (the channel): ``with Api.open(ctx, client) as api: api.call("update stock", lambda c, s: c.patch(s, ...))``
or the ``get``/``post``/``put``/``patch``/``delete`` shortcuts, ``api.store`` for the store's id and version.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import quote

from sqlalchemy.orm import Session

from alephee.channels import connections
from alephee.channels.models import CONNECTED, PAUSED, ChannelConnection
from alephee.channels.tiendanube import auth
from alephee.channels.tiendanube.client import StoreAuth, TiendanubeClient, TiendanubeError
from alephee.channels.tiendanube.mapping import stock_location
from alephee.clock import utcnow
from alephee.config import Settings
from alephee.db import Database
from alephee.marketplaces.contract import (
    ChannelContext,
    ConnectionHeld,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from alephee.webhooks.crypto import decrypt_secret

T = TypeVar("T")

UNINSTALLED = "Tiendanube answered 401: the app was uninstalled or its token replaced; install it again"
UNPAID = "Tiendanube answered 402: the store's plan or the app's charge is unpaid; syncing resumes once it is paid"


def store_of(settings: Settings, row: ChannelConnection) -> StoreAuth:
    """The store a connection calls: its id, its decrypted token, its API version (else the configured one) and
    its API base (``standin``: this hub's own local Tiendanube)."""
    if row.seller_id is None or row.access_token is None:
        raise ConnectionHeld("The Tiendanube connection has no store; install the app again")
    version = row.api_version or settings.tiendanube_api_version
    api_url = auth.for_connection(settings, row.api_base).tiendanube_api_url
    return StoreAuth(row.seller_id, decrypt_secret(settings, row.access_token), version, api_url)


def delivery_error(exc: TiendanubeError, doing: str) -> TransientDeliveryError | PermanentDeliveryError:
    """A refusal of the platform as the delivery error the worker understands (401/402 are ``Api``'s)."""
    if exc.transient:
        wait = f" (retry after {exc.retry_after:g} s)" if exc.retry_after is not None else ""
        return TransientDeliveryError(
            f"Tiendanube could not {doing} now: {exc.status} {exc.refusal()}{wait}", retry_after=exc.retry_after
        )
    return PermanentDeliveryError(f"Tiendanube refused to {doing}: {exc.refusal()}")


class Api:
    """One operation's calls to one account's store (see the module docstring)."""

    def __init__(self, db: Database, settings: Settings, ctx: ChannelContext, client: TiendanubeClient) -> None:
        self.db = db
        self.settings = settings
        self.ctx = ctx
        self.client = client
        self._store: StoreAuth | None = None
        self._location: str | None = None

    @classmethod
    @contextmanager
    def open(cls, ctx: ChannelContext, client: TiendanubeClient) -> Iterator[Api]:
        """The calls of one operation for ``ctx``'s account and marketplace."""
        if ctx.db is None or ctx.settings is None:
            raise TransientDeliveryError("the Tiendanube connector needs the hub's database and settings")
        yield cls(ctx.db, ctx.settings, ctx, client)

    @property
    def store(self) -> StoreAuth:
        """The connected store (read once); ``ConnectionHeld`` when the connection is missing, paused or gone."""
        if self._store is None:
            with self.db.reading() as session:
                return self.load_store(session)
        return self._store

    def load_store(self, session: Session) -> StoreAuth:
        """Read the connected store in ``session`` (a caller's read transaction that reads more with it);
        ``ConnectionHeld`` when the connection is missing, paused or gone."""
        row = connections.find_connection(session, self.ctx.account_id, self.ctx.marketplace.id)
        if row is None:
            raise ConnectionHeld(
                f"Account {self.ctx.account_id} has no Tiendanube connection to marketplace "
                f"{self.ctx.marketplace.id}; connect it with alephee channel connect"
            )
        if row.status != CONNECTED:
            reason = row.last_error or "connect it again with alephee channel connect"
            raise ConnectionHeld(f"The Tiendanube connection is {row.status}: {reason}")
        self._store = store_of(self.settings, row)
        self._location = stock_location(row.locations, row.stock_location)
        return self._store

    @property
    def location(self) -> str | None:
        """The location the hub's stock goes to and is read from (None: the store has one location)."""
        _ = self.store
        return self._location

    def call(self, doing: str, request: Callable[[TiendanubeClient, StoreAuth], T]) -> T:
        """Run one request (``doing`` says what it was for, in errors)."""
        store = self.store
        try:
            return request(self.client, store)
        except TiendanubeError as exc:
            if exc.unauthorized:
                self._lost(UNINSTALLED, pause=False)
                raise ConnectionHeld(UNINSTALLED) from None
            if exc.payment_required:
                self._lost(UNPAID, pause=True)
                raise ConnectionHeld(UNPAID) from None
            raise delivery_error(exc, doing) from None

    def find(self, doing: str, request: Callable[[TiendanubeClient, StoreAuth], T]) -> T | None:
        """``call``, with a 404 (no such resource) answered as None."""

        def missing_ok(client: TiendanubeClient, store: StoreAuth) -> T | None:
            try:
                return request(client, store)
            except TiendanubeError as exc:
                if exc.status == 404:
                    return None
                raise

        return self.call(doing, missing_ok)

    def _lost(self, reason: str, *, pause: bool) -> None:
        account_id, marketplace_id = self.ctx.account_id, self.ctx.marketplace.id
        with self.db.writing() as session:
            row = connections.find_connection(session, account_id, marketplace_id, lock=True)
            if row is None or row.status not in (CONNECTED, PAUSED):
                return
            if pause:
                connections.pause(session, account_id, marketplace_id, now=utcnow(), reason=reason)
            elif self._store is not None and decrypt_secret(self.settings, row.access_token or "") == self._store.token:
                # Only the token that was refused: a newer install (another token) stays connected.
                connections.disconnect(session, account_id, marketplace_id, now=utcnow(), reason=reason)

    def get(self, doing: str, path: str, params: dict[str, Any] | None = None) -> Any:
        """``GET path``: the JSON body."""
        return self.call(doing, lambda c, s: c.get(s, path, params))

    def post(self, doing: str, path: str, body: Any = None) -> Any:
        """``POST path``: the JSON body."""
        return self.call(doing, lambda c, s: c.post(s, path, body))

    def put(self, doing: str, path: str, body: Any = None) -> Any:
        """``PUT path``: the JSON body."""
        return self.call(doing, lambda c, s: c.put(s, path, body))

    def patch(self, doing: str, path: str, body: Any = None) -> Any:
        """``PATCH path``: the JSON body."""
        return self.call(doing, lambda c, s: c.patch(s, path, body))

    def delete(self, doing: str, path: str) -> Any:
        """``DELETE path``: the JSON body."""
        return self.call(doing, lambda c, s: c.delete(s, path))

    def pages(self, doing: str, path: str, params: dict[str, Any] | None = None) -> list[list[dict[str, Any]]]:
        """Every page of a list endpoint (read to the end inside the error translation)."""
        return self.call(doing, lambda c, s: list(c.pages(s, path, params)))


def path_part(value: str) -> str:
    """An id or SKU as one path segment."""
    return quote(value, safe="")
