"""Buyers' questions and claims kept by the hub, whatever the marketplace: storing what a connector read (a
notification or the backstop's search), linking it to the hub's listing or order, telling integrators (webhook
events ``question.received``, ``claim.opened``, ``claim.closed``), the operator's lists, and answering a question
through the outbox (topic ``question.answer``, delivered by the connector's ``answer_question``).

Rules (docs/compatibility.md MLC-32..39, MLC-46):

- What a marketplace says last wins, except that an answered, banned or deleted question never goes back to
  unanswered (a late read of an older state), and a claim read with an older ``last_updated`` than the one kept
  is ignored.
- A claim is linked to the hub's order its ``resource`` names: ``order`` by order number, ``purchase`` by cart
  (pack) then order number, ``shipment`` by the shipment id, ``payment`` by the payment id
  (``orders.payment_ids``). The order then follows the claim through ``orders.claims`` (``ActiveClaims``, and a
  refund recorded once).
- Answers: text 1..2,000 characters after trimming (NFC, no control characters but line breaks), only for an
  unanswered question with no answer queued; the question shows the queued text until the marketplace takes it
  (``answer_state`` ``sent``) or refuses it for good (``refused``, with the marketplace's reason).

Functions flush only; the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from alephee import clock
from alephee.channels.post_sale_models import (
    ANSWER_QUEUED,
    ANSWER_REFUSED,
    ANSWER_SENT,
    CLAIM_CLOSED,
    CLAIM_OPENED,
    QUESTION_STATUSES,
    UNANSWERED,
    MarketplaceClaim,
    MarketplaceQuestion,
)
from alephee.errors import Conflict, InvalidInput, NotFound
from alephee.http.numbers import to_int
from alephee.http.wire import clean_text, format_utc
from alephee.listings.models import Listing
from alephee.marketplaces.contract import Channel, ChannelContext, PermanentDeliveryError
from alephee.marketplaces.models import Marketplace
from alephee.marketplaces.outbox import enqueue
from alephee.marketplaces.topics import register_topic
from alephee.orders import claims as order_claims
from alephee.orders import payment_ids
from alephee.orders.models import Order
from alephee.webhooks.events import CLAIM_CLOSED_EVENT, CLAIM_OPENED_EVENT, QUESTION_RECEIVED, emit

ANSWER_TOPIC = "question.answer"
MAX_ANSWER_LENGTH = 2000
REFUND_REASONS = frozenset({"payment_refunded"})
# Questions whose answer the marketplace has already shown: a late read saying "unanswered" is older.
FINAL_QUESTION_STATUSES = frozenset(QUESTION_STATUSES) - {UNANSWERED, "UNDER_REVIEW"}


# --- what a connector read ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuestionData:
    """A question as the marketplace shows it now."""

    external_id: str
    item_id: str
    text: str
    status: str
    date_created: datetime
    buyer_id: int | None = None
    hold: bool = False
    answer_text: str | None = None
    answer_status: str | None = None
    answer_date: datetime | None = None


@dataclass(frozen=True, slots=True)
class ClaimData:
    """A claim as the marketplace shows it now (``raw``: its whole JSON)."""

    external_id: str
    status: str
    date_created: datetime
    resource: str | None = None
    resource_id: str | None = None
    type: str | None = None
    stage: str | None = None
    reason_id: str | None = None
    resolution_reason: str | None = None
    last_updated: datetime | None = None
    raw: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class QuestionNotice:
    """A question a notification was about (``NoticeResult.extras``)."""

    question: QuestionData

    def apply(self, session: Session, account_id: int, marketplace_id: int) -> bool:
        """Store it (``store_question``)."""
        return store_question(session, account_id, marketplace_id, self.question) is not None


@dataclass(frozen=True, slots=True)
class ClaimNotice:
    """A claim a notification was about (``NoticeResult.extras``)."""

    claim: ClaimData

    def apply(self, session: Session, account_id: int, marketplace_id: int) -> bool:
        """Store it (``store_claim``)."""
        return store_claim(session, account_id, marketplace_id, self.claim) is not None


# --- errors --------------------------------------------------------------------------------------------------


class QuestionNotFound(NotFound):
    """No question with this id in the account."""

    message = "Question {id} not found"


class AnswerEmpty(InvalidInput):
    """The answer has no text."""

    message = "Text is required"


class AnswerTooLong(InvalidInput):
    """The answer is longer than the marketplace takes."""

    message = f"Text must be at most {MAX_ANSWER_LENGTH} characters long"


class AnswerInvalidText(InvalidInput):
    """The answer holds a control character."""

    message = "Text must not contain control characters"


class QuestionNotOpen(Conflict):
    """The question is not unanswered (answered, banned, deleted...)."""

    message = "Question {id} is {status}: only unanswered questions can be answered"


class AnswerQueued(Conflict):
    """An answer to this question is already on its way."""

    message = "Question {id} already has an answer being sent"


# --- storing -----------------------------------------------------------------------------------------------------


def _locked(session: Session, query: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalar(query)


def store_question(
    session: Session, account_id: int, marketplace_id: int, data: QuestionData, *, sent: bool = False
) -> MarketplaceQuestion | None:
    """Create or update the question (linked to the listing of its item when the hub has one); a new unanswered
    question emits ``question.received``. ``sent``: the hub's answer was just accepted. None when nothing
    changed (a stale read)."""
    row: MarketplaceQuestion | None = _locked(
        session,
        select(MarketplaceQuestion).where(
            MarketplaceQuestion.account_id == account_id,
            MarketplaceQuestion.marketplace_id == marketplace_id,
            MarketplaceQuestion.external_id == data.external_id,
        ),
    )
    now = clock.utcnow()
    created = row is None
    if row is None:
        row = MarketplaceQuestion(
            account_id=account_id, marketplace_id=marketplace_id, external_id=data.external_id, hold=False
        )
        session.add(row)
    elif data.status == UNANSWERED and row.status in FINAL_QUESTION_STATUSES:
        return None
    row.item_id = data.item_id
    row.text = data.text
    row.status = data.status
    row.hold = data.hold
    row.buyer_id = data.buyer_id
    row.date_created = data.date_created
    if data.answer_status is not None or data.answer_text:
        row.answer_text = data.answer_text
        row.answer_status = data.answer_status
        row.answer_date = data.answer_date
        if row.answer_state == ANSWER_QUEUED or sent:
            row.answer_state, row.answer_error = ANSWER_SENT, None
    elif sent:
        row.answer_state, row.answer_error = ANSWER_SENT, None
    if row.listing_id is None:
        listing = session.execute(
            select(Listing.id, Listing.product_id).where(
                Listing.account_id == account_id,
                Listing.marketplace_id == marketplace_id,
                Listing.external_id == data.item_id,
            )
        ).first()
        if listing is not None:
            row.listing_id, row.product_id = listing.id, listing.product_id
    row.updated_at = now
    session.flush()
    if created and data.status == UNANSWERED:
        emit(
            session,
            account_id,
            QUESTION_RECEIVED,
            {"QuestionId": row.id, "ListingId": row.listing_id, "ProductId": row.product_id},
            {
                "MarketplaceId": marketplace_id,
                "ExternalQuestionId": row.external_id,
                "ItemId": row.item_id,
                "Text": row.text,
                "DateCreated": row.date_created,
            },
        )
    return row


def _order_of(session: Session, account_id: int, marketplace_id: int, data: ClaimData) -> Order | None:
    """The hub's order the claim's resource names (locked on PostgreSQL); None when the hub has none."""
    scope = and_(Order.account_id == account_id, Order.marketplace_id == marketplace_id)
    value = data.resource_id
    if not value:
        return None
    queries = []
    if data.resource == "order":
        queries.append(select(Order).where(scope, Order.external_order_id == value))
    elif data.resource == "purchase":
        queries.append(select(Order).where(scope, Order.pack_id == value).order_by(Order.id).limit(1))
        queries.append(select(Order).where(scope, Order.external_order_id == value))
    elif data.resource == "shipment":
        number = to_int(value)
        if number is not None:
            queries.append(select(Order).where(scope, Order.external_shipping_id == number).order_by(Order.id).limit(1))
    elif data.resource == "payment":
        # The payment-id index names the order (the lowest id when orders share the payment); only the order row
        # is locked.
        queries.append(select(Order).where(Order.id == payment_ids.order_id_of(account_id, marketplace_id, value)))
    for query in queries:
        found = _locked(session, query)
        if found is not None:
            return found  # type: ignore[no-any-return]
    return None


def store_claim(session: Session, account_id: int, marketplace_id: int, data: ClaimData) -> MarketplaceClaim | None:
    """Create or update the claim, link it to its order and make the order follow it (``orders.claims``);
    ``claim.opened``/``claim.closed`` when its status is new. None when the read is older than the one kept."""
    row: MarketplaceClaim | None = _locked(
        session,
        select(MarketplaceClaim).where(
            MarketplaceClaim.account_id == account_id,
            MarketplaceClaim.marketplace_id == marketplace_id,
            MarketplaceClaim.external_id == data.external_id,
        ),
    )
    if (
        row is not None
        and row.last_updated is not None
        and data.last_updated is not None
        and data.last_updated < row.last_updated
    ):
        return None
    previous = row.status if row is not None else None
    if row is None:
        row = MarketplaceClaim(
            account_id=account_id, marketplace_id=marketplace_id, external_id=data.external_id, refund_recorded=False
        )
        session.add(row)
    for name in ("status", "date_created", "resource", "resource_id", "type", "stage", "reason_id"):
        setattr(row, name, getattr(data, name))
    row.resolution_reason = data.resolution_reason
    row.last_updated = data.last_updated
    row.raw = dict(data.raw) if data.raw is not None else None
    row.updated_at = clock.utcnow()
    order = _order_of(session, account_id, marketplace_id, data)
    if order is not None:
        row.order_id = order.id
    session.flush()
    claim_number = to_int(data.external_id) or 0
    if order is not None:
        family = session.scalar(select(Marketplace.family).where(Marketplace.id == marketplace_id)) or ""
        if data.status == CLAIM_OPENED:
            order_claims.claim_opened(session, account_id, order, claim_number, data.date_created, family=family)
        elif data.status == CLAIM_CLOSED:
            refunded = data.resolution_reason in REFUND_REASONS and not row.refund_recorded
            order_claims.claim_closed(session, account_id, order, claim_number, refunded=refunded, family=family)
            if refunded:
                row.refund_recorded = True
    if previous != data.status and data.status in (CLAIM_OPENED, CLAIM_CLOSED):
        emit(
            session,
            account_id,
            CLAIM_OPENED_EVENT if data.status == CLAIM_OPENED else CLAIM_CLOSED_EVENT,
            {"OrderId": row.order_id, "ClaimId": row.id},
            {
                "MarketplaceId": marketplace_id,
                "ExternalClaimId": row.external_id,
                "Type": row.type,
                "Stage": row.stage,
                "ReasonId": row.reason_id,
                "Resource": row.resource,
                "ResourceId": row.resource_id,
                "Resolution": row.resolution_reason,
            },
        )
    session.flush()
    return row


# --- answering ---------------------------------------------------------------------------------------------------


def question_of(session: Session, question_id: int, account_id: int | None = None) -> MarketplaceQuestion:
    """One question by the hub's id (of ``account_id`` when given); ``QuestionNotFound`` otherwise."""
    row = session.get(MarketplaceQuestion, question_id)
    if row is None or (account_id is not None and row.account_id != account_id):
        raise QuestionNotFound(QuestionNotFound.message.format(id=question_id))
    return row


def answer_text(raw: Any) -> str:
    """The answer's text as it will be sent (trimmed, NFC); the named refusal otherwise."""
    text = raw.strip() if isinstance(raw, str) else ""
    if not text:
        raise AnswerEmpty()
    try:
        text = clean_text(text)
    except ValueError:
        raise AnswerInvalidText() from None
    if len(text) > MAX_ANSWER_LENGTH:
        raise AnswerTooLong()
    return text


def request_answer(
    session: Session, question_id: int, text: Any, *, account_id: int | None = None
) -> MarketplaceQuestion:
    """Queue the seller's answer to an unanswered question (outbox topic ``question.answer``)."""
    cleaned = answer_text(text)
    query = select(MarketplaceQuestion).where(MarketplaceQuestion.id == question_id)
    row: MarketplaceQuestion | None = _locked(session, query)
    if row is None or (account_id is not None and row.account_id != account_id):
        raise QuestionNotFound(QuestionNotFound.message.format(id=question_id))
    if row.status != UNANSWERED:
        raise QuestionNotOpen(QuestionNotOpen.message.format(id=question_id, status=row.status))
    if row.answer_state == ANSWER_QUEUED:
        raise AnswerQueued(AnswerQueued.message.format(id=question_id))
    row.answer_text = cleaned
    row.answer_state, row.answer_error = ANSWER_QUEUED, None
    row.updated_at = clock.utcnow()
    enqueue(
        session,
        account_id=row.account_id,
        marketplace_id=row.marketplace_id,
        topic=ANSWER_TOPIC,
        aggregate_type="question",
        aggregate_id=row.id,
        payload={"QuestionId": row.id, "ExternalQuestionId": row.external_id, "Text": cleaned},
    )
    session.flush()
    return row


def answer_refused(session: Session, question_id: int, reason: str) -> None:
    """The marketplace refused the answer for good: the question shows why and can be answered again."""
    row = session.get(MarketplaceQuestion, question_id)
    if row is not None:
        row.answer_state, row.answer_error = ANSWER_REFUSED, reason[:2000]
        row.updated_at = clock.utcnow()
        session.flush()


def _deliver_answer(channel: Channel, ctx: ChannelContext, payload: Mapping[str, Any], aggregate_id: int) -> Any:
    answer = getattr(channel, "answer_question", None)
    if not callable(answer):
        raise PermanentDeliveryError(f"connector '{ctx.marketplace.connector}' does not answer questions")
    text = payload.get("Text")
    if not isinstance(text, str) or not text:
        raise PermanentDeliveryError("the answer has no text")
    return answer(ctx, aggregate_id, text)


register_topic(ANSWER_TOPIC, _deliver_answer)


# --- the operator's views -------------------------------------------------------------------------------------


def list_questions(
    session: Session,
    account_id: int,
    marketplace_id: int,
    *,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[MarketplaceQuestion]]:
    """One channel's questions (of ``status`` when given), newest first, and how many there are."""
    scope = and_(MarketplaceQuestion.account_id == account_id, MarketplaceQuestion.marketplace_id == marketplace_id)
    if status:
        scope = and_(scope, MarketplaceQuestion.status == status)
    total = session.scalar(select(func.count()).select_from(MarketplaceQuestion).where(scope)) or 0
    rows = session.scalars(
        select(MarketplaceQuestion)
        .where(scope)
        .order_by(MarketplaceQuestion.date_created.desc(), MarketplaceQuestion.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return total, list(rows)


def list_claims(
    session: Session,
    account_id: int,
    marketplace_id: int | None = None,
    *,
    status: str | None = None,
    order_id: int | None = None,
    limit: int = 100,
) -> list[MarketplaceClaim]:
    """The account's claims (of one marketplace, status or order when given), newest first."""
    scope = MarketplaceClaim.account_id == account_id
    if marketplace_id is not None:
        scope = and_(scope, MarketplaceClaim.marketplace_id == marketplace_id)
    if status:
        scope = and_(scope, MarketplaceClaim.status == status)
    if order_id is not None:
        scope = and_(scope, MarketplaceClaim.order_id == order_id)
    query = select(MarketplaceClaim).where(scope).order_by(MarketplaceClaim.date_created.desc()).limit(limit)
    return list(session.scalars(query))


def open_counts(session: Session, account_ids: Collection[int] | None = None) -> dict[tuple[int, int], tuple[int, int]]:
    """How many unanswered questions and open claims each (account, marketplace) has (of ``account_ids`` when
    given): one grouped query per table, each covered by its list index. Pairs with neither are left out."""
    found: dict[tuple[int, int], list[int]] = {}
    tables: tuple[tuple[Any, str], ...] = ((MarketplaceQuestion, UNANSWERED), (MarketplaceClaim, CLAIM_OPENED))
    for position, (table, status) in enumerate(tables):
        query = (
            select(table.account_id, table.marketplace_id, func.count())
            .where(table.status == status)
            .group_by(table.account_id, table.marketplace_id)
        )
        if account_ids is not None:
            query = query.where(table.account_id.in_(sorted(account_ids)))
        for account_id, marketplace_id, count in session.execute(query):
            found.setdefault((account_id, marketplace_id), [0, 0])[position] = count
    return {key: (value[0], value[1]) for key, value in found.items()}


def _when(value: datetime | None) -> str | None:
    return format_utc(value) if value is not None else None


def question_json(row: MarketplaceQuestion) -> dict[str, Any]:
    """A question as the CLI prints it."""
    return {
        "Id": row.id,
        "MarketplaceId": row.marketplace_id,
        "ExternalQuestionId": row.external_id,
        "ItemId": row.item_id,
        "ListingId": row.listing_id,
        "ProductId": row.product_id,
        "BuyerId": row.buyer_id,
        "Text": row.text,
        "Status": row.status,
        "DateCreated": _when(row.date_created),
        "Answer": None
        if row.answer_text is None and row.answer_status is None
        else {"Text": row.answer_text, "Status": row.answer_status, "DateCreated": _when(row.answer_date)},
        "AnswerState": row.answer_state,
        "AnswerError": row.answer_error,
    }


def claim_json(row: MarketplaceClaim) -> dict[str, Any]:
    """A claim as the CLI prints it."""
    return {
        "Id": row.id,
        "MarketplaceId": row.marketplace_id,
        "ExternalClaimId": row.external_id,
        "OrderId": row.order_id,
        "Resource": row.resource,
        "ResourceId": row.resource_id,
        "Type": row.type,
        "Stage": row.stage,
        "Status": row.status,
        "ReasonId": row.reason_id,
        "Resolution": row.resolution_reason,
        "RefundRecorded": bool(row.refund_recorded),
        "DateCreated": _when(row.date_created),
        "LastUpdated": _when(row.last_updated),
    }
