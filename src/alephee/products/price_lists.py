"""Price lists of the catalog: which list a request writes into, the sale prices listings start from, and
removal of products from a price list (DELETE /v2/products/prices, CF-40.5)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Select, delete, select, update
from sqlalchemy.orm import Session

from alephee import clock
from alephee.accounts.models import Account, PriceList
from alephee.accounts.tokens import check_confirmation_token
from alephee.errors import Forbidden, InvalidInput, NotFound, PayloadTooLarge, Unauthorized
from alephee.http.body import TOO_MANY, raw_property
from alephee.http.errors import describe_validation_errors
from alephee.http.numbers import int_from_text
from alephee.http.params import MAX_INT32
from alephee.http.results import ActionResult, ActionResultBuilder, ItemOutcome
from alephee.http.wire import read_input
from alephee.products import hooks, rules
from alephee.products.batch import STATE_COLUMNS, Catalog, ProductState, lock_rows, only_items_with_messages
from alephee.products.brands import CATALOG_OWNERS
from alephee.products.models import Brand, Product, ProductPrice
from alephee.products.schemas import PLProductInfoIn, PriceListInfoIn

products_t = Product.__table__


class PriceListIdInvalid(InvalidInput):
    """``priceListId`` is not an integer between 0 and 2^31-1 (400)."""

    message = f"'priceListId' must be an integer between 0 and {MAX_INT32}"


class PriceListNotFound(NotFound):
    """The price list is not one of the account's (404)."""

    message = "Price list {id} does not exist in this account"

    def __init__(self, price_list_id: int) -> None:
        super().__init__(self.message.format(id=price_list_id))


def parse_price_list_id(raw: str | None) -> int | None:
    """The ``priceListId`` query value (None when absent or empty)."""
    if raw is None or not raw.strip():
        return None
    value = int_from_text(raw)
    if value is None or not 0 <= value <= MAX_INT32:
        raise PriceListIdInvalid()
    return value


def resolve_price_list(session: Session, account_id: int, raw: str | None) -> int | None:
    """The price list to write: the one given (404 when not of the account), else the account's default
    (or its only/first) list, else None (the account has no price list)."""
    wanted = parse_price_list_id(raw)
    if wanted is not None:
        found = session.scalar(select(PriceList.id).where(PriceList.id == wanted, PriceList.account_id == account_id))
        if found is None:
            raise PriceListNotFound(wanted)
        return found
    return session.scalar(default_price_list_query(account_id))


def default_price_list_query(account_id: int) -> Select[tuple[int]]:
    """The id of the account's default price list, else its first one (one row at most): the list a listing
    or a batch without a list of its own is priced from."""
    return (
        select(PriceList.id)
        .where(PriceList.account_id == account_id)
        .order_by(PriceList.is_default.desc(), PriceList.id)
        .limit(1)
    )


def sale_prices(session: Session, product_ids: Collection[int], price_list_ids: Collection[int]) -> dict:
    """``{(product_id, price_list_id): PriceWithTaxes}`` of the rows that have one (listings' base price)."""
    if not product_ids or not price_list_ids:
        return {}
    stmt = select(ProductPrice.product_id, ProductPrice.price_list_id, ProductPrice.price_with_taxes).where(
        ProductPrice.product_id.in_(sorted(set(product_ids))),
        ProductPrice.price_list_id.in_(sorted(set(price_list_ids))),
        ProductPrice.price_with_taxes.is_not(None),
    )
    return {(pid, plid): pwt for pid, plid, pwt in session.execute(stmt)}


# --- GET /v2/products ------------------------------------------------------------------------------------


# --- DELETE /v2/products/prices (CF-40.5) -------------------------------------------------------------


class DeleteRefusedForAccountType(Forbidden):
    """Only brand and wholesaler/distributor accounts remove products from a price list (403)."""

    message = "Only BRAND and WHOLESALER/DISTRIBUTOR accounts can remove products from a price list"


class DeleteNotEnabled(Forbidden):
    """Removal from price lists is not enabled for the account (403)."""

    message = "Removing products from price lists is not enabled for this account; ask customer service to enable it"


class ConfirmationTokenRequired(Forbidden):
    """No ``confirmationToken`` was sent (403)."""

    message = "The confirmationToken query parameter is required: get one from GET logintoken with module=2"


class ConfirmationTokenRefused(Forbidden):
    """The ``confirmationToken`` is unknown, expired, or of another module or account; the message says which (403)."""


class TooManyPriceListProducts(PayloadTooLarge):
    """More products than the endpoint's cap; nothing was processed (413)."""

    message = TOO_MANY

    def __init__(self, count: int, cap: int) -> None:
        super().__init__(self.message.format(count=count, cap=cap))


DELETE_NOT_IN_LIST = "The given SKU was not found or it is not assigned to the given price list ID"
DELETE_SHARED = (
    "The product with SKU {sku} is shared to one or more seller accounts. Cannot remove the product from the "
    "price list. This product will be ignored and will not be processed"
)


def check_delete_allowed(session: Session, account_id: int, account_type: str) -> None:
    """Preconditions (a) and (b) of CF-40.5.2 (403 otherwise)."""
    if account_type not in CATALOG_OWNERS:
        raise DeleteRefusedForAccountType()
    if not session.scalar(select(Account.allow_pricelist_delete).where(Account.id == account_id)):
        raise DeleteNotEnabled()


def delete_from_price_list(
    session: Session,
    account_id: int,
    account_type: str,
    token: str | None,
    body: PriceListInfoIn,
    cap: int | None,
) -> tuple[ActionResult, bool, int]:
    """Remove the listed products (or all, when none are listed) from one price list. The caller owns the
    transaction.

    Returns the ActionResult, whether anything was removed and how many products were considered.
    Order: permission (403) → cap (413) → price list of the account (404) → token (403; valid for its whole
    life, so a client may remove in several chunks with one token).
    """
    check_delete_allowed(session, account_id, account_type)
    requested = body.Products or []
    if cap is not None and len(requested) > cap:
        raise TooManyPriceListProducts(len(requested), cap)
    owner = session.scalar(select(PriceList.account_id).where(PriceList.id == body.PriceListId))
    if owner != account_id:
        raise PriceListNotFound(body.PriceListId)
    if token is None or not token.strip():
        raise ConfirmationTokenRequired()
    try:
        check_confirmation_token(session, token, account_id=account_id)
    except Unauthorized as exc:  # CF-40.5.5: token problems are 403 with a clear message
        raise ConfirmationTokenRefused(exc.message) from None
    result = ActionResultBuilder("SKU")
    targets: list[tuple[ItemOutcome, ProductState]] = []
    if requested:
        targets = _delete_targets(session, account_id, body.PriceListId, requested, result)
    else:
        stmt = (
            select(*STATE_COLUMNS)
            .join(Brand, Brand.id == Product.brand_id)
            .join(ProductPrice, ProductPrice.product_id == Product.id)
            .where(Product.account_id == account_id, ProductPrice.price_list_id == body.PriceListId)
            .order_by(Product.id)
        )
        for number, row in enumerate(session.execute(lock_rows(session, stmt))):
            state = ProductState(*row)
            targets.append((result.item(number, state.sku), state))
    shared = shared_product_ids(session, [s.id for _, s in targets])
    removed: set[int] = set()
    for outcome, state in targets:
        if state.id in shared:
            outcome.error(DELETE_SHARED.format(sku=state.sku))
        else:
            removed.add(state.id)
    if removed:
        session.execute(
            delete(ProductPrice).where(
                ProductPrice.price_list_id == body.PriceListId, ProductPrice.product_id.in_(sorted(removed))
            )
        )
        session.execute(
            update(products_t).where(products_t.c.id.in_(sorted(removed))).values(date_updated=clock.utcnow())
        )
        hooks.notify(
            session,
            hooks.CatalogChange(
                account_id=account_id,
                price_product_ids=frozenset(removed),
                price_list_ids=frozenset({body.PriceListId}),
            ),
        )
    return only_items_with_messages(result), bool(removed), len(result.items)


def _delete_targets(
    session: Session, account_id: int, price_list_id: int, requested: list[Any], result: ActionResultBuilder
) -> list[tuple[ItemOutcome, ProductState]]:
    parsed: list[tuple[ItemOutcome, str, str | None]] = []
    for number, raw in enumerate(requested):
        key = raw_property(raw, "SKU")
        outcome = result.item(number, key)
        if not isinstance(raw, dict):
            outcome.error("Each element must be a JSON object", None, rules.CODE_INVALID)
            continue
        try:
            item = read_input(PLProductInfoIn, raw)
        except ValidationError as exc:
            outcome.error(describe_validation_errors(exc.errors()), key, rules.CODE_INVALID)
            continue
        sku = (item.SKU or "").strip()
        if not sku:
            outcome.error(rules.SKU_REQUIRED, None, rules.CODE_SKU_REQUIRED)
            continue
        outcome.key_value = sku
        parsed.append((outcome, sku, item.Brand))
    catalog = Catalog(session, account_id, (sku for _, sku, _ in parsed))
    in_list = set(
        session.scalars(
            select(ProductPrice.product_id).where(
                ProductPrice.price_list_id == price_list_id, ProductPrice.product_id.in_(sorted(catalog.states))
            )
        )
    )
    targets: list[tuple[ItemOutcome, ProductState]] = []
    seen: set[int] = set()
    for outcome, sku, brand in parsed:
        product, _problem = catalog.find(sku, brand)
        if product is None or product.id not in in_list or product.id in seen:
            outcome.error(DELETE_NOT_IN_LIST)
            continue
        seen.add(product.id)
        targets.append((outcome, product))
    return targets


def shared_product_ids(session: Session, product_ids: Collection[int]) -> set[int]:
    if not product_ids:
        return set()
    return set(
        session.scalars(
            select(Product.source_product_id).where(Product.source_product_id.in_(sorted(product_ids))).distinct()
        )
    )


# --- operator helpers (import, demo, CLI) ----------------------------------------------------------------
