"""Extension points of the catalog: who hears about stock/price changes, who describes a product's listings.

Products must not import the domains built on top of it (listings, orders), so they register here by name
("module:function", imported lazily), like ``alephee.demo.DEMO_STEP_NAMES``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import import_module
from typing import Any

from sqlalchemy.orm import Session

from alephee.config import Settings


@dataclass(frozen=True, slots=True)
class CatalogChange:
    """What changed in one transaction of one account.

    ``stock_product_ids``: products whose publishable stock may have changed (quantity or publication
    limits), already including the kits containing a changed component and the masters of a changed
    variation. ``price_product_ids``: products whose price changed in one of ``price_list_ids``.
    ``unwatched_product_ids``: products the writer read (locked) with no stock-alert threshold after its
    changes, so the stock-alert listener need not read their thresholds again (a hint: leaving it empty is
    always correct). ``text_product_ids``: products whose other texts a channel may send after publishing
    changed (description, barcode, variation values); ``former_names``: (product id, name before the change) of
    the renamed products, so the listings titled after the old name follow the new one.
    """

    account_id: int
    stock_product_ids: frozenset[int] = field(default_factory=frozenset)
    price_product_ids: frozenset[int] = field(default_factory=frozenset)
    price_list_ids: frozenset[int] = field(default_factory=frozenset)
    unwatched_product_ids: frozenset[int] = field(default_factory=frozenset)
    text_product_ids: frozenset[int] = field(default_factory=frozenset)
    former_names: tuple[tuple[int, str], ...] = ()

    @property
    def empty(self) -> bool:
        """Nothing a listener needs to look at."""
        return not (self.stock_product_ids or self.price_product_ids or self.text_product_ids or self.former_names)

    def merged(self, other: CatalogChange) -> CatalogChange:
        """This change and ``other`` (of the same account) as one."""
        return replace(
            self,
            stock_product_ids=self.stock_product_ids | other.stock_product_ids,
            price_product_ids=self.price_product_ids | other.price_product_ids,
            price_list_ids=self.price_list_ids | other.price_list_ids,
            # Known to both only: the other writer may have set a threshold.
            unwatched_product_ids=self.unwatched_product_ids & other.unwatched_product_ids,
            text_product_ids=self.text_product_ids | other.text_product_ids,
            # The name before the first of the two changes is the one listings may still carry.
            former_names=tuple({**dict(other.former_names), **dict(self.former_names)}.items()),
        )


# f(session, change) -> None, called inside the writer's transaction (before its commit).
CHANGE_LISTENER_NAMES: list[str] = [
    "alephee.listings.propagation:on_catalog_change",
    # product.stock_alert for the integrators' webhooks and feed.
    "alephee.products.stock_alerts:on_catalog_change",
]
# f(ids_sql) -> (name, sql): a statement a listener wants run on the rows a writer locks, right after its locking
# read and in its transaction (``batch.CatalogAhead``, PostgreSQL): ``sql`` takes ``ids_sql`` (an id array
# expression) with its parameters and returns product ids; what it found is told to the listeners (``notify``).
AHEAD_PROBE_NAMES: list[str] = [
    "alephee.listings.propagation:listed_probe",
    "alephee.products.stock_alerts:alerted_probe",
]
# f(session, settings, account_id, product_ids) -> {product_id: [GroupedPublicationsOut, ...]} for GET /v2/products.
PUBLICATIONS_PROVIDER_NAME: str | None = "alephee.listings.query:grouped_publications"


@cache
def _resolve(name: str) -> Callable[..., Any]:
    module, _, function = name.partition(":")
    target: Callable[..., Any] = getattr(import_module(module), function)
    return target


# Where ``gathered`` keeps the changes of its block in ``Session.info``.
GATHERED = "alephee.catalog_changes"
# Where ``notify`` keeps, while its listeners run, what they computed from the catalog as it is after the
# change (``products.stock.stock_snapshots``): the listeners change listings and alerts, never the catalog, so
# the second listener reuses what the first one read.
SHARED_READS = "alephee.catalog_change_reads"
# The key of the stock snapshots (product id → ``products.stock.StockSnapshot``) in the shared reads.
STOCK_SNAPSHOTS = "stock_snapshots"
# The key of the products' variation masters (product id → parent id or None) in the shared reads.
PARENTS = "parents"
# The key of the probes run with the writer's locking read in the shared reads: (the locked product ids, {probe
# name: the ids it returned}).
PROBED = "probed"
# The name of the listings' probe (``listings.propagation.listed_probe``): the products with unfinished listings.
LISTED_PROBE = "listed"


def ahead_probes(ids_sql: str) -> list[tuple[str, str]]:
    """The listeners' probes of the rows a writer locks (``AHEAD_PROBE_NAMES``), over ``ids_sql``."""
    return [_resolve(name)(ids_sql) for name in AHEAD_PROBE_NAMES]


def notify(
    session: Session,
    change: CatalogChange,
    known_stock: Mapping[int, Any] | None = None,
    known_parents: Mapping[int, int | None] | None = None,
    known_probes: tuple[Collection[int], Mapping[str, Collection[int]]] | None = None,
) -> None:
    """Tell every registered listener about ``change`` (same transaction); inside ``gathered``, at its end.

    ``known_stock``: stock snapshots the writer already knows exactly (products it locked and wrote), so the
    listeners do not read them again; ``known_parents``: the same for the products' variation masters (PRD-31);
    ``known_probes``: the products the writer locked and what ``ahead_probes`` found among them. All are ignored
    inside ``gathered`` (the merged change is told later)."""
    if change.empty:
        return
    pending: dict[int, CatalogChange] | None = session.info.get(GATHERED)
    if pending is not None:
        kept = pending.get(change.account_id)
        pending[change.account_id] = change if kept is None else kept.merged(change)
        return
    reads: dict[str, Any] = {}
    if known_stock:
        reads[STOCK_SNAPSHOTS] = dict(known_stock)
    if known_parents:
        reads[PARENTS] = dict(known_parents)
    if known_probes is not None:
        reads[PROBED] = known_probes
    session.info[SHARED_READS] = reads
    try:
        for name in CHANGE_LISTENER_NAMES:
            _resolve(name)(session, change)
    finally:
        session.info.pop(SHARED_READS, None)


def without_probed(session: Session, name: str, product_ids: Collection[int]) -> set[int] | None:
    """``product_ids`` less those the writer locked and its probe ``name`` (``ahead_probes``) did not return:
    the ones a listener may still find something for. None when the probe did not run for the change being
    told (the listener reads as it would without it)."""
    reads = shared_reads(session)
    probed = reads.get(PROBED) if reads is not None else None
    if probed is None or name not in probed[1]:
        return None
    locked, found = probed[0], probed[1][name]
    return {pid for pid in product_ids if pid not in locked or pid in found}


def shared_reads(session: Session) -> dict[str, Any] | None:
    """The reads the listeners of the change being told share (None outside ``notify``)."""
    reads: dict[str, Any] | None = session.info.get(SHARED_READS)
    return reads


@contextmanager
def gathered(session: Session) -> Iterator[None]:
    """Gather the changes told inside the block and tell the listeners once at its end, one change per account:
    a batch of writes (many orders moving stock) then refreshes each listing once, with its final stock. Nothing
    is told when the block fails (its transaction is rolled back). Nested blocks join the outer one."""
    if GATHERED in session.info:
        yield
        return
    pending: dict[int, CatalogChange] = {}
    session.info[GATHERED] = pending
    try:
        yield
    finally:
        session.info.pop(GATHERED, None)
    for account_id in sorted(pending):
        notify(session, pending[account_id])


def publications(
    session: Session, settings: Settings, account_id: int, product_ids: Collection[int]
) -> dict[int, list[Any]]:
    """The grouped publications of each product (empty when no provider is registered)."""
    if PUBLICATIONS_PROVIDER_NAME is None or not product_ids:
        return {}
    result: dict[int, list[Any]] = _resolve(PUBLICATIONS_PROVIDER_NAME)(session, settings, account_id, product_ids)
    return result
