"""Business rules of the B2B portal over a session: sign-in with module-1 login tokens, browser sessions and
CSRF, catalog reads, the cart, and placing an order in the hub (spec 10 §5.4, spec 40 §3.8, spec 20 status 0).

Prices and availability come from ``portal.rules`` only. Every function that writes commits its own
transaction (or rolls it back before raising).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alephee import clock
from alephee.accounts import service as accounts
from alephee.accounts.models import Account, AccountMarketplace, PriceList, User
from alephee.config import Settings
from alephee.errors import Conflict, Forbidden, InvalidInput, NotFound, PreconditionFailed, Unauthorized
from alephee.marketplaces.models import Marketplace
from alephee.orders import ingest as orders
from alephee.orders import shipping_rules as ship
from alephee.orders import statuses as st
from alephee.orders.models import ORIGIN_B2B, Order
from alephee.orders.query import render_one
from alephee.orders.schemas import OrderDetail
from alephee.portal import rules
from alephee.portal.formatting import buyer_status, currency_symbol, format_money, format_rate, plural
from alephee.portal.models import PortalCart, PortalCartItem, PortalOrder, PortalSession
from alephee.products import b2b as b2b_stock
from alephee.products.models import Brand, KitComponent, Product, ProductPrice
from alephee.products.schemas import KIT

# --- messages (Spanish: the portal speaks the language of the account's buyers) ----------------------------

LINK_INVALID = "El enlace de acceso no es válido."
LINK_EXPIRED = "El enlace de acceso ya se usó o expiró."
ACCESS_DISABLED = "Tu acceso al portal B2B no está habilitado. Consultá con tu proveedor."
SESSION_REQUIRED = "Tu sesión terminó o no es válida."
CSRF_FAILED = "El formulario expiró. Volvé a cargar la página e intentá de nuevo."
PRODUCT_NOT_FOUND = "El producto no existe o no está disponible en este portal."
NOT_PURCHASABLE = "«{name}» no está disponible para comprar en este momento."
BAD_QUANTITY = "Ingresá una cantidad entera mayor que cero."
CAPPED = "Solo hay {available} u. {disponibles} de «{name}»: tu carrito tiene {quantity}."
ADDED = "Agregaste {quantity} u. de «{name}» al carrito."
CART_FULL = "El carrito admite hasta {max} productos distintos. Confirmá este pedido y armá otro."
CART_UPDATED = "Carrito actualizado."
CART_UPDATED_CAPPED = "Carrito actualizado. Ajustamos cantidades al stock disponible: {names}."
REMOVED = "Quitaste «{name}» del carrito."
CART_EMPTY = "Tu carrito está vacío."
NO_B2B_MARKETPLACE = (
    "Esta cuenta no tiene conectado el canal Alephee B2B, así que no puede recibir pedidos del portal. "
    "Avisale a tu proveedor."
)
NO_PRICE_LIST = "Esta cuenta no tiene una lista de precios para el portal."
LINES_UNAVAILABLE = "Estos productos ya no están disponibles: {names}. Quitalos del carrito para continuar."
SHORTAGE = "No hay stock suficiente de: {names}. Revisá las cantidades."
CART_CHANGED = (
    "Tu carrito cambió desde que abriste esta página (quizás en otra pestaña o ventana). Revisalo y confirmá de nuevo."
)
PRICE_CHANGED = "Cambiaron precios desde que abriste el carrito: {changes}. Revisalo y confirmá de nuevo."
PRICE_CHANGE = "«{name}»: de {before} a {now} por unidad"
PRICE_CHANGE_UNSEEN = "«{name}»: ahora {now} por unidad"
PRICE_CHANGES_MORE = "y {count} más"
PRICE_CHANGES_LISTED = 4  # the message names this many products at most (it must fit the one-shot message)
TOO_MANY_ITEMS = "El pedido supera los {max} ítems que admite una orden. Dividilo en dos pedidos."
ORDER_PLACED = "¡Listo! Tu pedido #{id} fue enviado."
ORDER_NOT_FOUND = "El pedido no existe."

NOTES_MAX = 500
SEARCH_MAX_TERMS = 5
SEARCH_TERM_MAX = 100
ORDERS_PAGE_SIZE = 20
MAX_ORDER_ITEMS = 500  # spec 20 §1.2: Items 1..500

# Adjustments and payment codes of portal orders (ours; spec 20 §2.4 leaves the codes open).
ADJUSTMENT_DISCOUNT = {"Key": 1, "Value": "Bonificación"}
ADJUSTMENT_PERCENT = {"Key": 1, "Value": "Porcentaje"}
ADJUSTMENT_LIST_CODE = "B2B-LISTA"
ADJUSTMENT_PRODUCT_CODE = "B2B-PRODUCTO"
PAYMENT_ON_ACCOUNT = {"Key": 6, "Value": "cuenta_corriente"}


# --- errors --------------------------------------------------------------------------------------------------


class LoginLinkRefused(Unauthorized):
    """The login link cannot open a session; ``expired`` when it existed but was used or timed out (410)."""

    def __init__(self, *, expired: bool) -> None:
        super().__init__(LINK_EXPIRED if expired else LINK_INVALID)
        self.expired = expired


class AccessDisabled(Forbidden):
    """The user or the account's portal is not enabled."""

    message = ACCESS_DISABLED


class SessionRequired(Unauthorized):
    """No valid portal session."""

    message = SESSION_REQUIRED


class CsrfFailed(Forbidden):
    """A POST without this session's form token."""

    message = CSRF_FAILED


class PortalNotFound(NotFound):
    """A product or order the viewer may not see."""


class CartProblem(Conflict):
    """The cart cannot be changed or ordered as asked; the message says why."""


class NoB2BMarketplace(PreconditionFailed):
    """The account has no marketplace of the ``b2b`` family connected."""

    message = NO_B2B_MARKETPLACE


# --- sessions ------------------------------------------------------------------------------------------------


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Flash:
    """A one-shot message: ``level`` is ``ok`` or ``error``."""

    level: str
    text: str


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in portal user of a request."""

    session_id: int
    account_id: int
    user_id: int
    email: str
    name: str | None
    account_name: str
    timezone: str | None
    csrf_token: str
    expires_at: datetime
    flash: Flash | None = None
    cart_units: int = 0

    @property
    def display_name(self) -> str:
        """Name, else e-mail."""
        return self.name or self.email


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session just opened: the cookie value (known only here) and its expiry."""

    cookie: str
    expires_at: datetime
    ttl_seconds: int


def _user_allowed(user: User | None, account: Account | None, account_id: int) -> bool:
    return (
        user is not None
        and account is not None
        and user.account_id == account_id
        and user.active
        and user.deleted_at is None
        and account.b2b_portal_enabled
    )


def sign_in(session: Session, settings: Settings, token: str | None, *, previous: str | None = None) -> NewSession:
    """Consume a module-1 login token and open a session for its user (commits).

    Whatever the outcome, a session the browser already had (``previous`` cookie) ends: a link is the only
    way in, and a refused link must leave the browser signed out. A consumed token stays consumed even when
    the user turns out to be disabled.
    """
    try:
        consumed = accounts.consume_login_token(session, (token or "")[:200], module=accounts.MODULE_B2B)
    except Unauthorized as exc:
        session.rollback()
        end_session(session, previous)
        raise LoginLinkRefused(expired=exc.message in (accounts.TOKEN_USED, accounts.TOKEN_EXPIRED)) from None
    _end(session, previous)
    user = session.get(User, consumed.user_id) if consumed.user_id is not None else None
    account = session.get(Account, consumed.account_id)
    if not _user_allowed(user, account, consumed.account_id):
        session.commit()
        raise AccessDisabled
    assert user is not None
    now = clock.precise_utcnow()
    session.execute(delete(PortalSession).where(PortalSession.expires_at <= now))
    cookie = secrets.token_urlsafe(32)
    ttl = max(60, settings.portal_session_ttl_seconds)
    expires = now + timedelta(seconds=ttl)
    session.add(
        PortalSession(
            token_hash=_digest(cookie),
            account_id=consumed.account_id,
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=expires,
        )
    )
    session.commit()
    return NewSession(cookie=cookie, expires_at=expires, ttl_seconds=ttl)


def _end(session: Session, cookie: str | None) -> None:
    if cookie and len(cookie) <= 200:
        session.execute(delete(PortalSession).where(PortalSession.token_hash == _digest(cookie)))


def end_session(session: Session, cookie: str | None) -> None:
    """Sign out: forget the session behind ``cookie`` (commits; nothing happens for an unknown cookie)."""
    _end(session, cookie)
    session.commit()


def authenticate(session: Session, cookie: str | None) -> Viewer | None:
    """The viewer behind a session cookie, or None (unknown, expired, user or portal disabled)."""
    if not cookie or len(cookie) > 200:
        return None
    row = session.execute(
        select(PortalSession, User, Account)
        .join(User, User.id == PortalSession.user_id)
        .join(Account, Account.id == PortalSession.account_id)
        .where(PortalSession.token_hash == _digest(cookie))
    ).first()
    if row is None:
        return None
    portal_session, user, account = row
    if portal_session.expires_at <= clock.precise_utcnow() or not _user_allowed(user, account, account.id):
        return None
    units = session.scalar(
        select(func.coalesce(func.sum(PortalCartItem.quantity), 0)).where(
            PortalCartItem.user_id == user.id, PortalCartItem.account_id == account.id
        )
    )
    flash = None
    if portal_session.flash_text:
        flash = Flash(portal_session.flash_level or "ok", portal_session.flash_text)
    return Viewer(
        session_id=portal_session.id,
        account_id=account.id,
        user_id=user.id,
        email=user.email,
        name=user.name,
        account_name=account.name,
        timezone=account.timezone,
        csrf_token=portal_session.csrf_token,
        expires_at=portal_session.expires_at,
        flash=flash,
        cart_units=int(units or 0),
    )


def require_viewer(session: Session, cookie: str | None) -> Viewer:
    """``authenticate`` or ``SessionRequired``."""
    viewer = authenticate(session, cookie)
    if viewer is None:
        raise SessionRequired
    return viewer


def check_csrf(viewer: Viewer, submitted: str | None) -> None:
    """Every POST form carries the session's token (compared in constant time)."""
    if not submitted or not hmac.compare_digest(submitted.encode(), viewer.csrf_token.encode()):
        raise CsrfFailed


def set_flash(session: Session, viewer: Viewer, level: str, text: str) -> None:
    """Leave a message for the next page (same transaction as the action; the caller commits)."""
    session.execute(
        update(PortalSession)
        .where(PortalSession.id == viewer.session_id)
        .values(flash_level=level, flash_text=text[:500])
        .execution_options(synchronize_session=False)
    )


def flash_now(session: Session, viewer: Viewer, level: str, text: str) -> None:
    """``set_flash`` in its own transaction (after a failed action was rolled back)."""
    session.rollback()
    set_flash(session, viewer, level, text)
    session.commit()


def pop_flash(session: Session, viewer: Viewer) -> None:
    """Clear the message the page is about to show (commits)."""
    if viewer.flash is None:
        return
    session.execute(
        update(PortalSession)
        .where(PortalSession.id == viewer.session_id, PortalSession.flash_text == viewer.flash.text)
        .values(flash_level=None, flash_text=None)
        .execution_options(synchronize_session=False)
    )
    session.commit()


# --- catalog -------------------------------------------------------------------------------------------------


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


def _cards(
    session: Session, account_id: int, price_list: rules.PriceListFacts | None, product_ids: Sequence[int]
) -> dict[int, ProductCard]:
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
    cards = _cards(session, viewer.account_id, price_list, ids)
    return CatalogPage(
        query=" ".join(terms),
        items=[cards[i] for i in ids if i in cards],
        total=total,
        page=page,
        pages=pages,
        currency=price_list.currency,
        cart=_cart_quantities(session, viewer),
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
    card = _cards(session, viewer.account_id, price_list, [product_id]).get(product_id)
    if card is None or not card.listed:
        raise PortalNotFound(PRODUCT_NOT_FOUND)
    components: list[Component] = []
    if card.is_kit:
        parts = session.execute(
            select(KitComponent.component_id, KitComponent.quantity)
            .where(KitComponent.kit_id == product_id)
            .order_by(KitComponent.principal.desc(), KitComponent.component_id)
        ).all()
        part_cards = _cards(session, viewer.account_id, price_list, [p[0] for p in parts])
        components = [Component(part_cards[cid], units) for cid, units in parts if cid in part_cards]
    return ProductPage(
        card=card,
        components=components,
        currency=price_list.currency if price_list else None,
        list_name=price_list.name if price_list else None,
        in_cart=_cart_quantities(session, viewer).get(product_id, 0),
    )


# --- cart ----------------------------------------------------------------------------------------------------


def _lock_cart(session: Session, viewer: Viewer) -> int:
    """Lock the viewer's cart until commit and return its version (creating its row at version 0).

    Every change of the cart and every confirmation calls this first, so they run one at a time per cart
    (the upsert takes the row lock on PostgreSQL; SQLite writers are serialised by BEGIN IMMEDIATE), and a
    confirmation sees whether anything changed since its page was drawn."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    statement = (
        insert(PortalCart)
        .values(user_id=viewer.user_id, account_id=viewer.account_id, version=0, updated_at=clock.utcnow())
        .on_conflict_do_update(index_elements=[PortalCart.user_id], set_={"version": PortalCart.version})
        .returning(PortalCart.version)
    )
    return int(session.execute(statement).scalar_one())


def _bump_cart(session: Session, viewer: Viewer) -> int:
    """The cart's lines changed (its row is locked by ``_lock_cart``): move its version on; returns the new one.
    A page drawn before this change can no longer be confirmed."""
    version = session.execute(
        update(PortalCart)
        .where(PortalCart.user_id == viewer.user_id)
        .values(version=PortalCart.version + 1, updated_at=clock.utcnow())
        .returning(PortalCart.version)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    return int(version)


def _cart_version(session: Session, viewer: Viewer) -> int:
    """The cart's current version (0 before its first change)."""
    version = session.scalar(select(PortalCart.version).where(PortalCart.user_id == viewer.user_id))
    return int(version or 0)


def _stale_cart(session: Session, viewer: Viewer) -> CartProblem:
    """Why a page's cart version no longer holds: the cart changed, or it is empty (its order was placed, e.g.
    by the same page submitted twice)."""
    return CartProblem(CART_CHANGED if _cart_quantities(session, viewer) else CART_EMPTY)


def _cart_quantities(session: Session, viewer: Viewer) -> dict[int, int]:
    rows = session.execute(
        select(PortalCartItem.product_id, PortalCartItem.quantity).where(
            PortalCartItem.user_id == viewer.user_id, PortalCartItem.account_id == viewer.account_id
        )
    ).all()
    return {pid: qty for pid, qty in rows}


@dataclass(frozen=True, slots=True)
class CartLine:
    """A cart line with its current price and stock."""

    card: ProductCard
    quantity: int

    @property
    def over_stock(self) -> bool:
        """More units than the B2B stock now has."""
        return self.quantity > self.card.available

    @property
    def ok(self) -> bool:
        """Can be ordered as it is."""
        return self.card.purchasable and not self.over_stock

    @property
    def total(self) -> Decimal:
        """Quantity × unit price (0 without a price)."""
        return self.card.price.unit * self.quantity if self.card.price else rules.ZERO


@dataclass(frozen=True, slots=True)
class ShownCart:
    """What a cart page showed the buyer, as its confirmation form sends it back: the cart's version and the unit
    price of each line. A confirmation orders the cart only when both still hold."""

    version: int
    prices: Mapping[int, Decimal | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CartView:
    """The cart as the buyer sees it."""

    lines: list[CartLine]
    totals: rules.Totals
    currency: str | None
    version: int = 0

    @property
    def ready(self) -> bool:
        """Every line can be ordered as it is (and there is at least one)."""
        return bool(self.lines) and all(line.ok for line in self.lines)

    @property
    def shown(self) -> ShownCart:
        """What this page shows, as its confirmation form carries it."""
        return ShownCart(self.version, {line.card.id: line.card.price.unit for line in self.lines if line.card.price})


def cart_view(session: Session, viewer: Viewer) -> CartView:
    """The viewer's cart with today's prices and stock."""
    price_list = portal_price_list(session, viewer.account_id)
    # The version first, then the lines (each read is its own snapshot): a change committed in between shows
    # its lines under the older version, so confirming that page is refused rather than ordering unseen lines.
    version = _cart_version(session, viewer)
    quantities = _cart_quantities(session, viewer)
    cards = _cards(session, viewer.account_id, price_list, list(quantities))
    lines = sorted(
        (CartLine(cards[pid], qty) for pid, qty in quantities.items() if pid in cards),
        key=lambda line: (line.card.name.lower(), line.card.id),
    )
    priced = [(line.card.price, line.quantity) for line in lines if line.card.price is not None]
    return CartView(lines, rules.totals(priced), price_list.currency if price_list else None, version)


def shown_price(raw: str | None) -> Decimal | None:
    """A unit price as a cart page wrote it into its form (plain decimal text); None when it is not one."""
    text = (raw or "").strip()
    if not text or len(text) > 30:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _purchasable_card(session: Session, viewer: Viewer, product_id: int) -> ProductCard:
    price_list = portal_price_list(session, viewer.account_id)
    card = _cards(session, viewer.account_id, price_list, [product_id]).get(product_id)
    if card is None or not card.listed:
        raise PortalNotFound(PRODUCT_NOT_FOUND)
    if not card.purchasable:
        raise CartProblem(NOT_PURCHASABLE.format(name=card.name))
    return card


def add_to_cart(session: Session, settings: Settings, viewer: Viewer, product_id: int, raw_quantity: str | None) -> str:
    """Add units of a product (the line never exceeds the B2B stock); returns the message for the buyer.
    Commits, with the message left as the next page's flash."""
    requested = rules.parse_quantity(raw_quantity)
    if requested is None or requested <= 0:
        raise InvalidInput(BAD_QUANTITY)
    card = _purchasable_card(session, viewer, product_id)
    for attempt in range(2):
        _lock_cart(session, viewer)
        current = session.scalar(
            select(PortalCartItem.quantity).where(
                PortalCartItem.user_id == viewer.user_id, PortalCartItem.product_id == product_id
            )
        )
        if current is None:
            lines = session.scalar(
                select(func.count()).where(
                    PortalCartItem.user_id == viewer.user_id, PortalCartItem.account_id == viewer.account_id
                )
            )
            if (lines or 0) >= settings.portal_max_cart_lines:
                session.rollback()
                raise CartProblem(CART_FULL.format(max=settings.portal_max_cart_lines))
        decision = rules.line_quantity((current or 0) + requested, card.available)
        if current is None:
            session.add(
                PortalCartItem(
                    user_id=viewer.user_id,
                    product_id=product_id,
                    account_id=viewer.account_id,
                    quantity=decision.quantity,
                    added_at=clock.utcnow(),
                )
            )
        else:
            session.execute(
                update(PortalCartItem)
                .where(PortalCartItem.user_id == viewer.user_id, PortalCartItem.product_id == product_id)
                .values(quantity=decision.quantity)
                .execution_options(synchronize_session=False)
            )
        _bump_cart(session, viewer)
        if decision.capped:
            message, level = (
                CAPPED.format(
                    available=card.available,
                    disponibles=plural(card.available, "disponible", "disponibles"),
                    name=card.name,
                    quantity=decision.quantity,
                ),
                "error",
            )
        else:
            message, level = ADDED.format(quantity=requested, name=card.name), "ok"
        set_flash(session, viewer, level, message)
        try:
            session.commit()
        except IntegrityError:  # the same line was added by a concurrent request: add to it instead
            session.rollback()
            if attempt == 1:
                raise
            continue
        return message
    raise AssertionError("unreachable")


@dataclass(frozen=True, slots=True)
class CartUpdate:
    """The outcome of setting quantities: the lines lowered to the stock, and the cart's new version."""

    capped: list[str]
    version: int


def update_cart(
    session: Session, viewer: Viewer, quantities: Mapping[int, str | None], *, shown_version: int | None = None
) -> CartUpdate:
    """Set line quantities (0 or empty removes the line; each capped at the B2B stock). With ``shown_version``,
    only when the cart is still at that version (else ``CART_CHANGED`` and nothing changes). Commits, with a
    flash message."""
    price_list = portal_price_list(session, viewer.account_id)
    version = _lock_cart(session, viewer)
    if shown_version is not None and version != shown_version:
        problem = _stale_cart(session, viewer)
        session.rollback()
        raise problem
    current = _cart_quantities(session, viewer)
    wanted: dict[int, int] = {}
    for product_id, raw in quantities.items():
        if product_id not in current:
            continue
        parsed = rules.parse_quantity(raw)
        if parsed is None:
            if (raw or "").strip():
                session.rollback()
                raise InvalidInput(BAD_QUANTITY)
            parsed = 0
        wanted[product_id] = parsed
    cards = _cards(session, viewer.account_id, price_list, list(wanted))
    capped: list[str] = []
    changed = False
    for product_id, requested in wanted.items():
        if requested == 0:
            changed = _remove(session, viewer, product_id) or changed
            continue
        card = cards.get(product_id)
        units = card.available if card is not None and card.purchasable else 0
        decision = rules.line_quantity(requested, units)
        if decision.capped:
            capped.append(card.name if card is not None else f"#{product_id}")
        if decision.quantity == 0:
            continue  # nothing left to sell: the line stays, flagged in the cart, until the buyer removes it
        if decision.quantity != current[product_id]:
            session.execute(
                update(PortalCartItem)
                .where(PortalCartItem.user_id == viewer.user_id, PortalCartItem.product_id == product_id)
                .values(quantity=decision.quantity)
                .execution_options(synchronize_session=False)
            )
            changed = True
    if changed:
        version = _bump_cart(session, viewer)
    if capped:
        set_flash(session, viewer, "error", CART_UPDATED_CAPPED.format(names=", ".join(f"«{n}»" for n in capped)))
    else:
        set_flash(session, viewer, "ok", CART_UPDATED)
    session.commit()
    return CartUpdate(capped, version)


def _remove(session: Session, viewer: Viewer, product_id: int) -> bool:
    """Delete a line; whether there was one."""
    result = session.execute(
        delete(PortalCartItem).where(
            PortalCartItem.user_id == viewer.user_id,
            PortalCartItem.account_id == viewer.account_id,
            PortalCartItem.product_id == product_id,
        )
    )
    return bool(getattr(result, "rowcount", 0))


def remove_from_cart(session: Session, viewer: Viewer, product_id: int) -> None:
    """Remove a line (commits, with a flash message)."""
    _lock_cart(session, viewer)
    name = session.scalar(select(Product.name).where(Product.id == product_id))
    if _remove(session, viewer, product_id):
        _bump_cart(session, viewer)
    if name is not None:
        set_flash(session, viewer, "ok", REMOVED.format(name=name))
    session.commit()


# --- placing an order ----------------------------------------------------------------------------------------


def b2b_marketplace(session: Session, account_id: int) -> Marketplace | None:
    """The account's connected marketplace of the ``b2b`` family (id 30 "Alephee B2B" in the catalogue)."""
    return session.scalar(
        select(Marketplace)
        .join(AccountMarketplace, AccountMarketplace.marketplace_id == Marketplace.id)
        .where(AccountMarketplace.account_id == account_id, Marketplace.family == "b2b")
        .order_by(Marketplace.id)
        .limit(1)
    )


@dataclass(frozen=True, slots=True)
class _Line:
    card: ProductCard
    price: rules.B2BPrice
    quantity: int


def confirm_order(
    session: Session,
    settings: Settings,
    viewer: Viewer,
    shown: ShownCart,
    quantities: Mapping[int, str | None],
    notes: str | None = None,
) -> int | None:
    """The cart page's «Confirmar pedido»: apply the quantities on screen (``update_cart``, only if the cart is
    still the one shown), then place the cart as shown (``place_order``). Returns the order id, or None when a
    quantity had to be lowered to the stock (the buyer looks at the cart again)."""
    if quantities:
        updated = update_cart(session, viewer, quantities, shown_version=shown.version)
        if updated.capped:
            return None
        shown = replace(shown, version=updated.version)  # the lines are still the ones shown, now at this version
    return place_order(session, settings, viewer, shown, notes)


def place_order(
    session: Session, settings: Settings, viewer: Viewer, shown: ShownCart, notes: str | None = None
) -> int:
    """Turn the viewer's cart into one order in the hub (status 0, on the account's B2B marketplace) and
    reserve its B2B stock, all in one transaction; returns the order id. Only the cart ``shown`` is ordered: a
    cart changed since (``CART_CHANGED``) or a unit price that moved (``PRICE_CHANGED``) orders nothing.
    Commits, or rolls back and raises (the cart is then left as it was)."""
    try:
        return _place(session, settings, viewer, shown, notes)
    except BaseException:
        session.rollback()
        raise


def _place(session: Session, settings: Settings, viewer: Viewer, shown: ShownCart, notes: str | None) -> int:
    marketplace = b2b_marketplace(session, viewer.account_id)
    if marketplace is None:
        raise NoB2BMarketplace
    price_list = portal_price_list(session, viewer.account_id)
    if price_list is None:
        raise CartProblem(NO_PRICE_LIST)
    # The cart row's lock is held until commit: a change from another tab, or a second confirmation of the same
    # page, waits for this one and then finds the version moved on.
    if _lock_cart(session, viewer) != shown.version:
        raise _stale_cart(session, viewer)
    # Claim the cart's lines: they leave the cart with the order.
    claimed = session.execute(
        delete(PortalCartItem)
        .where(PortalCartItem.user_id == viewer.user_id, PortalCartItem.account_id == viewer.account_id)
        .returning(PortalCartItem.product_id, PortalCartItem.quantity)
    ).all()
    if not claimed:
        raise CartProblem(CART_EMPTY)
    _bump_cart(session, viewer)
    cards = _cards(session, viewer.account_id, price_list, [pid for pid, _ in claimed])
    lines: list[_Line] = []
    unavailable: list[str] = []
    for product_id, quantity in sorted(claimed):
        card = cards.get(product_id)
        if card is None or card.price is None or not card.listed or quantity <= 0:
            unavailable.append(card.name if card else f"#{product_id}")
            continue
        lines.append(_Line(card, card.price, quantity))
    if unavailable:
        raise CartProblem(LINES_UNAVAILABLE.format(names=", ".join(f"«{n}»" for n in unavailable)))
    moved = [line for line in lines if shown.prices.get(line.card.id) != line.price.unit]
    if moved:
        raise CartProblem(_price_changes(moved, shown, price_list.currency))
    try:
        b2b_stock.reserve_b2b_stock(session, viewer.account_id, {line.card.id: line.quantity for line in lines})
    except b2b_stock.B2BStockShortage as exc:
        names = ", ".join(f"«{cards[pid].name}»" for pid in exc.product_ids if pid in cards)
        raise CartProblem(SHORTAGE.format(names=names)) from None
    account = session.get(Account, viewer.account_id)
    assert account is not None
    user = session.get(User, viewer.user_id)
    assert user is not None
    components = _kit_components(session, viewer.account_id, price_list, [ln.card.id for ln in lines if ln.card.is_kit])
    detail = build_order_detail(
        account=account,
        user=user,
        marketplace=marketplace,
        price_list=price_list,
        lines=lines,
        components=components,
        notes=clean_notes(notes),
        now=clock.utcnow(),
    )
    if len(detail["Items"]) > MAX_ORDER_ITEMS:
        raise CartProblem(TOO_MANY_ITEMS.format(max=MAX_ORDER_ITEMS))
    now = clock.utcnow()
    order = orders.ingest_order(
        session,
        orders.NewOrder(
            account_id=viewer.account_id,
            marketplace_id=marketplace.id,
            external_order_id=f"B2B-{uuid.uuid4().hex[:12].upper()}",
            detail=OrderDetail.model_validate(detail),
            status=st.NO_STATUS,
            sale_date=now,
            origin=ORIGIN_B2B,
            logistic_type=ship.TO_BE_AGREED,
            shipment_status=ship.TO_BE_AGREED_STATUS,
            created_at=now,
            status_date=now,
        ),
    )
    summary = rules.totals((line.price, line.quantity) for line in lines)
    session.add(
        PortalOrder(
            order_id=order.id,
            account_id=viewer.account_id,
            user_id=viewer.user_id,
            lines=summary.lines,
            units=summary.units,
            total=summary.total,
            currency=price_list.currency,
            created_at=now,
        )
    )
    set_flash(session, viewer, "ok", ORDER_PLACED.format(id=order.id))
    session.commit()
    return order.id


def _price_changes(moved: Sequence[_Line], shown: ShownCart, currency: str | None) -> str:
    changes = []
    for line in moved[:PRICE_CHANGES_LISTED]:
        before = shown.prices.get(line.card.id)
        now = format_money(line.price.unit, currency)
        if before is None:
            changes.append(PRICE_CHANGE_UNSEEN.format(name=line.card.name, now=now))
        else:
            changes.append(PRICE_CHANGE.format(name=line.card.name, before=format_money(before, currency), now=now))
    if len(moved) > PRICE_CHANGES_LISTED:
        changes.append(PRICE_CHANGES_MORE.format(count=len(moved) - PRICE_CHANGES_LISTED))
    return PRICE_CHANGED.format(changes="; ".join(changes))


def clean_notes(notes: str | None) -> str:
    """The buyer's notes: printable text (line breaks kept), at most ``NOTES_MAX`` characters."""
    text = "".join(ch for ch in (notes or "") if ch in "\n\t" or ch.isprintable()).strip()
    return text.replace("\r", "")[:NOTES_MAX]


def _kit_components(
    session: Session, account_id: int, price_list: rules.PriceListFacts, kit_ids: Sequence[int]
) -> dict[int, list[tuple[ProductCard, int, Decimal | None]]]:
    if not kit_ids:
        return {}
    parts = session.execute(
        select(KitComponent.kit_id, KitComponent.component_id, KitComponent.quantity)
        .where(KitComponent.kit_id.in_(sorted(kit_ids)))
        .order_by(KitComponent.kit_id, KitComponent.principal.desc(), KitComponent.component_id)
    ).all()
    cards = _cards(session, account_id, price_list, sorted({p[1] for p in parts}))
    out: dict[int, list[tuple[ProductCard, int, Decimal | None]]] = {}
    for kit_id, component_id, units in parts:
        card = cards.get(component_id)
        if card is not None:
            out.setdefault(kit_id, []).append((card, units, card.price.full if card.price else None))
    return out


def _kv(key: int, value: str) -> dict[str, Any]:
    return {"Key": key, "Value": value}


def _product(card: ProductCard) -> dict[str, Any]:
    return {
        "Id": card.id,
        "Sku": card.sku,
        "Brand": card.brand,
        "SellerSku": card.own_code or card.sku,
        "EAN": card.gtin,
        "Title": card.name,
    }


def build_order_detail(
    *,
    account: Account,
    user: User,
    marketplace: Marketplace,
    price_list: rules.PriceListFacts,
    lines: Iterable[_Line],
    components: Mapping[int, list[tuple[ProductCard, int, Decimal | None]]],
    notes: str,
    now: datetime,
) -> dict[str, Any]:
    """The order's detail sections in wire shape (items with local ids 1..n, kits followed by components)."""
    status = _kv(st.NO_STATUS, st.STATUS_LABELS[st.NO_STATUS])
    status_type = _kv(st.TYPE_NEW, st.STATUS_TYPE_LABELS[st.TYPE_NEW])
    items: list[dict[str, Any]] = []
    adjustments: list[dict[str, Any]] = []
    lines = list(lines)
    for line in lines:
        kit_local = len(items) + 1
        kind = orders.ITEM_KIT if line.card.is_kit else orders.ITEM_NORMAL
        items.append(
            _item(
                kit_local, kind, None, line.card, line.quantity, line.price.unit, line.price.full, status, status_type
            )
        )
        if line.card.is_kit:
            parts = components.get(line.card.id, [])
            shares = rules.component_prices(line.price, [(units, base) for _, units, base in parts])
            for (card, units, _), share in zip(parts, shares, strict=True):
                items.append(
                    _item(
                        len(items) + 1,
                        orders.ITEM_COMPONENT,
                        kit_local,
                        card,
                        units * line.quantity,
                        None,
                        None,
                        status,
                        status_type,
                        calculated=share,
                    )
                )
        if line.price.product_rate > 0:
            adjustments.append(
                {
                    "Type": ADJUSTMENT_DISCOUNT,
                    "Code": ADJUSTMENT_PRODUCT_CODE,
                    "Description": (
                        f"Descuento B2B del producto {format_rate(line.price.product_rate)}% "
                        f"({format_money(line.price.product_discount, price_list.currency)} por unidad)"
                    ),
                    "Item": {
                        "Id": line.card.id,
                        "Brand": line.card.brand,
                        "Sku": line.card.sku,
                        "SellerSku": line.card.own_code or line.card.sku,
                    },
                    "Value": {"Type": ADJUSTMENT_PERCENT, "Value": line.price.product_rate},
                }
            )
    summary = rules.totals((line.price, line.quantity) for line in lines)
    list_rate = rules.clamp_rate(price_list.discount_rate)
    if list_rate > 0:
        adjustments.insert(
            0,
            {
                "Type": ADJUSTMENT_DISCOUNT,
                "Code": ADJUSTMENT_LIST_CODE,
                "Description": (
                    f"Descuento de la lista {price_list.name} {format_rate(list_rate)}% "
                    f"({format_money(summary.list_discount, price_list.currency)} en total)"
                ),
                "Item": None,
                "Value": {"Type": ADJUSTMENT_PERCENT, "Value": list_rate},
            },
        )
    buyer_name = user.name or user.email
    currency = currency_symbol(price_list.currency)
    return {
        **orders.order_parties(account, marketplace),
        "Items": items,
        "Payments": [
            {
                "Amount": summary.total,
                "AmountNoDiscount": summary.total,
                "ShippingAmount": rules.ZERO,
                "ShippingAmountNoDiscount": rules.ZERO,
                "TransactionAmount": summary.total,
                "Total": summary.total,
                "SubTotal": summary.total,
                "Installments": 1,
                "InstallmentAmount": summary.total,
                "Notes": "Pedido del portal B2B: se cobra según las condiciones comerciales de la cuenta",
                "CurrencySymbol": currency,
                "Method": PAYMENT_ON_ACCOUNT,
                "Discounts": [],
                "DateCreated": now,
            }
        ],
        "Adjustments": adjustments,
        "Shipping": {
            "Cost": rules.ZERO,
            "ReceiverCost": rules.ZERO,
            "SenderCost": rules.ZERO,
            "Receiver": {"Name": buyer_name},
            "DateCreated": now,
        },
        "Buyer": {"Code": user.id, "Name": buyer_name, "Email": user.email, "Nickname": user.email},
        "Billing": {"SaleFee": rules.ZERO, "Invoice": {"DanfePdfUrl": "", "XmlUrl": ""}},
        "ActiveClaims": [],
        "ExternalJson": {},
        "Notes": notes,
    }


def _item(
    local_id: int,
    item_type: int,
    parent: int | None,
    card: ProductCard,
    quantity: int,
    unit: Decimal | None,
    full: Decimal | None,
    status: dict[str, Any],
    status_type: dict[str, Any],
    *,
    calculated: tuple[Decimal, Decimal] | None = None,
) -> dict[str, Any]:
    return {
        "Id": local_id,
        "Type": _kv(item_type, orders.ITEM_TYPES[item_type]),
        "ParentItemId": parent,
        "Product": _product(card),
        "ProductListing": None,
        "Quantity": quantity,
        "QuantitiesDetails": {
            "Requested": {"Key": "unidades", "Value": Decimal(quantity)},
            "Picked": {"Key": "unidades", "Value": rules.ZERO},
            "StockMovements": [],
        },
        "UnitPrice": unit,
        "FullUnitPrice": full,
        "CalculatedComponentUnitPrice": calculated[0] if calculated else None,
        "CalculatedComponentFullUnitPrice": calculated[1] if calculated else None,
        "SaleFee": None,
        "Notes": "",
        "Status": status,
        "StatusType": status_type,
        "IsCancelled": False,
    }


# --- the buyer's orders --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderRow:
    """One of the viewer's orders in the list."""

    id: int
    created_at: datetime
    lines: int
    units: int
    total: Decimal
    currency: str | None
    status: int
    status_label: str


@dataclass(frozen=True, slots=True)
class OrdersPage:
    """A page of the viewer's orders, newest first."""

    rows: list[OrderRow]
    page: int
    pages: int
    total: int


def my_orders(session: Session, viewer: Viewer, page: int) -> OrdersPage:
    """The orders the viewer placed on the portal, with each order's current status."""
    where = and_(
        PortalOrder.account_id == viewer.account_id,
        PortalOrder.user_id == viewer.user_id,
        Order.status != st.DELETED,
    )
    base = select(PortalOrder, Order.status).join(Order, Order.id == PortalOrder.order_id).where(where)
    total = int(session.scalar(select(func.count()).select_from(base.subquery())) or 0)
    pages = max(1, -(-total // ORDERS_PAGE_SIZE))
    page = min(max(1, page), pages)
    rows = session.execute(
        base.order_by(PortalOrder.order_id.desc()).offset((page - 1) * ORDERS_PAGE_SIZE).limit(ORDERS_PAGE_SIZE)
    ).all()
    out = []
    for portal_order, status in rows:
        out.append(
            OrderRow(
                id=portal_order.order_id,
                created_at=portal_order.created_at,
                lines=portal_order.lines,
                units=portal_order.units,
                total=portal_order.total,
                currency=portal_order.currency,
                status=status,
                status_label=buyer_status(status),
            )
        )
    return OrdersPage(out, page, pages, total)


@dataclass(frozen=True, slots=True)
class OrderPage:
    """One of the viewer's orders as the hub holds it (wire shape) plus the portal's totals."""

    id: int
    order: dict[str, Any]
    summary: PortalOrder
    status_label: str


def my_order(session: Session, viewer: Viewer, order_id: int) -> OrderPage:
    """An order the viewer placed (404 for anyone else's)."""
    summary = session.get(PortalOrder, order_id)
    if summary is None or summary.account_id != viewer.account_id or summary.user_id != viewer.user_id:
        raise PortalNotFound(ORDER_NOT_FOUND)
    try:
        order = render_one(session, viewer.account_id, order_id)
    except NotFound:
        raise PortalNotFound(ORDER_NOT_FOUND) from None
    return OrderPage(order_id, order, summary, buyer_status(int(order["Status"]["Key"])))


def release_cancelled_order_stock(session: Session, order: Order) -> None:
    """Give a cancelled portal order's units back to the B2B stock (called once, on the move to 90).

    The units reserved at placement are the order's top-level lines (products and kits; kit components
    were never reserved on their own). The caller commits.
    """
    rendered = render_one(session, order.account_id, order.id)
    quantities: dict[int, int] = {}
    for item in rendered.get("Items", []):
        if item.get("ParentItemId"):  # a kit's component (0 on top-level lines)
            continue
        product_id = (item.get("Product") or {}).get("Id")
        quantity = item.get("Quantity")
        if isinstance(product_id, int) and isinstance(quantity, int) and quantity > 0:
            quantities[product_id] = quantities.get(product_id, 0) + quantity
    if quantities:
        b2b_stock.release_b2b_stock(session, order.account_id, quantities)
