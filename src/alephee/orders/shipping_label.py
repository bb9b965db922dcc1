"""GET /v2/orders/{orderId}/shippinglabel: when a label may be printed, the data it shows (a cart's orders
travel together) and its file (PDF, ZPL text or ZIP, built by ``orders/labels.py``); the first download marks
a ready-to-print label printed.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import orjson
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from alephee import clock
from alephee.accounts.models import Account, AccountMarketplace, Store
from alephee.config import Settings
from alephee.db import Database
from alephee.errors import InvalidInput, PreconditionFailed, ServiceUnavailable
from alephee.http.params import query_bool
from alephee.marketplaces.contract import Channel, ChannelContext, DeliveryError, OrderRef, PermanentDeliveryError
from alephee.marketplaces.contract import LabelRequest as ChannelLabelRequest
from alephee.marketplaces.models import Marketplace
from alephee.marketplaces.registry import has_channel, marketplace_ref, shared_channel
from alephee.orders import documents as docs
from alephee.orders import labels
from alephee.orders import shipping_rules as ship
from alephee.orders import statuses as st
from alephee.orders.access import marketplace_family, order_row
from alephee.orders.detail_parts import ITEM_COMPONENT
from alephee.orders.documents import FileOut
from alephee.orders.models import Order, OrderDocument
from alephee.orders.rendering import RENDER_COLUMNS, render_orders

LABEL_FORMATS = {"PDF": "application/pdf", "TXT": "text/plain; charset=utf-8", "ZIP": "application/zip"}


class LabelFormatRequired(InvalidInput):
    """format is missing (400)."""

    message = "format is required: TXT (ZPL), ZIP (ZPL + control receipt PDF) or PDF"


class BadLabelFormat(InvalidInput):
    """format is not TXT, ZIP or PDF (400)."""

    message = "Invalid format '{value}': use TXT, ZIP or PDF"


class NoShipment(PreconditionFailed):
    """The order has no marketplace shipment (412)."""

    message = "The order has no marketplace shipment, so there is no shipping label"


class LabelRefused(PreconditionFailed):
    """The shipment is not in a state whose label may be printed, or a Brazilian order lacks its NF-e (412)."""


class LabelUnavailable(ServiceUnavailable):
    """The marketplace that prints the label could not be reached or is busy (503: try again)."""

    message = "The marketplace could not give the label now ({reason}); try again"


@dataclass(frozen=True, slots=True)
class LabelRequest:
    """A parsed label request."""

    fmt: str
    as_base64: bool


def parse_label_request(fmt_raw: str | None, base64_raw: str | None) -> LabelRequest:
    """Validate ``format`` (case-insensitive) and ``base64``."""
    if fmt_raw is None or not fmt_raw.strip():
        raise LabelFormatRequired()
    fmt = fmt_raw.strip().upper()
    if fmt not in LABEL_FORMATS:
        raise BadLabelFormat(BadLabelFormat.message.format(value=fmt_raw.strip()))
    return LabelRequest(fmt=fmt, as_base64=bool(query_bool(base64_raw, "base64")))


def _address_lines(address: dict[str, Any] | None) -> list[str]:
    if not address:
        return []
    street = " ".join(p for p in (address.get("StreetName"), address.get("StreetNumber")) if p)
    city = " ".join(p for p in (address.get("ZipCode"), address.get("City")) if p)
    region = ", ".join(p for p in (address.get("Neighborhood"), address.get("State"), address.get("CountryId")) if p)
    lines = [line for line in (street or address.get("Description") or "", city, region) if line]
    if address.get("Notes"):
        lines.append(str(address["Notes"]))
    return lines


def _label_data(session: Session, orders: Sequence[Order], first: dict[str, Any]) -> labels.LabelData:
    head = orders[0]
    account = session.get(Account, head.account_id)
    store = session.scalar(
        select(Store).where(Store.account_id == head.account_id).order_by(Store.is_principal.desc(), Store.id).limit(1)
    )
    sender_lines = _address_lines(store.address) if store is not None and store.address else []
    shipping = first["Shipping"]
    receiver = shipping.get("Receiver") or {}
    buyer = first.get("Buyer") or {}
    label_orders = []
    for order in orders:
        detail = orjson.loads(order.detail)
        label_orders.append(
            labels.LabelOrder(
                order_id=order.id,
                external_order_id=order.external_order_id,
                items=[
                    labels.LabelItem(
                        quantity=int(item.get("Quantity") or 0),
                        sku=str((item.get("Product") or {}).get("Sku") or ""),
                        title=str((item.get("Product") or {}).get("Title") or ""),
                    )
                    for item in detail["Items"]
                    if item["Type"]["Key"] != ITEM_COMPONENT
                ],
            )
        )
    marketplace = first["MarketPlace"]
    return labels.LabelData(
        shipment_id=int(head.external_shipping_id or 0),
        marketplace=str(marketplace.get("Value") or ""),
        logistic=ship.logistic_name(head.logistic_type),
        pack_id=head.pack_id,
        sender_name=(account.business_name or account.name) if account else "",
        sender_lines=sender_lines,
        receiver_name=str(receiver.get("Name") or buyer.get("Name") or ""),
        receiver_phone=str(receiver.get("Phone") or ""),
        receiver_lines=_address_lines(shipping.get("ReceiverAddress")),
        orders=label_orders,
        printed_at=clock.utcnow(),
    )


def printable_order(session: Session, account_id: int, order_id: int) -> Order:
    """The order whose label is asked for, once its shipment may be printed (``NoShipment``/``LabelRefused``
    otherwise): the one check before a label is drawn here or fetched from the marketplace."""
    order = order_row(session, account_id, order_id)
    if order.external_shipping_id is None:
        raise NoShipment()
    needs_nfe = False
    family = marketplace_family(session, order.marketplace_id)
    if family == "mercadolibre" and order.marketplace_id in _brazilian_marketplaces(session):
        has_nfe = session.scalar(
            select(func.count())
            .select_from(OrderDocument)
            .where(OrderDocument.order_id == order.id, OrderDocument.doc_type == docs.NFE)
        )
        needs_nfe = not has_nfe
    refusal = ship.label_refusal(
        logistic_type=order.logistic_type,
        status=order.shipment_status,
        substatus=order.shipment_substatus,
        needs_nfe=needs_nfe,
    )
    if refusal:
        raise LabelRefused(refusal)
    return order


def shipping_label(session: Session, account_id: int, order_id: int, request: LabelRequest) -> FileOut:
    """The label of the order's shipment (a cart's orders travel together: one label lists them all)."""
    order = printable_order(session, account_id, order_id)
    travelling = [order]
    if order.pack_id:
        travelling = list(
            session.scalars(
                select(Order)
                .where(
                    Order.account_id == account_id,
                    Order.pack_id == order.pack_id,
                    Order.external_shipping_id == order.external_shipping_id,
                    Order.status != st.DELETED,
                )
                .order_by(Order.id)
            )
        ) or [order]
    first = render_orders(session, [_row_of(session, order.id)])[0]
    data = _label_data(session, travelling, first)
    if request.fmt == "PDF":
        content, name = labels.label_pdf(data), f"etiqueta-{data.shipment_id}.pdf"
    elif request.fmt == "TXT":
        content, name = labels.label_zpl(data).encode(), f"etiqueta-{data.shipment_id}.txt"
    else:
        content, name = labels.label_zip(data), f"etiqueta-{data.shipment_id}.zip"
    return _encoded(content, LABEL_FORMATS[request.fmt], name, request)


def _row_of(session: Session, order_id: int) -> Any:
    return session.execute(select(*RENDER_COLUMNS).where(Order.id == order_id)).one()


_brazil: set[int] | None = None


def _brazilian_marketplaces(session: Session) -> set[int]:
    global _brazil
    if _brazil is None:
        _brazil = set(session.scalars(select(Marketplace.id).where(Marketplace.country_id == "BR")))
    return _brazil


def mark_label_printed(session: Session, account_id: int, order_id: int) -> None:
    """First print of a ready-to-print label: substatus → printed, FirstPrinted stamped (as the marketplace
    does). Conditional, so concurrent downloads stamp once; no commit."""
    now = clock.utcnow()
    order = session.scalar(select(Order).where(Order.id == order_id, Order.account_id == account_id))
    if order is None or order.external_shipping_id is None:
        return
    session.execute(
        update(Order)
        .where(
            Order.account_id == account_id,
            Order.external_shipping_id == order.external_shipping_id,
            Order.shipment_substatus == ship.SUB_READY_TO_PRINT,
        )
        .values(
            shipment_substatus=ship.SUB_PRINTED,
            label_first_printed_at=func.coalesce(Order.label_first_printed_at, now),
            shipment_updated_at=now,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )


def _encoded(content: bytes, media_type: str, name: str, request: LabelRequest) -> FileOut:
    if request.as_base64:
        return FileOut(base64.b64encode(content), "text/plain; charset=utf-8", name)
    return FileOut(content, media_type, name)


def _marketplace_label(
    session: Session, settings: Settings | None, order: Order
) -> tuple[Channel, ChannelContext, ChannelLabelRequest] | None:
    """The channel call that fetches the order's label from its marketplace, when the marketplace prints its
    own labels (``Channel.labels_from_marketplace``); None when the hub draws the label itself."""
    ref = marketplace_ref(session, order.marketplace_id)
    if not has_channel(ref.connector):
        return None
    channel = shared_channel(ref.connector)
    if not getattr(channel, "labels_from_marketplace", False):
        return None
    link = session.get(AccountMarketplace, (order.account_id, order.marketplace_id))
    ctx = ChannelContext(
        account_id=order.account_id,
        marketplace=ref,
        external_seller_id=link.external_seller_id if link is not None else None,
        db=None,
        settings=settings,
    )
    return (
        channel,
        ctx,
        ChannelLabelRequest(
            order=OrderRef(order.id, order.external_order_id, order.pack_id),
            external_shipping_id=str(order.external_shipping_id),
        ),
    )


def download_label(
    db: Database, account_id: int, order_id: int, request: LabelRequest, settings: Settings | None = None
) -> FileOut:
    """The label file; the first download of a ready-to-print label marks it printed (own short write).
    A marketplace that prints its own labels (Mercado Libre) is asked for the file, with no transaction open
    while it answers; its refusal is a 412 like the hub's own."""
    with db.reading() as session:
        order = printable_order(session, account_id, order_id)
        remote = _marketplace_label(session, settings, order)
        label = shipping_label(session, account_id, order_id, request) if remote is None else None
        substatus = order.shipment_substatus
    if remote is not None:
        channel, ctx, ask = remote
        fmt = "TXT" if request.fmt == "TXT" else "PDF" if request.fmt == "PDF" else "ZIP"
        try:
            got = channel.fetch_label(replace(ctx, db=db), replace(ask, format=fmt))
        except PermanentDeliveryError as exc:
            raise LabelRefused(exc.message) from None
        except DeliveryError as exc:
            raise LabelUnavailable(LabelUnavailable.message.format(reason=exc.message)) from None
        label = _encoded(got.content, LABEL_FORMATS.get(got.format, got.media_type), got.file_name, request)
    assert label is not None
    if substatus == ship.SUB_READY_TO_PRINT:
        with db.writing() as session:
            mark_label_printed(session, account_id, order_id)
    return label
