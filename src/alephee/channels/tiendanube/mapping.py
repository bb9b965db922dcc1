"""Tiendanube's JSON in the channel contract's terms, and the hub's catalog in Tiendanube's: pure functions, no I/O.

Out: a hub product (a normal product, or a variation master with its variations) becomes a ``POST /products``
body — names and descriptions as language objects in every active language of the store, option names
(``attributes``) and each variant's option ``values`` as language objects too, prices as decimal strings with
two places, stock as integers.

In: a product becomes a ``ListingState`` (its variants' ids and SKUs for linking), an order a ``ChannelOrder``
(lines keyed by the product id with the variant's SKU, one payment from the order's payment fields, the
shipping address, option, cost and discounts, the currency, the status in the hub's shipment words).

The API's type drift is absorbed here: ids arrive as numbers or strings and may exceed 32 bits, quantities as
``1`` or ``"1"``, money as decimal strings (read through ``Decimal``), language objects as objects or plain
strings, dates with ``+0000`` offsets, with a colon, with milliseconds or as ``{"date": ...}`` objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from alephee.channels.tiendanube.client import as_datetime, as_id, as_money
from alephee.listings.marketplace_state import STATE_VERSION
from alephee.marketplaces.contract import ChannelOrder, ChannelOrderItem, ChannelPayment, ListingState
from alephee.orders import shipping_rules as ship

# Tiendanube allows at most this many option names per product.
MAX_ATTRIBUTES = 3
# Images sent inline on create (the rest would need ``POST /products/{id}/images``).
MAX_INLINE_IMAGES = 9
DEFAULT_LANGUAGE = "es"
CENT = Decimal("0.01")

# ``payment_status`` → the hub's payment status words (``sync.translate.PAYMENT_STATUSES``).
PAYMENT_STATUSES: dict[str, str] = {
    "pending": "pending",
    "authorized": "in_process",
    "partially_paid": "in_process",
    "paid": "approved",
    "partially_refunded": "approved",
    "refunded": "refunded",
    "voided": "cancelled",
    "abandoned": "cancelled",
}
# ``payment_details.method`` → the hub's payment method words (``sync.translate.PAYMENT_METHODS``).
PAYMENT_METHODS: dict[str, str] = {
    "credit_card": "credit_card",
    "debit_card": "debit_card",
    "boleto": "ticket",
    "ticket": "ticket",
    "pix": "bank_transfer",
    "bank_transfer": "bank_transfer",
    "wire_transfer": "bank_transfer",
    "wallet": "account_money",
}
# ``shipping_status`` (v1 and current words) → the hub's shipment status words.
SHIPPING_STATUSES: dict[str, str] = {
    "unpacked": ship.READY_TO_SHIP,
    "unfulfilled": ship.READY_TO_SHIP,
    "unshipped": ship.READY_TO_SHIP,
    "partially_packed": ship.READY_TO_SHIP,
    "partially_fulfilled": ship.READY_TO_SHIP,
    "fulfilled": ship.SHIPPED,
    "shipped": ship.SHIPPED,
    "delivered": ship.DELIVERED,
}
# Shipping statuses meaning the order is packed (``pack`` would change nothing).
PACKED_STATUSES = frozenset({"unfulfilled", "unshipped", "partially_fulfilled"})
SHIPPED_STATUSES = frozenset({"fulfilled", "shipped", "delivered"})


# --- lenient scalars ----------------------------------------------------------------------------------------


def to_int(value: Any) -> int | None:
    """A numeric id or a quantity sent as a number or a string (``"426215948"``), or None (ULIDs included)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    found = as_id(value)
    return found if isinstance(found, int) else None


def id_text(value: Any) -> str | None:
    """An external id as text (numbers normalised, ULIDs kept), or None when absent."""
    found = as_id(value)
    return str(found) if found is not None else None


def wire_money(value: Decimal) -> str:
    """A price as Tiendanube writes money: a decimal string with two places (``"1234.50"``)."""
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


# --- language objects ---------------------------------------------------------------------------------------


def store_languages(store: dict[str, Any]) -> tuple[str, ...]:
    """The store's active content languages, its main language first (``GET /store``); ``("es",)`` when the
    answer names none."""
    main = _text(store.get("main_language"))
    active: list[str] = []
    languages = store.get("languages")
    if isinstance(languages, dict):
        active = [str(k) for k, v in languages.items() if not isinstance(v, dict) or v.get("active", True)]
    elif isinstance(languages, list):
        active = [str(k) for k in languages if _text(k)]
    ordered = [main] if main else []
    ordered += [code for code in active if code and code != main]
    return tuple(ordered) or (DEFAULT_LANGUAGE,)


def language_object(text: str, languages: Sequence[str]) -> dict[str, str]:
    """``text`` in every language of the store (the hub keeps one text per field)."""
    return {code: text for code in languages or (DEFAULT_LANGUAGE,)}


def pick_language(value: Any, main: str | None = None) -> str | None:
    """The text of a language object in ``main``, else the first non-empty one; plain strings pass through."""
    if isinstance(value, dict):
        if main and _text(value.get(main)):
            return _text(value.get(main))
        for text in value.values():
            if _text(text):
                return _text(text)
        return None
    return _text(value)


# --- the hub's catalog out --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VariantIn:
    """One sellable unit to publish: the hub product's SKU, price, stock and its option values (aligned with
    ``ProductIn.options``; empty for a product without variations)."""

    sku: str
    price: Decimal | None
    stock: int
    values: tuple[str, ...] = ()
    barcode: str | None = None


@dataclass(frozen=True, slots=True)
class ProductIn:
    """A hub listing to publish as one Tiendanube product."""

    name: str
    variants: tuple[VariantIn, ...]
    description: str | None = None
    brand: str | None = None
    pictures: tuple[str, ...] = ()
    published: bool = True
    options: tuple[str, ...] = ()


def variation_options(attributes: Sequence[Sequence[tuple[str, str]]]) -> tuple[str, ...]:
    """The option names of a master's variations, from each variation's (name, value) attributes: the names
    every variation has whose values are not all equal (all of its names for a single variation), in the order
    of the first variation."""
    if not attributes:
        return ()
    first = [name for name, _value in attributes[0]]
    per_variation = [dict(pairs) for pairs in attributes]
    shared = [n for n in dict.fromkeys(first) if all(n in values for values in per_variation)]
    if len(per_variation) == 1:
        return tuple(shared)
    return tuple(n for n in shared if len({values[n] for values in per_variation}) > 1)


def missing_for_publish(product: ProductIn) -> list[str]:
    """What the product lacks to be created on Tiendanube (empty when it can be)."""
    missing: list[str] = []
    if not product.name.strip():
        missing.append("name")
    if not product.variants:
        missing.append("variations")
    if len(product.options) > MAX_ATTRIBUTES:
        missing.append(f"at most {MAX_ATTRIBUTES} variation attributes ({len(product.options)} differ)")
    seen: set[tuple[str, ...]] = set()
    for variant in product.variants:
        label = variant.sku or "?"
        if not variant.sku.strip():
            missing.append("SKU of a variation")
        if variant.price is None:
            missing.append(f"price of {label}")
        elif variant.price < 0:
            missing.append(f"a price of {label} that is not negative")
        if len(variant.values) != len(product.options) or any(not v.strip() for v in variant.values):
            names = ", ".join(product.options) or "none"
            missing.append(f"variation values ({names}) of {label}")
        elif product.options:
            key = tuple(v.strip().lower() for v in variant.values)
            if key in seen:
                missing.append(f"distinct variation values of {label}")
            seen.add(key)
    return missing


def product_body(product: ProductIn, languages: Sequence[str]) -> dict[str, Any]:
    """The ``POST /products`` body of a product (check ``missing_for_publish`` first)."""
    variants: list[dict[str, Any]] = []
    for variant in product.variants:
        element: dict[str, Any] = {
            "sku": variant.sku,
            "price": wire_money(variant.price) if variant.price is not None else None,
            "stock": max(0, variant.stock),
            "values": [language_object(v, languages) for v in variant.values],
        }
        if variant.barcode:
            element["barcode"] = variant.barcode
        variants.append(element)
    body: dict[str, Any] = {
        "name": language_object(product.name, languages),
        "attributes": [language_object(o, languages) for o in product.options],
        "variants": variants,
        "published": product.published,
    }
    if product.description:
        body["description"] = language_object(product.description, languages)
    if product.brand:
        body["brand"] = product.brand
    if product.pictures:
        body["images"] = [{"src": url} for url in product.pictures[:MAX_INLINE_IMAGES]]
    return body


# --- stock and price --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VariantChange:
    """What to send for one variant in ``PATCH /products/stock-price`` (None: leave as is)."""

    product_id: int
    variant_id: int
    sku: str | None
    price: Decimal | None = None
    stock: int | None = None


def variant_change(
    product_id: int, variant: dict[str, Any], price: Decimal | None, stock: int | None
) -> VariantChange | None:
    """The change that brings ``variant`` (as Tiendanube shows it) to the hub's ``price`` and ``stock``, or None
    when it already shows them. A variant with infinite stock (``stock: null``) keeps it: the hub never turns
    an infinite stock into a number."""
    variant_id = to_int(variant.get("id"))
    if variant_id is None:
        return None
    current_price = as_money(variant.get("price"))
    infinite = variant.get("stock") is None or variant.get("stock_management") is False
    send_price = price if price is not None and price >= 0 and price != current_price else None
    send_stock = None
    if stock is not None and not infinite and max(0, stock) != to_int(variant.get("stock")):
        send_stock = max(0, stock)
    if send_price is None and send_stock is None:
        return None
    return VariantChange(product_id, variant_id, _text(variant.get("sku")), send_price, send_stock)


def stock_price_batches(changes: Sequence[VariantChange], size: int = 50) -> list[list[dict[str, Any]]]:
    """``PATCH /products/stock-price`` bodies of at most ``size`` variants each, variants grouped by product."""
    batches: list[list[dict[str, Any]]] = []
    for start in range(0, len(changes), size):
        by_product: dict[int, list[dict[str, Any]]] = {}
        for change in changes[start : start + size]:
            element: dict[str, Any] = {"id": change.variant_id}
            if change.price is not None:
                element["price"] = wire_money(change.price)
            if change.stock is not None:
                element["inventory_levels"] = [{"stock": change.stock}]
            by_product.setdefault(change.product_id, []).append(element)
        batches.append([{"id": pid, "variants": variants} for pid, variants in by_product.items()])
    return batches


def failed_variants(answer: Any) -> list[tuple[int | None, str]]:
    """The (variant id, reason) of every variant a ``stock-price`` answer says was not applied."""
    failed: list[tuple[int | None, str]] = []
    for product in _list(answer):
        for variant in _list(_dict(product).get("variants")):
            element = _dict(variant)
            if element.get("success") is True:
                continue
            reason = _text(element.get("message")) or _text(element.get("error")) or _text(element.get("description"))
            failed.append((to_int(element.get("id")), reason or "not applied"))
    return failed


# --- products in ----------------------------------------------------------------------------------------------


# The hub's copy of a product (``Listing.marketplace_state``; see ``channels.tiendanube.kept``): versions all have
# this shape, so that they compare as text.
VERSION_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
KEPT_VARIANT_KEYS = ("id", "sku", "price", "stock", "stock_management")


def version_of(moment: datetime | None) -> str:
    """A moment as a kept copy's ``version`` (empty when unknown: older than any other)."""
    return moment.astimezone(UTC).strftime(VERSION_FORMAT) if moment is not None else ""


def kept_state(product: dict[str, Any], version: str | None = None) -> dict[str, Any] | None:
    """The hub's copy of a product as the store shows it (``version``: its ``updated_at`` unless given): its id,
    publication and variants (id, SKU, price, stock); None for an answer without a product id."""
    product_id = to_int(product.get("id"))
    if product_id is None:
        return None
    variants = [
        {key: variant.get(key) for key in KEPT_VARIANT_KEYS}
        for variant in _list(product.get("variants"))
        if isinstance(variant, dict) and to_int(variant.get("id")) is not None
    ]
    return {
        "id": product_id,
        STATE_VERSION: version if version is not None else version_of(as_datetime(product.get("updated_at"))),
        "published": product.get("published") is not False,
        "variants": variants,
    }


def listing_state(product: dict[str, Any], main_language: str | None = None) -> ListingState:
    """A product (``GET /products/{id}``) as a ``ListingState``: published → ``active``, hidden → ``paused`` by
    the seller; the single variant's SKU for a product without options, else every variant's (id, SKU); the
    first variant's price; the stock summed over finite variants (None when every variant is infinite)."""
    variants = [v for v in _list(product.get("variants")) if isinstance(v, dict)]
    optioned = bool(_list(product.get("attributes"))) or len(variants) > 1
    finite = [to_int(v.get("stock")) for v in variants if v.get("stock") is not None]
    stock = sum(q for q in finite if q is not None) if finite else None
    published = product.get("published") is not False
    paused_for_stock = published and stock == 0 and len(finite) == len(variants)
    return ListingState(
        external_id=id_text(product.get("id")) or "",
        status="active" if published and not paused_for_stock else "paused",
        sub_status=("out_of_stock",) if paused_for_stock else (() if published else ("paused_by_seller",)),
        title=pick_language(product.get("name"), main_language),
        sku=None if optioned or not variants else _text(variants[0].get("sku")),
        price=as_money(variants[0].get("price")) if variants else None,
        available_quantity=stock,
        permalink=_text(product.get("canonical_url")),
        variations=tuple((id_text(v.get("id")) or "", _text(v.get("sku"))) for v in variants) if optioned else (),
        marketplace_state=kept_state(product),
    )


# --- orders in ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderExtras:
    """The shipping option and costs, the discount and coupons and the number of an order."""

    shipping_option: str | None = None
    shipping_cost: Decimal | None = None
    seller_shipping_cost: Decimal | None = None
    discount: Decimal | None = None
    coupons: tuple[str, ...] = ()
    number: str | None = None


def order_item(line: dict[str, Any]) -> ChannelOrderItem:
    """One ``products[]`` line, keyed by the product id (the hub's listing of the product) with the variant's
    SKU (which picks the variation); the variant id stays in the order's ``raw``."""
    price = as_money(line.get("price")) or Decimal(0)
    compare = as_money(line.get("compare_at_price"))
    return ChannelOrderItem(
        external_listing_id=id_text(line.get("product_id")) or "",
        quantity=to_int(line.get("quantity")) or 0,
        unit_price=price,
        sku=_text(line.get("sku")),
        title=_text(line.get("name")) or _text(line.get("name_without_variants")),
        full_unit_price=compare if compare is not None and compare > price else None,
    )


def payment(order: dict[str, Any]) -> ChannelPayment | None:
    """The order's payment (Tiendanube keeps one per order) in the hub's words; None without a payment status."""
    status = _text(order.get("payment_status"))
    if status is None:
        return None
    details = _dict(order.get("payment_details"))
    method = _text(details.get("method"))
    amount = as_money(order.get("total_paid_by_customer"))
    if amount is None or amount == 0:
        amount = as_money(order.get("total")) or Decimal(0)
    extras = order_extras(order)
    discounts: tuple[tuple[str | None, Decimal], ...] = ()
    if extras.discount:
        discounts = ((extras.coupons[0] if extras.coupons else None, extras.discount),)
    return ChannelPayment(
        external_payment_id=_text(order.get("gateway_id")) or id_text(order.get("id")) or "",
        status=PAYMENT_STATUSES.get(status, status),
        amount=amount,
        currency=_text(order.get("currency")),
        method=PAYMENT_METHODS.get(method or "", method),
        installments=to_int(details.get("installments")),
        date_created=as_datetime(order.get("created_at")),
        date_approved=as_datetime(order.get("paid_at")),
        shipping_amount=extras.shipping_cost,
        discounts=discounts,
    )


def shipping_address(order: dict[str, Any]) -> dict[str, Any]:
    """The buyer's shipping address in the keys ``sync.translate`` reads."""
    address = _dict(order.get("shipping_address"))
    if not address:
        return {}
    street = " ".join(p for p in (_text(address.get("address")), _text(address.get("number"))) if p)
    out = {
        "country_id": _text(address.get("country")),
        "state": _text(address.get("province")),
        "city": _text(address.get("city")),
        "neighborhood": _text(address.get("locality")),
        "street_name": _text(address.get("address")),
        "street_number": _text(address.get("number")),
        "street": " ".join(p for p in (street, _text(address.get("floor"))) if p) or None,
        "zip_code": _text(address.get("zipcode")),
        "comment": _text(address.get("floor")),
        "receiver_name": _text(address.get("name")),
        "receiver_phone": _text(address.get("phone")),
    }
    return {k: v for k, v in out.items() if v is not None}


def buyer(order: dict[str, Any]) -> dict[str, Any]:
    """The buyer as ``sync.translate`` reads it (the ``customer`` object when the scope gives it, else the
    order's contact fields)."""
    customer = _dict(order.get("customer"))
    out: dict[str, Any] = {"id": to_int(customer.get("id"))}
    name = _text(customer.get("name")) or _text(order.get("contact_name")) or _text(order.get("billing_name"))
    if name:
        out["first_name"] = name
    email = _text(customer.get("email")) or _text(order.get("contact_email"))
    if email:
        out["email"] = email
    phone = _text(customer.get("phone")) or _text(order.get("contact_phone")) or _text(order.get("billing_phone"))
    if phone:
        out["phone"] = phone
    document = _text(customer.get("identification")) or _text(order.get("contact_identification"))
    if document:
        out["doc_number"] = document
    return out


def logistic_type(order: dict[str, Any]) -> str:
    """The seller's own shipping (``custom``), or ``pickup`` when the buyer collects."""
    return "pickup" if _text(order.get("shipping_pickup_type")) == "pickup" else "custom"


def order_extras(order: dict[str, Any]) -> OrderExtras:
    """The shipping option and costs, the discounts and coupons, the order number."""
    coupons = tuple(c for c in (_text(_dict(x).get("code")) for x in _list(order.get("coupon"))) if c)
    return OrderExtras(
        shipping_option=_text(order.get("shipping_option")),
        shipping_cost=as_money(order.get("shipping_cost_customer")),
        seller_shipping_cost=as_money(order.get("shipping_cost_owner")),
        discount=as_money(order.get("discount")),
        coupons=coupons,
        number=id_text(order.get("number")),
    )


def channel_order(order: dict[str, Any]) -> ChannelOrder:
    """``GET /orders/{id}`` as a ``ChannelOrder``: ``cancelled`` passes through (the hub cancels and gives the
    stock back), the shipping status becomes the hub's shipment words, shipping costs and option are the
    order's, the discount and coupon are the payment's; the whole JSON stays in ``raw`` (``variants`` maps each
    line's product id to its variant id)."""
    created = as_datetime(order.get("created_at")) or as_datetime(order.get("completed_at")) or datetime.now(UTC)
    updated = as_datetime(order.get("updated_at")) or created
    paid = payment(order)
    extras = order_extras(order)
    lines = [line for line in _list(order.get("products")) if isinstance(line, dict)]
    shipping = _text(order.get("shipping_status"))
    return ChannelOrder(
        external_order_id=id_text(order.get("id")) or "",
        status=_text(order.get("status")) or "open",
        date_created=created,
        date_updated=updated,
        items=tuple(order_item(line) for line in lines),
        payments=(paid,) if paid is not None else (),
        total=as_money(order.get("total")),
        currency=_text(order.get("currency")),
        shipping_status=SHIPPING_STATUSES.get(shipping or "", ship.READY_TO_SHIP),
        logistic_type=logistic_type(order),
        buyer=buyer(order),
        shipping_address=shipping_address(order),
        shipping_cost=extras.shipping_cost,
        seller_shipping_cost=extras.seller_shipping_cost,
        shipping_option=extras.shipping_option,
        raw={
            "order": order,
            "shipping_status": shipping,
            "number": extras.number,
            "coupons": list(extras.coupons),
            "variants": {
                id_text(line.get("product_id")) or "": id_text(line.get("variant_id"))
                for line in lines
                if line.get("variant_id") is not None
            },
        },
    )
