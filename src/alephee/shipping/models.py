"""Tables of the shipping domain.

Packaging has no table of its own: the one PackInfo store is ``orders.package_info`` (it is also the order's
``Shipping.PackageInfo``). What the order model does not hold, the transport of the shipment and the dated
milestones the marketplace reports, lives here, one row per order, created on the first write.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, SmallInteger
from sqlalchemy.orm import Mapped, mapped_column

from alephee.clock import utcnow
from alephee.db import Base, UtcDateTime
from alephee.orders.models import BigId


class OrderShipping(Base):
    """Transport data (TransportationInfo) and scheduling milestones (SchedulingInfo) of one order.

    A milestone left NULL is derived when read (order history, payments, configured deadlines; see
    ``shipping.scheduling``); a stored one always wins.
    """

    __tablename__ = "order_shipping"

    order_id: Mapped[int] = mapped_column(BigId, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    account_id: Mapped[int] = mapped_column(Integer)
    # TransportInfo: Mode (CF-30.E6) and the hub's container number.
    transport_mode: Mapped[int | None] = mapped_column(SmallInteger)
    transport_container: Mapped[int | None] = mapped_column(Integer)
    transport_updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # SchedulingSchedule.Schedule (marketplace processing/collection slot) and .Expiration (rating deadline).
    scheduled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # SchedulingHandling.Approved / .Limit.
    handling_approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    handling_limit_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # SchedulingDelivery.Estimated / .Limit / .Shipped / .FirstVisit.
    delivery_estimated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    delivery_limit_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    shipped_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    first_visit_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # SchedulingDelivered.Date / .NotDelivered / .Returned.
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    not_delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    returned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
