"""Security events in the audit log: a valid key asking for an account it does not serve, and the identifiers
of the query string (never the key)."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from alephee.cli import app
from alephee.http.context import AppContext
from tests.fixtures.tenants import Tenant

runner = CliRunner()


def audit(ctx: AppContext, *args: str) -> tuple[list[dict[str, Any]], str]:
    result = runner.invoke(app, ["audit", *args], env={"ALEPHEE_DATABASE_URL": ctx.settings.database_url})
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stdout


def test_a_key_asking_for_another_tenants_account_is_a_security_event(
    ctx: AppContext, client: TestClient, make_tenant: Any
) -> None:
    mine: Tenant = make_tenant()
    theirs: Tenant = make_tenant()
    other = theirs.account_id
    attempts = [
        client.get("/v2/orders", params={"API_KEY": mine.api_key, "accountId": other, "orderId": "42"}),
        client.get(f"/v2/accounts/{other}/stores", params=mine.key()),
        client.get("/v2/accounts", params={"api_key": mine.api_key, "accountID": other}),
        client.put(f"/v2/accounts/{other}/fiscaltaxrules", params=mine.key(), json=[]),
        client.delete("/v2/orders", params={"API_KEY": mine.api_key, "accountId": other, "orderId": "7"}),
    ]
    assert [r.status_code for r in attempts] == [401] * 5
    entries, raw = audit(ctx, "--account", str(other))
    assert len(entries) == 5
    assert {e["Event"] for e in entries} == {"account_not_linked"}
    assert {e["KeyId"] for e in entries} == {mine.key_id} and {e["Status"] for e in entries} == {401}
    assert {e["RequestId"] for e in entries} == {r.headers["x-request-id"] for r in attempts}
    assert sorted(e["Endpoint"] for e in entries) == sorted(
        ["orders.list", "accounts.stores", "accounts.list", "accounts.fiscaltaxrules.put", "orders.delete"]
    )
    by_endpoint = {e["Endpoint"]: e for e in entries}
    assert by_endpoint["orders.delete"]["Query"] == f"accountId={other}&orderId=7"
    assert mine.api_key not in raw and mine.api_key.lower() not in raw.lower()
    # The victim's own log holds nothing else; the key's owner finds the attempts by key id.
    assert audit(ctx, "--account", str(mine.account_id))[0] == []
    by_key, _ = audit(ctx, "--key", str(mine.key_id))
    assert len(by_key) == 5
    # Not a security event: a missing accountId, an unknown key.
    client.get("/v2/orders", params=mine.key())
    client.get("/v2/orders", params={"API_KEY": "not-a-key", "accountId": other})
    assert len(audit(ctx, "--key", str(mine.key_id))[0]) == 5
    assert len(audit(ctx, "--account", str(other))[0]) == 5


def test_a_non_numeric_account_is_recorded_under_the_key(ctx: AppContext, client: TestClient, tenant: Tenant) -> None:
    response = client.get("/v2/orders", params={"API_KEY": tenant.api_key, "accountId": "1 OR 1=1"})
    assert response.status_code == 401
    [entry], _ = audit(ctx, "--key", str(tenant.key_id), "--security")
    assert entry["Event"] == "account_not_linked" and entry["AccountId"] is None
    assert entry["Query"] == "accountId=1+OR+1%3D1"


def test_writes_record_the_query_identifiers_but_never_the_key(
    ctx: AppContext, client: TestClient, tenant: Tenant
) -> None:
    deleted = client.delete(
        "/v2/orders",
        params={"API_KEY": tenant.api_key, "accountId": tenant.account_id, "orderId": "123", "revertStock": "true"},
    )
    assert deleted.status_code in (404, 412), deleted.text
    documented = client.post(
        "/v2/orders/55/documents",
        params={
            "api_key": tenant.api_key,
            "accountid": tenant.account_id,
            "documentNumber": "A-0001",
            "messageText": "Hola Juan, tu factura",
        },
        content=b"%PDF-1.4 x",
        headers={"content-type": "application/pdf"},
    )
    assert documented.status_code >= 400
    entries, raw = audit(ctx, "--account", str(tenant.account_id))
    by_endpoint = {e["Endpoint"]: e for e in entries}
    assert by_endpoint["orders.delete"]["Query"] == f"accountId={tenant.account_id}&orderId=123&revertStock=true"
    assert by_endpoint["orders.delete"]["Event"] is None
    # Free text and document numbers stay out (name only); identifiers are kept.
    assert by_endpoint["orders.documents.post"]["Query"] == f"accountId={tenant.account_id}&documentNumber&messageText"
    assert tenant.api_key not in raw and "Juan" not in raw and "A-0001" not in raw
    security, _ = audit(ctx, "--account", str(tenant.account_id), "--security")
    assert security == []
