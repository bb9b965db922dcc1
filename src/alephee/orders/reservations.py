"""B2B stock reserved by an order: recorded when the B2B portal places the order, given back once when the order
is cancelled (status 90).

The portal records what it reserved (``record_b2b_reservation``) in the same transaction that places the
order; the orders domain releases it (``release_b2b_reservation``) on the move to 90, without knowing the
portal: the reservation row is all it needs. The units are the order's top-level lines (products and kits;
kit components are never reserved on their own).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from alephee import clock
from alephee.clock import utcnow
from alephee.db import Base, UtcDateTime
from alephee.products.b2b import release_b2b_stock


class B2BReservation(Base):
    """The B2B stock units an order took when it was placed (``quantities``: product id → units, as text keys
    in JSON) and when they were given back (``released_at``, once)."""

    __tablename__ = "order_b2b_reservations"

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    quantities: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


def record_b2b_reservation(session: Session, order_id: int, account_id: int, quantities: Mapping[int, int]) -> None:
    """Record the units ``order_id`` reserved (flushes with the caller's transaction)."""
    session.add(
        B2BReservation(
            order_id=order_id,
            account_id=account_id,
            quantities={str(product_id): units for product_id, units in sorted(quantities.items())},
            created_at=clock.utcnow(),
        )
    )
    session.flush()


def release_b2b_reservation(session: Session, order_id: int) -> None:
    """Give the units an order reserved back to the B2B stock, once (a conditional UPDATE claims the
    reservation, so two concurrent cancellations cannot both give it back). Nothing for an order without one."""
    row = session.get(B2BReservation, order_id)
    if row is None or row.released_at is not None:
        return
    claimed = session.execute(
        update(B2BReservation)
        .where(B2BReservation.order_id == order_id, B2BReservation.released_at.is_(None))
        .values(released_at=clock.utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        return
    quantities = {int(product_id): units for product_id, units in row.quantities.items() if units > 0}
    if quantities:
        release_b2b_stock(session, row.account_id, quantities)
