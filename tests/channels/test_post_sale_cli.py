"""``alephee channel questions|answer|claims``: the channel's questions as JSON (by status), an answer queued for
the worker (refused when empty, too long, or the question is not unanswered), the account's claims."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from alephee.channels import post_sale
from alephee.http.context import AppContext
from alephee.marketplaces.models import OutboxMessage
from tests.fixtures.tenants import Tenant

WHEN = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def seed(ctx: AppContext, account_id: int) -> None:
    with ctx.db.writing() as session:
        for number, status in ((1, "UNANSWERED"), (2, "ANSWERED"), (3, "UNANSWERED")):
            post_sale.store_question(
                session,
                account_id,
                1,
                post_sale.QuestionData(
                    external_id=str(number),
                    item_id="MLA1",
                    text=f"Pregunta {number}",
                    status=status,
                    date_created=WHEN.replace(hour=number),
                    answer_text="Sí" if status == "ANSWERED" else None,
                    answer_status="ACTIVE" if status == "ANSWERED" else None,
                ),
            )
        post_sale.store_claim(
            session,
            account_id,
            1,
            post_sale.ClaimData(
                external_id="51", status="opened", date_created=WHEN, resource="order", resource_id="9"
            ),
        )


def test_questions_are_listed_and_answered(
    ctx: AppContext, cli: Callable[..., Any], make_tenant: Callable[..., Tenant]
) -> None:
    tenant = make_tenant(marketplaces=(1,))
    account = str(tenant.account_id)
    seed(ctx, tenant.account_id)
    out = cli("channel", "questions", "--account", account, "--marketplace", "1", "--status", "unanswered")
    assert out["Total"] == 2 and [q["ExternalQuestionId"] for q in out["Questions"]] == ["3", "1"]
    first = out["Questions"][1]
    assert (first["Text"], first["Status"], first["Answer"], first["DateCreated"]) == (
        "Pregunta 1",
        "UNANSWERED",
        None,
        "2026-12-01T01:00:00Z",
    )
    every = cli("channel", "questions", "--account", account, "--marketplace", "1")
    assert every["Total"] == 3 and every["Questions"][1]["Answer"]["Text"] == "Sí"

    answered = cli("channel", "answer", "--question", str(first["Id"]), "--text", "Sí, hay stock.")
    assert (answered["AnswerState"], answered["Answer"]["Text"]) == ("queued", "Sí, hay stock.")
    with ctx.db.reading() as session:
        row = session.scalar(select(OutboxMessage).where(OutboxMessage.topic == "question.answer"))
    assert row is not None and row.payload["Text"] == "Sí, hay stock." and row.aggregate_id == first["Id"]


def error_of(result: Any) -> dict[str, Any]:
    return json.loads(result.stderr.strip().splitlines()[-1])


def test_answer_refusals(ctx: AppContext, cli: Callable[..., Any], make_tenant: Callable[..., Tenant]) -> None:
    tenant = make_tenant(marketplaces=(1,))
    seed(ctx, tenant.account_id)
    out = cli("channel", "questions", "--account", str(tenant.account_id), "--marketplace", "1")
    ids = {q["ExternalQuestionId"]: q["Id"] for q in out["Questions"]}
    empty = cli("channel", "answer", "--question", str(ids["1"]), "--text", "   ", ok=False)
    assert error_of(empty) == {"Status": 400, "Message": "Text is required"}
    long = cli("channel", "answer", "--question", str(ids["1"]), "--text", "x" * 2001, ok=False)
    assert error_of(long) == {"Status": 400, "Message": "Text must be at most 2000 characters long"}
    done = cli("channel", "answer", "--question", str(ids["2"]), "--text", "Hola", ok=False)
    assert error_of(done) == {
        "Status": 409,
        "Message": f"Question {ids['2']} is ANSWERED: only unanswered questions can be answered",
    }
    missing = cli("channel", "answer", "--question", "999999", "--text", "Hola", ok=False)
    assert error_of(missing) == {"Status": 404, "Message": "Question 999999 not found"}
    cli("channel", "answer", "--question", str(ids["1"]), "--text", "x" * 2000)
    twice = cli("channel", "answer", "--question", str(ids["1"]), "--text", "Otra", ok=False)
    assert error_of(twice)["Status"] == 409
    bad = cli("channel", "questions", "--account", "1", "--marketplace", "1", "--status", "NOPE", ok=False)
    assert error_of(bad)["Status"] == 400


def test_claims_are_listed(ctx: AppContext, cli: Callable[..., Any], make_tenant: Callable[..., Tenant]) -> None:
    tenant = make_tenant(marketplaces=(1,))
    seed(ctx, tenant.account_id)
    [claim] = cli("channel", "claims", "--account", str(tenant.account_id), "--status", "opened")
    assert (claim["ExternalClaimId"], claim["Status"], claim["OrderId"], claim["ResourceId"]) == (
        "51",
        "opened",
        None,
        "9",
    )
    assert cli("channel", "claims", "--account", str(tenant.account_id), "--status", "closed") == []
