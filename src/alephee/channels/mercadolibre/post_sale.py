"""Mercado Libre's questions and claims: their JSON read into the hub's values (``channels.post_sale``), the
``questions`` and ``post_purchase`` notifications read fresh (``GET /questions/{id}?api_version=4``,
``GET /post-purchase/v1/claims/{id}``), the seller's answer (``POST /answers``) and the backstop searches
(``GET /questions/search?seller_id=...``, ``GET /post-purchase/v1/claims/search?players.role=respondent...``).

No transaction is open during a call: what is read is stored in short write transactions of its own, page by
page. An answer Mercado Libre refuses (``invalid_question``, ``invalid_post_body``, any other 4xx) is a permanent
delivery error shown on the question; 429/5xx are transient (the outbox retries).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alephee.channels import post_sale
from alephee.channels.mercadolibre import mapping as ml
from alephee.channels.mercadolibre.calls import Api, delivery_error
from alephee.channels.mercadolibre.client import MercadoLibreError
from alephee.channels.post_sale_models import CLAIM_OPENED, UNANSWERED, MarketplaceClaim, MarketplaceQuestion
from alephee.marketplaces.contract import ChannelNotice, NoticeResult, PermanentDeliveryError

QUESTIONS_TOPIC = "questions"
CLAIMS_TOPIC = "post_purchase"
CLAIM_ACTIONS = frozenset({"claims", "claims_actions"})
TOPICS = frozenset({QUESTIONS_TOPIC, CLAIMS_TOPIC})
QUESTION_PAGE = 50
CLAIM_PAGE = 30
# The backstop reads at most this many pages of each search, and re-reads at most this many kept questions or
# claims the search no longer lists (answered or closed meanwhile).
MAX_PAGES = 20
MAX_REREADS = 50


# --- the JSON in the hub's terms -------------------------------------------------------------------------------


def _when(value: Any) -> datetime | None:
    return ml.parse_date(value)


def question_data(body: dict[str, Any]) -> post_sale.QuestionData:
    """``GET /questions/{id}?api_version=4`` (or a search's element) as the hub keeps it; ``ValueError`` when it
    has no id or item."""
    external_id = ml.id_text(body.get("id"))
    item_id = ml.id_text(body.get("item_id"))
    if not external_id or not item_id:
        raise ValueError("the question has no id or item_id")
    answer = body.get("answer") if isinstance(body.get("answer"), dict) else None
    sender = body.get("from") if isinstance(body.get("from"), dict) else {}
    return post_sale.QuestionData(
        external_id=external_id,
        item_id=item_id,
        text=str(body.get("text") or ""),
        status=str(body.get("status") or UNANSWERED).upper(),
        date_created=_when(body.get("date_created")) or datetime.now(UTC),
        buyer_id=ml.to_int(sender.get("id")),
        hold=bool(body.get("hold")),
        answer_text=str(answer.get("text") or "") if answer is not None else None,
        answer_status=str(answer.get("status")) if answer is not None and answer.get("status") else None,
        answer_date=_when(answer.get("date_created")) if answer is not None else None,
    )


def claim_data(body: dict[str, Any]) -> post_sale.ClaimData:
    """``GET /post-purchase/v1/claims/{id}`` (or a search's element) as the hub keeps it; ``ValueError`` when it
    has no id."""
    external_id = ml.id_text(body.get("id"))
    if not external_id:
        raise ValueError("the claim has no id")
    resolution = body.get("resolution") if isinstance(body.get("resolution"), dict) else {}
    created = _when(body.get("date_created")) or datetime.now(UTC)

    def text(name: str) -> str | None:
        value = body.get(name)
        return str(value) if value is not None and value != "" else None

    return post_sale.ClaimData(
        external_id=external_id,
        status=str(body.get("status") or CLAIM_OPENED).lower(),
        date_created=created,
        resource=(text("resource") or "").lower() or None,
        resource_id=ml.id_text(body.get("resource_id")),
        type=text("type"),
        stage=text("stage"),
        reason_id=text("reason_id"),
        resolution_reason=str(resolution["reason"]) if resolution.get("reason") else None,
        last_updated=_when(body.get("last_updated")),
        raw=body,
    )


def _notice_id(notice: ChannelNotice) -> str:
    return notice.resource.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]


# --- notifications -------------------------------------------------------------------------------------------


def read_notice(api: Api, notice: ChannelNotice) -> NoticeResult:
    """The question or claim a ``questions`` / ``post_purchase`` notification points at, read now."""
    resource_id = _notice_id(notice)
    if not resource_id:
        return NoticeResult(ignored=f"notification without a resource ({notice.resource!r})")
    if notice.topic == QUESTIONS_TOPIC:
        try:
            body = api.raw(lambda c, t: c.get_question(t, resource_id))
        except MercadoLibreError as exc:
            if exc.status == 404:  # deleted since (unanswered questions are deleted after seven months)
                return NoticeResult(ignored=f"question {resource_id} no longer exists")
            raise delivery_error(exc, "read a question") from None
        return NoticeResult(extras=(post_sale.QuestionNotice(_parsed(question_data, body)),))
    actions = set(notice.actions or ())
    if actions and not actions & CLAIM_ACTIONS:
        return NoticeResult(ignored=f"post_purchase actions {sorted(actions)} not followed")
    body = api.call("read a claim", lambda c, t: c.get_claim(t, resource_id))
    return NoticeResult(extras=(post_sale.ClaimNotice(_parsed(claim_data, body)),))


def _parsed(parse: Any, body: dict[str, Any]) -> Any:
    try:
        return parse(body)
    except ValueError as exc:
        raise PermanentDeliveryError(f"Mercado Libre answered an unreadable resource: {exc}") from None


# --- answering ----------------------------------------------------------------------------------------------


def answer(api: Api, question_id: int, text: str) -> None:
    """``POST /answers`` for the hub's question ``question_id``, then the question read again and stored (its
    answer as Mercado Libre shows it). A refusal is kept on the question and raised as permanent."""
    with api.db.reading() as session:
        row = session.get(MarketplaceQuestion, question_id)
        external = row.external_id if row is not None else None
    number = ml.to_int(external)
    if number is None:
        raise PermanentDeliveryError(f"question {question_id} is not in the hub any more")
    try:
        api.raw(lambda c, t: c.answer_question(t, number, text))
    except MercadoLibreError as exc:
        if exc.transient:
            raise delivery_error(exc, "answer the question") from None
        reason = f"Mercado Libre refused the answer: {exc.refusal()}"
        with api.db.writing() as session:
            post_sale.answer_refused(session, question_id, reason)
        raise PermanentDeliveryError(reason) from None
    body = api.call("read the answered question", lambda c, t: c.get_question(t, str(number)))
    data = _parsed(question_data, body)
    with api.db.writing() as session:
        post_sale.store_question(session, api.ctx.account_id, api.ctx.marketplace.id, data, sent=True)


# --- the backstop ---------------------------------------------------------------------------------------------


def pull(api: Api) -> dict[str, int]:
    """The seller's unanswered questions and open claims searched page by page and stored, then the kept
    unanswered questions and open claims the searches no longer list read one by one (answered, deleted or
    closed while no notification reached the hub). How many of each were stored."""
    seller = api.seller
    account_id, marketplace_id = api.ctx.account_id, api.ctx.marketplace.id
    questions = claims = 0
    seen_questions: set[str] = set()
    for page in range(MAX_PAGES):
        found = api.call(
            "search questions",
            lambda c, t, page=page: c.search_questions(
                t, seller.seller_id, status=UNANSWERED, offset=page * QUESTION_PAGE, limit=QUESTION_PAGE
            ),
        )
        bodies = [q for q in found.get("questions") or [] if isinstance(q, dict)]
        questions += _store_questions(api, [question_data(b) for b in bodies if _readable(question_data, b)])
        seen_questions.update(ml.id_text(b.get("id")) or "" for b in bodies)
        total = ml.to_int(found.get("total")) or 0
        if len(bodies) < QUESTION_PAGE or (page + 1) * QUESTION_PAGE >= total:
            break
    seen_claims: set[str] = set()
    for page in range(MAX_PAGES):
        found = api.call(
            "search claims",
            lambda c, t, page=page: c.search_claims(
                t, seller.seller_id, status=CLAIM_OPENED, offset=page * CLAIM_PAGE, limit=CLAIM_PAGE
            ),
        )
        bodies = [c for c in found.get("data") or [] if isinstance(c, dict)]
        claims += _store_claims(api, [claim_data(b) for b in bodies if _readable(claim_data, b)])
        seen_claims.update(ml.id_text(b.get("id")) or "" for b in bodies)
        total = ml.to_int((found.get("paging") or {}).get("total")) or 0
        if len(bodies) < CLAIM_PAGE or (page + 1) * CLAIM_PAGE >= total:
            break
    with api.db.reading() as session:
        stale_questions = _not_seen(
            session, MarketplaceQuestion, UNANSWERED, account_id, marketplace_id, seen_questions
        )
        stale_claims = _not_seen(session, MarketplaceClaim, CLAIM_OPENED, account_id, marketplace_id, seen_claims)
    for external in stale_questions:
        try:
            body = api.raw(lambda c, t, external=external: c.get_question(t, external))
        except MercadoLibreError as exc:
            if exc.status == 404:
                continue
            raise delivery_error(exc, "read a question") from None
        if _readable(question_data, body):
            questions += _store_questions(api, [question_data(body)])
    for external in stale_claims:
        body = api.call("read a claim", lambda c, t, external=external: c.get_claim(t, external))
        if _readable(claim_data, body):
            claims += _store_claims(api, [claim_data(body)])
    return {"Questions": questions, "Claims": claims}


def _readable(parse: Any, body: dict[str, Any]) -> bool:
    try:
        parse(body)
    except ValueError:
        return False
    return True


def _store_questions(api: Api, found: list[post_sale.QuestionData]) -> int:
    if not found:
        return 0
    with api.db.writing() as session:
        return sum(
            post_sale.store_question(session, api.ctx.account_id, api.ctx.marketplace.id, q) is not None for q in found
        )


def _store_claims(api: Api, found: list[post_sale.ClaimData]) -> int:
    if not found:
        return 0
    with api.db.writing() as session:
        return sum(
            post_sale.store_claim(session, api.ctx.account_id, api.ctx.marketplace.id, c) is not None for c in found
        )


def _not_seen(
    session: Session,
    model: type[MarketplaceQuestion] | type[MarketplaceClaim],
    status: str,
    account_id: int,
    marketplace_id: int,
    seen: set[str],
) -> list[str]:
    """The ids of the kept questions or claims still in ``status`` that the search did not list (answered,
    closed or deleted since), at most ``MAX_REREADS``: they are read again one by one."""
    kept = session.scalars(
        select(model.external_id)
        .where(model.account_id == account_id, model.marketplace_id == marketplace_id, model.status == status)
        .limit(MAX_REREADS + len(seen))
    )
    return [external for external in kept if external not in seen][:MAX_REREADS]
