"""The portal's catalog: the account's portal price list, product cards with today's B2B price and stock,
search and the product page (prices and availability come from ``portal.rules``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from alephee.accounts.models import PriceList
from alephee.config import Settings
from alephee.errors import NotFound
from alephee.http.i18n import N_
from alephee.portal import rules
from alephee.portal.models import PortalCartItem
from alephee.portal.sessions import Viewer
from alephee.products.models import Brand, KitComponent, Product, ProductPrice
from alephee.products.schemas import KIT

PRODUCT_NOT_FOUND = N_("The product does not exist or is not offered on this portal.")

SEARCH_MAX_TERMS = 5
SEARCH_TERM_MAX = 100


class PortalNotFound(NotFound):
    """A product or order the viewer may not see."""


class ProductNotFound(PortalNotFound):
    """The product does not exist or is not offered on the portal (404)."""

    message = PRODUCT_NOT_FOUND


# --- catalog -------------------------------------------------------------------------------------------------


def cart_quantities(session: Session, viewer: Viewer) -> dict[int, int]:
    """Units of each product in the viewer's cart."""
    rows = session.execute(
        select(PortalCartItem.product_id, PortalCartItem.quantity).where(
            PortalCartItem.user_id == viewer.user_id, PortalCartItem.account_id == viewer.account_id
        )
    ).all()
    return {pid: qty for pid, qty in rows}


def portal_price_list(session: Session, account_id: int) -> rules.PriceListFacts | None:
    """The price list the portal sells from (``rules.portal_price_list``)."""
    lists = session.execute(
        select(
            PriceList.id,
            PriceList.is_b2b,
            PriceList.is_default,
            PriceList.discount_rate,
            PriceList.currency,
            PriceList.name,
        ).where(PriceList.account_id == account_id)
    ).all()
    return rules.portal_price_list(
        rules.PriceListFacts(
            id=r[0], is_b2b=bool(r[1]), is_default=bool(r[2]), discount_rate=r[3], currency=r[4], name=r[5]
        )
        for r in lists
    )


@dataclass(frozen=True, slots=True)
class ProductCard:
    """A product as the portal shows it."""

    id: int
    sku: str
    name: str
    brand: str
    own_code: str | None
    gtin: str | None
    product_type: int
    price: rules.B2BPrice | None
    available: int
    listed: bool
    attributes: list[tuple[str, str]] = field(default_factory=list)

    @property
    def purchasable(self) -> bool:
        """Whether it can go into a cart now."""
        return rules.purchasable(self.price, self.available, self.listed)

    @property
    def is_kit(self) -> bool:
        """Kits list their components."""
        return self.product_type == KIT


def _attributes(raw: list[dict[str, Any]] | None) -> list[tuple[str, str]]:
    out = []
    for attr in raw or []:
        name, value = attr.get("Name"), attr.get("ValueName") or attr.get("Value")
        if name and value is not None:
            out.append((str(name), str(value)))
    return out


def product_cards(
    session: Session, account_id: int, price_list: rules.PriceListFacts | None, product_ids: Sequence[int]
) -> dict[int, ProductCard]:
    """The cards of ``product_ids`` (the account's only) with their price in ``price_list`` and B2B stock."""
    if not product_ids:
        return {}
    list_id = price_list.id if price_list else -1
    rows = session.execute(
        select(Product, Brand.name, ProductPrice.price_with_taxes, ProductPrice.b2b_discount_rate)
        .join(Brand, Brand.id == Product.brand_id)
        .outerjoin(ProductPrice, and_(ProductPrice.product_id == Product.id, ProductPrice.price_list_id == list_id))
        .where(Product.account_id == account_id, Product.id.in_(sorted(set(product_ids))))
    ).all()
    list_rate = price_list.discount_rate if price_list else None
    out: dict[int, ProductCard] = {}
    for product, brand, base, product_rate in rows:
        out[product.id] = ProductCard(
            id=product.id,
            sku=product.sku,
            name=product.name,
            brand=brand,
            own_code=product.own_code,
            gtin=product.gtin,
            product_type=product.product_type,
            price=rules.b2b_price(base, list_rate, product_rate) if price_list else None,
            available=rules.available(product.b2b_quantity),
            listed=rules.is_listed(product.product_type, product.catalog_status),
            attributes=_attributes(product.attributes),
        )
    return out


@dataclass(frozen=True, slots=True)
class CatalogPage:
    """One page of search results."""

    query: str
    items: list[ProductCard]
    total: int
    page: int
    pages: int
    currency: str | None
    cart: dict[int, int]


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def search_terms(query: str | None) -> list[str]:
    """The words of a search (at most ``SEARCH_MAX_TERMS``, each cut to ``SEARCH_TERM_MAX`` characters)."""
    text = unicodedata.normalize("NFC", query or "")
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return [t[:SEARCH_TERM_MAX] for t in text.split()][:SEARCH_MAX_TERMS]


def search_catalog(session: Session, settings: Settings, viewer: Viewer, query: str | None, page: int) -> CatalogPage:
    """Products on sale in the portal whose SKU, own code, brand or name contain every word of ``query``."""
    price_list = portal_price_list(session, viewer.account_id)
    terms = search_terms(query)
    size = max(1, settings.portal_page_size)
    if price_list is None:
        return CatalogPage(" ".join(terms), [], 0, 1, 1, None, {})
    conditions: list[Any] = [
        Product.account_id == viewer.account_id,
        Product.product_type != rules.VARIATION_MASTER,
        Product.catalog_status.not_in(sorted(rules.HIDDEN_CATALOG_STATUSES)),
        ProductPrice.price_with_taxes > 0,
    ]
    for term in terms:
        pattern = _like(term)
        conditions.append(
            or_(
                func.lower(Product.sku).like(pattern, escape="\\"),
                func.lower(Product.own_code).like(pattern, escape="\\"),
                func.lower(Brand.name).like(pattern, escape="\\"),
                func.lower(Product.name).like(pattern, escape="\\"),
                Product.gtin == term,
            )
        )
    base = (
        select(Product.id)
        .join(Brand, Brand.id == Product.brand_id)
        .join(ProductPrice, and_(ProductPrice.product_id == Product.id, ProductPrice.price_list_id == price_list.id))
        .where(*conditions)
    )
    total = int(session.scalar(select(func.count()).select_from(base.subquery())) or 0)
    pages = max(1, -(-total // size))
    page = min(max(1, page), pages)
    ids = list(
        session.scalars(base.order_by(func.lower(Product.name), Product.id).offset((page - 1) * size).limit(size))
    )
    cards = product_cards(session, viewer.account_id, price_list, ids)
    return CatalogPage(
        query=" ".join(terms),
        items=[cards[i] for i in ids if i in cards],
        total=total,
        page=page,
        pages=pages,
        currency=price_list.currency,
        cart=cart_quantities(session, viewer),
    )


@dataclass(frozen=True, slots=True)
class Component:
    """One component of a kit: the product and how many units one kit holds."""

    card: ProductCard
    units: int


@dataclass(frozen=True, slots=True)
class ProductPage:
    """A product's detail."""

    card: ProductCard
    components: list[Component]
    currency: str | None
    list_name: str | None
    in_cart: int


def product_detail(session: Session, viewer: Viewer, product_id: int) -> ProductPage:
    """A listed product of the viewer's account, with its kit components."""
    price_list = portal_price_list(session, viewer.account_id)
    card = product_cards(session, viewer.account_id, price_list, [product_id]).get(product_id)
    if card is None or not card.listed:
        raise ProductNotFound
    components: list[Component] = []
    if card.is_kit:
        parts = session.execute(
            select(KitComponent.component_id, KitComponent.quantity)
            .where(KitComponent.kit_id == product_id)
            .order_by(KitComponent.principal.desc(), KitComponent.component_id)
        ).all()
        part_cards = product_cards(session, viewer.account_id, price_list, [p[0] for p in parts])
        components = [Component(part_cards[cid], units) for cid, units in parts if cid in part_cards]
    return ProductPage(
        card=card,
        components=components,
        currency=price_list.currency if price_list else None,
        list_name=price_list.name if price_list else None,
        in_cart=cart_quantities(session, viewer).get(product_id, 0),
    )
