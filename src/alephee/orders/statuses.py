"""The order life cycle in one place: status codes, the statusType aggregation, the transition table and the
automatic-vs-manual rules (CF-21.8.1-CF-21.8.3, CF-20.2.2).

Everything that decides "may this order go from A to B, and who may move it" reads these tables; nothing
else in the code base hard-codes a status number.
"""

from __future__ import annotations

from alephee.orders import shipping_rules as ship

# --- codes (CF-21.8.1). Labels are Spanish, as the real API shows them ({"Key":90,"Value":"Cancelado"}).
NO_STATUS = 0
READY_TO_SHIP = 10
FRAUDULENT = 11
ARRIVED = 17
SHIPPED = 20
ASSIGNED_TO_DISTRIBUTOR = 30
ASSIGNED_TO_PICKUP = 31
DELETED = 70
DELIVERED = 80
RECIPIENT_NOT_FOUND = 87
LOGISTICS_ISSUE = 89
CANCELLED = 90
AWAITING_REFUND = 91
REFUNDED = 92
CANCELLED_AFTER_DELIVERY = 93

STATUS_LABELS: dict[int, str] = {
    NO_STATUS: "Sin estado",
    READY_TO_SHIP: "Pendiente de envío",
    FRAUDULENT: "Fraudulenta",
    ARRIVED: "En punto de retiro / depósito",
    SHIPPED: "Enviado",
    ASSIGNED_TO_DISTRIBUTOR: "Asignado a distribuidor",
    ASSIGNED_TO_PICKUP: "Asignado a retiro",
    DELETED: "Eliminado",
    DELIVERED: "Entregado",
    RECIPIENT_NOT_FOUND: "Destinatario no encontrado",
    LOGISTICS_ISSUE: "No entregado por problemas logísticos",
    CANCELLED: "Cancelado",
    AWAITING_REFUND: "Esperando reembolso",
    REFUNDED: "Reembolsado",
    CANCELLED_AFTER_DELIVERY: "Cancelado por el comprador luego de la entrega",
}

# --- status types (CF-20.2.2) --------------------------------------------------------------------------
TYPE_NEW, TYPE_PENDING, TYPE_CLOSED, TYPE_CANCELLED = 0, 1, 2, 99
STATUS_TYPE_LABELS: dict[int, str] = {
    TYPE_NEW: "Nuevo",
    TYPE_PENDING: "Pendiente",
    TYPE_CLOSED: "Cerrado",
    TYPE_CANCELLED: "Cancelado",
}

# Status 70 (deleted) belongs to no type: deleted orders never appear in GET /v2/orders.
STATUS_TYPE_OF: dict[int, int] = {
    NO_STATUS: TYPE_NEW,
    READY_TO_SHIP: TYPE_PENDING,
    ARRIVED: TYPE_PENDING,
    SHIPPED: TYPE_PENDING,
    ASSIGNED_TO_DISTRIBUTOR: TYPE_PENDING,
    ASSIGNED_TO_PICKUP: TYPE_PENDING,
    RECIPIENT_NOT_FOUND: TYPE_PENDING,
    LOGISTICS_ISSUE: TYPE_PENDING,
    AWAITING_REFUND: TYPE_PENDING,
    REFUNDED: TYPE_PENDING,  # documented under Pending (docs oddity kept as documented)
    DELIVERED: TYPE_CLOSED,
    FRAUDULENT: TYPE_CANCELLED,
    CANCELLED: TYPE_CANCELLED,
    CANCELLED_AFTER_DELIVERY: TYPE_CANCELLED,
}

STATUSES_OF_TYPE: dict[int, tuple[int, ...]] = {
    t: tuple(sorted(s for s, st in STATUS_TYPE_OF.items() if st == t)) for t in STATUS_TYPE_LABELS
}

ALL_STATUSES = frozenset(STATUS_LABELS)


def status_type_of(status: int) -> int | None:
    """The statusType of a status code (None for 70 Deleted)."""
    return STATUS_TYPE_OF.get(status)


def is_cancelled(status: int) -> bool:
    """Whether the status is of type 99 (Cancelled)."""
    return STATUS_TYPE_OF.get(status) == TYPE_CANCELLED


def closes_order(status: int) -> bool:
    """Whether reaching ``status`` stamps ``DateClosed`` (closed or cancelled types, and the terminal ones)."""
    return STATUS_TYPE_OF.get(status) in (TYPE_CLOSED, TYPE_CANCELLED) or status in (REFUNDED, DELETED)


# --- transitions (CF-21.8.2, inferred table) ----------------------------------------------------------
TRANSITIONS: dict[int, frozenset[int]] = {
    NO_STATUS: frozenset({10, 17, 20, 30, 31, 80, 90}),
    READY_TO_SHIP: frozenset({17, 20, 30, 31, 80, 11, 90}),
    FRAUDULENT: frozenset(),
    ARRIVED: frozenset({20, 31, 80, 90}),
    SHIPPED: frozenset({80, 87, 89, 90}),
    ASSIGNED_TO_DISTRIBUTOR: frozenset({10, 17, 20, 80, 90}),
    ASSIGNED_TO_PICKUP: frozenset({80, 90}),
    RECIPIENT_NOT_FOUND: frozenset({20, 80, 90, 91}),
    LOGISTICS_ISSUE: frozenset({20, 80, 90, 91}),
    DELIVERED: frozenset({93, 91}),
    CANCELLED: frozenset({91}),
    CANCELLED_AFTER_DELIVERY: frozenset({91}),
    AWAITING_REFUND: frozenset({92}),
    REFUNDED: frozenset(),
    DELETED: frozenset(),
}

# Targets a user may send through PUT /v2/orders (CF-21.1.4).
USER_TARGETS = frozenset({READY_TO_SHIP, ARRIVED, SHIPPED, DELIVERED, CANCELLED})

# Per-order result codes and messages of PUT /v2/orders (CF-21.1.3, inferred texts).
OK_MESSAGE = "OK"
INVALID_TARGET = "Invalid status {status}: allowed values are 10, 17, 20, 80 and 90"
AUTOMATIC_ORDER = (
    "The order's status is updated automatically by the marketplace (logistic type {logistic}); "
    "it cannot be changed through the API"
)
MARKETPLACE_CANNOT_CANCEL = (
    "Only orders the hub owns (created through POST /v2/orders or the B2B portal) can be cancelled (status 90)"
)
FORBIDDEN_TRANSITION = "The order cannot go from status {current} ({current_label}) to {target} ({target_label})"
DELETED_ORDER = "The order was deleted"


def transition_error(
    current: int, target: int, *, api_created: bool, automatic: bool, logistic: str
) -> tuple[int, str]:
    """Why a user may not move an order from ``current`` to ``target`` as ``(status, message)``, or
    ``(200, "OK")`` when allowed. ``current == target`` is allowed (idempotent repeat).

    ``api_created`` means the hub owns the order (POST /v2/orders or the B2B portal): no marketplace
    decides its cancellation, so the ERP may."""
    if target not in USER_TARGETS:
        return 400, INVALID_TARGET.format(status=target)
    if current == DELETED:
        return 404, DELETED_ORDER
    if automatic:
        return 412, AUTOMATIC_ORDER.format(logistic=logistic)
    if target == CANCELLED and not api_created:
        return 412, MARKETPLACE_CANNOT_CANCEL
    if current == target:
        return 200, OK_MESSAGE
    if target not in TRANSITIONS.get(current, frozenset()):
        return 412, FORBIDDEN_TRANSITION.format(
            current=current,
            current_label=STATUS_LABELS.get(current, "?"),
            target=target,
            target_label=STATUS_LABELS.get(target, "?"),
        )
    return 200, OK_MESSAGE


def may_transition(current: int, target: int) -> bool:
    """Whether the transition table allows ``current → target`` (any actor)."""
    return target in TRANSITIONS.get(current, frozenset())


# --- automatic vs manual (CF-21.8.3) ------------------------------------------------------------------
# Mercado Libre and Amazon: by logistic type (Amazon drives only its own Courier and Fulfillment; a seller
# shipping an Amazon order himself updates its status). The families of AUTOMATIC_FAMILIES drive every order;
# any other family (E-COMM, Shopee, own stores, B2B) none.
ML_AUTOMATIC_LOGISTICS = ship.MARKETPLACE_DRIVEN_LOGISTICS
AUTOMATIC_LOGISTICS_OF_FAMILY: dict[str, frozenset[int]] = {
    "mercadolibre": ML_AUTOMATIC_LOGISTICS,
    "amazon": frozenset({ship.COURIER, ship.FULFILLMENT}),
}
AUTOMATIC_FAMILIES = frozenset({"b2w", "garbarino", "pedidosya", "rappi"})


def updates_automatically(
    *, family: str, logistic_type: int | None, shipping_method: int | None, api_created: bool
) -> bool:
    """Whether the marketplace drives the order's status (then the user may not change it).

    Orders created through POST /v2/orders have no marketplace behind them: always manual.
    """
    if api_created:
        return False
    if shipping_method == ship.METHOD_MARKETPLACE:
        return True
    by_logistic = AUTOMATIC_LOGISTICS_OF_FAMILY.get(family)
    if by_logistic is not None:
        return logistic_type in by_logistic
    return family in AUTOMATIC_FAMILIES
