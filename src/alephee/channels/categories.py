"""Each account's mapping of the hub's product categories (``products.category``) to a marketplace's categories.

A seller's choice (``source`` ``seller``) is managed here; the connectors add ``predicted`` rows (a category
predicted from a product title, keyed ``title:<normalised title>``) so the prediction is asked once. A seller's
mapping wins over a prediction because the connector asks ``mapped_category`` for the product's category first.
Plain functions over a session; they only flush.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from alephee.accounts.models import AccountMarketplace
from alephee.accounts.service import UnknownMarketplace, require_account_row
from alephee.channels.connections import AccountNotLinked
from alephee.channels.models import ChannelCategoryMapping
from alephee.clock import utcnow
from alephee.errors import InvalidInput, NotFound
from alephee.http.wire import clean_identifier, clean_text, format_utc
from alephee.marketplaces.models import Marketplace
from alephee.products.listing_data import MAX_CATEGORY, category_key

SELLER = "seller"
PREDICTED = "predicted"
# Predicted rows are keyed by the product title under this prefix: a seller's category cannot start with it.
PREDICTED_PREFIX = "title:"
MAX_EXTERNAL_ID = 40
MAX_EXTERNAL_NAME = 200


class CategoryInvalid(InvalidInput):
    """The hub category of a mapping is empty, too long, or uses the prefix reserved for predictions."""

    message = "The category must be 1 to 300 characters of one line and must not start with 'title:'"


class ExternalCategoryInvalid(InvalidInput):
    """The marketplace category id does not have the marketplace's form (``MLA30840`` on site MLA)."""

    message = "The marketplace category id is not valid for this marketplace"


class ExternalNameInvalid(InvalidInput):
    """The marketplace category name is too long or holds control characters."""

    message = f"The marketplace category name must be at most {MAX_EXTERNAL_NAME} characters of one line"


class MappingNotFound(NotFound):
    """The account has no mapping of that category on that marketplace."""

    message = "The account has no mapping of this category on this marketplace"


def _marketplace(session: Session, marketplace_id: int) -> Marketplace:
    marketplace = session.get(Marketplace, marketplace_id)
    if marketplace is None:
        raise UnknownMarketplace(marketplace_id)
    return marketplace


def _category(text: str) -> str:
    try:
        key = category_key(text)
    except ValueError:
        raise CategoryInvalid() from None
    if not key or len(key) > MAX_CATEGORY or key.lower().startswith(PREDICTED_PREFIX):
        raise CategoryInvalid()
    return key


def external_id_for(marketplace: Marketplace, external_id: str) -> str:
    """``external_id`` checked against the marketplace: ``<SITE><digits>`` on a Mercado Libre site (upper-cased,
    ``mla30840`` → ``MLA30840``), else one word of at most 40 characters."""
    text = external_id.strip()
    if marketplace.site_id:
        site = marketplace.site_id.upper()
        text = text.upper()
        if not re.fullmatch(rf"{re.escape(site)}\d+", text, flags=re.ASCII) or len(text) > MAX_EXTERNAL_ID:
            raise ExternalCategoryInvalid(
                f"'{external_id[:60]}' is not a category of site {site}: expected {site} followed by digits "
                f"(for example {site}1055)"
            )
        return text
    try:
        clean_identifier(text)
    except ValueError:
        text = ""
    if not text or len(text) > MAX_EXTERNAL_ID or any(char.isspace() for char in text):
        raise ExternalCategoryInvalid(
            f"'{external_id[:60]}' is not a valid category id: one word of at most {MAX_EXTERNAL_ID} characters"
        )
    return text


def _external_name(name: str | None) -> str | None:
    if name is None:
        return None
    try:
        text = clean_text(name).strip()
    except ValueError:
        raise ExternalNameInvalid() from None
    if len(text) > MAX_EXTERNAL_NAME or "\n" in text or "\r" in text:
        raise ExternalNameInvalid()
    return text or None


def as_dict(row: ChannelCategoryMapping) -> dict[str, Any]:
    """A mapping as the CLI prints it."""
    return {
        "MarketplaceId": row.marketplace_id,
        "Category": row.category,
        "ExternalCategoryId": row.external_category_id,
        "ExternalCategoryName": row.external_category_name,
        "Source": row.source,
        "UpdatedAt": format_utc(row.updated_at),
    }


def set_mapping(
    session: Session,
    account_id: int,
    marketplace_id: int,
    category: str,
    external_id: str,
    external_name: str | None = None,
) -> ChannelCategoryMapping:
    """Map the hub ``category`` to the marketplace's ``external_id`` for the account (replacing its previous
    choice). Refused unless the account and marketplace exist, are linked, and the id fits the marketplace."""
    require_account_row(session, account_id)
    marketplace = _marketplace(session, marketplace_id)
    if session.get(AccountMarketplace, (account_id, marketplace_id)) is None:
        raise AccountNotLinked(
            f"Account {account_id} is not linked to marketplace {marketplace_id}; "
            f"link it first with: alephee marketplace add --account {account_id} --marketplace {marketplace_id}"
        )
    key = _category(category)
    external = external_id_for(marketplace, external_id)
    name = _external_name(external_name)
    row = session.get(ChannelCategoryMapping, (account_id, marketplace_id, key))
    if row is None:
        row = ChannelCategoryMapping(account_id=account_id, marketplace_id=marketplace_id, category=key)
        session.add(row)
    row.external_category_id = external
    row.external_category_name = name
    row.source = SELLER
    row.updated_at = utcnow()
    row.extra = None
    session.flush()
    return row


def list_mappings(session: Session, account_id: int, marketplace_id: int | None = None) -> list[dict[str, Any]]:
    """The account's mappings (of one marketplace when given), seller choices and cached predictions, ordered
    by marketplace and category."""
    require_account_row(session, account_id)
    query = select(ChannelCategoryMapping).where(ChannelCategoryMapping.account_id == account_id)
    if marketplace_id is not None:
        _marketplace(session, marketplace_id)
        query = query.where(ChannelCategoryMapping.marketplace_id == marketplace_id)
    query = query.order_by(ChannelCategoryMapping.marketplace_id, ChannelCategoryMapping.category)
    return [as_dict(row) for row in session.scalars(query)]


def delete_mapping(session: Session, account_id: int, marketplace_id: int, category: str) -> dict[str, Any]:
    """Remove the mapping of ``category`` (a predicted row only when named by its ``title:`` key) and return
    it as it was."""
    require_account_row(session, account_id)
    _marketplace(session, marketplace_id)
    try:
        key = category_key(category)
    except ValueError:
        raise CategoryInvalid() from None
    row = session.get(ChannelCategoryMapping, (account_id, marketplace_id, key))
    if row is None:
        raise MappingNotFound(f"Account {account_id} has no mapping of '{key[:80]}' on marketplace {marketplace_id}")
    gone = as_dict(row)
    session.execute(
        delete(ChannelCategoryMapping).where(
            ChannelCategoryMapping.account_id == account_id,
            ChannelCategoryMapping.marketplace_id == marketplace_id,
            ChannelCategoryMapping.category == key,
        )
    )
    session.flush()
    return gone


def mapped_category(
    session: Session, account_id: int, marketplace_id: int, category: str
) -> tuple[str, str | None] | None:
    """The marketplace category (id, name) the account maps ``category`` to, or None (blank or unmapped).

    The connector calls it with the product's category first (a seller's mapping), then with a
    ``title:`` key for a cached prediction."""
    try:
        key = category_key(category)
    except ValueError:
        return None
    if not key:
        return None
    row = session.execute(
        select(ChannelCategoryMapping.external_category_id, ChannelCategoryMapping.external_category_name).where(
            ChannelCategoryMapping.account_id == account_id,
            ChannelCategoryMapping.marketplace_id == marketplace_id,
            ChannelCategoryMapping.category == key,
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1])
