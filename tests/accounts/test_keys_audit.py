"""Keys (list, revoke, rotate), the audit log of writes, the access log and the metrics endpoint."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from alephee.cli import app
from alephee.http.context import AppContext
from tests.fixtures.tenants import Tenant

runner = CliRunner()


def run(ctx: AppContext, *args: str) -> Any:
    result = runner.invoke(app, list(args), env={"ALEPHEE_DATABASE_URL": ctx.settings.database_url})
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_revoked_key_gets_401_at_once_and_rotation_hands_a_new_one(
    ctx: AppContext, client: TestClient, tenant: Tenant
) -> None:
    keys = run(ctx, "key", "list", "--account", str(tenant.account_id))
    assert [k["KeyId"] for k in keys] == [tenant.key_id]
    assert keys[0]["Prefix"] == tenant.api_key[:8] and "ApiKey" not in keys[0]
    assert client.get("/v2/accounts", params=tenant.key()).status_code == 200
    rotated = run(ctx, "key", "rotate", str(tenant.key_id))
    assert client.get("/v2/accounts", params=tenant.key()).status_code == 401
    fresh = client.get("/v2/accounts", params={"API_KEY": rotated["ApiKey"]})
    assert fresh.status_code == 200 and fresh.json()["Results"][0]["Id"] == tenant.account_id
    assert fresh.headers["x-ratelimit-limit"] == "100000"  # the limit moved to the new key
    run(ctx, "key", "revoke", str(rotated["KeyId"]))
    assert client.get("/v2/accounts", params={"API_KEY": rotated["ApiKey"]}).status_code == 401
    states = run(ctx, "key", "list", "--account", str(tenant.account_id))
    assert all(k["RevokedAt"] for k in states)


def test_every_authenticated_write_is_audited(ctx: AppContext, client: TestClient, tenant: Tenant) -> None:
    path = f"/v2/accounts/{tenant.account_id}/fiscaltaxrules"
    ok = client.put(path, params=tenant.key(), json=[{"Code": "A", "Name": "a", "Percentage": 1}] * 2)
    bad = client.put(path, params=tenant.key(), content=b"{", headers={"content-type": "application/json"})
    client.get(path, params=tenant.key())  # reads are not audited
    client.put(path, params={"API_KEY": "nope"}, json=[])  # nor unauthenticated calls
    entries = run(ctx, "audit", "--account", str(tenant.account_id))
    assert [(e["Status"], e["Items"], e["Method"]) for e in entries] == [(400, 0, "PUT"), (200, 2, "PUT")]
    assert entries[1]["RequestId"] == ok.headers["x-request-id"]
    assert entries[0]["RequestId"] == bad.headers["x-request-id"]
    assert {e["Endpoint"] for e in entries} == {"accounts.fiscaltaxrules.put"}
    assert all(e["KeyId"] == tenant.key_id for e in entries)


def test_access_log_never_shows_the_key(client: TestClient, tenant: Tenant, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="alephee.access"):
        client.get("/v2/accounts", params=tenant.key(documentNumber="secret-doc"))
    lines = [r.getMessage() for r in caplog.records if r.name == "alephee.access"]
    assert lines and "/v2/accounts 200" in lines[-1]
    assert all(tenant.api_key not in line and "secret-doc" not in line for line in lines)


def test_metrics_and_health(client: TestClient, tenant: Tenant) -> None:
    client.get("/v2/accounts", params=tenant.key())
    assert client.get("/health").json()["Status"] == "ok"
    text = client.get("/metrics").text
    assert 'alephee_http_requests_total{endpoint="accounts.list",method="GET",status="200"}' in text
    assert "alephee_http_request_duration_seconds_bucket" in text
    assert 'alephee_outbox_messages{status="pending"}' in text
    assert "alephee_rate_limit_rejections_total" in text
