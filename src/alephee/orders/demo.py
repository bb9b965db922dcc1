"""Realistic orders: the builder used by ``alephee demo``, the tests and the benchmark generator.

``create_demo_orders`` is the demo step (idempotent, a few hundred orders in well under 5 s): every
GET /v2/orders filter returns something, carts (complete and incomplete), kits with components, pending
payments, cancelled orders (some after integration: the late-cancellation cycle), labels ready to print and
attached invoices.

One module on purpose, longer than the use-case modules: it is one seeded random generator (the catalogue it
sells from, the mix of statuses and logistics, the documents it attaches) whose draws must stay in one order so
a seed always gives the same orders; the pieces of the order document it shares with every other builder come
from ``orders.detail_parts``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alephee import clock
from alephee.accounts.models import Account, AccountMarketplace
from alephee.config import Settings
from alephee.marketplaces.models import Marketplace
from alephee.orders import detail_parts as parts
from alephee.orders import documents as docs
from alephee.orders import shipping_rules as ship
from alephee.orders import statuses as st
from alephee.orders.account_options import set_account_options
from alephee.orders.document_upload import DocumentUpload, store_document
from alephee.orders.ingest import NewOrder, ingest_order
from alephee.orders.models import ORIGIN_B2B, ORIGIN_MARKETPLACE, Order
from alephee.orders.schemas import OrderDetail


@dataclass(frozen=True, slots=True)
class CatalogItem:
    """A product as an order item references it (denormalised: no link to the products tables)."""

    product_id: int
    sku: str
    brand: str
    title: str
    ean: str
    category: tuple[str, str]
    price: Decimal
    cost: Decimal
    components: tuple[tuple[int, int], ...] = ()  # (index in CATALOG, quantity) for kits


CATALOG: tuple[CatalogItem, ...] = (
    CatalogItem(
        183076,
        "PX2000TX-AR",
        "Black + Decker",
        "Hidrolavadora 2000W",
        "8850011407519",
        ("MLA30840", "Hidrolavadoras"),
        Decimal("1135.83"),
        Decimal("780.00"),
    ),
    CatalogItem(
        183077,
        "KR504RE-AR",
        "Black + Decker",
        "Taladro percutor 1/2 550W",
        "8850011407526",
        ("MLA2957", "Taladros"),
        Decimal("489.90"),
        Decimal("310.00"),
    ),
    CatalogItem(
        201011,
        "YERBA-PL-1K",
        "Playadito",
        "Yerba mate Playadito 1 kg",
        "7790387000116",
        ("MLA409431", "Yerba mate"),
        Decimal("54.50"),
        Decimal("31.20"),
    ),
    CatalogItem(
        201012,
        "MATE-CAL-01",
        "Mates del Sur",
        "Mate de calabaza con virola",
        "7791234000012",
        ("MLA409432", "Mates"),
        Decimal("72.00"),
        Decimal("35.00"),
    ),
    CatalogItem(
        201013,
        "BOMB-AC-01",
        "Mates del Sur",
        "Bombilla de acero inoxidable",
        "7791234000029",
        ("MLA409433", "Bombillas"),
        Decimal("18.90"),
        Decimal("7.50"),
    ),
    CatalogItem(
        201014,
        "KIT-MATERO",
        "Mates del Sur",
        "Kit matero: mate, bombilla y yerba",
        "7791234000036",
        ("MLA409432", "Mates"),
        Decimal("139.00"),
        Decimal("73.70"),
        ((3, 1), (4, 1), (2, 1)),
    ),
    CatalogItem(
        305501,
        "AUR-BT-500",
        "Sonix",
        "Auriculares bluetooth BT500",
        "7798123450016",
        ("MLA3697", "Auriculares"),
        Decimal("259.99"),
        Decimal("150.00"),
    ),
    CatalogItem(
        305502,
        "PARL-MINI-2",
        "Sonix",
        "Parlante portátil Mini 2",
        "7798123450023",
        ("MLA4075", "Parlantes"),
        Decimal("199.00"),
        Decimal("121.00"),
    ),
    CatalogItem(
        410020,
        "ZAP-RUN-42",
        "Andes",
        "Zapatillas running talle 42",
        "7797777000421",
        ("MLA109027", "Zapatillas"),
        Decimal("379.00"),
        Decimal("190.00"),
    ),
    CatalogItem(
        410021,
        "CAMP-TRK-M",
        "Andes",
        "Campera trekking impermeable M",
        "7797777000438",
        ("MLA109285", "Camperas"),
        Decimal("649.00"),
        Decimal("330.00"),
    ),
)

BUYERS: tuple[tuple[str, str, str, str], ...] = (
    ("Juan Pérez", "JUANP", "DNI", "30111222"),
    ("María González", "MARIAG_83", "DNI", "28333444"),
    ("Lucía Fernández", "LUFERNANDEZ", "DNI", "35555666"),
    ("Carlos Rodríguez", "CARLITOS_R", "DNI", "25777888"),
    ("Sofía Martínez", "SOFIMARTINEZ", "DNI", "40999000"),
    ("Ferretería El Tornillo SRL", "ELTORNILLO", "CUIT", "30-71111111-5"),
    ("Diego López", "DIEGOL", "DNI", "32123456"),
    ("Valentina Gómez", "VALEGOMEZ", "DNI", "41234567"),
)

ADDRESSES: tuple[dict[str, str], ...] = (
    {
        "CountryId": "AR",
        "StateCode": "AR-C",
        "State": "Capital Federal",
        "City": "CABA",
        "Neighborhood": "Palermo",
        "StreetName": "Av. Santa Fe",
        "StreetNumber": "3253",
        "ZipCode": "1425",
    },
    {
        "CountryId": "AR",
        "StateCode": "AR-B",
        "State": "Buenos Aires",
        "City": "La Plata",
        "Neighborhood": "Centro",
        "StreetName": "Calle 7",
        "StreetNumber": "1020",
        "ZipCode": "1900",
    },
    {
        "CountryId": "AR",
        "StateCode": "AR-X",
        "State": "Córdoba",
        "City": "Córdoba",
        "Neighborhood": "Nueva Córdoba",
        "StreetName": "Bv. San Juan",
        "StreetNumber": "455",
        "ZipCode": "5000",
    },
    {
        "CountryId": "AR",
        "StateCode": "AR-S",
        "State": "Santa Fe",
        "City": "Rosario",
        "Neighborhood": "Centro",
        "StreetName": "Córdoba",
        "StreetNumber": "1452",
        "ZipCode": "2000",
    },
    {
        "CountryId": "AR",
        "StateCode": "AR-M",
        "State": "Mendoza",
        "City": "Mendoza",
        "Neighborhood": "Quinta Sección",
        "StreetName": "Av. Emilio Civit",
        "StreetNumber": "600",
        "ZipCode": "5500",
    },
)

PAYMENT_METHODS = ((1, "credit_card"), (2, "debit_card"), (3, "account_money"), (4, "ticket"), (5, "bank_transfer"))
# Deferred means: the payment stays "pending" until the buyer pays (CF-20.1.4).
DEFERRED_METHODS = ((4, "ticket"), (5, "bank_transfer"))
PAYMENT_APPROVED = (1, "approved")
PAYMENT_PENDING = (2, "pending")


@dataclass(frozen=True, slots=True)
class Seller:
    """The selling account as orders show it."""

    account_id: int
    own_code: str | None
    name: str
    business_name: str | None


@dataclass(frozen=True, slots=True)
class Channel:
    """The marketplace an order comes from."""

    id: int
    name: str
    channel: str
    family: str
    site_id: str | None


def _money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


def _address(rng: random.Random, phone: str) -> dict[str, Any]:
    base = dict(rng.choice(ADDRESSES))
    base["Description"] = f"{base['StreetName']} {base['StreetNumber']}, {base['City']}"
    base["Notes"] = rng.choice(["", "Timbre 2B", "Dejar en portería", "Casa con rejas verdes"])
    base["Phone"] = phone
    base["AlternativePhone"] = ""
    return base


def build_order(
    rng: random.Random,
    *,
    seller: Seller,
    channel: Channel,
    external_order_id: str,
    sale_date: datetime,
    status: int = st.READY_TO_SHIP,
    lines: list[tuple[int, int]] | None = None,
    logistic_type: int = ship.ME2,
    shipment_status: str | None = None,
    shipment_substatus: str | None = None,
    external_shipping_id: int | None = None,
    payment_pending: bool = False,
    pack_id: str | None = None,
    pack_size: int | None = None,
    shared: dict[str, Any] | None = None,
    origin: str = ORIGIN_MARKETPLACE,
    cancelled_line: int | None = None,
) -> NewOrder:
    """A complete order: ``lines`` are ``(catalog index, quantity)``; kits bring their components.
    ``shared`` (buyer, payments, shipping) makes the orders of one cart share those blocks."""
    lines = lines or [(rng.randrange(len(CATALOG)), rng.choice((1, 1, 1, 2, 3)))]
    status_kv = parts.order_status(status)
    type_kv = parts.order_status_type(status)
    items: list[dict[str, Any]] = []
    goods = Decimal(0)
    fee_rate = parts.fee_rate(channel.family)
    for n, (index, quantity) in enumerate(lines):
        product = CATALOG[index]
        local_id = len(items) + 1
        line_cancelled = cancelled_line == n
        line_status = parts.order_status(st.CANCELLED) if line_cancelled else status_kv
        line_type = parts.order_status_type(st.CANCELLED) if line_cancelled else type_kv
        full = product.price
        unit = _money(full * Decimal(rng.choice(("1", "1", "0.9", "0.95"))))
        if not line_cancelled:
            goods += unit * quantity
        listing_id = 5_000_000 + product.product_id % 100_000
        prefix = channel.site_id or "EXT"
        kit = parts.item(
            local_id,
            parts.ITEM_KIT if product.components else parts.ITEM_NORMAL,
            _product(product),
            quantity,
            status=line_status,
            status_type=line_type,
            listing={
                "Reference": f"REF-{product.sku}",
                "Id": listing_id,
                "ExternalId": f"{prefix}{800000000 + listing_id}",
                "Title": f"{product.title} - Envío gratis" if rng.random() < 0.3 else product.title,
                "ListingType": {"Key": 7, "Value": "gold_special", "Description": "Clásica"},
                "PermanentLink": f"https://articulo.example/{prefix}-{800000000 + listing_id}",
            },
            unit_price=unit,
            full_unit_price=full,
            unit_price_cost=product.cost,
            sale_fee=parts.sale_fee(unit * quantity, fee_rate),
            cancelled=line_cancelled,
        )
        items.append(kit)
        if product.components:
            component_total = sum(CATALOG[i].price * q for i, q in product.components)
            components = []
            for comp_index, comp_qty in product.components:
                component = CATALOG[comp_index]
                share = component.price / component_total
                components.append(
                    parts.Component(
                        _product(component),
                        comp_qty,
                        _money(unit * share / comp_qty),
                        _money(full * share / comp_qty),
                        component.cost,
                    )
                )
            items.extend(parts.kit_components(kit, components))
    shared = shared if shared is not None else make_shared(rng, channel, sale_date, goods, payment_pending)
    parties = {
        "SellerAccount": parts.seller_account(seller.account_id, seller.own_code, seller.name, seller.business_name),
        "MarketPlace": parts.marketplace_ref(
            channel.id,
            channel.name,
            "Mercado Shops" if channel.family == "mercadolibre" and rng.random() < 0.1 else "",
        ),
    }
    detail = OrderDetail.model_validate(
        parts.order_document(
            parties,
            items=items,
            payments=shared["Payments"],
            adjustments=_adjustments(rng, items) if origin == ORIGIN_B2B else [],
            shipping=shared["Shipping"],
            buyer=shared["Buyer"],
            billing=parts.billing(parts.sale_fee(goods, fee_rate)),
            claims=(
                [{"ExternalClaimId": rng.randrange(5_000_000_000, 5_999_999_999), "DateCreated": sale_date}]
                if rng.random() < 0.03
                else []
            ),
            external={"id": external_order_id, "site_id": channel.site_id, "tags": ["paid"]}
            if channel.family == "mercadolibre"
            else {},
            notes=rng.choice(["", "", "", "Regalo: incluir ticket sin precio", "Entregar por la tarde"]),
        )
    )
    labelled = logistic_type in ship.LABELLED_LOGISTICS
    return NewOrder(
        account_id=seller.account_id,
        marketplace_id=channel.id,
        external_order_id=external_order_id,
        detail=detail,
        status=status,
        sale_date=sale_date,
        origin=origin,
        pack_id=pack_id,
        pack_size=pack_size,
        payment_pending=payment_pending,
        logistic_type=logistic_type,
        external_shipping_id=external_shipping_id
        if external_shipping_id is not None
        else (rng.randrange(40_000_000_000, 49_999_999_999) if labelled else None),
        shipment_status=shipment_status or _shipment_for(status, logistic_type)[0],
        shipment_substatus=shipment_substatus
        if shipment_substatus is not None
        else _shipment_for(status, logistic_type)[1],
    )


def _shipment_for(status: int, logistic_type: int) -> tuple[str, str | None]:
    if logistic_type not in ship.LABELLED_LOGISTICS:
        return ship.TO_BE_AGREED_STATUS if logistic_type == ship.TO_BE_AGREED else ship.PENDING, None
    mapping = {
        st.NO_STATUS: (ship.PENDING, None),
        st.READY_TO_SHIP: (ship.READY_TO_SHIP, ship.SUB_READY_TO_PRINT),
        st.ARRIVED: (ship.READY_TO_SHIP, ship.SUB_DROPPED_OFF),
        st.SHIPPED: (ship.SHIPPED, None),
        st.DELIVERED: (ship.DELIVERED, None),
        st.RECIPIENT_NOT_FOUND: (ship.NOT_DELIVERED, None),
    }
    if st.is_cancelled(status):
        return ship.CANCELLED, None
    return mapping.get(status, (ship.HANDLING, None))


def _product(product: CatalogItem) -> dict[str, Any]:
    return parts.product(
        product.product_id,
        product.sku,
        brand=product.brand,
        seller_sku=f"S-{product.sku}",
        ean=product.ean,
        attributes={
            "NetWeight": {"Key": "kg", "Value": Decimal("1.250")},
            "SalesTags": {"Text": "nuevo|oferta", "Items": ["nuevo", "oferta"], "Delimiter": "|"},
        },
        title=product.title,
        integration_code=f"MLA{700000000 + product.product_id}",
        category=parts.key_value(product.category[0], product.category[1]),
    )


def _adjustments(rng: random.Random, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    first = items[0]["Product"]
    return [
        parts.adjustment(
            parts.key_value(1, "Bonificación"),
            "BONIF-10",
            "Bonificación comercial 10%",
            parts.key_value(1, "Porcentaje"),
            Decimal(10),
            item=parts.adjustment_item(None, first["Brand"], first["Sku"], first["SellerSku"]),
        )
    ]


def make_shared(
    rng: random.Random, channel: Channel, sale_date: datetime, goods: Decimal, payment_pending: bool
) -> dict[str, Any]:
    """Buyer, payments and shipping of one sale (shared by every order of a cart)."""
    name, nickname, doc_type, doc_number = rng.choice(BUYERS)
    phone = f"11-{rng.randrange(4000, 6999)}-{rng.randrange(1000, 9999)}"
    address = _address(rng, phone)
    free_shipping = goods > 300 or rng.random() < 0.4
    shipping_cost = Decimal(0) if free_shipping else Decimal(rng.choice(("45.00", "62.50", "80.00")))
    method = rng.choice(DEFERRED_METHODS) if payment_pending else rng.choice(PAYMENT_METHODS[:3])
    installments = rng.choice((1, 1, 3, 6)) if method[1] == "credit_card" else 1
    surcharge = _money(goods * Decimal("0.12")) if installments > 3 else Decimal(0)
    discount = _money(goods * Decimal("0.05")) if rng.random() < 0.15 else Decimal(0)
    amount = goods + shipping_cost + surcharge - discount
    approved = None if payment_pending else sale_date + timedelta(seconds=rng.randrange(5, 120))
    currency = "$"
    payment = parts.payment(
        external_id=str(rng.randrange(10_000_000_000, 99_999_999_999)),
        amount=amount,
        amount_no_discount=amount + discount,
        shipping_amount=shipping_cost,
        transaction_amount=goods - discount,
        sub_total=goods,
        installments=installments,
        currency_symbol=currency,
        method=parts.key_value(*method),
        status=parts.key_value(*(PAYMENT_PENDING if payment_pending else PAYMENT_APPROVED)),
        condition=parts.payment_condition(installments),
        discounts=[
            {
                "Amount": discount,
                "Value": Decimal(5),
                "Type": "coupon",
                "Priority": "1",
                "Notes": "",
                "Code": "HOTSALE5",
            }
        ]
        if discount
        else [],
        taxes={"Amount": _money(goods * Decimal("0.21") / Decimal("1.21")), "CurrencySymbol": currency},
        authorization_code=str(rng.randrange(100000, 999999)) if method[1].endswith("card") else "",
        date_created=sale_date,
        date_approved=approved,
        last_update=approved or sale_date,
    )
    buyer = parts.buyer(
        code=rng.randrange(100_000_000, 999_999_999),
        owncode=f"CLI-{rng.randrange(1000, 9999)}",
        name=name,
        phone=phone,
        email=f"{nickname.lower()}@mail.example",
        doc_type=doc_type,
        doc_number=doc_number,
        nickname=nickname,
        address=address,
        billing=parts.billing_info(
            doc_type="CUIT" if doc_type == "CUIT" else "DNI",
            doc_number=doc_number,
            tax_payer_type="Responsable Inscripto" if doc_type == "CUIT" else "Consumidor Final",
            business_name=name,
            address=address,
        ),
    )
    receiver_address = address if rng.random() < 0.8 else _address(rng, phone)
    shipping = parts.shipping(
        cost=shipping_cost if shipping_cost else Decimal("62.50"),
        receiver_cost=shipping_cost,
        sender_cost=Decimal(0) if shipping_cost else Decimal("62.50"),
        labels=parts.NO_LABELS,
        receiver_address=receiver_address,
        receiver=parts.receiver(name if rng.random() < 0.85 else "Portería", phone),
        estimated_delivery=sale_date + timedelta(days=rng.randrange(2, 6)),
        date_created=sale_date,
        last_updated=sale_date,
    )
    return {"Buyer": buyer, "Payments": [payment], "Shipping": shipping}


def seller_of(session: Session, account_id: int) -> Seller:
    """The account as the SellerAccount block shows it."""
    account = session.get(Account, account_id)
    if account is None:
        raise ValueError(f"no account {account_id}")
    return Seller(account.id, account.own_code, account.name, account.business_name)


def channel_of(session: Session, marketplace_id: int) -> Channel:
    """The marketplace as orders show it."""
    m = session.get(Marketplace, marketplace_id)
    if m is None:
        raise ValueError(f"no marketplace {marketplace_id}")
    return Channel(m.id, m.name, m.channel, m.family, m.site_id)


# --- the demo step --------------------------------------------------------------------------------------------

DEMO_ORDERS = 300
_PLAN = (
    # (status, weight, integrated probability)
    (st.READY_TO_SHIP, 30, 0.4),
    (st.ARRIVED, 5, 0.7),
    (st.SHIPPED, 20, 0.9),
    (st.DELIVERED, 25, 1.0),
    (st.CANCELLED, 8, 0.5),
    (st.FRAUDULENT, 1, 0.0),
    (st.RECIPIENT_NOT_FOUND, 2, 1.0),
    (st.AWAITING_REFUND, 2, 1.0),
    (st.CANCELLED_AFTER_DELIVERY, 2, 1.0),
)
ML_LOGISTICS = (ship.ME2, ship.ME2, ship.DROP_OFF, ship.CROSS_DOCKING, ship.FULFILLMENT, ship.FLEX, ship.ME1)


def create_demo_orders(session: Session, settings: Settings, account_id: int) -> None:
    """Demo step: about 300 orders over the account's marketplaces (skipped when the account has orders)."""
    if session.scalar(select(func.count()).select_from(Order).where(Order.account_id == account_id)):
        return
    rng = random.Random(20240510)
    seller = seller_of(session, account_id)
    marketplace_ids = list(
        session.scalars(
            select(AccountMarketplace.marketplace_id)
            .where(AccountMarketplace.account_id == account_id)
            .order_by(AccountMarketplace.marketplace_id)
        )
    )
    if not marketplace_ids:
        return
    channels = [channel_of(session, mid) for mid in marketplace_ids]
    set_account_options(session, account_id, pending_payments=True)
    now = clock.utcnow()
    statuses = [s for s, weight, _ in _PLAN for _ in range(weight)]
    integrated_p = {s: p for s, _, p in _PLAN}
    store = docs.store_for(settings.documents_dir)
    created: list[Order] = []
    seq = 0
    while len(created) < DEMO_ORDERS:
        seq += 1
        channel = channels[seq % len(channels)]
        age = timedelta(minutes=rng.randrange(10, 60 * 24 * 45))
        sale_date = now - age
        status = rng.choice(statuses)
        if age < timedelta(days=2) and status in (st.DELIVERED, st.CANCELLED_AFTER_DELIVERY, st.AWAITING_REFUND):
            status = st.READY_TO_SHIP
        ml = channel.family == "mercadolibre"
        logistic = rng.choice(ML_LOGISTICS) if ml else (ship.CUSTOM if channel.family != "b2b" else ship.TO_BE_AGREED)
        pending = ml and status == st.READY_TO_SHIP and rng.random() < 0.08
        origin = ORIGIN_B2B if channel.family == "b2b" else ORIGIN_MARKETPLACE
        if origin == ORIGIN_B2B and rng.random() < 0.5:
            status = st.NO_STATUS
        cart = ml and rng.random() < 0.12
        external = str(2_000_000_000 + seq * 37) if ml else f"{channel.channel[:3].upper()}-{100000 + seq}"
        if cart:
            size = rng.choice((2, 2, 3))
            arrived = size - 1 if rng.random() < 0.25 else size  # some carts are still incomplete
            pack_id = str(2_000_003_000_000_000 + seq)
            goods_lines = [[(rng.randrange(len(CATALOG)), 1)] for _ in range(size)]
            shared = make_shared(rng, channel, sale_date, Decimal(500), pending)
            shipping_id = rng.randrange(40_000_000_000, 49_999_999_999)
            for n in range(arrived):
                new = build_order(
                    rng,
                    seller=seller,
                    channel=channel,
                    external_order_id=f"{external}{n}",
                    sale_date=sale_date,
                    status=status,
                    lines=goods_lines[n],
                    logistic_type=ship.ME2,
                    external_shipping_id=shipping_id,
                    payment_pending=pending,
                    pack_id=pack_id,
                    pack_size=size,
                    shared=shared,
                )
                created.append(_ingest(session, new, now, sale_date, status, rng, integrated_p[status]))
            continue
        lines = [(rng.randrange(len(CATALOG)), rng.choice((1, 1, 2)))]
        if rng.random() < 0.15:
            lines.append((5, 1))  # a kit with its components
        new = build_order(
            rng,
            seller=seller,
            channel=channel,
            external_order_id=external,
            sale_date=sale_date,
            status=status,
            lines=lines,
            logistic_type=logistic,
            payment_pending=pending,
            origin=origin,
            cancelled_line=0 if len(lines) > 1 and rng.random() < 0.2 else None,
        )
        created.append(_ingest(session, new, now, sale_date, status, rng, integrated_p.get(status, 0.5)))
    _late_cancellations(session, created, now, rng)
    _attach_invoices(session, settings, store, created[:: max(1, len(created) // 25)])
    session.flush()


def _ingest(
    session: Session,
    new: NewOrder,
    now: datetime,
    sale_date: datetime,
    status: int,
    rng: random.Random,
    integrated_p: float,
) -> Order:
    arrived = sale_date + timedelta(seconds=rng.randrange(20, 600))
    new.created_at = min(arrived, now)
    changed = sale_date + (now - sale_date) * rng.random() if status != st.READY_TO_SHIP else arrived
    new.status_date = max(min(changed, now), new.created_at)
    if rng.random() < integrated_p and not new.payment_pending:
        new.integrated = True
        new.integrated_order_id = f"ERP-{rng.randrange(100000, 999999)}"
        new.erp_status = rng.choice(("complete", "invoiced", "pending"))
    return ingest_order(session, new)


def _late_cancellations(session: Session, orders: list[Order], now: datetime, rng: random.Random) -> None:
    # Integrated orders cancelled in the last days: what the late-cancellation cycle must find.
    candidates = [o for o in orders if o.integrated and o.status == st.READY_TO_SHIP and not o.pack_id]
    for order in candidates[:8]:
        order.status = st.CANCELLED
        order.status_type = st.TYPE_CANCELLED
        order.status_date = now - timedelta(hours=rng.randrange(1, 72))
        order.updated_at = order.status_date
        order.date_closed = order.status_date
        order.shipment_status = ship.CANCELLED
        order.shipment_substatus = None


def invoice_pdf(order: Order, number: str) -> bytes:
    """A small invoice PDF for demo attachments."""
    from fpdf import FPDF

    pdf = FPDF(unit="mm", format=(148, 210))
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 10, f"Factura B {number}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(0, 6, f"Pedido {order.id} - Venta {order.external_order_id}", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _attach_invoices(session: Session, settings: Settings, store: docs.DocumentStore, orders: list[Order]) -> None:
    for n, order in enumerate(orders):
        number = f"0003-{10000 + n:08d}"
        store_document(
            session,
            store,
            settings,
            order,
            DocumentUpload(
                doc_type=docs.INVOICE,
                data=invoice_pdf(order, number),
                name=f"factura-{number}",
                extension="pdf",
                document_number=number,
                document_date=order.sale_date,
            ),
        )
