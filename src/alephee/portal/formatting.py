"""How the B2B portal writes things for the buyer (es-AR): money, rates, counted words and order statuses.

The one place for it: the templates use these as filters, and the service uses them for the texts it stores or
shows (discount descriptions of an order, messages that quote prices).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from alephee.http import i18n
from alephee.http.i18n import N_
from alephee.orders import statuses as st
from alephee.portal import rules
from alephee.portal.sessions import DEFAULT_LANGUAGE

CURRENCY_SYMBOLS = {"ARS": "$", "CLP": "$", "MXN": "$", "COP": "$", "UYU": "$U", "USD": "US$", "BRL": "R$"}


def currency_symbol(currency: str | None) -> str:
    """``ARS`` → ``$``; an unknown code is shown as is; none → ``$``."""
    return CURRENCY_SYMBOLS.get((currency or "").upper(), currency or "$")


def format_money(value: Decimal | float | int | None, currency: str | None = None) -> str:
    """``1234.5`` → ``$ 1.234,50`` (es-AR grouping; the currency code when it is not the peso). Wire
    dictionaries carry floats: they are read back through their shortest text form."""
    if value is None:
        return "—"
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
        text = f"{rules.money(amount):,.2f}"
    except (InvalidOperation, ValueError):
        return "—"
    text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return f"{currency_symbol(currency)} {text}"


def format_rate(value: Decimal) -> str:
    """``10.0000`` → ``10``; ``2.5`` → ``2,5``."""
    return format(value.normalize(), "f").replace(".", ",")


def plural(count: int, one: str, many: str) -> str:
    """The word for ``count`` things: ``one`` for exactly 1 (Spanish uses the plural for 0)."""
    return one if count == 1 else many


# What a buyer reads for each status of their order. The API's labels speak to the seller's ERP ("Sin estado",
# "Pendiente de envío", "Fraudulenta"); the buyer needs what it means for them. 70 (deleted) is never shown:
# deleted orders leave the buyer's list. Catalog msgids.
BUYER_STATUS_LABELS: dict[int, str] = {
    st.NO_STATUS: N_("Order received"),
    st.READY_TO_SHIP: N_("Being prepared"),
    st.FRAUDULENT: N_("Rejected"),
    st.ARRIVED: N_("Ready for pickup"),
    st.SHIPPED: N_("Shipped"),
    st.ASSIGNED_TO_DISTRIBUTOR: N_("With the carrier"),
    st.ASSIGNED_TO_PICKUP: N_("Delivered at a pickup point"),
    st.DELIVERED: N_("Delivered"),
    st.RECIPIENT_NOT_FOUND: N_("Delivery not completed"),
    st.LOGISTICS_ISSUE: N_("Delivery delayed"),
    st.CANCELLED: N_("Cancelled"),
    st.AWAITING_REFUND: N_("Refund in progress"),
    st.REFUNDED: N_("Refunded"),
    st.CANCELLED_AFTER_DELIVERY: N_("Cancelled after delivery"),
}
BUYER_STATUS_UNKNOWN = N_("In progress")


def buyer_status(status: int, language: str = DEFAULT_LANGUAGE) -> str:
    """The name a buyer sees for an order status, in ``language`` (the portal's Spanish unless told)."""
    return i18n.translations(language).gettext(BUYER_STATUS_LABELS.get(status, BUYER_STATUS_UNKNOWN))
