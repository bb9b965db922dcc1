"""Messages to the buyer of a Mercado Libre order (CF-21.5): the message options, their templates and the
rules that decide whether a message may be sent now.

The conversation rules (wait for the buyer's reply, attachments only after a reply, same option after an
attachment) are pure functions over the conversation so far; ``service.send_message`` applies them under the
order's lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from alephee import clock
from alephee.config import Settings
from alephee.errors import Conflict, InvalidInput, PreconditionFailed
from alephee.http.numbers import to_int
from alephee.http.uploads import UploadedFile
from alephee.marketplaces.outbox import enqueue
from alephee.orders import document_quota
from alephee.orders import documents as docs
from alephee.orders import shipping_rules as ship
from alephee.orders.access import lock_order, marketplace_country, marketplace_family, order_payload
from alephee.orders.document_upload import split_file_name
from alephee.orders.models import (
    MESSAGE_FROM_BUYER,
    MESSAGE_FROM_SELLER,
    ORIGIN_MARKETPLACE,
    Order,
    OrderMessage,
    history_row,
    insert_history,
)

MAX_LENGTH = 350

REQUEST_VARIANTS = 1
REQUEST_BILLING_INFO = 2
SEND_INVOICE_LINK = 3
OTHER = 4
DELIVERY_PROMISE = 5

OPTION_NAMES: dict[int, str] = {
    REQUEST_VARIANTS: "REQUEST_VARIANTS",
    REQUEST_BILLING_INFO: "REQUEST_BILLING_INFO",
    SEND_INVOICE_LINK: "SEND_INVOICE_LINK",
    OTHER: "OTHER",
    DELIVERY_PROMISE: "DELIVERY_PROMISE",
}
# Options whose text is the caller's (CF-21.5.1: 3, 4 and 5, the request page's reading).
CUSTOM_TEXT = frozenset({SEND_INVOICE_LINK, OTHER, DELIVERY_PROMISE})

_VARIANTS_ES = (
    "Hola, por favor confirma las características que quieres del producto que compraste, así podemos concretar "
    "el envío."
)
_VARIANTS_PT = (
    "Olá! Por favor, confirme as características que quer para o produto que você comprou, assim, podemos fazer o "
    "envio."
)
# The docs give no billing-info text: ours, in the buyer's language (MSG-2).
_BILLING_ES = (
    "Hola, por favor envíanos tus datos de facturación (nombre o razón social, número de documento y domicilio "
    "fiscal) para poder emitir tu factura."
)
_BILLING_PT = (
    "Olá! Por favor, envie seus dados de faturamento (nome ou razão social, CPF ou CNPJ e endereço) para "
    "podermos emitir sua nota fiscal."
)
_SPANISH = ("AR", "CL", "CO", "MX", "UY")
# Fixed texts by option and country (the site of the order's marketplace).
TEMPLATES: dict[int, dict[str, str]] = {
    REQUEST_VARIANTS: {**dict.fromkeys(_SPANISH, _VARIANTS_ES), "BR": _VARIANTS_PT},
    REQUEST_BILLING_INFO: {**dict.fromkeys((*_SPANISH, "PE", "EC"), _BILLING_ES), "BR": _BILLING_PT},
}
# REQUEST_VARIANTS only for "cross docking" or "drop off" shipments (CF-21.5.3 rule 8).
VARIANTS_LOGISTICS = frozenset({ship.CROSS_DOCKING, ship.DROP_OFF, ship.XD_DROP_OFF})
INVOICE_LINK_COUNTRIES = frozenset({"MX"})


class MessageOptionRequired(InvalidInput):
    """messageOptions is missing (400)."""

    message = (
        "messageOptions is required: 1 (REQUEST_VARIANTS), 2 (REQUEST_BILLING_INFO), 3 (SEND_INVOICE_LINK), "
        "4 (OTHER) or 5 (DELIVERY_PROMISE)"
    )


class BadMessageOption(InvalidInput):
    """messageOptions is not 1 to 5 (400)."""

    message = "Invalid messageOptions '{value}': use 1, 2, 3, 4 or 5"


class MessageTextRequired(InvalidInput):
    """The option needs a message text (400)."""

    message = "message is required with messageOptions {option} ({name})"


class MessageTooLong(InvalidInput):
    """The message is over 350 characters (400)."""

    message = "The message has {length} characters; at most 350 are allowed"


class MessagesOnlyMercadoLibre(PreconditionFailed):
    """Messages are only for Mercado Libre orders (412)."""

    message = "Messages to the buyer can only be sent for Mercado Libre orders"


VARIANTS_LOGISTIC = (
    "REQUEST_VARIANTS can only be sent for orders shipped with cross docking or drop off (this order: '{logistic}')"
)
NO_TEMPLATE = "There is no {name} template for the order's country ({country})"
INVOICE_LINK_COUNTRY = "SEND_INVOICE_LINK is only available in México (the order's country is {country})"
AWAITING_REPLY = "The previous message to the buyer has not been answered yet; wait for the buyer's reply"
ATTACHMENT_BEFORE_REPLY = (
    "A message with an attachment can only be sent after the buyer has replied to a first message without one"
)
SAME_OPTION_AFTER_ATTACHMENT = (
    "A message with an attachment was already sent with messageOptions {option} ({name}); later messages to this "
    "buyer must use the same messageOptions"
)


class MessageRefused(PreconditionFailed):
    """The option does not apply to this order now, or an attachment comes before the buyer's reply (412)."""


class MessageConflict(Conflict):
    """The previous message is unanswered, or the option differs from the attached one's (409)."""


@dataclass(frozen=True, slots=True)
class Sent:
    """A message of the conversation so far (oldest first)."""

    sender: str  # "seller" | "buyer"
    option: int | None
    text: str
    attachment_sha256: str | None


def parse_option(raw: str | int | None) -> int:
    """``messageOptions`` as a code (400 when absent or unknown)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise MessageOptionRequired()
    option = to_int(raw)
    if option is None or option not in OPTION_NAMES:
        raise BadMessageOption(BadMessageOption.message.format(value=raw))
    return option


def message_text(option: int, custom: str | None, country: str | None) -> tuple[str | None, str | None]:
    """``(text, None)`` or ``(None, problem)``. Template options ignore ``custom`` (CF-21.5.3 rule 3);
    problems of the 400 kind are raised, those of the 412 kind returned."""
    name = OPTION_NAMES[option]
    if option in CUSTOM_TEXT:
        text = (custom or "").strip()
        if not text:
            raise MessageTextRequired(MessageTextRequired.message.format(option=option, name=name))
        if len(text) > MAX_LENGTH:
            raise MessageTooLong(MessageTooLong.message.format(length=len(text)))
        if option == SEND_INVOICE_LINK and country not in INVOICE_LINK_COUNTRIES:
            return None, INVOICE_LINK_COUNTRY.format(country=country or "unknown")
        return text, None
    template = TEMPLATES[option].get(country or "")
    if template is None:
        return None, NO_TEMPLATE.format(name=name, country=country or "unknown")
    return template, None


def applicability(option: int, *, logistic_type: int | None) -> str | None:
    """Why the option does not apply to this order's shipment (412), or None."""
    if option == REQUEST_VARIANTS and logistic_type not in VARIANTS_LOGISTICS:
        return VARIANTS_LOGISTIC.format(logistic=ship.logistic_name(logistic_type) or "none")
    return None


def is_replay(conversation: Sequence[Sent], option: int, text: str, attachment_sha256: str | None) -> bool:
    """Whether the request repeats the last, still unanswered, seller message (a retry after a timeout)."""
    if not conversation:
        return False
    last = conversation[-1]
    return (
        last.sender == "seller"
        and last.option == option
        and last.text == text
        and last.attachment_sha256 == attachment_sha256
    )


def conversation_problem(conversation: Sequence[Sent], option: int, with_attachment: bool) -> tuple[int, str] | None:
    """Why a new message may not be sent now as ``(409|412, message)``, or None (CF-21.5.3 rules 4-6)."""
    if conversation and conversation[-1].sender == "seller":
        return 409, AWAITING_REPLY
    if with_attachment and not any(m.sender == "buyer" for m in conversation):
        return 412, ATTACHMENT_BEFORE_REPLY
    attached = [m for m in conversation if m.sender == "seller" and m.attachment_sha256]
    if attached and attached[0].option is not None and attached[0].option != option:
        first = attached[0].option
        return 409, SAME_OPTION_AFTER_ATTACHMENT.format(option=first, name=OPTION_NAMES.get(first, "?"))
    return None


MESSAGE_OK = "OK"


def _conversation(session: Session, order_id: int) -> list[Sent]:
    rows = session.execute(
        select(OrderMessage.sender, OrderMessage.message_option, OrderMessage.text, OrderMessage.attachment_sha256)
        .where(OrderMessage.order_id == order_id)
        .order_by(OrderMessage.id)
    ).all()
    return [Sent(sender=r[0], option=r[1], text=r[2], attachment_sha256=r[3]) for r in rows]


def send_message(
    session: Session,
    store: docs.DocumentStore,
    settings: Settings,
    account_id: int,
    actor: str,
    order_id: int,
    raw_option: str | int | None,
    raw_text: str | None,
    attachment: UploadedFile | None,
) -> str:
    """Send a message to the buyer (stored, queued as ``order.message``). 409 while the previous one is
    unanswered, except that repeating exactly that message is a 200 that sends nothing.
    No commit: the caller owns the transaction."""
    option = parse_option(raw_option)
    if option in CUSTOM_TEXT:
        message_text(option, raw_text, None)  # 400s (missing, too long) before anything is read
    sniffed = None
    name: str | None = None
    if attachment is not None:
        name, extension = split_file_name(attachment.name, attachment.extension)
        sniffed = docs.inspect_attachment(
            attachment.data, declared_extension=extension, max_bytes=settings.documents_max_bytes
        )
        name = docs.safe_name(name, f"adjunto-{order_id}")
    order = lock_order(session, account_id, order_id)
    if marketplace_family(session, order.marketplace_id) != "mercadolibre" or order.origin != ORIGIN_MARKETPLACE:
        raise MessagesOnlyMercadoLibre()
    text, problem = message_text(option, raw_text, marketplace_country(session, order.marketplace_id))
    problem = problem or applicability(option, logistic_type=order.logistic_type)
    if problem or text is None:
        raise MessageRefused(problem or MessagesOnlyMercadoLibre.message)
    conversation = _conversation(session, order.id)
    sha = sniffed.sha256 if sniffed else None
    if is_replay(conversation, option, text, sha):
        session.rollback()
        return MESSAGE_OK
    refusal = conversation_problem(conversation, option, sniffed is not None)
    if refusal is not None:
        code, message = refusal
        raise (MessageConflict if code == 409 else MessageRefused)(message)
    if attachment is not None and sniffed is not None:
        document_quota.reserve(session, settings, account_id, sniffed.size)
        store.put(attachment.data)
    now = clock.utcnow()
    message = OrderMessage(
        order_id=order.id,
        account_id=account_id,
        sender=MESSAGE_FROM_SELLER,
        message_option=option,
        text=text,
        attachment_name=f"{name}.{sniffed.fmt}" if sniffed else None,
        attachment_extension=sniffed.fmt if sniffed else None,
        attachment_sha256=sha,
        attachment_size=sniffed.size if sniffed else None,
        actor=actor,
        created_at=now,
    )
    session.add(message)
    session.flush()
    insert_history(session, [history_row(order, actor, "message", now)])
    enqueue(
        session,
        account_id=account_id,
        topic="order.message",
        aggregate_type="order",
        aggregate_id=order.id,
        payload=order_payload(
            order,
            MessageId=message.id,
            MessageOption=option,
            Text=text,
            AttachmentName=message.attachment_name,
            AttachmentStorageKey=sha,
        ),
        marketplace_id=order.marketplace_id,
    )
    return MESSAGE_OK


def record_buyer_reply(session: Session, account_id: int, order_id: int, text: str) -> OrderMessage:
    """A reply of the buyer, as the marketplace reports it (opens the way for the next message; no commit)."""
    order = lock_order(session, account_id, order_id)
    reply = OrderMessage(
        order_id=order.id,
        account_id=account_id,
        sender=MESSAGE_FROM_BUYER,
        message_option=None,
        text=text,
        actor="marketplace",
        created_at=clock.utcnow(),
    )
    session.add(reply)
    session.flush()
    return reply


def record_marketplace_message(
    session: Session, order: Order, *, external_id: str, text: str, date: datetime
) -> OrderMessage | None:
    """A buyer's message read from the marketplace's conversation of ``order``, stored once per marketplace
    message id (the same message read again, after another notification, adds nothing: returns None)."""
    known = session.scalar(
        select(OrderMessage.id).where(OrderMessage.order_id == order.id, OrderMessage.external_id == external_id)
    )
    if known is not None:
        return None
    message = OrderMessage(
        order_id=order.id,
        account_id=order.account_id,
        sender=MESSAGE_FROM_BUYER,
        message_option=None,
        text=text,
        actor="marketplace",
        external_id=external_id,
        created_at=date,
    )
    session.add(message)
    session.flush()
    return message


def order_messages(session: Session, order_id: int) -> list[OrderMessage]:
    """The conversation of an order, oldest first."""
    return list(
        session.scalars(select(OrderMessage).where(OrderMessage.order_id == order_id).order_by(OrderMessage.id))
    )
