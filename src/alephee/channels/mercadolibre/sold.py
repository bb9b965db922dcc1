"""What a sale does to the hub's copy of an item (``KeptState``, MLC-66).

Mercado Libre lowers an item's ``available_quantity`` itself when it sells. The hub then moves its own stock and
queues the item's new quantity, which is usually exactly what Mercado Libre already shows: compared with a copy
that still shows the quantity before the sale, that quantity would be pushed back (a ``PUT``, the ``items``
notification it causes and that notification's read). So when an order is stored, the copy of each item it sold
is lowered by the units sold, in the order's transaction: the delivery that follows finds nothing to change.

The copy is lowered only when it does not already show the sale: its ``version`` (the item's ``last_updated``
when the hub read or pushed it) is older than the order's ``date_created`` (when Mercado Libre took the units).
A copy read or pushed at or after that moment is left alone. The lowered copy keeps its version, so any read of
the item since (the sale's own ``items`` notification, a push's answer: both newer) replaces it. Nothing else is
assumed: when the hub's stock for the product differs from what Mercado Libre now shows (another channel sold,
the ERP changed it), the listing differs from the lowered copy and the push goes as before.

Left alone: items with variations (their copy is never kept), a copy without a quantity or a version, and a
sale that would leave the item at 0 or less (Mercado Libre pauses it then: the push and its answer decide).

The other way round, a sale can leave Mercado Libre lower than the listing while the hub's stock move changes
nothing on the listing: one capped by MaxPublicationQuantity (stock 100, cap 10: Mercado Libre shows 9 after a
sale, the listing still 10) queues no push of its own. So each sold listing whose quantity is not the one its
copy now shows (or that has no copy to compare with) gets a push queued in the same transaction (MLC-68); where
the stock move queued one already, the delivery of the latest covers both (the pushes of a listing coalesce)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from alephee import clock
from alephee.channels.mercadolibre import mapping as ml
from alephee.listings import statuses
from alephee.listings.marketplace_state import STATE_VERSION, kept_states, state_version
from alephee.listings.models import KeptState, Listing
from alephee.listings.propagation import change_row
from alephee.marketplaces.outbox import enqueue_many


def lowered_copy(state: dict[str, Any] | None, sales: Sequence[tuple[datetime, int]]) -> dict[str, Any] | None:
    """The copy ``state`` lowered by the units of the ``sales`` (order's ``date_created``, units) it does not
    show yet; None when it is left as it is (see the module)."""
    if not state or state.get("variations"):
        return None
    quantity = ml.to_int(state.get("available_quantity"))
    version = ml.parse_date(state.get(STATE_VERSION))
    if quantity is None or version is None:
        return None
    units = sum(count for sold_at, count in sales if sold_at > version)
    if units <= 0 or quantity - units <= 0:
        return None
    return state | {"available_quantity": quantity - units}


def lower_sold_copies(session: Session, sales: Mapping[int, Sequence[tuple[datetime, int]]]) -> int:
    """Lower the kept copies of the sold items (listing id → its sales: order's ``date_created``, units) in the
    caller's transaction: one read, then one update run over the lowered copies; how many copies were lowered.
    Each update names the version it read, so a copy stored meanwhile by a newer read or push is kept. Then the
    sold listings that Mercado Libre now shows lower than the hub does get a push (``_push_behind``)."""
    if not sales:
        return 0
    lowered: list[dict[str, Any]] = []
    shown: dict[int, int | None] = {}
    states = kept_states(session, sorted(sales))
    for listing_id in sales:
        state = states.get(listing_id)
        copy = lowered_copy(state, sales[listing_id])
        if copy is not None:
            lowered.append({"listing": listing_id, "read": state_version(state), "copy": copy})
        known = copy or state
        shown[listing_id] = ml.to_int(known.get("available_quantity")) if known else None
    _push_behind(session, shown)
    if not lowered:
        return 0
    copies = KeptState.__table__
    done = session.connection().execute(
        update(copies)
        .where(copies.c.listing_id == bindparam("listing"), copies.c.version == bindparam("read"))
        .values(state=bindparam("copy", type_=copies.c.state.type), updated_at=clock.utcnow()),
        lowered,
    )
    for row in lowered:  # the update wrote around the session: a copy it had loaded is read again
        loaded = session.identity_map.get(identity_key(KeptState, (row["listing"],)))
        if loaded is not None:
            session.expire(loaded)
    return max(0, int(done.rowcount or 0))  # a driver that cannot count an executemany says -1


def _push_behind(session: Session, shown: Mapping[int, int | None]) -> None:
    """Queue a push of each sold listing (published, not finished) whose quantity is not ``shown`` (what its copy
    says Mercado Libre shows after the sale; None: not known), so a listing the sale left unchanged on the hub
    (capped by MaxPublicationQuantity) is brought back to its quantity on Mercado Libre (MLC-68)."""
    # The batch's listings are in the session already (locked by the ingestion); any other is read in one query.
    loaded = {i: session.identity_map.get(identity_key(Listing, (i,))) for i in shown}
    missing = sorted(i for i, listing in loaded.items() if listing is None)
    if missing:
        loaded.update({x.id: x for x in session.scalars(select(Listing).where(Listing.id.in_(missing)))})
    behind = [
        listing
        for listing_id in sorted(shown)
        if (listing := loaded.get(listing_id)) is not None
        and listing.external_id
        and listing.status != statuses.FINISHED
        and shown[listing_id] != listing.available_quantity
    ]
    if behind:  # one insert for all of them, as the stock move's own pushes are queued
        enqueue_many(session, [change_row(listing, ["AvailableQuantity"]) for listing in behind])
