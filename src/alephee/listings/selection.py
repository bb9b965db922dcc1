"""What the listing writes share: the listings one element targets (by SKU or external ids), their locking,
element parsing and the Total/Results echo.

Writers resolve every element's listings first (no locks), then lock all of them at once in id order
(``FOR UPDATE`` on PostgreSQL) before changing anything, so two batches never wait on each other in a
cycle; catalog writers lock products first and listings (in id order) second.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from alephee.http.body import raw_property
from alephee.http.errors import describe_validation_errors
from alephee.http.wire import read_input
from alephee.listings import propagation, rules, statuses
from alephee.listings.models import Listing
from alephee.listings.schemas import (
    ListingResultOut,
    ListingResultsOut,
    ListingSelectionIn,
)
from alephee.products.batch import Catalog
from alephee.products.stock import kits_containing

# --- selection shared by the three writes -----------------------------------------------------------------


@dataclass(slots=True)
class Selection:
    """The listings one element targets, or why it targets none."""

    by_sku: bool
    key: str | None
    product_ids: set[int] = field(default_factory=set)
    listing_ids: list[int] = field(default_factory=list)
    # (external id, message) of listing ids that do not exist in the account.
    missing: list[str] = field(default_factory=list)
    error: str | None = None


def select_listings(
    session: Session,
    account_id: int,
    item: ListingSelectionIn,
    *,
    include_kit_containers: bool = False,
) -> Selection:
    """Brand+SKU (every listing of the product) or ExternalPublications (exactly those), never both."""
    sku = (item.SKU or "").strip()
    externals = [e for e in (item.ExternalPublications or []) if e]
    if bool(sku) == bool(externals):
        return Selection(by_sku=bool(sku), key=sku or None, error=rules.SELECTION)
    marketplace = [Listing.marketplace_id == item.Marketplace] if item.Marketplace is not None else []
    if sku:
        catalog = Catalog(session, account_id, [sku], lock=False)
        product, problem = catalog.find(sku, item.Brand)
        if product is None:
            assert problem is not None
            return Selection(by_sku=True, key=sku, error=problem.message)
        product_ids = {product.id}
        if include_kit_containers:
            product_ids |= kits_containing(session, [product.id])
        ids = list(
            session.scalars(
                select(Listing.id)
                .where(Listing.account_id == account_id, Listing.product_id.in_(sorted(product_ids)), *marketplace)
                .where(Listing.parent_id.is_(None))
                .order_by(Listing.id)
            )
        )
        where = f" on marketplace {item.Marketplace}" if item.Marketplace is not None else ""
        error = None if ids else rules.PRODUCT_HAS_NO_LISTINGS.format(where=where)
        return Selection(by_sku=True, key=sku, product_ids=product_ids, listing_ids=ids, error=error)
    found = dict(
        session.execute(
            select(Listing.external_id, Listing.id).where(
                Listing.account_id == account_id, Listing.external_id.in_(externals), *marketplace
            )
        ).all()
    )
    ids = list(dict.fromkeys(found[e] for e in externals if e in found))
    missing = [e for e in dict.fromkeys(externals) if e not in found]
    return Selection(by_sku=False, key=" - ".join(externals), listing_ids=ids, missing=missing)


def locked_listings(session: Session, ids: Collection[int]) -> dict[int, Listing]:
    if not ids:
        return {}
    rows = propagation.lock_listings(session, select(Listing).where(Listing.id.in_(sorted(set(ids)))))
    return {listing.id: listing for listing in rows}


def parse_element(model: type[Any], raw: Any) -> tuple[Any, str | None]:
    if not isinstance(raw, dict):
        return None, "Each element must be a JSON object"
    try:
        return read_input(model, raw), None
    except ValidationError as exc:
        return None, describe_validation_errors(exc.errors())


def raw_key(raw: Any) -> str | None:
    sku = raw_property(raw, "SKU")
    if sku is not None:
        return str(sku)
    externals = raw_property(raw, "ExternalPublications")
    if isinstance(externals, list):
        return " - ".join(str(raw_property(e, "ID") if isinstance(e, dict) else e) for e in externals)
    return None


def echo_element(raw: Any, listing: Listing | None, status_code: int | None = None) -> dict[str, Any]:
    """The input element as the client sent it, narrowed to one listing (CF-50.2.6 example)."""
    echo = dict(raw) if isinstance(raw, dict) else {"Value": raw}
    if listing is not None:
        for key in [k for k in echo if isinstance(k, str) and k.lower() in ("marketplace", "externalpublications")]:
            echo.pop(key)
        echo["Marketplace"] = listing.marketplace_id
        echo["ExternalPublications"] = [{"ID": listing.external_id}]
    if status_code is not None and "Status" not in echo:
        echo["Status"] = status_code
    return echo


def results_of(results: list[ListingResultOut]) -> tuple[ListingResultsOut, bool]:
    ok = any(r.Status in (200, 304) for r in results)
    return ListingResultsOut(Total=len(results), Results=results), ok


def child_listings(session: Session, listing_ids: list[int]) -> dict[int, list[Listing]]:
    """The variation listings under each of ``listing_ids`` (masters without children are absent)."""
    if not listing_ids:
        return {}
    out: dict[int, list[Listing]] = defaultdict(list)
    rows = propagation.lock_listings(
        session,
        select(Listing).where(Listing.parent_id.in_(sorted(listing_ids)), Listing.status != statuses.FINISHED),
    )
    for child in rows:
        out[child.parent_id].append(child)  # type: ignore[index]
    return out
