"""Placing the cart as an order in the hub (status 0, on the account's B2B marketplace, CF-20) and reserving
its B2B stock, all in the caller's transaction: only the cart the page showed is ordered.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from alephee import clock
from alephee.accounts.models import Account, AccountMarketplace, User
from alephee.config import Settings
from alephee.errors import PreconditionFailed
from alephee.http.i18n import N_
from alephee.marketplaces.models import Marketplace
from alephee.orders import detail_parts as parts
from alephee.orders import ingest as orders
from alephee.orders import shipping_rules as ship
from alephee.orders import statuses as st
from alephee.orders.models import ORIGIN_B2B
from alephee.orders.reservations import record_b2b_reservation
from alephee.orders.schemas import OrderDetail
from alephee.portal import rules
from alephee.portal.cart import CartEmpty, CartProblem, ShownCart, bump_cart, lock_cart, stale_cart, update_cart
from alephee.portal.catalog import ProductCard, portal_price_list, product_cards
from alephee.portal.formatting import currency_symbol, format_money, format_rate
from alephee.portal.models import PortalCartItem, PortalOrder
from alephee.portal.sessions import Viewer, set_flash
from alephee.products import b2b as b2b_stock
from alephee.products.models import KitComponent

# Catalog msgids, shown in the page's language (Spanish unless switched, PRT-38); ``{…}`` values are filled after
# translating.
NO_B2B_MARKETPLACE = N_(
    "This account has no Alephee B2B channel connected, so it cannot receive orders from the portal. "
    "Let your supplier know."
)
NO_PRICE_LIST = N_("This account has no price list for the portal.")
LINES_UNAVAILABLE = N_("These products are no longer available: {names}. Remove them from the cart to continue.")
SHORTAGE = N_("There is not enough stock of: {names}. Check the quantities.")
PRICE_CHANGED = N_("Prices changed since you opened the cart: {changes}. Check it and confirm again.")
PRICE_CHANGE = N_("«{name}»: from {before} to {now} per unit")
PRICE_CHANGE_UNSEEN = N_("«{name}»: now {now} per unit")
PRICE_CHANGES_MORE = N_("and {count} more")
PRICE_CHANGES_LISTED = 4  # the message names this many products at most (it must fit the one-shot message)
TOO_MANY_ITEMS = N_("The order exceeds the {max} items an order may hold. Split it into two orders.")
ORDER_PLACED = N_("Done! Your order #{id} was sent.")

NOTES_MAX = 500
MAX_ORDER_ITEMS = 500  # CF-20.1.2: Items 1..500

# Adjustments and payment codes of portal orders (ours; CF-20.2.4 leaves the codes open).
ADJUSTMENT_DISCOUNT = {"Key": 1, "Value": "Bonificación"}
ADJUSTMENT_PERCENT = {"Key": 1, "Value": "Porcentaje"}
ADJUSTMENT_LIST_CODE = "B2B-LISTA"
ADJUSTMENT_PRODUCT_CODE = "B2B-PRODUCTO"
PAYMENT_ON_ACCOUNT = {"Key": 6, "Value": "cuenta_corriente"}


class NoB2BMarketplace(PreconditionFailed):
    """The account has no marketplace of the ``b2b`` family connected (412)."""

    message = NO_B2B_MARKETPLACE


class NoPriceList(CartProblem):
    """The account has no price list for the portal (409)."""

    message = NO_PRICE_LIST


class LinesUnavailable(CartProblem):
    """Some lines of the cart can no longer be ordered (409)."""

    message = LINES_UNAVAILABLE

    def __init__(self, viewer: Viewer, names: str) -> None:
        super().__init__(viewer.say(LINES_UNAVAILABLE, names=names))


class StockShortage(CartProblem):
    """The B2B stock no longer covers some lines (409)."""

    message = SHORTAGE

    def __init__(self, viewer: Viewer, names: str) -> None:
        super().__init__(viewer.say(SHORTAGE, names=names))


class PricesChanged(CartProblem):
    """A unit price moved since the cart page was drawn (409)."""

    message = PRICE_CHANGED

    def __init__(self, viewer: Viewer, changes: str) -> None:
        super().__init__(viewer.say(PRICE_CHANGED, changes=changes))


class TooManyItems(CartProblem):
    """The order would have more items than an order may hold (409)."""

    message = TOO_MANY_ITEMS

    def __init__(self, viewer: Viewer, most: int) -> None:
        super().__init__(viewer.say(TOO_MANY_ITEMS, max=most))


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


def apply_shown_quantities(
    session: Session, viewer: Viewer, shown: ShownCart, quantities: Mapping[int, str | None]
) -> ShownCart | None:
    """The first half of the cart page's «Confirmar pedido»: apply the quantities on screen (``update_cart``, only
    if the cart is still the one shown). Returns the cart to place (``place_order``), or None when a quantity had
    to be lowered to the stock (the buyer looks at the cart again). The route commits it before placing: the
    quantities stay applied even when placing is refused."""
    if not quantities:
        return shown
    updated = update_cart(session, viewer, quantities, shown_version=shown.version)
    if updated.capped:
        return None
    return replace(shown, version=updated.version)  # the lines are still the ones shown, now at this version


def place_order(
    session: Session, settings: Settings, viewer: Viewer, shown: ShownCart, notes: str | None = None
) -> int:
    """Turn the viewer's cart into one order in the hub (status 0, on the account's B2B marketplace) and
    reserve its B2B stock, all in one transaction; returns the order id. Only the cart ``shown`` is ordered: a
    cart changed since (``CART_CHANGED``) or a unit price that moved (``PRICE_CHANGED``) orders nothing.
    On a refusal the caller rolls back (the cart is then left as it was)."""
    return _place(session, settings, viewer, shown, notes)


def _place(session: Session, settings: Settings, viewer: Viewer, shown: ShownCart, notes: str | None) -> int:
    marketplace = b2b_marketplace(session, viewer.account_id)
    if marketplace is None:
        raise NoB2BMarketplace
    price_list = portal_price_list(session, viewer.account_id)
    if price_list is None:
        raise NoPriceList
    # The cart row's lock is held until commit: a change from another tab, or a second confirmation of the same
    # page, waits for this one and then finds the version moved on.
    if lock_cart(session, viewer) != shown.version:
        raise stale_cart(session, viewer)
    # Claim the cart's lines: they leave the cart with the order.
    claimed = session.execute(
        delete(PortalCartItem)
        .where(PortalCartItem.user_id == viewer.user_id, PortalCartItem.account_id == viewer.account_id)
        .returning(PortalCartItem.product_id, PortalCartItem.quantity)
    ).all()
    if not claimed:
        raise CartEmpty
    bump_cart(session, viewer)
    cards = product_cards(session, viewer.account_id, price_list, [pid for pid, _ in claimed])
    lines: list[_Line] = []
    unavailable: list[str] = []
    for product_id, quantity in sorted(claimed):
        card = cards.get(product_id)
        if card is None or card.price is None or not card.listed or quantity <= 0:
            unavailable.append(card.name if card else f"#{product_id}")
            continue
        lines.append(_Line(card, card.price, quantity))
    if unavailable:
        raise LinesUnavailable(viewer, ", ".join(f"«{n}»" for n in unavailable))
    moved = [line for line in lines if shown.prices.get(line.card.id) != line.price.unit]
    if moved:
        raise PricesChanged(viewer, _price_changes(viewer, moved, shown, price_list.currency))
    reserved = {line.card.id: line.quantity for line in lines}
    try:
        b2b_stock.reserve_b2b_stock(session, viewer.account_id, reserved)
    except b2b_stock.B2BStockShortage as exc:
        names = ", ".join(f"«{cards[pid].name}»" for pid in exc.product_ids if pid in cards)
        raise StockShortage(viewer, names) from None
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
        raise TooManyItems(viewer, MAX_ORDER_ITEMS)
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
    record_b2b_reservation(session, order.id, viewer.account_id, reserved)
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
    set_flash(session, viewer, "ok", viewer.say(ORDER_PLACED, id=order.id))
    session.flush()
    return order.id


def _price_changes(viewer: Viewer, moved: Sequence[_Line], shown: ShownCart, currency: str | None) -> str:
    changes = []
    for line in moved[:PRICE_CHANGES_LISTED]:
        before = shown.prices.get(line.card.id)
        now = format_money(line.price.unit, currency)
        if before is None:
            changes.append(viewer.say(PRICE_CHANGE_UNSEEN, name=line.card.name, now=now))
        else:
            before_text = format_money(before, currency)
            changes.append(viewer.say(PRICE_CHANGE, name=line.card.name, before=before_text, now=now))
    if len(moved) > PRICE_CHANGES_LISTED:
        changes.append(viewer.say(PRICE_CHANGES_MORE, count=len(moved) - PRICE_CHANGES_LISTED))
    return "; ".join(changes)


def clean_notes(notes: str | None) -> str:
    """The buyer's notes: printable text (line breaks kept), at most ``NOTES_MAX`` characters."""
    text = "".join(ch for ch in (notes or "") if ch in "\n\t" or ch.isprintable()).strip()
    return text.replace("\r", "")[:NOTES_MAX]


def _kit_components(
    session: Session, account_id: int, price_list: rules.PriceListFacts, kit_ids: Sequence[int]
) -> dict[int, list[tuple[ProductCard, int, Decimal | None]]]:
    if not kit_ids:
        return {}
    rows = session.execute(
        select(KitComponent.kit_id, KitComponent.component_id, KitComponent.quantity)
        .where(KitComponent.kit_id.in_(sorted(kit_ids)))
        .order_by(KitComponent.kit_id, KitComponent.principal.desc(), KitComponent.component_id)
    ).all()
    cards = product_cards(session, account_id, price_list, sorted({p[1] for p in rows}))
    out: dict[int, list[tuple[ProductCard, int, Decimal | None]]] = {}
    for kit_id, component_id, units in rows:
        card = cards.get(component_id)
        if card is not None:
            out.setdefault(kit_id, []).append((card, units, card.price.full if card.price else None))
    return out


def _product(card: ProductCard) -> dict[str, Any]:
    return parts.product(
        card.id, card.sku, brand=card.brand, seller_sku=card.own_code or card.sku, ean=card.gtin, title=card.name
    )


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
    status = parts.order_status(st.NO_STATUS)
    status_type = parts.order_status_type(st.NO_STATUS)
    items: list[dict[str, Any]] = []
    adjustments: list[dict[str, Any]] = []
    lines = list(lines)
    for line in lines:
        kit = parts.item(
            len(items) + 1,
            parts.ITEM_KIT if line.card.is_kit else parts.ITEM_NORMAL,
            _product(line.card),
            line.quantity,
            status=status,
            status_type=status_type,
            unit_price=line.price.unit,
            full_unit_price=line.price.full,
        )
        items.append(kit)
        if line.card.is_kit:
            kit_cards = components.get(line.card.id, [])
            shares = rules.component_prices(line.price, [(units, base) for _, units, base in kit_cards])
            items.extend(
                parts.kit_components(
                    kit,
                    [
                        parts.Component(_product(card), units, *(share or (None, None)))
                        for (card, units, _), share in zip(kit_cards, shares, strict=True)
                    ],
                )
            )
        if line.price.product_rate > 0:
            adjustments.append(
                parts.adjustment(
                    ADJUSTMENT_DISCOUNT,
                    ADJUSTMENT_PRODUCT_CODE,
                    f"Descuento B2B del producto {format_rate(line.price.product_rate)}% "
                    f"({format_money(line.price.product_discount, price_list.currency)} por unidad)",
                    ADJUSTMENT_PERCENT,
                    line.price.product_rate,
                    item=parts.adjustment_item(
                        line.card.id, line.card.brand, line.card.sku, line.card.own_code or line.card.sku
                    ),
                )
            )
    summary = rules.totals((line.price, line.quantity) for line in lines)
    list_rate = rules.clamp_rate(price_list.discount_rate)
    if list_rate > 0:
        adjustments.insert(
            0,
            parts.adjustment(
                ADJUSTMENT_DISCOUNT,
                ADJUSTMENT_LIST_CODE,
                f"Descuento de la lista {price_list.name} {format_rate(list_rate)}% "
                f"({format_money(summary.list_discount, price_list.currency)} en total)",
                ADJUSTMENT_PERCENT,
                list_rate,
            ),
        )
    buyer_name = user.name or user.email
    currency = currency_symbol(price_list.currency)
    return parts.order_document(
        parts.order_parties(account, marketplace),
        items=items,
        payments=[
            parts.payment(
                amount=summary.total,
                transaction_amount=summary.total,
                shipping_amount=rules.ZERO,
                installment=summary.total,
                notes="Pedido del portal B2B: se cobra según las condiciones comerciales de la cuenta",
                currency_symbol=currency,
                method=PAYMENT_ON_ACCOUNT,
                date_created=now,
            )
        ],
        adjustments=adjustments,
        shipping=parts.shipping(
            cost=rules.ZERO,
            receiver_cost=rules.ZERO,
            sender_cost=rules.ZERO,
            receiver=parts.receiver(buyer_name),
            date_created=now,
        ),
        buyer=parts.buyer(code=user.id, name=buyer_name, email=user.email, nickname=user.email),
        billing=parts.billing(rules.ZERO),
        notes=notes,
    )
