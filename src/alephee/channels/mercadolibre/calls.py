"""Calls to Mercado Libre with a token: the access token read once per operation and refreshed once after a
401, Mercado Libre's errors turned into delivery errors, and the pure rules of what a listing becomes on an item
(money on the wire, listing type names, the status to send, price refusals)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from alephee.channels import connections
from alephee.channels.mercadolibre import auth
from alephee.channels.mercadolibre.client import MercadoLibreClient, MercadoLibreError
from alephee.channels.models import ChannelConnection
from alephee.config import Settings
from alephee.db import Database
from alephee.listings.schemas import LISTING_TYPES
from alephee.listings.statuses import (
    ACTIVE,
    FINISHED,
    PAUSED,
    REASON_STOCK,
)
from alephee.marketplaces.contract import (
    ChannelContext,
    ConnectionHeld,
    PermanentDeliveryError,
    TransientDeliveryError,
)

T = TypeVar("T")

DEFAULT_LISTING_TYPE = "gold_special"
NOT_CONNECTED = "the account is not connected to Mercado Libre yet (alephee channel connect)"


@dataclass(frozen=True, slots=True)
class Seller:
    """The connection's seller and site."""

    seller_id: int
    site_id: str


def seller_from(row: ChannelConnection | None, ctx: ChannelContext) -> Seller:
    """The seller of a connection row; ``ConnectionHeld`` when there is none yet."""
    if row is None or row.seller_id is None:
        raise ConnectionHeld(NOT_CONNECTED)
    site = row.site_id or ctx.marketplace.site_id or ""
    return Seller(seller_id=row.seller_id, site_id=site.upper())


# --- pure helpers ---------------------------------------------------------------------------------------------


def wire_money(value: Decimal) -> int | float:
    """A price as a JSON number (whole amounts as integers)."""
    return int(value) if value == value.to_integral_value() else float(value)


def listing_type_name(code: int | None) -> str:
    """The Mercado Libre listing type of a hub ``listing_type`` code (``gold_special`` when none)."""
    if code in LISTING_TYPES and code != 0:
        return LISTING_TYPES[code][0]
    return DEFAULT_LISTING_TYPE


def normalised_title(title: str) -> str:
    """A title as the prediction cache keys it: no accents, lower case, single spaces."""
    plain = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", plain.lower()).split())


def delivery_error(exc: MercadoLibreError, doing: str) -> TransientDeliveryError | PermanentDeliveryError:
    """A Mercado Libre error as the delivery error the worker understands."""
    if exc.transient:
        wait = f" (retry after {exc.retry_after:g} s)" if exc.retry_after is not None else ""
        return TransientDeliveryError(
            f"Mercado Libre could not {doing} now: {exc.status} {exc.error}{wait}", retry_after=exc.retry_after
        )
    return PermanentDeliveryError(f"Mercado Libre refused to {doing}: {exc.refusal()}")


def price_refused(exc: MercadoLibreError) -> bool:
    """A 400 about the price (out of range, or a price automation refusing a price-only update)."""
    words = [exc.error, exc.description, *(f"{c.code} {c.message}" for c in exc.causes)]
    return exc.status == 400 and any("price" in w.lower() for w in words)


def price_warnings(answer: dict[str, Any]) -> list[str]:
    """Warnings of a successful PUT saying the price was not applied (an active price automation)."""
    found: list[str] = []
    for key in ("warnings", "cause", "causes"):
        for element in answer.get(key) or []:
            if not isinstance(element, dict):
                continue
            if key != "warnings" and element.get("type") != "warning":
                continue
            text = f"{element.get('code') or ''}: {element.get('message') or ''}".strip(": ")
            if "price" in text.lower():
                found.append(text)
    return found


def desired_status(status: str, reason: str | None) -> str | None:
    """The item status the hub's listing asks for (None: leave it to Mercado Libre)."""
    if status == FINISHED:
        return "closed"
    if status == PAUSED:
        # A stock pause is sent as quantity 0: Mercado Libre pauses and reactivates the item itself.
        return None if reason == REASON_STOCK else "paused"
    if status == ACTIVE:
        return "active"
    return None  # under review / inactive: held by the marketplace


def status_change(item: dict[str, Any], wanted: str | None) -> str | None:
    """The ``status`` to PUT to move ``item`` where the hub wants it (None when nothing to send)."""
    current = str(item.get("status") or "")
    subs = {str(s) for s in item.get("sub_status") or []}
    if wanted is None or wanted == current:
        if wanted == "paused" and current == "paused" and subs == {"out_of_stock"}:
            return "paused"  # paused for stock on Mercado Libre, by the seller in the hub: restock must not undo it
        return None
    if wanted == "active":
        if current != "paused":
            return None  # under review, inactive...: not the seller's to reactivate
        # Paused only for stock: the quantity sent reactivates it.
        return None if subs == {"out_of_stock"} else "active"
    return wanted


# --- calls with a token ---------------------------------------------------------------------------------------


class Api:
    """One operation's calls: the client, the access token (read once, refreshed once after a 401) and the
    translation of Mercado Libre's errors. ``token`` and ``seller``, when the caller read them with the
    connection, spare another read of it."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        ctx: ChannelContext,
        client: MercadoLibreClient,
        *,
        token: str | None = None,
        seller: Seller | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.ctx = ctx
        self.client = client
        self._token = token
        self._seller = seller

    @property
    def seller(self) -> Seller:
        """The connection's seller; ``ConnectionHeld`` when the connection has none."""
        if self._seller is None:
            raise ConnectionHeld(NOT_CONNECTED)
        return self._seller

    def _held(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except (auth.Disconnected, auth.NotConfigured, connections.ConnectionNotFound) as exc:
            raise ConnectionHeld(exc.message) from None

    def token(self, *, force: bool = False) -> str:
        """The access token (refreshed when near expiry, or now with ``force``)."""
        if self._token is None or force:
            marketplace_id = self.ctx.marketplace.id
            self._token = self._held(
                lambda: (
                    auth.refresh(self.db, self.settings, self.ctx.account_id, marketplace_id, self.client, force=force)
                    if force
                    else auth.access_token(self.db, self.settings, self.ctx.account_id, marketplace_id, self.client)
                )
            )
        return self._token

    def raw(self, request: Callable[[MercadoLibreClient, str], T]) -> T:
        """Run one request; a 401 refreshes the token once and retries. Mercado Libre's errors pass through."""
        try:
            return request(self.client, self.token())
        except MercadoLibreError as exc:
            if exc.status != 401:
                raise
        return request(self.client, self.token(force=True))

    def call(self, doing: str, request: Callable[[MercadoLibreClient, str], T]) -> T:
        """``raw``, with Mercado Libre's errors turned into delivery errors (``doing`` says what failed)."""
        try:
            return self.raw(request)
        except MercadoLibreError as exc:
            raise delivery_error(exc, doing) from None
