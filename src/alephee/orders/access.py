"""Lookups every order use case shares: the account's order (read or locked), the marketplace's family and
country (cached), the payload of an order's outbox row, and a client's date field read in the account's zone.

Concurrency: a batch locks the orders it touches in ascending id order (``SELECT ... FOR UPDATE`` on
PostgreSQL; SQLite's write transactions are serialised by ``BEGIN IMMEDIATE``), so two workers never deadlock
and never lose an update; each change is written with its history row in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from alephee.db import among
from alephee.errors import InvalidInput, NotFound
from alephee.http.dates import parse_datetime
from alephee.marketplaces.models import Marketplace
from alephee.orders import statuses as st
from alephee.orders.models import ORIGIN_API, ORIGIN_B2B, Order

# Orders no marketplace owns: the ERP may cancel them and nothing is pushed to a channel for them.
HUB_ORIGINS = frozenset({ORIGIN_API, ORIGIN_B2B})


class OrderNotFound(NotFound):
    """The order does not exist for this account, or was deleted (404)."""

    message = "Order not found"


_families: dict[int, str] = {}


def marketplace_family(session: Session, marketplace_id: int) -> str:
    """The rules family of a marketplace (cached: the catalogue changes only at start-up)."""
    family = _families.get(marketplace_id)
    if family is None:
        family = session.scalar(select(Marketplace.family).where(Marketplace.id == marketplace_id)) or "other"
        _families[marketplace_id] = family
    return family


def order_row(session: Session, account_id: int, order_id: int) -> Order:
    """The account's order (not deleted), or ``NotFound``: the one lookup every order route uses."""
    order = session.scalar(
        select(Order).where(Order.id == order_id, Order.account_id == account_id, Order.status != st.DELETED)
    )
    if order is None:
        raise OrderNotFound()
    return order


def locked_orders(session: Session, account_id: int, order_ids: Sequence[int]) -> dict[int, Order]:
    if not order_ids:
        return {}
    query = (
        select(Order)
        .options(defer(Order.detail), defer(Order.package_info))  # marks and statuses never need the detail
        .where(Order.account_id == account_id, Order.id.in_(sorted(set(order_ids))), Order.status != st.DELETED)
        .order_by(Order.id)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return {order.id: order for order in session.scalars(query)}


@dataclass(slots=True)
class IntegrationState:
    """An order's integration marks (what PUT /v2/orders/integrate reads and sets), without the order."""

    id: int
    account_id: int
    integrated: bool
    integrated_order_id: str | None
    erp_status: str | None


def locked_integration_states(
    session: Session, account_id: int, order_ids: Sequence[int]
) -> dict[int, IntegrationState]:
    """The integration marks of the account's orders (not deleted), locked like ``locked_orders`` but without
    loading the orders: a batch of marks reads four columns, not a hundred objects."""
    if not order_ids:
        return {}
    dialect = session.get_bind().dialect.name
    query = (
        select(Order.id, Order.account_id, Order.integrated, Order.integrated_order_id, Order.erp_status)
        .where(Order.account_id == account_id, among(Order.id, sorted(set(order_ids)), dialect))
        .where(Order.status != st.DELETED)
        .order_by(Order.id)
    )
    if dialect == "postgresql":
        query = query.with_for_update(of=Order)
    return {row[0]: IntegrationState(*row) for row in session.execute(query)}


_countries: dict[int, str | None] = {}


def marketplace_country(session: Session, marketplace_id: int) -> str | None:
    """The country of a marketplace (cached like ``marketplace_family``)."""
    if marketplace_id not in _countries:
        _countries[marketplace_id] = session.scalar(
            select(Marketplace.country_id).where(Marketplace.id == marketplace_id)
        )
    return _countries[marketplace_id]


def lock_order(session: Session, account_id: int, order_id: int, *, deleted: bool = False) -> Order:
    """The order, locked for this transaction (``FOR UPDATE`` on PostgreSQL; SQLite writers are serialised by
    BEGIN IMMEDIATE). 404 when it is not the account's (or is deleted, unless ``deleted``)."""
    query = select(Order).options(defer(Order.package_info)).where(Order.id == order_id, Order.account_id == account_id)
    if not deleted:
        query = query.where(Order.status != st.DELETED)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    order = session.scalar(query)
    if order is None:
        raise OrderNotFound()
    return order


def order_payload(order: Order, **extra: Any) -> dict[str, Any]:
    """The payload of an order-topic outbox row: the hub id, the marketplace's order number and cart, then
    the topic's own keys (see ``marketplaces/sandbox.py`` for what channels read)."""
    return {"OrderId": order.id, "ExternalOrderId": order.external_order_id, "PackId": order.pack_id, **extra}


class BadDateField(InvalidInput):
    """A date is not ISO 8601 (400)."""

    message = "Invalid date for '{name}': use ISO 8601, e.g. 2024-05-10T10:00:00-03:00"


def parse_date_field(value: str | None, tz: Any, name: str) -> datetime | None:
    if value is None or not str(value).strip():
        return None
    try:
        parsed = parse_datetime(str(value), tz, name=name)
        parsed.astimezone(tz)  # representable in local time too (year 1 / 9999 edges overflow)
        return parsed
    except (InvalidInput, OverflowError, ValueError):
        raise BadDateField(BadDateField.message.format(name=name)) from None
