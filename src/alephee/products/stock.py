"""Stock of the catalog: the atomic movement other domains call (``move_stock``), kit membership, and the
derived quantities (kits from their components, masters from their variations) listings and GET read."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import bindparam, case, select, update
from sqlalchemy.orm import Session

from alephee import clock
from alephee.errors import InvalidInput, NotFound
from alephee.products import hooks, rules
from alephee.products.batch import in_list, lock_rows
from alephee.products.models import KitComponent, Product
from alephee.products.schemas import KIT, VARIATION_MASTER

products_t = Product.__table__


def masters_of(session: Session, product_ids: Collection[int]) -> set[int]:
    """Ids of the variation masters of any of ``product_ids`` (the products that are variations); the masters
    the writer of the change being told knows (``hooks.notify(known_parents=...)``) are not read again."""
    if not product_ids:
        return set()
    shared = hooks.shared_reads(session)
    parents: dict[int, int | None] = shared.get(hooks.PARENTS, {}) if shared is not None else {}
    masters = {parent for pid in product_ids if (parent := parents.get(pid)) is not None}
    unknown = sorted(pid for pid in product_ids if pid not in parents)
    if not unknown:
        return masters
    conn = session.connection()
    condition, params = in_list(conn, "id", unknown)
    query = f"SELECT DISTINCT parent_id FROM products WHERE {condition} AND parent_id IS NOT NULL"
    return masters | {row[0] for row in conn.exec_driver_sql(query, params)}


def kits_containing(session: Session, product_ids: Collection[int]) -> set[int]:
    """Ids of the kits that have any of ``product_ids`` as a component."""
    if not product_ids:
        return set()
    conn = session.connection()
    condition, params = in_list(conn, "component_id", sorted(product_ids))
    return {
        row[0] for row in conn.exec_driver_sql(f"SELECT DISTINCT kit_id FROM kit_components WHERE {condition}", params)
    }


def kit_components_among(session: Session, product_ids: Collection[int]) -> set[int]:
    """Which of ``product_ids`` are a component of at least one kit."""
    if not product_ids:
        return set()
    return set(
        session.scalars(
            select(KitComponent.component_id).where(KitComponent.component_id.in_(sorted(product_ids))).distinct()
        )
    )


# --- atomic stock movement for other domains ------------------------------------------------------------


class ProductNotFound(NotFound):
    """The product is not one of the account's (404)."""

    message = "Product {id} does not exist in account {account}"

    def __init__(self, product_id: int, account_id: int) -> None:
        super().__init__(self.message.format(id=product_id, account=account_id))


class MasterHasNoStock(InvalidInput):
    """A variation master's stock is its variations'; it cannot be moved itself (400)."""

    message = "A variation master has no stock of its own; move one of its variations"


@dataclass(frozen=True, slots=True)
class StockMove:
    """Outcome of ``move_stock_detailed``: the new quantity and the units that could not be taken."""

    quantity: int
    shortfall: int


def move_stock(session: Session, account_id: int, product_id: int, delta: int) -> int:
    """Move a product's stock by ``delta`` atomically (clamped at 0) and return the new quantity.

    For orders: a sale or an API-created order decrements stock here. A kit moves each of its components
    by ``delta × units`` (its quantity is derived). Listings are notified in the same transaction; the
    caller commits. Callers moving several products in one transaction should go through
    ``move_stocks`` (ascending ids, so two transactions never wait on each other in a cycle).
    """
    return move_stock_detailed(session, account_id, product_id, delta).quantity


def clamped_move(quantity: int, delta: int) -> StockMove:
    """The stock rule of a move: the quantity never goes below 0, and what was asked beyond it is the
    shortfall (the database's ``CASE`` in ``move_stock_detailed`` applies the same clamp atomically)."""
    return StockMove(quantity=max(0, quantity + delta), shortfall=max(0, -(quantity + delta)))


def move_stocks(session: Session, account_id: int, deltas: dict[int, int]) -> dict[int, StockMove]:
    """Several ``move_stock`` calls in ascending product-id order."""
    return {pid: move_stock_detailed(session, account_id, pid, deltas[pid]) for pid in sorted(deltas)}


def move_stock_detailed(session: Session, account_id: int, product_id: int, delta: int) -> StockMove:
    """``move_stock`` that also reports the shortfall (units asked for beyond the available stock)."""
    row = session.execute(
        lock_rows(
            session,
            select(Product.product_type, Product.quantity, Product.parent_id).where(
                Product.id == product_id, Product.account_id == account_id
            ),
        )
    ).one_or_none()
    if row is None:
        raise ProductNotFound(product_id, account_id)
    product_type, quantity, parent_id = row
    if product_type == VARIATION_MASTER:
        raise MasterHasNoStock()
    if product_type == KIT:
        return _move_kit(session, account_id, product_id, delta)
    now = clock.utcnow()
    new_quantity = session.execute(
        update(products_t)
        .where(products_t.c.id == product_id)
        .values(
            quantity=case((products_t.c.quantity + delta < 0, 0), else_=products_t.c.quantity + delta),
            date_updated=now,
        )
        .returning(products_t.c.quantity)
    ).scalar_one()
    shortfall = clamped_move(quantity, delta).shortfall
    affected = {product_id} | kits_containing(session, [product_id]) | ({parent_id} if parent_id else set())
    hooks.notify(session, hooks.CatalogChange(account_id=account_id, stock_product_ids=frozenset(affected)))
    return StockMove(quantity=new_quantity, shortfall=shortfall)


class StockLedger:
    """The stock moves of many sales in one transaction (a batch of orders ingested together): each product's row
    read (locked on PostgreSQL) once, its moves applied in memory in order with ``move_stock_detailed``'s rules
    (clamped at 0, the shortfall reported), and every moved row written with one statement run over them
    (``write``, before anything reads the catalog again), the listeners told as each move would have told them.
    A kit moves its components through ``move_stock_detailed`` after the pending rows are written."""

    def __init__(self, session: Session, account_id: int) -> None:
        self.session = session
        self.account_id = account_id
        # product id -> [product_type, parent_id, quantity as moved so far]
        self._rows: dict[int, list[int | None]] = {}
        self._moved: set[int] = set()

    @property
    def pending(self) -> bool:
        """Whether moves wait to be written."""
        return bool(self._moved)

    def read(self, product_ids: Collection[int]) -> None:
        """Read (lock on PostgreSQL) the rows of ``product_ids`` not read yet with one query: a batch reads the
        products its lines name at once instead of one by one as they move."""
        unknown = sorted({pid for pid in product_ids if pid not in self._rows})
        if not unknown:
            return
        found = self.session.execute(
            lock_rows(
                self.session,
                select(Product.id, Product.product_type, Product.parent_id, Product.quantity).where(
                    Product.id.in_(unknown), Product.account_id == self.account_id
                ),
            )
        )
        self._rows.update({pid: [ptype, parent, quantity] for pid, ptype, parent, quantity in found})

    def move(self, deltas: dict[int, int]) -> dict[int, StockMove]:
        """``move_stocks`` (ascending ids) in memory: each product's new quantity and shortfall."""
        self.read(deltas)
        moves: dict[int, StockMove] = {}
        for pid in sorted(deltas):
            row = self._rows.get(pid)
            if row is None:
                raise ProductNotFound(pid, self.account_id)
            if row[0] == VARIATION_MASTER:
                raise MasterHasNoStock()
            if row[0] == KIT:
                self.write()  # its components move in the database, from their written rows
                moves[pid] = move_stock_detailed(self.session, self.account_id, pid, deltas[pid])
                continue
            moves[pid] = clamped_move(int(row[2] or 0), deltas[pid])
            row[2] = moves[pid].quantity
            self._moved.add(pid)
        return moves

    def write(self) -> None:
        """Write the moved rows (one statement) and tell the listeners about them, their kits and masters; the
        rows are read again when next moved (from now on others may move them: the order's news, a kit)."""
        rows, moved = self._rows, sorted(self._moved)
        self._rows, self._moved = {}, set()
        if not moved:
            return
        self.session.connection().execute(
            update(products_t)
            .where(products_t.c.id == bindparam("product"))
            .values(quantity=bindparam("units"), date_updated=clock.utcnow()),
            [{"product": pid, "units": rows[pid][2]} for pid in moved],
        )
        parents = {parent for pid in moved if isinstance(parent := rows[pid][1], int)}
        affected = set(moved) | kits_containing(self.session, moved) | parents
        hooks.notify(
            self.session, hooks.CatalogChange(account_id=self.account_id, stock_product_ids=frozenset(affected))
        )


def _move_kit(session: Session, account_id: int, kit_id: int, delta: int) -> StockMove:
    components = session.execute(
        select(KitComponent.component_id, KitComponent.quantity)
        .where(KitComponent.kit_id == kit_id)
        .order_by(KitComponent.component_id)
    ).all()
    shortfall = 0
    for component_id, units in components:
        moved = move_stock_detailed(session, account_id, component_id, delta * units)
        shortfall = max(shortfall, -(-moved.shortfall // units))
    snapshot = stock_snapshots(session, [kit_id])[kit_id]
    return StockMove(quantity=snapshot.quantity, shortfall=shortfall)


# --- stock snapshots (GET and listings) -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StockSnapshot:
    """The stock of a product as listings and GET see it (kits and masters derived)."""

    product_id: int
    product_type: int
    quantity: int
    publish_quantity: int
    min_publication_quantity: int
    max_publication_quantity: int


def stock_snapshots(session: Session, product_ids: Collection[int]) -> dict[int, StockSnapshot]:
    """Quantity and PublishQuantity of each product: kits from their components (whole kits only), variation
    masters as the sum of their variations. One statement, whatever the product types."""
    if not product_ids:
        return {}
    shared = hooks.shared_reads(session)
    known: dict[int, StockSnapshot] = shared.setdefault(hooks.STOCK_SNAPSHOTS, {}) if shared is not None else {}
    wanted = set(product_ids)
    missing = sorted(wanted - known.keys())
    if missing:
        out = _read_snapshots(session, missing)
        known.update(out)
    return {pid: known[pid] for pid in wanted if pid in known}


def snapshot_of(
    product_id: int, product_type: int, quantity: int, min_publication: int, max_publication: int
) -> StockSnapshot | None:
    """The snapshot of a product whose stock is its own (not a kit or a variation master) from its columns, as
    a writer holding its row knows them; None for a kit or a master (their stock is derived)."""
    if product_type in (KIT, VARIATION_MASTER):
        return None
    return _snapshot(product_id, product_type, quantity, min_publication, max_publication)


def _snapshot(
    product_id: int, product_type: int, quantity: int, min_publication: int, max_publication: int
) -> StockSnapshot:
    return StockSnapshot(
        product_id=product_id,
        product_type=product_type,
        quantity=quantity,
        publish_quantity=rules.publish_quantity(quantity, min_publication, max_publication),
        min_publication_quantity=min_publication,
        max_publication_quantity=max_publication,
    )


# The products' rows (kind 0), the components of the kits among them (kind 1: kit, units, component stock) and
# the variations of the masters among them (kind 2: master, stock): one round trip instead of up to three.
_SNAPSHOTS_SQL = (
    "WITH p AS (SELECT id, product_type, quantity, min_publication_quantity, max_publication_quantity"
    " FROM products WHERE {condition})"
    " SELECT 0, id, product_type, quantity, min_publication_quantity, max_publication_quantity FROM p"
    " UNION ALL SELECT 1, k.kit_id, k.quantity, c.quantity, 0, 0 FROM p"
    " JOIN kit_components k ON k.kit_id = p.id JOIN products c ON c.id = k.component_id"
    f" WHERE p.product_type = {KIT}"
    " UNION ALL SELECT 2, v.parent_id, 0, v.quantity, 0, 0 FROM p JOIN products v ON v.parent_id = p.id"
    f" WHERE p.product_type = {VARIATION_MASTER}"
)


def _read_snapshots(session: Session, product_ids: list[int]) -> dict[int, StockSnapshot]:
    conn = session.connection()
    condition, params = in_list(conn, "id", product_ids)
    rows: list[tuple[int, int, int, int, int]] = []
    per_kit: dict[int, int] = {}
    per_master: dict[int, int] = {}
    for kind, pid, a, b, c, d in conn.exec_driver_sql(_SNAPSHOTS_SQL.format(condition=condition), params):
        if kind == 0:
            rows.append((pid, a, b, c, d))
        elif kind == 1:
            whole = b // max(a, 1)  # whole kits this component allows
            per_kit[pid] = min(per_kit.get(pid, whole), whole)
        else:
            per_master[pid] = per_master.get(pid, 0) + b
    out: dict[int, StockSnapshot] = {}
    for pid, ptype, quantity, min_pub, max_pub in rows:
        if ptype == KIT:
            quantity = per_kit.get(pid, 0)
        elif ptype == VARIATION_MASTER:
            quantity = per_master.get(pid, 0)
        out[pid] = _snapshot(pid, ptype, quantity, min_pub, max_pub)
    return out
