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
sale that would leave the item at 0 or less (Mercado Libre pauses it then: the push and its answer decide)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from alephee import clock
from alephee.channels.mercadolibre import mapping as ml
from alephee.listings.marketplace_state import STATE_VERSION, kept_states, state_version
from alephee.listings.models import KeptState


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
    Each update names the version it read, so a copy stored meanwhile by a newer read or push is kept."""
    if not sales:
        return 0
    lowered: list[dict[str, Any]] = []
    for listing_id, state in kept_states(session, sorted(sales)).items():
        copy = lowered_copy(state, sales[listing_id])
        if copy is not None:
            lowered.append({"listing": listing_id, "read": state_version(state), "copy": copy})
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
