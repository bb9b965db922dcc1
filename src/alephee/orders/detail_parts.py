"""The pieces of an order document (``orders.detail``, rendered by GET /v2/orders), built one way for every
source of orders: the marketplace pull, the demo, POST /v2/orders and the B2B portal's checkout.

Each function is pure and returns the wire shape (PascalCase keys, Python values) that ``OrderDetail``
validates; a source decides the values, these functions decide the shape. A value a source does not know is
passed as None (the order document renders it as null, or 0 for a number).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from alephee.orders import statuses as st

# Item types (``Items[].Type``; codes not documented, ours).
ITEM_NORMAL, ITEM_KIT, ITEM_COMPONENT = 1, 2, 3
ITEM_TYPES = {ITEM_NORMAL: "PRODUCT", ITEM_KIT: "KIT", ITEM_COMPONENT: "COMPONENT"}

CENT = Decimal("0.01")
ZERO = Decimal(0)
# The invoice links of an order with no fiscal invoice attached.
NO_INVOICE_LINKS: dict[str, str] = {"DanfePdfUrl": "", "XmlUrl": ""}
# The sale fee marketplaces charge on the goods of a sale (ours: the sandbox and demo rates).
FEE_RATE_MERCADOLIBRE = Decimal("0.13")
FEE_RATE_OTHER = Decimal("0.08")


def key_value(key: Any, value: Any) -> dict[str, Any]:
    """A ``{Key, Value}`` pair (codes with their labels, quantities with their unit)."""
    return {"Key": key, "Value": value}


def order_status(status: int) -> dict[str, Any]:
    """``Status`` of an item: the hub status code with its label."""
    return key_value(status, st.STATUS_LABELS[status])


def order_status_type(status: int) -> dict[str, Any]:
    """``StatusType`` of an item: the type of the hub status (0 when the status has none) with its label."""
    type_code = st.status_type_of(status) or 0
    return key_value(type_code, st.STATUS_TYPE_LABELS.get(type_code))


def seller_account(
    account_id: int, own_code: str | None, name: str | None, business_name: str | None
) -> dict[str, Any]:
    """``SellerAccount``: the account that sold."""
    return {"Id": account_id, "OwnCode": own_code, "Name": name, "BusinessName": business_name}


def marketplace_ref(marketplace_id: int, name: str | None, channel: str = "") -> dict[str, Any]:
    """``MarketPlace``: where the order comes from, and its sub-channel (e.g. "Mercado Shops")."""
    return {"Key": marketplace_id, "Value": name, "Channel": channel}


def order_parties(account: Any, marketplace: Any) -> dict[str, Any]:
    """``SellerAccount`` and ``MarketPlace`` of a new order's detail from the account and marketplace rows."""
    return {
        "SellerAccount": seller_account(account.id, account.own_code, account.name, account.business_name),
        "MarketPlace": marketplace_ref(marketplace.id, marketplace.name),
    }


def fee_rate(family: str) -> Decimal:
    """The sale-fee rate of a marketplace family."""
    return FEE_RATE_MERCADOLIBRE if family == "mercadolibre" else FEE_RATE_OTHER


def sale_fee(amount: Decimal, rate: Decimal) -> Decimal:
    """The fee on ``amount`` at ``rate``, in cents."""
    return (amount * rate).quantize(CENT)


def product(
    product_id: int | None,
    sku: str | None,
    *,
    brand: str | None = None,
    seller_sku: str | None = None,
    ean: str | None = None,
    title: str | None = None,
    attributes: dict[str, Any] | None = None,
    integration_code: str | None = None,
    category: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``Items[].Product``: a denormalised reference to the catalogue product (``product_id`` None: a product
    the catalogue does not know)."""
    return {
        "Id": product_id,
        "Sku": sku,
        "Brand": brand,
        "SellerSku": seller_sku,
        "EAN": ean,
        "Attributes": attributes,
        "Title": title,
        "IntegrationCode": integration_code,
        "Category": category,
    }


def quantities(quantity: int, movements: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """``Items[].QuantitiesDetails`` of an item not yet picked: requested units and the stock it moved."""
    return {
        "Requested": key_value("unidades", Decimal(quantity)),
        "Picked": key_value("unidades", ZERO),
        "StockMovements": list(movements),
    }


def item(
    local_id: int,
    item_type: int,
    product_ref: dict[str, Any],
    quantity: int,
    *,
    status: dict[str, Any],
    status_type: dict[str, Any],
    parent: int | None = None,
    listing: dict[str, Any] | None = None,
    unit_price: Decimal | None = None,
    full_unit_price: Decimal | None = None,
    unit_price_cost: Decimal | None = None,
    calculated: tuple[Decimal | None, Decimal | None] | None = None,
    sale_fee: Decimal | None = None,
    notes: str | None = "",
    cancelled: bool = False,
    movements: Sequence[dict[str, Any]] = (),
    with_details: bool = True,
) -> dict[str, Any]:
    """One ``Items[]`` entry with its local id (1..n; ``parent`` is the local id of a component's kit).

    ``calculated`` is a component's share of its kit's price, ``(unit, full unit)``; ``movements`` the stock
    the item moved (its quantity breakdown, left out when ``with_details`` is False)."""
    return {
        "Id": local_id,
        "Type": key_value(item_type, ITEM_TYPES[item_type]),
        "ParentItemId": parent,
        "Product": product_ref,
        "ProductListing": listing,
        "Quantity": quantity,
        "QuantitiesDetails": quantities(quantity, movements) if with_details else None,
        "UnitPrice": unit_price,
        "FullUnitPrice": full_unit_price,
        "UnitPriceCost": unit_price_cost,
        "CalculatedComponentUnitPrice": calculated[0] if calculated else None,
        "CalculatedComponentFullUnitPrice": calculated[1] if calculated else None,
        "SaleFee": sale_fee,
        "Notes": notes,
        "Status": status,
        "StatusType": status_type,
        "IsCancelled": cancelled,
    }


@dataclass(frozen=True, slots=True)
class Component:
    """One component of a kit sold: its product reference, units per kit, its share of the kit's unit price
    (``unit_share``, ``full_share``; None when it cannot be prorated) and its cost when known."""

    product: dict[str, Any]
    units: int
    unit_share: Decimal | None
    full_share: Decimal | None
    cost: Decimal | None = None


def kit_components(
    kit: dict[str, Any], components: Sequence[Component], *, with_details: bool = True
) -> list[dict[str, Any]]:
    """The ``Items[]`` entries of a kit's components, numbered right after the kit item ``kit``.

    A component has no price of its own (the kit is what was sold): ``UnitPrice`` 0 and the kit's price
    prorated in the ``Calculated...`` prices. It follows the kit's status and quantity (units per kit times the
    kits sold); ``with_details`` False leaves out its quantity breakdown and notes (marketplace orders)."""
    out = []
    for n, component in enumerate(components, start=1):
        quantity = component.units * kit["Quantity"]
        entry = item(
            kit["Id"] + n,
            ITEM_COMPONENT,
            component.product,
            quantity,
            status=kit["Status"],
            status_type=kit["StatusType"],
            parent=kit["Id"],
            unit_price=ZERO,
            full_unit_price=ZERO,
            unit_price_cost=component.cost,
            calculated=(component.unit_share, component.full_share),
            notes="" if with_details else None,
            cancelled=kit["IsCancelled"],
            with_details=with_details,
        )
        out.append(entry)
    return out


def installment_amount(amount: Decimal, installments: int) -> Decimal:
    """What each instalment of a payment is, in cents (equal parts)."""
    return (amount / installments).quantize(CENT)


def payment_condition(installments: int) -> dict[str, Any]:
    """``Payments[].Condition``: cash or instalments."""
    return key_value(1, "Contado" if installments == 1 else "Cuotas")


def payment(
    *,
    amount: Decimal,
    transaction_amount: Decimal,
    date_created: datetime | None,
    external_id: str | None = None,
    amount_no_discount: Decimal | None = None,
    shipping_amount: Decimal = ZERO,
    total: Decimal | None = None,
    sub_total: Decimal | None = None,
    installments: int = 1,
    installment: Decimal | None = None,
    notes: str = "",
    currency_symbol: str | None = "$",
    method: dict[str, Any] | None = None,
    status: dict[str, Any] | None = None,
    condition: dict[str, Any] | None = None,
    discounts: Sequence[dict[str, Any]] = (),
    taxes: dict[str, Any] | None = None,
    authorization_code: str | None = None,
    date_approved: datetime | None = None,
    last_update: datetime | None = None,
) -> dict[str, Any]:
    """One ``Payments[]`` entry. Left out, ``AmountNoDiscount`` and ``Total`` are the amount, ``SubTotal`` the
    transaction amount and ``InstallmentAmount`` the amount in equal parts; ``ShippingAmountNoDiscount`` is the
    shipping amount. ``condition`` and ``last_update`` are the caller's (``payment_condition``; the approval,
    else the creation)."""
    return {
        "ExternalPaymentId": external_id,
        "Amount": amount,
        "AmountNoDiscount": amount if amount_no_discount is None else amount_no_discount,
        "ShippingAmount": shipping_amount,
        "ShippingAmountNoDiscount": shipping_amount,
        "TransactionAmount": transaction_amount,
        "Total": amount if total is None else total,
        "SubTotal": transaction_amount if sub_total is None else sub_total,
        "Installments": installments,
        "InstallmentAmount": installment_amount(amount, installments) if installment is None else installment,
        "Notes": notes,
        "CurrencySymbol": currency_symbol,
        "Method": method,
        "Status": status,
        "Condition": condition,
        "Discounts": list(discounts),
        "Taxes": taxes,
        "AuthorizationCode": authorization_code,
        "DateCreated": date_created,
        "DateApproved": date_approved,
        "LastUpdate": last_update,
    }


def billing_info(
    *,
    doc_type: str | None,
    doc_number: str | None,
    business_name: str | None,
    address: dict[str, Any] | None,
    tax_payer_type: str | None = None,
    state_registration: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``Buyer.BillingInfo``: whom the invoice is made out to."""
    return {
        "DocType": doc_type,
        "DocNumber": doc_number,
        "TaxPayerType": tax_payer_type,
        "BusinessName": business_name,
        "StateRegistration": state_registration,
        "Address": address,
    }


def buyer(
    *,
    code: int | None = None,
    owncode: str | None = None,
    name: str | None = None,
    phone: str | None = None,
    email: str | None = None,
    doc_type: str | None = None,
    doc_number: str | None = None,
    nickname: str | None = None,
    address: dict[str, Any] | None = None,
    billing: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``Buyer``: who bought (``billing`` is its ``BillingInfo``)."""
    return {
        "Code": code,
        "Owncode": owncode,
        "Name": name,
        "Phone": phone,
        "Email": email,
        "DocType": doc_type,
        "DocNumber": doc_number,
        "Nickname": nickname,
        "Address": address,
        "BillingInfo": billing,
    }


def billing(fee: Decimal | None, invoice: dict[str, Any] | None = NO_INVOICE_LINKS) -> dict[str, Any]:
    """``Billing``: the marketplace's fee on the sale and the invoice links."""
    return {"SaleFee": fee, "Invoice": dict(invoice) if invoice is not None else None}


def stock_movement(
    account: dict[str, Any],
    prev_stock: int,
    post_stock: int,
    quantity: int,
    when: datetime,
    *,
    min_publication: int | None = None,
    max_publication: int | None = None,
) -> dict[str, Any]:
    """One ``QuantitiesDetails.StockMovements[]`` entry: the stock of ``account`` before and after the item
    took ``quantity`` (negative: units taken)."""
    return {
        "Account": account,
        "PrevStock": prev_stock,
        "PostStock": post_stock,
        "Quantity": quantity,
        "MinPublicationQuantity": min_publication,
        "MaxPublicationQuantity": max_publication,
        "DateCreated": when,
    }


def receiver(name: str | None, phone: str | None = None) -> dict[str, Any]:
    """``Shipping.Receiver``: who receives the parcel."""
    return {"Name": name, "Phone": phone}


# The labels of a shipment none has been printed for.
NO_LABELS: dict[str, Any] = {"SubStatus": None, "ShippingLabelUrlPdf": "", "ShippingLabelUrlZip": ""}


def shipping(
    *,
    cost: Decimal | None,
    receiver_cost: Decimal | None,
    sender_cost: Decimal | None,
    receiver: dict[str, Any] | None,
    date_created: datetime | None,
    receiver_address: dict[str, Any] | None = None,
    courier: dict[str, Any] | None = None,
    pickup: dict[str, Any] | None = None,
    estimated_delivery: datetime | None = None,
    labels: dict[str, Any] | None = None,
    last_updated: datetime | None = None,
) -> dict[str, Any]:
    """``Shipping`` as the order arrives: what it costs (``cost`` = the buyer's ``receiver_cost`` + the seller's
    ``sender_cost``), where and to whom it goes. Its state (status, logistic type, method, labels, package) is
    the hub's and is filled in when the order is rendered."""
    return {
        "Cost": cost,
        "ReceiverCost": receiver_cost,
        "SenderCost": sender_cost,
        "CourierInfo": courier,
        "ShippingLabels": dict(labels) if labels is not None else None,
        "Pickup": pickup,
        "ReceiverAddress": receiver_address,
        "Receiver": receiver,
        "EstimatedDeliveryDate": estimated_delivery,
        "DateCreated": date_created,
        "LastUpdated": last_updated,
        "PackageInfo": None,
    }


def adjustment(
    type_: dict[str, Any],
    code: str,
    description: str,
    value_type: dict[str, Any],
    value: Decimal,
    *,
    item: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One ``Adjustments[]`` entry (a discount or surcharge of the order, or of ``item``: ``adjustment_item``)."""
    return {
        "Type": type_,
        "Code": code,
        "Description": description,
        "Item": item,
        "Value": {"Type": value_type, "Value": value},
    }


def adjustment_item(
    product_id: int | None, brand: str | None, sku: str | None, seller_sku: str | None
) -> dict[str, Any]:
    """``Adjustments[].Item``: the product an adjustment applies to."""
    return {"Id": product_id, "Brand": brand, "Sku": sku, "SellerSku": seller_sku}


def order_document(
    parties: dict[str, Any],
    *,
    items: list[dict[str, Any]],
    payments: list[dict[str, Any]],
    shipping: dict[str, Any],
    buyer: dict[str, Any],
    billing: dict[str, Any],
    adjustments: list[dict[str, Any]] | None = None,
    claims: list[dict[str, Any]] | None = None,
    external: dict[str, Any] | None = None,
    notes: str = "",
) -> dict[str, Any]:
    """The whole order document from its pieces (``parties``: ``order_parties``)."""
    return {
        **parties,
        "Items": items,
        "Payments": payments,
        "Adjustments": adjustments if adjustments is not None else [],
        "Shipping": shipping,
        "Buyer": buyer,
        "Billing": billing,
        "ActiveClaims": claims if claims is not None else [],
        "ExternalJson": external if external is not None else {},
        "Notes": notes,
    }
