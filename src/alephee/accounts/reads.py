"""What the accounts section of the API lists (CF-10): the key's accounts, and an account's marketplaces,
price lists and stores, paged."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from alephee.accounts.auth import AccountNotLinked, Caller
from alephee.accounts.models import (
    Account,
    AccountMarketplace,
    PriceList,
    Store,
    StoreExternalId,
)
from alephee.http.numbers import int_from_text
from alephee.http.paging import Page
from alephee.marketplaces.models import Marketplace


def paged(session: Session, stmt: Any, order: Sequence[Any], page: Page) -> tuple[int, list[Any]]:
    """The total of ``stmt`` and the rows of ``page`` in ``order``."""
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = session.scalars(stmt.order_by(*order).offset(page.offset).limit(page.limit)).all()
    return total, list(rows)


def list_accounts(
    session: Session, caller: Caller, page: Page, *, document_number: str | None, account_id: str | None
) -> tuple[int, list[Account]]:
    """Accounts linked to the key, optionally narrowed by ``DocNumber`` or one ``accountId``."""
    ids = caller.account_ids
    if account_id is not None and account_id.strip():
        wanted = int_from_text(account_id)
        if wanted is None:
            raise AccountNotLinked(None)
        if wanted not in caller.accounts:
            raise AccountNotLinked(wanted)
        ids = [wanted]
    stmt = select(Account).where(Account.id.in_(ids))
    if document_number is not None and document_number.strip():
        stmt = stmt.where(Account.doc_number == document_number.strip())
    return paged(session, stmt, [Account.id], page)


def list_marketplaces(session: Session, account_id: int, page: Page) -> tuple[int, list[Marketplace]]:
    """Marketplaces connected to the account."""
    stmt = (
        select(Marketplace)
        .join(AccountMarketplace, AccountMarketplace.marketplace_id == Marketplace.id)
        .where(AccountMarketplace.account_id == account_id)
    )
    order = [Marketplace.name, Marketplace.id] if page.sort.id == "Name" else [Marketplace.id]
    return paged(session, stmt, order, page)


def list_price_lists(session: Session, account_id: int, page: Page) -> tuple[int, list[PriceList]]:
    """Price lists of the account."""
    stmt = select(PriceList).where(PriceList.account_id == account_id)
    order = [PriceList.name, PriceList.id] if page.sort.id == "Name" else [PriceList.id]
    return paged(session, stmt, order, page)


@dataclass(frozen=True, slots=True)
class StoreFilters:
    """Filters of GET .../stores (CF-10.4.1); None = no filtering."""

    allow_pickup_in_stores: bool | None = None
    with_account_pickup: bool | None = None
    marketplace: int | None = None


def list_stores(
    session: Session, account_id: int, filters: StoreFilters, page: Page
) -> tuple[int, list[tuple[Store, list[StoreExternalId]]]]:
    """Stores of the account matching every given filter, with their marketplace ids."""
    stmt = select(Store).where(Store.account_id == account_id)
    if filters.allow_pickup_in_stores is not None:
        stmt = stmt.where(Store.allow_pickup_store.is_(filters.allow_pickup_in_stores))
    if filters.with_account_pickup is not None:
        has_pickup = Store.pickup_name.is_not(None)
        stmt = stmt.where(has_pickup if filters.with_account_pickup else Store.pickup_name.is_(None))
    if filters.marketplace is not None:
        stmt = stmt.where(
            exists().where(StoreExternalId.store_id == Store.id, StoreExternalId.marketplace_id == filters.marketplace)
        )
    order = [Store.created_at, Store.id] if page.sort.id == "dateCreated" else [Store.id]
    total, stores = paged(session, stmt, order, page)
    externals: dict[int, list[StoreExternalId]] = {s.id: [] for s in stores}
    if stores:
        for ext in session.scalars(
            select(StoreExternalId).where(StoreExternalId.store_id.in_(list(externals))).order_by(StoreExternalId.id)
        ):
            externals[ext.store_id].append(ext)
    return total, [(s, externals[s.id]) for s in stores]
