"""The operator commands (accounts, keys, price lists, ...), run through Typer on the backend under test."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from alephee.cli import app
from alephee.http.context import AppContext

runner = CliRunner()


def run(ctx: AppContext, *args: str, ok: bool = True) -> Any:
    result = runner.invoke(app, list(args), env={"ALEPHEE_DATABASE_URL": ctx.settings.database_url})
    if ok:
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout.strip().splitlines()[-1])
    assert result.exit_code != 0
    return result


def test_account_key_and_setup_commands(ctx: AppContext, client: Any) -> None:
    account = run(ctx, "account", "create", "--name", "Mi Tienda", "--type", "official_store", "--doc-number", "30-9")
    assert account["Type"] == "official_store"
    second = run(ctx, "account", "create", "--name", "Otra", "--type", "brand")
    key = run(
        ctx,
        "key",
        "create",
        "--account",
        str(account["AccountId"]),
        "--account",
        str(second["AccountId"]),
        "--rate-limit",
        "500",
    )
    assert key["AccountIds"] == [account["AccountId"], second["AccountId"]]
    assert len(key["ApiKey"]) == 36 and key["KeyId"] > 0
    aid = str(account["AccountId"])
    assert run(ctx, "user", "create", "--account", aid, "--email", "a@b.example")["Active"] is True
    assert run(ctx, "marketplace", "add", "--account", aid, "--marketplace", "100")["MarketplaceId"] == 100
    plist = run(ctx, "pricelist", "create", "--account", aid, "--name", "General", "--currency", "ARS")
    assert plist["IsDefault"] is True
    store = run(ctx, "store", "create", "--account", aid, "--name", "Centro", "--pickup", "--external", "100:55:Centro")
    assert store["StoreId"] > 0
    flags = run(ctx, "account", "set", "--account", aid, "--allow-pricelist-delete", "--b2b-portal")
    assert flags["AllowPricelistDelete"] is True and flags["B2BPortal"] is True

    # What the CLI created is what the API serves to that key.
    accounts = client.get("/v2/accounts", params={"api_key": key["ApiKey"]})
    assert [a["Id"] for a in accounts.json()["Results"]] == key["AccountIds"]
    assert accounts.headers["x-ratelimit-limit"] == "500"
    stores = client.get(f"/v2/accounts/{aid}/stores", params={"API_KEY": key["ApiKey"], "marketplace": 100}).json()
    assert [s["Name"] for s in stores["Results"]] == ["Centro"]
    mps = client.get(f"/v2/accounts/{aid}/marketplaces", params={"API_KEY": key["ApiKey"]}).json()
    assert [m["Id"] for m in mps["Results"]] == [100]


@pytest.mark.parametrize(
    "args",
    [
        ("account", "create", "--name", "X", "--type", "wizard"),
        ("key", "create", "--account", "999999"),
        ("user", "create", "--account", "999999", "--email", "a@b.example"),
        ("marketplace", "add", "--account", "999999", "--marketplace", "1"),
        ("store", "create", "--account", "1", "--name", "x", "--external", "nonsense"),
    ],
)
def test_bad_cli_input_fails_cleanly(ctx: AppContext, args: tuple[str, ...]) -> None:
    result = run(ctx, *args, ok=False)
    assert "Traceback" not in result.output


def test_demo_is_idempotent_and_prints_a_working_key(ctx: AppContext, client: Any) -> None:
    first = run(ctx, "demo")
    again = run(ctx, "demo", "--if-empty")
    assert first["AccountId"] == again["AccountId"] and first["ApiKey"] == again["ApiKey"]
    assert first["Created"] is True and again["Created"] is False
    body = client.get("/v2/accounts", params={"API_KEY": first["ApiKey"]}).json()
    assert body["Results"][0]["Name"] == "Demo Store"
    stores = client.get(f"/v2/accounts/{first['AccountId']}/stores", params={"API_KEY": first["ApiKey"]}).json()
    assert stores["Total"] == 3


def test_demo_if_empty_skips_a_database_in_use(ctx: AppContext) -> None:
    run(ctx, "account", "create", "--name", "Real customer", "--type", "seller")
    assert run(ctx, "demo", "--if-empty")["Status"] == "skipped"


def test_db_upgrade_and_catalogue(ctx: AppContext) -> None:
    assert run(ctx, "db", "upgrade")["Status"] == "ok"
    catalogue = run(ctx, "marketplace", "list")
    assert {m["Id"] for m in catalogue} >= {1, 20, 30, 100}
