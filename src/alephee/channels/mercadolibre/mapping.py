"""Mercado Libre's JSON in the channel contract's terms: orders (with their shipment and pack), items, messages.

Pure functions, no I/O. The API's type drift is absorbed here: ids arrive as numbers or strings (normalised to
``int`` where the contract wants numbers, to ``str`` where it keeps external ids), money as JSON numbers with
float artefacts (read through ``Decimal(str(x))``), and dates in every format the API uses (UTC ``Z``, local
offsets with or without a colon, with or without milliseconds).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from alephee.listings.marketplace_state import STATE_VERSION
from alephee.marketplaces.contract import (
    ChannelMessage,
    ChannelOrder,
    ChannelOrderItem,
    ChannelPayment,
    ListingState,
)

# The currency of each site's listings (a site with a second currency, such as MLU's USD, is not chosen here).
SITE_CURRENCIES: dict[str, str] = {
    "MLA": "ARS",
    "MLB": "BRL",
    "MLM": "MXN",
    "MLC": "CLP",
    "MCO": "COP",
    "MLU": "UYU",
    "MPE": "PEN",
}
FRAUD_TAG = "fraud_risk_detected"
# The tag of an order that shares its pack (cart) with other orders (§4.1 ``tags[]``).
PACK_ORDER_TAG = "pack_order"
# An item of the User Products ("price per variation") model: one variation of a family, sold as its own item.
USER_PRODUCT_TAG = "user_product_listing"
# Shipment logistic types whose names differ from the hub's (``default`` is ME1's; ``not_specified`` is "to be
# agreed" with the buyer).
_LOGISTIC_NAMES = {"default": "me1", "not_specified": "to_be_agreed"}


# --- lenient scalars ----------------------------------------------------------------------------------------


def to_int(value: Any) -> int | None:
    """An id sent as a number or a string (``"123"``), or None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    text = str(value).strip()
    return int(text) if text.lstrip("-").isdigit() else None


def id_text(value: Any) -> str | None:
    """An external id as text (``2000003508419013``, ``"MLA880314064"``), or None when absent."""
    number = to_int(value)
    if number is not None:
        return str(number)
    text = str(value).strip() if value is not None else ""
    return text or None


def money(value: Any) -> Decimal | None:
    """A JSON number (or numeric string) as ``Decimal`` through its text, so ``14.290000000000001`` stays as
    sent instead of growing binary noise; None when absent or not a number."""
    if value is None or isinstance(value, bool) or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def parse_date(value: Any) -> datetime | None:
    """Any of the API's date formats as an aware UTC datetime (naive ones are taken as UTC)."""
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


# --- items ----------------------------------------------------------------------------------------------------


def attribute_value(attributes: Any, attribute_id: str) -> str | None:
    """The ``value_name`` of attribute ``attribute_id`` (e.g. ``SELLER_SKU``) in an ``attributes[]`` list."""
    for attribute in _list(attributes):
        if isinstance(attribute, dict) and attribute.get("id") == attribute_id:
            return _text(attribute.get("value_name"))
    return None


def item_sku(item: dict[str, Any]) -> str | None:
    """The seller's SKU of an item: the ``SELLER_SKU`` attribute, else the legacy ``seller_custom_field``."""
    return attribute_value(item.get("attributes"), "SELLER_SKU") or _text(item.get("seller_custom_field"))


def variation_sku(variation: dict[str, Any]) -> str | None:
    """A variation's SKU: its ``SELLER_SKU`` attribute, else its ``seller_custom_field``."""
    return attribute_value(variation.get("attributes"), "SELLER_SKU") or _text(variation.get("seller_custom_field"))


def kept_state(item: dict[str, Any]) -> dict[str, Any] | None:
    """What the hub keeps of an item to compare its next push with (``Listing.marketplace_state``): the fields a
    push compares, versioned by the item's ``last_updated`` (ISO UTC). Empty (forget what was kept) for an item
    with variations: their list is always read fresh, as a variation left out of a PUT is deleted. None (no
    news) for an item without ``last_updated``."""
    if _list(item.get("variations")):
        return {}
    changed = parse_date(item.get("last_updated"))
    if changed is None or not item.get("id"):
        return None
    return {
        STATE_VERSION: changed.astimezone(UTC).isoformat(timespec="microseconds"),
        "id": str(item["id"]),
        "status": str(item.get("status") or ""),
        "sub_status": [str(s) for s in _list(item.get("sub_status"))],
        "available_quantity": to_int(item.get("available_quantity")),
        "price": item.get("price"),
    }


def in_cart(order: dict[str, Any]) -> bool:
    """Whether the order shares its pack with other orders (a cart of several): tagged ``pack_order`` (§4.1). An
    order without the tag is its pack's only one, so its pack need not be read for its size (MLC-67)."""
    return PACK_ORDER_TAG in _list(order.get("tags"))


def is_user_product(item: dict[str, Any]) -> bool:
    """Whether the item is of the User Products model (tagged ``user_product_listing``, spec 3.9)."""
    return USER_PRODUCT_TAG in _list(item.get("tags"))


def listing_state(item: dict[str, Any]) -> ListingState:
    """``GET /items/{id}`` as a ``ListingState``; an item of the User Products model is one variation, so it is
    linked by its own SKU (its sole variation's when the item has none) and lists no variations."""
    variations = tuple(
        (id_text(v.get("id")) or "", variation_sku(v))
        for v in _list(item.get("variations"))
        if isinstance(v, dict) and id_text(v.get("id"))
    )
    sku = item_sku(item)
    if is_user_product(item):
        sku = sku or (variations[0][1] if len(variations) == 1 else None)
        variations = ()
    return ListingState(
        external_id=str(item.get("id") or ""),
        status=str(item.get("status") or ""),
        sub_status=tuple(str(s) for s in _list(item.get("sub_status"))),
        title=_text(item.get("title")),
        sku=sku,
        price=money(item.get("price")),
        currency=_text(item.get("currency_id")),
        available_quantity=to_int(item.get("available_quantity")),
        sold_quantity=to_int(item.get("sold_quantity")),
        permalink=_text(item.get("permalink")),
        category_id=_text(item.get("category_id")),
        listing_type=_text(item.get("listing_type_id")),
        variations=variations,
        marketplace_state=kept_state(item),
    )


# --- orders ---------------------------------------------------------------------------------------------------


def order_item(line: dict[str, Any]) -> ChannelOrderItem:
    """One ``order_items[]`` line, keyed by the item id (the hub's listing of the item); a variation's line
    carries the variation's SKU (``seller_sku``) and its ``variation_id`` (also kept in the order's ``raw``)."""
    item = _dict(line.get("item"))
    unit_price = money(line.get("unit_price")) or Decimal(0)
    return ChannelOrderItem(
        external_listing_id=str(item.get("id") or ""),
        quantity=to_int(line.get("quantity")) or 0,
        unit_price=unit_price,
        sku=_text(item.get("seller_sku")) or _text(item.get("seller_custom_field")),
        title=_text(item.get("title")),
        full_unit_price=money(line.get("full_unit_price")),
        external_variation_id=id_text(item.get("variation_id")),
    )


def payment(element: dict[str, Any]) -> ChannelPayment:
    """One ``payments[]`` element (``method`` is the payment type: ``credit_card``, ``account_money``...)."""
    amount = money(element.get("transaction_amount"))
    if amount is None:
        amount = money(element.get("total_paid_amount")) or Decimal(0)
    return ChannelPayment(
        external_payment_id=id_text(element.get("id")) or "",
        status=str(element.get("status") or ""),
        amount=amount,
        currency=_text(element.get("currency_id")),
        method=_text(element.get("payment_type")) or _text(element.get("payment_method_id")),
        installments=to_int(element.get("installments")),
        date_created=parse_date(element.get("date_created")),
        date_approved=parse_date(element.get("date_approved")),
    )


def shipping_address(shipment: dict[str, Any]) -> dict[str, Any]:
    """The buyer's address of a shipment, from ``destination.shipping_address`` (new format) or the older
    ``receiver_address``, in the keys ``sync.translate`` reads."""
    destination = _dict(shipment.get("destination"))
    address = _dict(destination.get("shipping_address")) or _dict(shipment.get("receiver_address"))
    if not address:
        return {}

    def named(key: str) -> str | None:
        part = address.get(key)
        return _text(part.get("name")) if isinstance(part, dict) else _text(part)

    def coded(key: str) -> str | None:
        part = address.get(key)
        return _text(part.get("id")) if isinstance(part, dict) else None

    out = {
        "country_id": coded("country"),
        "state_code": coded("state"),
        "state": named("state"),
        "city": named("city"),
        "neighborhood": named("neighborhood"),
        "street_name": _text(address.get("street_name")),
        "street_number": _text(address.get("street_number")),
        "street": _text(address.get("address_line")),
        "zip_code": _text(address.get("zip_code")),
        "comment": _text(address.get("comment")) or _text(destination.get("comments")),
        "receiver_name": _text(destination.get("receiver_name")) or _text(address.get("receiver_name")),
        "receiver_phone": _text(destination.get("receiver_phone")) or _text(address.get("receiver_phone")),
    }
    return {k: v for k, v in out.items() if v is not None}


def logistic_type(shipment: dict[str, Any]) -> str | None:
    """The shipment's logistic type in the hub's words (``logistic.type``, or the flat older ``logistic_type``;
    ME1's ``default`` is ``me1``, a ``custom`` mode is ``custom``)."""
    logistic = _dict(shipment.get("logistic"))
    mode = _text(logistic.get("mode")) or _text(shipment.get("mode"))
    kind = _text(logistic.get("type")) or _text(shipment.get("logistic_type"))
    if mode == "custom":
        return "custom"
    if kind is None:
        return mode
    return _LOGISTIC_NAMES.get(kind, kind)


def buyer(order: dict[str, Any]) -> dict[str, Any]:
    """The buyer as ``sync.translate`` reads it: ``id`` (int), and the names when the answer has them."""
    raw = _dict(order.get("buyer"))
    out: dict[str, Any] = {"id": to_int(raw.get("id"))}
    for key in ("nickname", "first_name", "last_name", "email"):
        if _text(raw.get(key)):
            out[key] = _text(raw.get(key))
    phone = _dict(raw.get("phone"))
    number = _text(phone.get("number")) if phone else _text(raw.get("phone"))
    if number:
        out["phone"] = " ".join(p for p in (_text(phone.get("area_code")), number) if p)
    return out


def refunded_amount(order: dict[str, Any]) -> Decimal:
    """How much of the order's payments was refunded (``transaction_amount_refunded`` summed)."""
    total = Decimal(0)
    for element in _list(order.get("payments")):
        if isinstance(element, dict):
            total += money(element.get("transaction_amount_refunded")) or Decimal(0)
    return total


def channel_order(
    order: dict[str, Any], shipment: dict[str, Any] | None = None, pack_size: int | None = None
) -> ChannelOrder:
    """``GET /orders/{id}`` (with its ``GET /shipments/{id}`` and its pack's order count) as a ``ChannelOrder``.

    Statuses pass through in Mercado Libre's words (the hub's translation speaks them); ``fraud_risk_detected``
    sets ``fraud``; a claim is any open mediation; the cancellation detail and refunded amount stay in ``raw``
    next to the whole order JSON.
    """
    shipment = shipment or {}
    tags = {str(t) for t in _list(order.get("tags"))}
    created = parse_date(order.get("date_created")) or datetime.now(UTC)
    updated = parse_date(order.get("date_last_updated")) or parse_date(order.get("last_updated")) or created
    pack_id = id_text(order.get("pack_id"))
    shipping_id = id_text(_dict(order.get("shipping")).get("id")) or id_text(shipment.get("id"))
    mediations = [m for m in _list(order.get("mediations")) if isinstance(m, dict)]
    claim = {"id": mediations[-1].get("id"), "date_created": mediations[-1].get("date_created")} if mediations else None
    return ChannelOrder(
        external_order_id=id_text(order.get("id")) or "",
        status=str(order.get("status") or ""),
        date_created=created,
        date_updated=updated,
        items=tuple(order_item(line) for line in _list(order.get("order_items")) if isinstance(line, dict)),
        payments=tuple(payment(p) for p in _list(order.get("payments")) if isinstance(p, dict)),
        total=money(order.get("total_amount")),
        currency=_text(order.get("currency_id")),
        pack_id=pack_id,
        pack_size=(pack_size or 1) if pack_id else None,
        external_shipping_id=shipping_id,
        shipping_status=_text(shipment.get("status")),
        shipping_substatus=_text(shipment.get("substatus")),
        logistic_type=logistic_type(shipment) if shipment else None,
        buyer=buyer(order),
        shipping_address=shipping_address(shipment),
        fraud=FRAUD_TAG in tags,
        claim=claim is not None,
        raw={
            "order": order,
            "claim": claim,
            "cancel_detail": order.get("cancel_detail"),
            "refunded_amount": str(refunded_amount(order)),
            "tags": sorted(tags),
            "variations": {
                str(_dict(line.get("item")).get("id")): id_text(_dict(line.get("item")).get("variation_id"))
                for line in _list(order.get("order_items"))
                if isinstance(line, dict) and _dict(line.get("item")).get("variation_id") is not None
            },
        },
    )


# --- messages -------------------------------------------------------------------------------------------------


def channel_message(
    message: dict[str, Any], seller_id: int, pack_id: str | None, order_id: str | None = None
) -> ChannelMessage:
    """One ``messages[]`` element of a conversation; from the buyer when ``from.user_id`` is not the seller."""
    sender = to_int(_dict(message.get("from")).get("user_id"))
    dates = _dict(message.get("message_date"))
    when = (
        parse_date(dates.get("created"))
        or parse_date(dates.get("received"))
        or parse_date(dates.get("available"))
        or parse_date(message.get("date_created"))
        or datetime.now(UTC)
    )
    return ChannelMessage(
        external_message_id=str(message.get("id") or ""),
        text=str(message.get("text") or ""),
        from_buyer=sender != seller_id,
        date=when,
        external_order_id=order_id,
        pack_id=pack_id,
        status=_text(message.get("status")),
    )
