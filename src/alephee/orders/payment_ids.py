"""The orders' payment ids (``order_payments``): the ``Payments[].ExternalPaymentId`` of every stored order, so
the order a marketplace names by one of its payments (a Mercado Libre claim on a ``payment``) is found through
an index instead of a scan of the account's order documents.

Kept in step with the documents in one place per way an order's payments are written:

* an order is stored (``orders.ingest.ingest_order``: the marketplaces, the sandbox, the demo, POST /v2/orders,
  the B2B portal): its ids are inserted with it, or collected and inserted once for a whole batch of orders
  (``insert_rows``, one statement);
* the marketplace replaces an order's payment list (``orders.marketplace_news``): ``replace`` writes only
  when the set of ids changed (a payment approved keeps its id and costs nothing here);
* an order deleted from the table takes its ids with it (foreign key ``ON DELETE CASCADE``).

An empty id (an API order's payment without ``ExternalPaymentId``) is not kept. Flush only; the caller owns the
transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from alephee.orders.models import OrderPayment

# The column's width: a longer id cannot be an id the hub was given (the API caps it at 100 characters).
MAX_ID_LENGTH = 100


def payment_ids(payments: Iterable[Mapping[str, Any]]) -> list[str]:
    """The distinct non-empty ``ExternalPaymentId`` values of ``Payments[]`` elements, in their order."""
    found: dict[str, None] = {}
    for payment in payments:
        value = payment.get("ExternalPaymentId")
        if value is None:
            continue
        text = str(value).strip()
        if text and len(text) <= MAX_ID_LENGTH:
            found[text] = None
    return list(found)


def rows_of(
    order_id: int, account_id: int, marketplace_id: int, payments: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The ``order_payments`` rows of one order whose document holds ``payments`` (for ``insert_rows``)."""
    return _rows(order_id, account_id, marketplace_id, payment_ids(payments))


def _rows(order_id: int, account_id: int, marketplace_id: int, values: Iterable[str]) -> list[dict[str, Any]]:
    return [
        {"order_id": order_id, "external_payment_id": value, "account_id": account_id, "marketplace_id": marketplace_id}
        for value in values
    ]


def insert_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows_of`` rows, of one order or of a whole batch, with one table-level statement (the ORM's
    bulk insert would inspect every row dict)."""
    if rows:
        session.execute(insert(OrderPayment.__table__), rows)


def replace(
    session: Session, order_id: int, account_id: int, marketplace_id: int, payments: Iterable[Mapping[str, Any]]
) -> bool:
    """Make the order's rows the ids of ``payments`` (its new ``Payments[]``): only the ids that left are
    deleted and only the new ones inserted; whether anything was written."""
    table = OrderPayment.__table__
    wanted = payment_ids(payments)
    kept = set(session.scalars(select(table.c.external_payment_id).where(table.c.order_id == order_id)))
    gone = sorted(kept - set(wanted))
    if gone:
        session.execute(delete(table).where(table.c.order_id == order_id, table.c.external_payment_id.in_(gone)))
    fresh = [value for value in wanted if value not in kept]
    insert_rows(session, _rows(order_id, account_id, marketplace_id, fresh))
    return bool(gone or fresh)


def order_id_of(account_id: int, marketplace_id: int, payment_id: str) -> Any:
    """A scalar subquery: the lowest id of the account's orders on the marketplace holding ``payment_id`` (NULL
    when none), read from the lookup index alone."""
    return (
        select(OrderPayment.order_id)
        .where(
            OrderPayment.account_id == account_id,
            OrderPayment.marketplace_id == marketplace_id,
            OrderPayment.external_payment_id == payment_id.strip(),
        )
        .order_by(OrderPayment.order_id)
        .limit(1)
        .scalar_subquery()
    )
