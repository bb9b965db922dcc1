"""B2B stock movements: the Alephee B2B portal reserves ``B2BQuantity`` (CF-40.3.8) when an order is placed.

``B2BQuantity`` is its own stock pool (the stock shown on the portal), stored on the product row of every
product type (a kit's B2B stock is the kit's own value, as GET /v2/products shows it). Reservations are
conditional decrements, so two buyers can never take the same unit.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import update
from sqlalchemy.orm import Session

from alephee import clock
from alephee.errors import Conflict, InvalidInput
from alephee.products.models import Product

NOT_ENOUGH_B2B_STOCK = "Not enough B2B stock for product(s) {ids}"


class B2BQuantityInvalid(InvalidInput):
    """A B2B quantity to reserve or release is not a positive integer (400)."""

    message = "B2B quantities to reserve or release must be positive integers"


class B2BStockShortage(Conflict):
    """At least one product has less B2B stock than asked for; ``product_ids`` lists them."""

    def __init__(self, product_ids: list[int]) -> None:
        super().__init__(NOT_ENOUGH_B2B_STOCK.format(ids=", ".join(str(p) for p in product_ids)))
        self.product_ids = product_ids


def reserve_b2b_stock(session: Session, account_id: int, quantities: Mapping[int, int]) -> None:
    """Take ``quantities`` ({product id: units}) from the products' B2B stock, all or nothing.

    One conditional ``UPDATE ... SET b2b_quantity = b2b_quantity - q WHERE b2b_quantity >= q`` per product,
    in ascending id order (two reservations never wait on each other in a cycle). When any product falls
    short, ``B2BStockShortage`` names every such product and the caller must roll the transaction back:
    the decrements already made are then undone with it. The caller commits on success.
    """
    _check(quantities)
    now = clock.utcnow()
    short: list[int] = []
    for product_id in sorted(quantities):
        units = quantities[product_id]
        taken = session.execute(
            update(Product)
            .where(Product.id == product_id, Product.account_id == account_id, Product.b2b_quantity >= units)
            .values(b2b_quantity=Product.b2b_quantity - units, date_updated=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if taken != 1:
            short.append(product_id)
    if short:
        raise B2BStockShortage(short)


def release_b2b_stock(session: Session, account_id: int, quantities: Mapping[int, int]) -> None:
    """Give reserved units back to the B2B stock (e.g. when a portal order is cancelled). The caller commits."""
    _check(quantities)
    now = clock.utcnow()
    for product_id in sorted(quantities):
        session.execute(
            update(Product)
            .where(Product.id == product_id, Product.account_id == account_id)
            .values(b2b_quantity=Product.b2b_quantity + quantities[product_id], date_updated=now)
            .execution_options(synchronize_session=False)
        )


def _check(quantities: Mapping[int, int]) -> None:
    if any(not isinstance(q, int) or isinstance(q, bool) or q <= 0 for q in quantities.values()):
        raise B2BQuantityInvalid()
