"""``alephee channel questions|answer|claims``: the buyers' pre-sale questions of one channel (JSON, newest
first), the seller's answer to one (queued for the worker, which sends it to the marketplace), and the claims on
the account's sales."""

from __future__ import annotations

from typing import Annotated

import typer

from alephee.channels import post_sale
from alephee.channels.post_sale_models import QUESTION_STATUSES
from alephee.cli.channels import channel_app
from alephee.cli.common import emit, fail, session_scope

MAX_LIST = 500


@channel_app.command("questions")
def channel_questions(
    account: Annotated[int, typer.Option(help="Account id.")],
    marketplace: Annotated[int, typer.Option(help="Marketplace id.")],
    status: Annotated[
        str | None, typer.Option(help="Only this status (UNANSWERED, ANSWERED, BANNED, DELETED, ...).")
    ] = None,
    limit: Annotated[int, typer.Option(help=f"At most this many (1..{MAX_LIST}).")] = 100,
) -> None:
    """List the buyers' questions of a channel, newest first, with their answers."""
    wanted = status.strip().upper() if status else None
    if wanted is not None and wanted not in QUESTION_STATUSES:
        fail("status must be one of: " + ", ".join(QUESTION_STATUSES))
    if not 1 <= limit <= MAX_LIST:
        fail(f"limit must be from 1 to {MAX_LIST}")
    with session_scope() as session:
        total, rows = post_sale.list_questions(session, account, marketplace, status=wanted, limit=limit)
        emit({"Total": total, "Questions": [post_sale.question_json(row) for row in rows]})


@channel_app.command("answer")
def channel_answer(
    question: Annotated[int, typer.Option(help="The question's Id (from `alephee channel questions`).")],
    text: Annotated[str, typer.Option(help="The answer (at most 2,000 characters).")],
) -> None:
    """Answer an unanswered question: queued now, sent to the marketplace by the worker."""
    with session_scope() as session:
        row = post_sale.request_answer(session, question, text)
        emit(post_sale.question_json(row))


@channel_app.command("claims")
def channel_claims(
    account: Annotated[int, typer.Option(help="Account id.")],
    marketplace: Annotated[int | None, typer.Option(help="Only this marketplace.")] = None,
    status: Annotated[str | None, typer.Option(help="Only this status (opened, closed).")] = None,
    order: Annotated[int | None, typer.Option(help="Only the claims of this order (the hub's Id).")] = None,
) -> None:
    """List the claims on the account's sales, newest first, with the order each is linked to."""
    wanted = status.strip().lower() if status else None
    if wanted is not None and wanted not in ("opened", "closed"):
        fail("status must be one of: opened, closed")
    with session_scope() as session:
        rows = post_sale.list_claims(session, account, marketplace, status=wanted, order_id=order)
        emit([post_sale.claim_json(row) for row in rows])
