"""The console's Questions page of a channel: a session is required, it shows the account's questions of a status
with an answer form (CSRF-checked, queued like ``alephee channel answer``), refusals as flash messages, another
account's question is a 404, the channel's open claims link to their orders (whose page lists them), and the
Channels page counts the unanswered questions and open claims of each channel."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from alephee.channels import post_sale
from alephee.channels.models import CONNECTED, ChannelConnection
from alephee.http.context import AppContext
from alephee.marketplaces.models import OutboxMessage
from tests.fixtures.console import ConsoleOperator, console_login
from tests.fixtures.tenants import Tenant

WHEN = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def ask(ctx: AppContext, account_id: int, number: int, text: str, status: str = "UNANSWERED") -> int:
    with ctx.db.writing() as session:
        row = post_sale.store_question(
            session,
            account_id,
            1,
            post_sale.QuestionData(
                external_id=str(number), item_id="MLA9", text=text, status=status, date_created=WHEN
            ),
        )
        assert row is not None
        return row.id


@pytest.fixture
def web(make_client: Callable[..., TestClient]) -> TestClient:
    client = make_client()
    client.headers["Accept-Language"] = "en"
    return client


def test_the_page_needs_a_session(web: TestClient) -> None:
    response = web.get("/console/channels/questions?marketplace=1", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/console/login?next=")


def test_questions_are_listed_and_answered(
    ctx: AppContext,
    web: TestClient,
    make_tenant: Callable[..., Tenant],
    make_operator: Callable[..., ConsoleOperator],
) -> None:
    tenant = make_tenant(marketplaces=(1,))
    csrf = console_login(web, make_operator([tenant.account_id]))
    question = ask(ctx, tenant.account_id, 1, "¿Hacen factura A?")
    ask(ctx, tenant.account_id, 2, "¿Y en verde?", status="ANSWERED")
    url = f"/console/channels/questions?account={tenant.account_id}&marketplace=1"
    page = web.get(url)
    assert page.status_code == 200 and "¿Hacen factura A?" in page.text and "¿Y en verde?" not in page.text
    assert 'action="/console/channels/questions/answer"' in page.text
    assert "¿Y en verde?" in web.get(url + "&status=ANSWERED").text

    form = {"account": tenant.account_id, "marketplace": 1, "question": question, "text": "Sí, factura A."}
    refused = web.post("/console/channels/questions/answer", data=form)
    assert refused.status_code == 403
    empty = web.post("/console/channels/questions/answer", data=form | {"csrf": csrf, "text": " "})
    assert empty.status_code == 200 and "Text is required" in empty.text
    sent = web.post("/console/channels/questions/answer", data=form | {"csrf": csrf}, follow_redirects=False)
    assert sent.status_code == 303
    shown = web.get(sent.headers["location"]).text
    assert "The answer was queued" in shown and "Being sent" in shown
    with ctx.db.reading() as session:
        row = session.scalar(select(OutboxMessage).where(OutboxMessage.topic == "question.answer"))
    assert row is not None and row.payload["Text"] == "Sí, factura A."
    again = web.post("/console/channels/questions/answer", data=form | {"csrf": csrf})
    assert "already has an answer being sent" in again.text


def test_another_accounts_question_is_not_found(
    ctx: AppContext,
    web: TestClient,
    make_tenant: Callable[..., Tenant],
    make_operator: Callable[..., ConsoleOperator],
) -> None:
    tenant = make_tenant(marketplaces=(1,))
    stranger = make_tenant(marketplaces=(1,))
    csrf = console_login(web, make_operator([tenant.account_id]))
    foreign = ask(ctx, stranger.account_id, 7, "Secreto")
    assert web.get(f"/console/channels/questions?account={stranger.account_id}&marketplace=1").status_code == 404
    form = {"csrf": csrf, "account": tenant.account_id, "marketplace": 1, "question": foreign, "text": "Hola"}
    response = web.post("/console/channels/questions/answer", data=form)
    assert response.status_code == 404
    with ctx.db.reading() as session:
        assert session.scalar(select(OutboxMessage).where(OutboxMessage.topic == "question.answer")) is None


def test_open_claims_link_to_their_orders(
    ctx: AppContext,
    web: TestClient,
    make_tenant: Callable[..., Tenant],
    make_operator: Callable[..., ConsoleOperator],
    add_order: Callable[..., int],
) -> None:
    tenant = make_tenant(marketplaces=(1,))
    console_login(web, make_operator([tenant.account_id]))
    order_id = add_order(tenant, marketplace_id=1, external_order_id="2000000000000123")
    with ctx.db.writing() as session:
        post_sale.store_claim(
            session,
            tenant.account_id,
            1,
            post_sale.ClaimData(
                external_id="5100000001",
                status="opened",
                date_created=WHEN,
                resource="order",
                resource_id="2000000000000123",
                type="mediations",
                reason_id="PNR123",
            ),
        )
    page = web.get(f"/console/channels/questions?account={tenant.account_id}&marketplace=1").text
    assert 'data-claim="5100000001"' in page and f'href="/console/orders/{order_id}"' in page and "PNR123" in page
    order_page = web.get(f"/console/orders/{order_id}").text
    assert 'id="order-claims"' in order_page and "5100000001" in order_page


def test_the_channels_page_counts_what_waits_on_the_seller(
    ctx: AppContext,
    web: TestClient,
    make_tenant: Callable[..., Tenant],
    make_operator: Callable[..., ConsoleOperator],
) -> None:
    tenant = make_tenant(marketplaces=(1,))
    console_login(web, make_operator([tenant.account_id]))
    with ctx.db.writing() as session:
        session.add(
            ChannelConnection(
                account_id=tenant.account_id,
                marketplace_id=1,
                connector="mercadolibre",
                status=CONNECTED,
                refresh_token="enc:v1:unused",
            )
        )
    page = web.get(f"/console/channels?account={tenant.account_id}")
    assert page.status_code == 200 and 'class="count unanswered"' not in page.text and "open-claims" not in page.text
    ask(ctx, tenant.account_id, 1, "¿Hacen factura A?")
    ask(ctx, tenant.account_id, 2, "¿Y en rojo?")
    ask(ctx, tenant.account_id, 3, "¿Y en verde?", status="ANSWERED")
    with ctx.db.writing() as session:
        for number, status in ((5, "opened"), (6, "closed")):
            post_sale.store_claim(
                session,
                tenant.account_id,
                1,
                post_sale.ClaimData(external_id=str(number), status=status, date_created=WHEN, resource="payment"),
            )
    page = web.get(f"/console/channels?account={tenant.account_id}")
    assert '<span class="count unanswered">2</span>' in page.text
    assert "Open claims: 1</span>" in page.text
