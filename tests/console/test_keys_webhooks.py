"""The Keys and webhooks pages over HTTP: a key created in the console works on the API and its secret is shown
once; revoke and rotate take effect on the API at once; webhooks are created, edited, tested against a local
receiver and deleted; every form needs the session's CSRF token; every action leaves an audit row."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from alephee.accounts.models import ApiKey, AuditEntry
from alephee.http.context import AppContext
from alephee.webhooks.models import WebhookSubscription
from tests.fixtures.console import ConsoleOperator, console_login
from tests.fixtures.portal import flash_of
from tests.fixtures.tenants import Tenant
from tests.fixtures.webhooks import Receiver

SECRET = re.compile(r"data-secret>([^<]+)<")


def _secret(html: str) -> str:
    match = SECRET.search(html)
    assert match, "no secret on the page"
    return match.group(1)


def _api_status(client: TestClient, secret: str) -> int:
    return client.get("/v2/accounts", params={"API_KEY": secret}).status_code


def _endpoints(ctx: AppContext) -> list[str]:
    with ctx.db.reading() as session:
        return [row.endpoint for row in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


@pytest.fixture
def signed_in(
    client: TestClient, tenant: Tenant, make_operator: Callable[..., ConsoleOperator]
) -> tuple[TestClient, str, Tenant]:
    csrf = console_login(client, make_operator([tenant.account_id]))
    return client, csrf, tenant


def test_a_created_key_works_on_the_api_and_is_shown_once(
    ctx: AppContext, signed_in: tuple[TestClient, str, Tenant]
) -> None:
    client, csrf, tenant = signed_in
    answer = client.post("/console/keys/create", data={"csrf": csrf, "account": tenant.account_id, "label": "ERP"})
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    secret = _secret(answer.text)
    assert _api_status(client, secret) == 200
    listing = client.get(f"/console/keys?account={tenant.account_id}").text
    assert secret not in listing and secret[:8] in listing and "ERP" in listing
    assert "console.keys.create" in _endpoints(ctx)


def test_revoke_and_rotate_take_effect_on_the_api(ctx: AppContext, signed_in: tuple[TestClient, str, Tenant]) -> None:
    client, csrf, tenant = signed_in
    form = {"csrf": csrf, "account": tenant.account_id}
    rotated = client.post(f"/console/keys/{tenant.key_id}/rotate", data=form)
    assert rotated.status_code == 200
    new_secret = _secret(rotated.text)
    assert _api_status(client, tenant.api_key) == 401
    assert _api_status(client, new_secret) == 200
    with ctx.db.reading() as session:
        new_id = session.scalars(select(ApiKey.id).where(ApiKey.revoked_at.is_(None))).one()
    revoked = client.post(f"/console/keys/{new_id}/revoke", data=form, follow_redirects=False)
    assert revoked.status_code == 303 and revoked.headers["location"] == f"/console/keys?account={tenant.account_id}"
    page = client.get(revoked.headers["location"])
    assert flash_of(page.text) == "La clave fue revocada"
    assert flash_of(client.get(revoked.headers["location"]).text) is None  # shown once
    assert _api_status(client, new_secret) == 401
    again = client.post(f"/console/keys/{new_id}/revoke", data=form, follow_redirects=True)
    assert "already revoked" in (flash_of(again.text) or "")
    assert _endpoints(ctx).count("console.keys.revoke") == 1
    assert "console.keys.rotate" in _endpoints(ctx)


@pytest.mark.parametrize("token", [None, "", "forged"])
def test_every_form_needs_the_csrf_token(
    ctx: AppContext, signed_in: tuple[TestClient, str, Tenant], token: str | None
) -> None:
    client, _, tenant = signed_in
    data: dict[str, object] = {"account": tenant.account_id, "url": "https://erp.example/x", "types": "*"}
    if token is not None:
        data["csrf"] = token
    for path in (
        "/console/keys/create",
        f"/console/keys/{tenant.key_id}/revoke",
        f"/console/keys/{tenant.key_id}/rotate",
        "/console/webhooks/create",
    ):
        response = client.post(path, data=data, follow_redirects=False)
        assert response.status_code == 403, path
    assert _api_status(client, tenant.api_key) == 200
    with ctx.db.reading() as session:
        assert len(session.scalars(select(ApiKey.id)).all()) == 1
        assert session.scalars(select(WebhookSubscription.id)).all() == []


def test_webhooks_are_created_edited_tested_and_deleted(
    ctx: AppContext,
    make_client: Callable[..., TestClient],
    tenant: Tenant,
    make_operator: Callable[..., ConsoleOperator],
    receiver: Receiver,
) -> None:
    client = make_client(webhook_allow_private_targets=True)
    csrf = console_login(client, make_operator([tenant.account_id]))
    created = client.post(
        "/console/webhooks/create",
        data={
            "csrf": csrf,
            "account": tenant.account_id,
            "url": receiver.url,
            "types": ["order.created"],
            "description": "ERP",
        },
    )
    assert created.status_code == 200
    assert _secret(created.text).startswith("whsec_")
    with ctx.db.reading() as session:
        row = session.scalars(select(WebhookSubscription)).one()
    assert (row.url, row.event_types, row.description) == (receiver.url, ["order.created"], "ERP")
    edit_page = client.get(f"/console/webhooks/{row.id}")
    assert edit_page.status_code == 200 and receiver.url in edit_page.text
    saved = client.post(
        f"/console/webhooks/{row.id}/edit",
        data={"csrf": csrf, "url": receiver.url, "types": ["order.created", "order.cancelled"], "active": "on"},
    )
    assert flash_of(saved.text) == "El webhook fue guardado"
    with ctx.db.reading() as session:
        assert session.get(WebhookSubscription, row.id).event_types == ["order.created", "order.cancelled"]  # type: ignore[union-attr]
    tested = client.post(f"/console/webhooks/{row.id}/test", data={"csrf": csrf})
    assert "El evento de prueba fue entregado (HTTP 200)" in (flash_of(tested.text) or "")
    assert receiver.delivered()[-1].json["Type"] == "webhook.test"
    receiver.answer(500)
    failed = client.post(f"/console/webhooks/{row.id}/test", data={"csrf": csrf})
    assert "no fue entregado" in (flash_of(failed.text) or "")
    refused = client.post(f"/console/webhooks/{row.id}/edit", data={"csrf": csrf, "url": receiver.url, "types": []})
    assert flash_of(refused.text) and "fue guardado" not in (flash_of(refused.text) or "")
    deleted = client.post(f"/console/webhooks/{row.id}/delete", data={"csrf": csrf})
    assert flash_of(deleted.text) == "El webhook fue eliminado"
    with ctx.db.reading() as session:
        assert session.scalars(select(WebhookSubscription.id)).all() == []
    assert {
        "console.webhooks.create",
        "console.webhooks.edit",
        "console.webhooks.test",
        "console.webhooks.delete",
    } <= set(_endpoints(ctx))


def test_a_webhook_to_a_private_address_is_refused_with_a_message(
    ctx: AppContext, signed_in: tuple[TestClient, str, Tenant]
) -> None:
    client, csrf, tenant = signed_in
    answer = client.post(
        "/console/webhooks/create",
        data={"csrf": csrf, "account": tenant.account_id, "url": "http://127.0.0.1:9/x", "types": "*"},
    )
    assert answer.status_code == 200 and answer.url.path == "/console/webhooks"
    assert flash_of(answer.text)
    with ctx.db.reading() as session:
        assert session.scalars(select(WebhookSubscription.id)).all() == []
