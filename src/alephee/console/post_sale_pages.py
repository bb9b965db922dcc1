"""The Questions page of a channel: the buyers' questions (unanswered first by default, or of one status) with a
form to answer each unanswered one (queued for the worker, which sends it to the marketplace; a refusal of the
marketplace is shown on the question), and the claims open on the channel's sales with the order each marks."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from alephee.channels import post_sale
from alephee.channels.post_sale_models import CLAIM_OPENED, QUESTION_STATUSES, UNANSWERED
from alephee.console import web
from alephee.console.sessions import ConsoleViewer
from alephee.http.i18n import N_
from alephee.http.pages import form_field

ANSWER_QUEUED = N_("The answer was queued: the worker sends it to the marketplace")
PAGE_SIZE = 50

router = APIRouter()


def _questions_path(account_id: int, marketplace_id: int, status: str = UNANSWERED) -> str:
    return f"/channels/questions?account={account_id}&marketplace={marketplace_id}&status={status}"


def _failure(form: FormData) -> str:
    account = web.number(form_field(form, "account"))
    marketplace = web.number(form_field(form, "marketplace"))
    return _questions_path(account, marketplace) if account else "/channels"


@router.get("/channels/questions")
def questions(request: Request) -> Response:
    """One channel's questions of a status (unanswered by default) and its open claims."""

    def build(session: Session, viewer: ConsoleViewer) -> Response:
        account_id = web.chosen_account(request, viewer)
        marketplace_id = web.number(request.query_params.get("marketplace"), 1)
        raw_status = (request.query_params.get("status") or UNANSWERED).strip().upper()
        status = raw_status if raw_status in QUESTION_STATUSES else UNANSWERED
        page = web.number(request.query_params.get("page"), 1, upper=web.MAX_PAGE)
        total, rows, claims = 0, [], []
        if account_id is not None:
            total, rows = post_sale.list_questions(
                session, account_id, marketplace_id, status=status, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
            )
            claims = post_sale.list_claims(session, account_id, marketplace_id, status=CLAIM_OPENED)
        return web.render(
            request,
            "questions.html",
            viewer,
            section="channels",
            account_id=account_id,
            marketplace_id=marketplace_id,
            status=status,
            statuses=QUESTION_STATUSES,
            total=total,
            questions=rows,
            claims=claims,
            page=page,
            pages=max(1, -(-total // PAGE_SIZE)),
            max_answer=post_sale.MAX_ANSWER_LENGTH,
        )

    return web.page(request, build)


@router.post("/channels/questions/answer")
async def answer(request: Request) -> Response:
    """Queue the seller's answer to one question of an account the operator sees."""

    def act(session: Session, viewer: ConsoleViewer, form: FormData) -> str:
        account_id = viewer.require(web.number(form_field(form, "account")) or None)
        question_id = web.number(form_field(form, "question"))
        row = post_sale.request_answer(session, question_id, form_field(form, "text"), account_id=account_id)
        web.audit(
            request,
            session,
            viewer,
            "console.questions.answer",
            account_id=account_id,
            query=f"questionId={question_id}",
        )
        web.flash(request, session, viewer, ANSWER_QUEUED)
        return _questions_path(account_id, row.marketplace_id)

    return await web.action(request, act, failure_path=_failure)
