"""The buyer's cart: adding, updating and removing lines (each capped at the B2B stock), the cart's version
(what a confirmation checks), and the cart page. Functions only flush; the portal routes own the transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alephee import clock
from alephee.config import Settings
from alephee.errors import Conflict, InvalidInput
from alephee.http.i18n import N_
from alephee.portal import rules
from alephee.portal.catalog import ProductCard, ProductNotFound, cart_quantities, portal_price_list, product_cards
from alephee.portal.models import PortalCart, PortalCartItem
from alephee.portal.sessions import Viewer, set_flash
from alephee.products.models import Product

# Catalog msgids, shown in the page's language (Spanish unless switched, PRT-38); ``{…}`` values are filled after
# translating.
NOT_PURCHASABLE = N_("«{name}» cannot be bought right now.")
BAD_QUANTITY = N_("Enter a whole quantity greater than zero.")
CAPPED = N_("Only {available} unit of «{name}» is available: your cart has {quantity}.")
CAPPED_MANY = N_("Only {available} units of «{name}» are available: your cart has {quantity}.")
ADDED = N_("You added {quantity} unit of «{name}» to the cart.")
ADDED_MANY = N_("You added {quantity} units of «{name}» to the cart.")
CART_FULL = N_("The cart holds up to {max} different products. Place this order and start another one.")
CART_UPDATED = N_("Cart updated.")
CART_UPDATED_CAPPED = N_("Cart updated. Quantities were lowered to the available stock: {names}.")
REMOVED = N_("You removed «{name}» from the cart.")
CART_EMPTY = N_("Your cart is empty.")
CART_CHANGED = N_(
    "Your cart changed since you opened this page (perhaps in another tab or window). Check it and confirm again."
)


class CartProblem(Conflict):
    """The cart cannot be changed or ordered as asked; the message says why (409)."""


class CartChanged(CartProblem):
    """The cart changed since the page was drawn (409)."""

    message = CART_CHANGED


class CartEmpty(CartProblem):
    """The cart is empty (its order may have been placed already) (409)."""

    message = CART_EMPTY


class NotPurchasable(CartProblem):
    """The product cannot be bought right now (409)."""

    message = NOT_PURCHASABLE

    def __init__(self, viewer: Viewer, name: str) -> None:
        super().__init__(viewer.say(NOT_PURCHASABLE, name=name))


class CartFull(CartProblem):
    """The cart already holds the most lines it may (409)."""

    message = CART_FULL

    def __init__(self, viewer: Viewer, most: int) -> None:
        super().__init__(viewer.say(CART_FULL, max=most))


class BadQuantity(InvalidInput):
    """A quantity is not a whole number greater than zero (400)."""

    message = BAD_QUANTITY


# --- cart ----------------------------------------------------------------------------------------------------


def lock_cart(session: Session, viewer: Viewer) -> int:
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


def bump_cart(session: Session, viewer: Viewer) -> int:
    """The cart's lines changed (its row is locked by ``lock_cart``): move its version on; returns the new one.
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


def stale_cart(session: Session, viewer: Viewer) -> CartProblem:
    """Why a page's cart version no longer holds: the cart changed, or it is empty (its order was placed, e.g.
    by the same page submitted twice)."""
    return CartChanged() if cart_quantities(session, viewer) else CartEmpty()


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
    quantities = cart_quantities(session, viewer)
    cards = product_cards(session, viewer.account_id, price_list, list(quantities))
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
    card = product_cards(session, viewer.account_id, price_list, [product_id]).get(product_id)
    if card is None or not card.listed:
        raise ProductNotFound
    if not card.purchasable:
        raise NotPurchasable(viewer, card.name)
    return card


def add_to_cart(session: Session, settings: Settings, viewer: Viewer, product_id: int, raw_quantity: str | None) -> str:
    """Add units of a product (the line never exceeds the B2B stock); returns the message for the buyer.
    The message is also left as the next page's flash."""
    requested = rules.parse_quantity(raw_quantity)
    if requested is None or requested <= 0:
        raise BadQuantity
    card = _purchasable_card(session, viewer, product_id)
    for attempt in range(2):
        # A savepoint: a line added meanwhile by a concurrent request undoes only this attempt, which then adds to it.
        try:
            with session.begin_nested():
                lock_cart(session, viewer)
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
                        raise CartFull(viewer, settings.portal_max_cart_lines)
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
                bump_cart(session, viewer)
                if decision.capped:
                    message, level = (
                        viewer.say_count(
                            CAPPED,
                            CAPPED_MANY,
                            card.available,
                            available=card.available,
                            name=card.name,
                            quantity=decision.quantity,
                        ),
                        "error",
                    )
                else:
                    message = viewer.say_count(ADDED, ADDED_MANY, requested, quantity=requested, name=card.name)
                    level = "ok"
                set_flash(session, viewer, level, message)
        except IntegrityError:
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
    only when the cart is still at that version (else ``CartChanged``; the caller rolls back). With a flash
    message."""
    price_list = portal_price_list(session, viewer.account_id)
    version = lock_cart(session, viewer)
    if shown_version is not None and version != shown_version:
        raise stale_cart(session, viewer)
    current = cart_quantities(session, viewer)
    wanted: dict[int, int] = {}
    for product_id, raw in quantities.items():
        if product_id not in current:
            continue
        parsed = rules.parse_quantity(raw)
        if parsed is None:
            if (raw or "").strip():
                raise BadQuantity
            parsed = 0
        wanted[product_id] = parsed
    cards = product_cards(session, viewer.account_id, price_list, list(wanted))
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
        version = bump_cart(session, viewer)
    if capped:
        names = ", ".join(f"«{n}»" for n in capped)
        set_flash(session, viewer, "error", viewer.say(CART_UPDATED_CAPPED, names=names))
    else:
        set_flash(session, viewer, "ok", viewer.say(CART_UPDATED))
    session.flush()
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
    """Remove a line (with a flash message)."""
    lock_cart(session, viewer)
    name = session.scalar(select(Product.name).where(Product.id == product_id))
    if _remove(session, viewer, product_id):
        bump_cart(session, viewer)
    if name is not None:
        set_flash(session, viewer, "ok", viewer.say(REMOVED, name=name))
