"""The sandbox marketplace's own life: simulated buyers (``alephee sandbox sell``) and what happens to their
orders as simulated time passes (``alephee sandbox advance``, and every pull of the feed).

**Selling.** ``sell`` makes buyers purchase *active* sandbox listings with stock, never more than the
``available_quantity`` the sandbox holds (rows locked while buying). A sale is one order or a cart of 2-3
orders of one marketplace (``pack_id``, ``pack_size``; all orders of a cart share buyer, payment and shipment).
Each sale draws its fate up front and stores it as a schedule in simulated time (``detail["schedule"]``,
``SandboxOrder.next_event_at``): a pending payment that later approves or is cancelled, a late cancellation
(after the seller had time to integrate the order), fraud, a claim, a cart member that reaches the feed a
little later (so the hub sees an incomplete cart first), and for marketplace-driven logistics the shipment's
ready_to_print → printed → shipped → delivered moves.

**Determinism.** Every draw comes from ``random.Random`` seeded by the sandbox's seed (``sandbox_state``,
``ALEPHEE_SANDBOX_SEED``) and the command's seed (default: the feed's change counter, so successive calls
differ but replay identically on the same data). Ids come from the change counter, times are offsets from
the simulated clock: the same seeds on the same listings give the same orders.

**Progress.** ``progress`` applies every scheduled event that is due at the simulated now, in time order,
and marks the changed orders so the next pull returns them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alephee.errors import InvalidInput
from alephee.marketplaces.models import Marketplace, SandboxListing, SandboxOrder
from alephee.sandbox.state import (
    MARKETPLACE_LOGISTICS,
    buyer_price,
    create_order,
    effective_status,
    ensure_state,
    next_change_seq,
    pack_id_for,
    sandbox_now,
    touch_order,
)

MAX_ORDERS_PER_SELL = 1000
ERR_ORDERS = f"orders must be between 1 and {MAX_ORDERS_PER_SELL}"
NO_LISTINGS = "no active sandbox listing with stock for this account"
MAX_INT32 = 2_147_483_647
ERR_ID = f"account and marketplace ids must be between 1 and {MAX_INT32}"

# Id bases (Mercado Libre-looking numbers derived from the change counter or the row id).
ORDER_ID_BASE = 2_100_000_000_000
PAYMENT_ID_BASE = 61_000_000_000
BUYER_ID_BASE = 310_000_000
CLAIM_ID_BASE = 5_100_000_000

# Event names, in the order they apply when due at the same instant.
RELEASE, SETTLE, PRINT, SHIP, DELIVER, CANCEL, FRAUD, CLAIM = (
    "release",
    "settle",
    "print",
    "ship",
    "deliver",
    "cancel",
    "fraud",
    "claim",
)
EVENT_ORDER = (RELEASE, SETTLE, FRAUD, CANCEL, PRINT, SHIP, DELIVER, CLAIM)
SHIPMENT_EVENTS = (PRINT, SHIP, DELIVER)


# Mercado Libre logistic types (weights): mostly marketplace-driven, some seller-driven (Flex, ME1).
LOGISTICS: tuple[tuple[str, int], ...] = (
    ("drop_off", 40),
    ("cross_docking", 25),
    ("xd_drop_off", 10),
    ("fulfillment", 10),
    ("self_service", 10),
    ("me1", 5),
)


@dataclass(frozen=True, slots=True)
class SaleMix:
    """How often each kind of sale happens (probabilities per sale) and how long things take (hours)."""

    cart: float = 0.2
    cart_delay: float = 0.5
    pending_payment: float = 0.15
    pending_approves: float = 0.6
    late_cancellation: float = 0.1
    fraud: float = 0.04
    claim: float = 0.08
    settle_hours: tuple[int, int] = (2, 30)
    release_hours: tuple[int, int] = (1, 3)
    print_hours: tuple[int, int] = (1, 6)
    ship_hours: tuple[int, int] = (20, 40)
    deliver_hours: tuple[int, int] = (24, 96)
    cancel_hours: tuple[int, int] = (4, 16)
    fraud_hours: tuple[int, int] = (1, 3)
    claim_hours: tuple[int, int] = (12, 48)
    logistics: tuple[tuple[str, int], ...] = LOGISTICS


DEFAULT_MIX = SaleMix()

QUANTITIES = (1, 1, 1, 1, 2, 2, 3)
PAYMENT_METHODS = (("credit_card", 50), ("account_money", 30), ("debit_card", 20))
DEFERRED_METHODS = ("ticket", "bank_transfer")

BUYERS: tuple[dict[str, str], ...] = (
    {"first_name": "Ana", "last_name": "Pérez", "nickname": "ANAPEREZ", "doc_type": "DNI", "doc_number": "30111222"},
    {"first_name": "Bruno", "last_name": "Díaz", "nickname": "BRUNOD", "doc_type": "DNI", "doc_number": "28444555"},
    {"first_name": "Camila", "last_name": "Ruiz", "nickname": "CAMIR_22", "doc_type": "DNI", "doc_number": "39222333"},
    {"first_name": "Diego", "last_name": "Sosa", "nickname": "DSOSA", "doc_type": "DNI", "doc_number": "25666777"},
    {"first_name": "Elena", "last_name": "Vidal", "nickname": "ELEVIDAL", "doc_type": "DNI", "doc_number": "33888999"},
    {
        "first_name": "Taller",
        "last_name": "Norte SRL",
        "nickname": "TALLERNORTE",
        "doc_type": "CUIT",
        "doc_number": "30-71222333-4",
    },
)
ADDRESSES: tuple[dict[str, str], ...] = (
    {"street_name": "Av. Corrientes", "street_number": "1234", "city": "CABA", "state": "Capital Federal",
     "state_code": "AR-C", "zip_code": "1043", "neighborhood": "San Nicolás"},
    {"street_name": "Calle 50", "street_number": "742", "city": "La Plata", "state": "Buenos Aires",
     "state_code": "AR-B", "zip_code": "1900", "neighborhood": "Centro"},
    {"street_name": "Bv. Oroño", "street_number": "1550", "city": "Rosario", "state": "Santa Fe",
     "state_code": "AR-S", "zip_code": "2000", "neighborhood": "Centro"},
    {"street_name": "Av. Colón", "street_number": "980", "city": "Córdoba", "state": "Córdoba",
     "state_code": "AR-X", "zip_code": "5000", "neighborhood": "Alberdi"},
)  # fmt: skip


# --- selling ---------------------------------------------------------------------------------------------


@dataclass
class SellReport:
    """What ``sell`` did (``alephee sandbox sell`` prints it)."""

    account_id: int
    seed: int
    orders: list[str] = field(default_factory=list)
    carts: int = 0
    delayed: int = 0
    pending_payments: int = 0
    late_cancellations: int = 0
    fraudulent: int = 0
    claims: int = 0
    units: int = 0
    message: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "AccountId": self.account_id,
            "Seed": self.seed,
            "Orders": len(self.orders),
            "Units": self.units,
            "Carts": self.carts,
            "DelayedCartOrders": self.delayed,
            "PendingPayments": self.pending_payments,
            "LateCancellations": self.late_cancellations,
            "Fraudulent": self.fraudulent,
            "Claims": self.claims,
            "ExternalOrderIds": self.orders,
            **({"Message": self.message} if self.message else {}),
        }


def _hours(rng: random.Random, span: tuple[int, int]) -> timedelta:
    return timedelta(minutes=rng.randint(span[0] * 60, span[1] * 60))


def _weighted(rng: random.Random, choices: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def _iso(value: datetime) -> str:
    return value.isoformat()


def _purchasable(session: Session, account_id: int, marketplace_id: int | None) -> list[SandboxListing]:
    """Active sandbox listings of the account with stock and a price, locked (PostgreSQL) in a stable order."""
    sandbox_ids = select(Marketplace.id).where(Marketplace.connector == "sandbox")
    query = select(SandboxListing).where(
        SandboxListing.account_id == account_id,
        SandboxListing.marketplace_id.in_(sandbox_ids),
        SandboxListing.status == "active",
        SandboxListing.available_quantity > 0,
        SandboxListing.price.is_not(None),
    )
    if marketplace_id is not None:
        query = query.where(SandboxListing.marketplace_id == marketplace_id)
    query = query.order_by(SandboxListing.marketplace_id, SandboxListing.external_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=SandboxListing)
    return list(session.scalars(query.execution_options(populate_existing=True)))


def sell(
    session: Session,
    account_id: int,
    *,
    orders: int = 10,
    seed: int | None = None,
    marketplace_id: int | None = None,
    mix: SaleMix = DEFAULT_MIX,
) -> SellReport:
    """Buyers purchase ``orders`` orders now (fewer when stock runs out). Does not commit."""
    if not 1 <= orders <= MAX_ORDERS_PER_SELL:
        raise InvalidInput(ERR_ORDERS)
    if not 0 < account_id <= MAX_INT32 or (marketplace_id is not None and not 0 < marketplace_id <= MAX_INT32):
        raise InvalidInput(ERR_ID)
    state = ensure_state(session)
    seed = seed if seed is not None else int(state.change_seq)
    report = SellReport(account_id=account_id, seed=seed)
    rng = random.Random(f"sandbox-sell:{state.seed}:{seed}")
    listings = _purchasable(session, account_id, marketplace_id)
    now = sandbox_now(session)
    while len(report.orders) < orders:
        pool = [x for x in listings if x.available_quantity > 0 and x.status == "active"]
        if not pool:
            break
        marketplace = rng.choice(sorted({x.marketplace_id for x in pool}))
        pool = [x for x in pool if x.marketplace_id == marketplace]
        _sale(session, rng, mix, report, pool, orders - len(report.orders), now)
    if not report.orders:
        report.message = NO_LISTINGS
    session.flush()
    return report


def _sale(
    session: Session,
    rng: random.Random,
    mix: SaleMix,
    report: SellReport,
    pool: list[SandboxListing],
    remaining: int,
    now: datetime,
) -> None:
    """One purchase: a single order or a cart, with its fate scheduled."""
    cart = len(pool) >= 2 and remaining >= 2 and rng.random() < mix.cart
    size = min(rng.choice((2, 2, 3)), remaining, len(pool)) if cart else 1
    picks = rng.sample(pool, size)
    pending = rng.random() < mix.pending_payment
    approves = rng.random() < mix.pending_approves
    fraud = not pending and rng.random() < mix.fraud
    delayed = cart and rng.random() < mix.cart_delay
    logistic = _weighted(rng, mix.logistics)
    buyer_index = rng.randrange(len(BUYERS))
    address = dict(ADDRESSES[rng.randrange(len(ADDRESSES))])
    method = rng.choice(DEFERRED_METHODS) if pending else _weighted(rng, PAYMENT_METHODS)
    installments = rng.choice((1, 1, 3, 6)) if method == "credit_card" else 1

    # The shared timeline of the sale (simulated time).
    schedule: dict[str, datetime] = {}
    start = now
    if pending:
        schedule[SETTLE] = now + _hours(rng, mix.settle_hours)
        start = schedule[SETTLE]
    if fraud:
        schedule[FRAUD] = now + _hours(rng, mix.fraud_hours)
    if logistic in MARKETPLACE_LOGISTICS and (not pending or approves):
        if logistic != "fulfillment":  # the marketplace's warehouse ships fulfillment without a label
            schedule[PRINT] = start + _hours(rng, mix.print_hours)
        schedule[SHIP] = start + _hours(rng, mix.ship_hours)
        schedule[DELIVER] = schedule[SHIP] + _hours(rng, mix.deliver_hours)
    release_at = now + _hours(rng, mix.release_hours) if delayed else None

    lines: list[tuple[SandboxListing, int, Decimal]] = []
    for listing in picks:
        quantity = min(listing.available_quantity, rng.choice(QUANTITIES))
        price = buyer_price(listing, now)
        assert price is not None  # _purchasable only returns priced listings
        lines.append((listing, quantity, price))
    total = sum((price * quantity for _, quantity, price in lines), Decimal(0))

    pack_seq = next_change_seq(session) if size > 1 else None
    pack_id = pack_id_for(pack_seq) if pack_seq is not None else None
    buyer: dict[str, Any] = {"id": BUYER_ID_BASE + buyer_index, **BUYERS[buyer_index]}
    buyer["email"] = f"{buyer['nickname'].lower()}@buyer.example"
    buyer["phone"] = f"11-{4000 + buyer_index * 111}-{1000 + buyer_index * 7}"
    address["receiver_name"] = f"{buyer['first_name']} {buyer['last_name']}"
    address["receiver_phone"] = buyer["phone"]
    address["street"] = f"{address['street_name']} {address['street_number']}"
    address["country_id"] = "AR"

    shipping_id: str | None = None
    for position, (listing, quantity, price) in enumerate(lines):
        seq_hint = next_change_seq(session)
        external = str(ORDER_ID_BASE + seq_hint)
        payment = {
            "id": str(PAYMENT_ID_BASE + (pack_seq or seq_hint)),
            "status": "pending" if pending else "approved",
            "amount": str(total),
            "currency": listing.currency,
            "method": method,
            "installments": installments,
            "date_created": _iso(now),
            "date_approved": None if pending else _iso(now),
        }
        order = create_order(
            session,
            account_id=listing.account_id,
            marketplace_id=listing.marketplace_id,
            external_order_id=external,
            items=[
                {
                    "external_listing_id": listing.external_id,
                    "listing_id": listing.listing_id,
                    "sku": listing.sku,
                    "title": listing.title,
                    "quantity": quantity,
                    "unit_price": price,
                    "full_unit_price": listing.price,
                }
            ],
            payments=[payment],
            buyer=buyer,
            shipping_address=address,
            status="payment_in_process" if pending else "paid",
            payment_status="pending" if pending else "approved",
            pack_id=pack_id,
            pack_size=size if pack_id else None,
            logistic_type=logistic,
            currency=listing.currency,
        )
        if shipping_id is None:
            shipping_id = order.external_shipping_id
        order.external_shipping_id = shipping_id  # one shipment for the whole cart
        if pending:
            order.shipping_status, order.shipping_substatus = "pending", None
        events = dict(schedule)
        late = size == 1 and not fraud and (not pending or approves) and rng.random() < mix.late_cancellation
        if late:
            events[CANCEL] = start + _hours(rng, mix.cancel_hours)
            report.late_cancellations += 1
        if not fraud and (not pending or approves) and rng.random() < mix.claim:
            events[CLAIM] = events.get(DELIVER, start + timedelta(hours=72)) + _hours(rng, mix.claim_hours)
            report.claims += 1
        if release_at is not None and position == size - 1:
            events[RELEASE] = release_at
            order.change_seq = 0  # not in the feed until released
            report.delayed += 1
        order.detail = {
            **order.detail,
            "schedule": {name: _iso(at) for name, at in events.items()},
            "settle_outcome": ("approve" if approves else "cancel") if pending else None,
        }
        order.next_event_at = min(events.values()) if events else None
        listing.available_quantity -= quantity
        listing.sold_quantity += quantity
        listing.status, listing.sub_status = effective_status(listing.seller_status, listing.available_quantity)
        listing.updated_at = now
        report.orders.append(external)
        report.units += quantity
    report.carts += 1 if size > 1 else 0
    report.pending_payments += size if pending else 0
    report.fraudulent += size if fraud else 0


# --- the marketplace's own progress ----------------------------------------------------------------------


@dataclass
class ProgressReport:
    """How many scheduled events were applied, per event (``sandbox advance`` prints it)."""

    orders: int = 0
    events: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"ChangedOrders": self.orders, "Events": dict(sorted(self.events.items()))}


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


def progress(
    session: Session,
    *,
    account_id: int | None = None,
    marketplace_id: int | None = None,
    batch: int = 500,
) -> ProgressReport:
    """Apply every scheduled event due at the simulated now (oldest first). Does not commit."""
    report = ProgressReport()
    now = sandbox_now(session)
    postgres = session.get_bind().dialect.name == "postgresql"
    while True:
        query = select(SandboxOrder).where(SandboxOrder.next_event_at <= now)
        if account_id is not None:
            query = query.where(SandboxOrder.account_id == account_id)
        if marketplace_id is not None:
            query = query.where(SandboxOrder.marketplace_id == marketplace_id)
        query = query.order_by(SandboxOrder.next_event_at, SandboxOrder.id).limit(batch)
        if postgres:
            # Another transaction progressing the same orders: leave them to it.
            query = query.with_for_update(skip_locked=True)
        rows = list(session.scalars(query.execution_options(populate_existing=True)))
        for order in rows:
            if _progress_order(session, order, now, report):
                report.orders += 1
        session.flush()
        if len(rows) < batch:
            return report


def _progress_order(session: Session, order: SandboxOrder, now: datetime, report: ProgressReport) -> bool:
    detail = dict(order.detail or {})
    schedule: dict[str, str] = dict(detail.get("schedule") or {})
    due = sorted(
        ((_parse(at), EVENT_ORDER.index(name), name) for name, at in schedule.items() if _parse(at) <= now),
    )
    changed = False
    done: list[dict[str, str]] = list(detail.get("done") or [])
    for at, _, name in due:
        if name not in schedule:  # dropped by an earlier event (a cancellation drops the shipment's moves)
            continue
        del schedule[name]
        if _apply(order, detail, name, at, schedule):
            changed = True
            report.events[name] = report.events.get(name, 0) + 1
            done.append({"event": name, "at": _iso(at)})
    detail["schedule"] = schedule
    detail["done"] = done
    order.detail = detail  # a new dict: the JSON column sees the change
    order.next_event_at = min((_parse(at) for at in schedule.values()), default=None)
    if changed and RELEASE not in schedule:
        # A cart member not released yet stays out of the feed (change_seq 0) whatever happens to it.
        touch_order(session, order)
    return changed


def _set_payments(detail: dict[str, Any], status: str, at: datetime | None = None) -> None:
    payments = []
    for payment in detail.get("payments") or []:
        payment = {**payment, "status": status}
        if status == "approved" and at is not None:
            payment["date_approved"] = _iso(at)
        payments.append(payment)
    detail["payments"] = payments


def _cancel(order: SandboxOrder, detail: dict[str, Any], schedule: dict[str, str], payment: str) -> None:
    order.status = "cancelled"
    order.payment_status = payment
    _set_payments(detail, payment)
    if order.shipping_status not in ("shipped", "delivered"):
        order.shipping_status, order.shipping_substatus = "cancelled", None
    for name in (*SHIPMENT_EVENTS, CANCEL, FRAUD, CLAIM):
        schedule.pop(name, None)


def _apply(order: SandboxOrder, detail: dict[str, Any], name: str, at: datetime, schedule: dict[str, str]) -> bool:
    """Apply one due event; False when the order's state made it moot (e.g. a cancelled order ships)."""
    active = order.status != "cancelled"
    in_transit = order.shipping_status in ("shipped", "delivered")
    if name == RELEASE:
        return True
    if name == SETTLE:
        if not active:
            return False
        if detail.get("settle_outcome") == "approve":
            order.status, order.payment_status = "paid", "approved"
            _set_payments(detail, "approved", at)
            if order.shipping_status == "pending":
                order.shipping_status, order.shipping_substatus = "ready_to_ship", "ready_to_print"
        else:
            _cancel(order, detail, schedule, "cancelled")
        return True
    if name in (CANCEL, FRAUD):
        if not active or in_transit:
            return False
        order.fraud = order.fraud or name == FRAUD
        _cancel(order, detail, schedule, "refunded")
        return True
    if name == PRINT:
        if not active or (order.shipping_status, order.shipping_substatus) != ("ready_to_ship", "ready_to_print"):
            return False
        order.shipping_substatus = "printed"
        return True
    if name == SHIP:
        if not active or order.shipping_status != "ready_to_ship":
            return False
        order.shipping_status, order.shipping_substatus = "shipped", None
        return True
    if name == DELIVER:
        if order.shipping_status != "shipped":
            return False
        order.shipping_status, order.shipping_substatus = "delivered", None
        return True
    if name == CLAIM:
        if not active or order.claim_status is not None:
            return False
        order.claim_status = "opened"
        detail["claim"] = {"id": str(CLAIM_ID_BASE + order.id), "date_created": _iso(at)}
        return True
    return False
