"""Outbox topics → channel operations: each topic's payload parsed into the contract's values and handed to
the channel (``deliver_topic``). Payload keys are matched case-insensitively, ``_``/``-`` ignored."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from alephee.http.numbers import to_int
from alephee.marketplaces.contract import (
    BuyerMessage,
    Channel,
    ChannelContext,
    DocumentUpload,
    LabelRequest,
    ListingChange,
    ListingDiscount,
    ListingPush,
    ListingStatusPush,
    OrderRef,
    OrderStatusPush,
    PackagingPush,
    PermanentDeliveryError,
    SplitRequest,
)

# --- outbox topics → operations ---------------------------------------------------------------------------

# Marketplace listing statuses (Mercado Libre vocabulary) and the hub's provisional listing status codes
# (CF-50.5.1: 1 Active, 2 Paused, 3 Finished, 4 UnderReview, 5 Inactive).
LISTING_STATUS_NAMES: dict[int, str] = {1: "active", 2: "paused", 3: "closed", 4: "under_review", 5: "inactive"}
_STATUS_ALIASES = {"finished": "closed", "underreview": "under_review", "deleted": "inactive", "pause": "paused"}


def listing_status_name(value: Any) -> str:
    """A listing status as a marketplace name, from a hub code (``2``, ``"2"``) or a name (``"Paused"``)."""
    if isinstance(value, bool):
        raise PermanentDeliveryError(f"invalid listing status {value!r}")
    if isinstance(value, Mapping):
        value = _pick(value, "key", "id", "name", "value")
    code = to_int(value)
    if code is not None:
        if code not in LISTING_STATUS_NAMES:
            raise PermanentDeliveryError(f"invalid listing status {value!r}")
        return LISTING_STATUS_NAMES[code]
    if isinstance(value, str):
        key = value.strip().lower().replace(" ", "").replace("-", "")
        key = _STATUS_ALIASES.get(key, key)
        if key in LISTING_STATUS_NAMES.values():
            return key
    raise PermanentDeliveryError(f"invalid listing status {value!r}")


def payload_value(payload: Mapping[str, Any], *names: str) -> Any:
    """The first non-null value among ``names`` in an outbox payload (keys matched like the parsers do)."""
    return _pick(payload, *names)


@lru_cache(maxsize=4096)
def _norm(key: str) -> str:
    # Cached: payloads repeat a few dozen keys, and every row's parsing matches each key many times.
    return key.replace("_", "").replace("-", "").lower()


def _pick(payload: Mapping[str, Any], *names: str) -> Any:
    """The first non-null value among ``names``, keys matched case-insensitively and ignoring ``_``/``-``
    (so ``external_id``, ``ExternalId`` and ``externalID`` are the same key)."""
    normalized = {_norm(k): v for k, v in payload.items()}
    for name in names:
        value = normalized.get(_norm(name))
        if value is not None:
            return value
    return None


def _int(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise PermanentDeliveryError(f"payload key '{name}' must be an integer, got {value!r}")
    try:
        return int(str(value).strip())
    except ValueError:
        raise PermanentDeliveryError(f"payload key '{name}' must be an integer, got {value!r}") from None


def _decimal(value: Any, name: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise PermanentDeliveryError(f"payload key '{name}' must be a number, got {value!r}") from None
    if not number.is_finite():
        raise PermanentDeliveryError(f"payload key '{name}' must be a finite number, got {value!r}")
    return number


def _str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def order_ref(payload: Mapping[str, Any], aggregate_id: int | None = None) -> OrderRef:
    """The order a payload is about: ``order_id`` (or the row's aggregate id) and/or ``external_order_id``."""
    order_id = _int(_pick(payload, "order_id", "OrderId"), "order_id")
    ref = OrderRef(
        order_id=order_id if order_id is not None else aggregate_id,
        external_order_id=_str(_pick(payload, "external_order_id", "ExternalOrderId")),
        pack_id=_str(_pick(payload, "pack_id", "PackId")),
    )
    if ref.order_id is None and ref.external_order_id is None:
        raise PermanentDeliveryError("payload names no order (order_id or external_order_id)")
    return ref


def listing_push(payload: Mapping[str, Any], aggregate_id: int | None = None) -> ListingPush:
    """Parse a ``listing.update`` payload (liberal: see the sandbox module docstring for the keys)."""
    listing_id = _int(_pick(payload, "listing_id", "ListingId"), "listing_id")
    status = _pick(payload, "status", "Status")
    discount = _discount(payload)
    known = {
        _norm(k)
        for k in (
            "listing_id",
            "external_id",
            "product_id",
            "sku",
            "brand",
            "title",
            "name",
            "price",
            "currency",
            "quantity",
            "available_quantity",
            "stock",
            "status",
            "status_reason",
            "listing_type",
            "discount_percent",
            "discount_start",
            "discount_finish",
        )
    }
    push = ListingPush(
        listing_id=listing_id if listing_id is not None else aggregate_id,
        external_id=_str(_pick(payload, "external_id", "ExternalId", "external_publication_id")),
        product_id=_int(_pick(payload, "product_id", "ProductId"), "product_id"),
        sku=_str(_pick(payload, "sku", "SKU")),
        brand=_str(_pick(payload, "brand", "Brand")),
        title=_str(_pick(payload, "title", "Title", "name")),
        price=_decimal(_pick(payload, "price", "Price"), "price"),
        currency=_str(_pick(payload, "currency", "Currency", "currency_id")),
        quantity=_int(_pick(payload, "quantity", "available_quantity", "AvailableQuantity", "stock"), "quantity"),
        status=listing_status_name(status) if status is not None else None,
        status_reason=_str(_pick(payload, "status_reason", "StatusReason")),
        listing_type=_str(_pick(payload, "listing_type", "ListingType")),
        discount=discount,
        discount_cleared=discount is None and _mentions_discount(payload),
        extra={k: v for k, v in payload.items() if _norm(k) not in known},
    )
    if push.listing_id is None and push.external_id is None:
        raise PermanentDeliveryError("payload names no listing (listing_id or external_id)")
    if push.price is not None and push.price < 0:
        raise PermanentDeliveryError(f"negative price {push.price}")
    if push.quantity is not None and push.quantity < 0:
        raise PermanentDeliveryError(f"negative quantity {push.quantity}")
    return push


def _datetime(value: Any, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        raise PermanentDeliveryError(f"payload key '{name}' must be an ISO-8601 date, got {value!r}") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _discount(payload: Mapping[str, Any]) -> ListingDiscount | None:
    """``discount_percent`` (> 0) with ``discount_start``/``discount_finish``; percent 0 means no discount."""
    percent = _decimal(_pick(payload, "discount_percent", "DiscountPercent"), "discount_percent")
    if percent is None or percent == 0:
        return None
    if not 0 < percent < 100:
        raise PermanentDeliveryError(f"discount percent {percent} out of range")
    return ListingDiscount(
        percent=percent,
        start=_datetime(_pick(payload, "discount_start", "StartDate"), "discount_start"),
        finish=_datetime(_pick(payload, "discount_finish", "FinishDate"), "discount_finish"),
    )


def _mentions_discount(payload: Mapping[str, Any]) -> bool:
    """Whether the push is about the discount (an explicit percent 0, or ``changed`` naming it) while carrying
    none: then the marketplace drops the current discount."""
    if _pick(payload, "discount_percent", "DiscountPercent") is not None:
        return True
    changed = _pick(payload, "changed")
    return isinstance(changed, list | tuple) and any(str(c).lower() == "discount" for c in changed)


def listing_status_push(payload: Mapping[str, Any], aggregate_id: int | None = None) -> ListingStatusPush:
    """Parse a ``listing.status`` payload."""
    status = _pick(payload, "status", "Status")
    if status is None:
        raise PermanentDeliveryError("payload has no 'status'")
    listing_id = _int(_pick(payload, "listing_id", "ListingId"), "listing_id")
    change = ListingStatusPush(
        status=listing_status_name(status),
        listing_id=listing_id if listing_id is not None else aggregate_id,
        external_id=_str(_pick(payload, "external_id", "ExternalId", "external_publication_id")),
        reason=_str(_pick(payload, "status_reason", "StatusReason")),
    )
    if change.listing_id is None and change.external_id is None:
        raise PermanentDeliveryError("payload names no listing (listing_id or external_id)")
    return change


def order_status_push(payload: Mapping[str, Any], aggregate_id: int | None = None) -> OrderStatusPush:
    """Parse an ``order.status`` payload. Tracking may come flat (``tracking_number``, ``carrier``...) or as an
    object ``tracking: {"Number", "Status", "Method"/"Carrier", "Url"}`` (the wire shape of ``PUT /v2/orders``)."""
    tracking = _pick(payload, "tracking", "Tracking")
    nested: Mapping[str, Any] = tracking if isinstance(tracking, Mapping) else {}
    flat_number = None if nested else tracking
    return OrderStatusPush(
        order=order_ref(payload, aggregate_id),
        status=_int(_pick(payload, "status", "Status", "status_id", "OrderStatusId"), "status"),
        tracking_number=_str(
            _pick(payload, "tracking_number", "TrackingNumber")
            or _pick(nested, "number", "tracking_number")
            or flat_number
        ),
        carrier=_str(
            _pick(payload, "carrier", "Carrier", "tracking_method", "TrackingMethod")
            or _pick(nested, "carrier", "method", "company")
        ),
        tracking_url=_str(_pick(payload, "tracking_url", "TrackingUrl") or _pick(nested, "url", "tracking_url")),
        tracking_status=_str(_pick(payload, "tracking_status", "TrackingStatus") or _pick(nested, "status")),
        note=_str(_pick(payload, "note", "Note", "free_text", "comment")),
    )


def packaging_push(payload: Mapping[str, Any], aggregate_id: int | None = None) -> PackagingPush:
    """Parse an ``order.packaging`` payload (``package_info`` is kept as sent)."""
    info = _pick(payload, "package_info", "PackageInfo", "pack_info", "PackInfo")
    if not isinstance(info, Mapping):
        raise PermanentDeliveryError("payload has no 'package_info' object")
    raw_ids = _pick(payload, "order_ids", "OrderIds") or []
    if not isinstance(raw_ids, list | tuple):
        raise PermanentDeliveryError("payload key 'order_ids' must be a list")
    return PackagingPush(
        order=order_ref(payload, aggregate_id),
        package_info=dict(info),
        order_ids=tuple(i for i in (_int(v, "order_ids") for v in raw_ids) if i is not None),
        external_shipping_id=_str(_pick(payload, "external_shipping_id", "ExternalShippingId", "shipping_id")),
    )


def document_upload(payload: Mapping[str, Any], aggregate_id: int | None = None) -> DocumentUpload:
    """Parse an ``order.document`` payload."""
    document_type = _int(_pick(payload, "document_type", "DocumentType", "type"), "document_type")
    if document_type is None:
        raise PermanentDeliveryError("payload has no 'document_type'")
    return DocumentUpload(
        order=order_ref(payload, aggregate_id),
        document_type=document_type,
        document_number=_str(_pick(payload, "document_number", "DocumentNumber", "number")),
        file_name=_str(_pick(payload, "file_name", "FileName", "document_name", "name")),
        extension=_str(_pick(payload, "extension", "document_extension", "DocumentExtension")),
        content_type=_str(_pick(payload, "content_type", "ContentType", "media_type")),
        size=_int(_pick(payload, "size", "Size", "bytes"), "size"),
        sha256=_str(_pick(payload, "sha256", "checksum")),
        storage_key=_str(_pick(payload, "storage_key", "path", "document_id", "DocumentId")),
        fiscal_key=_str(_pick(payload, "fiscal_key", "FiscalKey")),
        document_date=_str(_pick(payload, "document_date", "DocumentDate", "date")),
    )


def buyer_message(payload: Mapping[str, Any], aggregate_id: int | None = None) -> BuyerMessage:
    """Parse an ``order.message`` payload."""
    option = _int(_pick(payload, "message_option", "messageOptions", "message_options", "option"), "message_option")
    if option is None:
        raise PermanentDeliveryError("payload has no 'message_option'")
    return BuyerMessage(
        order=order_ref(payload, aggregate_id),
        message_option=option,
        text=_str(_pick(payload, "text", "message", "Message", "body")),
        attachment_name=_str(_pick(payload, "attachment_name", "document_name", "file_name")),
        attachment_storage_key=_str(_pick(payload, "attachment_storage_key", "storage_key")),
    )


def split_request(payload: Mapping[str, Any], aggregate_id: int | None = None) -> SplitRequest:
    """Parse an ``order.split`` payload."""
    reason = _int(_pick(payload, "split_reason_id", "splitReasonId", "reason_id", "reason"), "split_reason_id")
    if reason is None:
        raise PermanentDeliveryError("payload has no 'split_reason_id'")
    return SplitRequest(
        order=order_ref(payload, aggregate_id),
        split_reason_id=reason,
        new_pack_id=_str(_pick(payload, "new_pack_id", "NewPackId")),
        new_external_shipping_id=_str(_pick(payload, "new_external_shipping_id", "NewExternalShippingId")),
    )


def label_request(payload: Mapping[str, Any], aggregate_id: int | None = None) -> LabelRequest:
    """Parse an ``order.label`` payload (ask the marketplace to prepare the label ahead of the download)."""
    fmt = (_str(_pick(payload, "format", "Format")) or "PDF").upper()
    return LabelRequest(
        order=order_ref(payload, aggregate_id),
        format=fmt,
        external_shipping_id=_str(_pick(payload, "external_shipping_id", "ExternalShippingId", "shipping_id")),
    )


def _deliver_listing_update(channel: Channel, ctx: ChannelContext, payload: Mapping[str, Any], agg: int) -> Any:
    return channel.publish_listing(ctx, listing_push(payload, agg))


def _deliver_listing_status(channel: Channel, ctx: ChannelContext, payload: Mapping[str, Any], agg: int) -> Any:
    return channel.set_listing_status(ctx, listing_status_push(payload, agg))


# Listing topics → their parsed change (what ``BatchChannel.push_listings`` takes).
LISTING_CHANGES: dict[str, Callable[[Mapping[str, Any], int], ListingChange]] = {
    "listing.update": listing_push,
    "listing.status": listing_status_push,
}


def listing_change(topic: str, payload: Mapping[str, Any], aggregate_id: int) -> ListingChange:
    """A listing topic's payload parsed into the change a channel receives (``PermanentDeliveryError`` when it
    cannot be parsed, or the topic is not a listing change)."""
    parse = LISTING_CHANGES.get(topic)
    if parse is None:
        raise PermanentDeliveryError(f"outbox topic '{topic}' is not a listing change")
    if not isinstance(payload, Mapping):
        raise PermanentDeliveryError("outbox payload must be a JSON object")
    return parse(payload, aggregate_id)


def _deliver_order_status(channel: Channel, ctx: ChannelContext, payload: Mapping[str, Any], agg: int) -> None:
    channel.push_order_status(ctx, order_status_push(payload, agg))


def _deliver_document(channel: Channel, ctx: ChannelContext, payload: Mapping[str, Any], agg: int) -> None:
    channel.upload_document(ctx, document_upload(payload, agg))


def _deliver_message(channel: Channel, ctx: ChannelContext, payload: Mapping[str, Any], agg: int) -> None:
    channel.send_buyer_message(ctx, buyer_message(payload, agg))


def _deliver_split(channel: Channel, ctx: ChannelContext, payload: Mapping[str, Any], agg: int) -> None:
    channel.split_shipment(ctx, split_request(payload, agg))


def _deliver_packaging(channel: Channel, ctx: ChannelContext, payload: Mapping[str, Any], agg: int) -> None:
    channel.push_packaging(ctx, packaging_push(payload, agg))


def _deliver_label(channel: Channel, ctx: ChannelContext, payload: Mapping[str, Any], agg: int) -> None:
    channel.fetch_label(ctx, label_request(payload, agg))


# A handler returns what the channel answered (a ``ListingReceipt`` for listing topics), or None.
TopicHandler = Callable[[Channel, ChannelContext, Mapping[str, Any], int], Any]

# Outbox topic → channel operation. Listing topics carry aggregate_type "listing" (aggregate_id = hub
# listing id), order topics "order" (aggregate_id = hub order id).
TOPICS: dict[str, TopicHandler] = {
    "listing.update": _deliver_listing_update,
    "listing.status": _deliver_listing_status,
    "order.status": _deliver_order_status,
    "order.document": _deliver_document,
    "order.message": _deliver_message,
    "order.split": _deliver_split,
    "order.label": _deliver_label,
    "order.packaging": _deliver_packaging,
}


def register_topic(topic: str, handler: TopicHandler) -> None:
    """Add an outbox topic a connector delivers itself (``handler`` reaches its channel's own operation); the
    connector registers it when it is imported. Registering a topic twice with one handler is harmless."""
    known = TOPICS.get(topic)
    if known is not None and known is not handler:
        raise ValueError(f"outbox topic '{topic}' is already registered")
    TOPICS[topic] = handler


def deliver_topic(
    channel: Channel, ctx: ChannelContext, topic: str, payload: Mapping[str, Any], aggregate_id: int
) -> Any:
    """Deliver one outbox row's payload through ``channel`` (``PermanentDeliveryError`` for an unknown topic);
    returns the channel's answer (a ``ListingReceipt`` for listing topics, else None)."""
    handler = TOPICS.get(topic)
    if handler is None:
        raise PermanentDeliveryError(f"unknown outbox topic '{topic}'")
    if not isinstance(payload, Mapping):
        raise PermanentDeliveryError("outbox payload must be a JSON object")
    return handler(channel, ctx, payload, aggregate_id)
