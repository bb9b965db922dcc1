"""What keeps a connected store in line with the hub besides listings and orders: its stock locations (read at
connect and on every reconciliation; the account chooses the one the hub's stock goes to) and its webhooks
(reconciled at connect and then periodically by the backstop, so a deleted webhook or a changed
``ALEPHEE_PUBLIC_URL`` is mended without installing again).

The calls take the client and the store (``calls.Api.call`` runs them with the connector's error handling); the
writes are plain functions over a session that only flush.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from alephee.channels import connections
from alephee.channels.tiendanube import mapping as tn
from alephee.channels.tiendanube.client import StoreAuth, TiendanubeClient, TiendanubeError
from alephee.errors import NotFound


class UnknownLocation(NotFound):
    """The location named is not one of the store's (as last read) (404)."""

    message = "The store has no such location; run alephee channel sync to read its locations again"


@dataclass(frozen=True, slots=True)
class Locations:
    """A store's locations as read, and the one stock goes to (None: one location, no ``location_id``)."""

    known: list[dict[str, Any]]
    stock_location: str | None


def read_locations(client: TiendanubeClient, store: StoreAuth) -> list[dict[str, Any]] | None:
    """``GET /locations`` as the connection keeps it (default first); None when the store does not say (an app
    without the ``read_locations`` scope, an older API): stock is then written without a location, as before.
    Transient failures and 401/402 pass through."""
    try:
        rows = [row for page in client.pages(store, "/locations") for row in page]
    except TiendanubeError as exc:
        if exc.transient or exc.unauthorized or exc.payment_required:
            raise
        return None
    return tn.store_locations(rows)


def save_locations(
    session: Session, account_id: int, marketplace_id: int, found: list[dict[str, Any]] | None
) -> Locations:
    """Keep the store's locations on the connection (None read: what was kept stays); the account's choice is
    kept while it is still a location of the store (else the store's default is used, the choice stays for
    when the location comes back)."""
    row = connections.connection_of(session, account_id, marketplace_id)
    if found is not None:
        row.locations = found
        session.flush()
    return Locations(list(row.locations or []), tn.stock_location(row.locations, row.stock_location))


def choose_location(session: Session, account_id: int, marketplace_id: int, location: str | None) -> Locations:
    """The account's choice of the location the hub's stock goes to (an id or a name of the store's locations
    as last read; None or ``default``: the store's default). ``UnknownLocation`` otherwise."""
    row = connections.connection_of(session, account_id, marketplace_id, lock=True)
    known = list(row.locations or [])
    chosen: str | None = None
    if location is not None and location.strip().lower() != "default":
        wanted = location.strip()
        match = [e for e in known if str(e.get("id")) == wanted or str(e.get("name", "")).lower() == wanted.lower()]
        if not match:
            names = ", ".join(f"{e.get('name')} ({e.get('id')})" for e in known) or "none read yet"
            raise UnknownLocation(f"The store has no location {wanted!r}; its locations: {names}")
        chosen = str(match[0]["id"])
    row.stock_location = chosen
    session.flush()
    return Locations(known, tn.stock_location(known, chosen))


def mark_checked(session: Session, account_id: int, marketplace_id: int, *, now: datetime) -> None:
    """Record that the connection's webhooks were just reconciled."""
    row = connections.connection_of(session, account_id, marketplace_id)
    row.webhooks_checked_at = now
    session.flush()
