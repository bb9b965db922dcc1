"""How the B2B portal writes things for the buyer (es-AR): money, rates, counted words and order statuses.

The one place for it: the templates use these as filters, and the service uses them for the texts it stores or
shows (discount descriptions of an order, messages that quote prices).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from alephee.orders import statuses as st
from alephee.portal import rules

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
# deleted orders leave the buyer's list.
BUYER_STATUS_LABELS: dict[int, str] = {
    st.NO_STATUS: "Recibido",
    st.READY_TO_SHIP: "En preparación",
    st.FRAUDULENT: "Rechazado",
    st.ARRIVED: "Listo para retirar",
    st.SHIPPED: "Enviado",
    st.ASSIGNED_TO_DISTRIBUTOR: "En manos del transporte",
    st.ASSIGNED_TO_PICKUP: "Se entrega en punto de retiro",
    st.DELIVERED: "Entregado",
    st.RECIPIENT_NOT_FOUND: "Entrega no concretada",
    st.LOGISTICS_ISSUE: "Entrega demorada",
    st.CANCELLED: "Cancelado",
    st.AWAITING_REFUND: "Reintegro en curso",
    st.REFUNDED: "Reintegrado",
    st.CANCELLED_AFTER_DELIVERY: "Cancelado después de la entrega",
}
BUYER_STATUS_UNKNOWN = "En proceso"


def buyer_status(status: int) -> str:
    """The name a buyer sees for an order status."""
    return BUYER_STATUS_LABELS.get(status, BUYER_STATUS_UNKNOWN)
