"""``alephee catalog publish`` and ``alephee catalog share``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from alephee.accounts.schemas import AccountType
from alephee.cli import app
from alephee.http.context import AppContext
from tests.fixtures.products import add_price_list
from tests.fixtures.tenants import Tenant

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
runner = CliRunner()


def run(ctx: AppContext, *args: str, ok: bool = True) -> Any:
    result = runner.invoke(app, list(args), env={"ALEPHEE_DATABASE_URL": ctx.settings.database_url})
    assert (result.exit_code == 0) == ok, result.output
    return json.loads(result.stdout.strip().splitlines()[-1]) if ok else result


def test_publish_a_catalog(ctx: AppContext, client: Any, make_tenant: Callable[..., Tenant]) -> None:
    tenant = make_tenant(marketplaces=(100,))
    with ctx.db.writing() as session:
        add_price_list(session, tenant.account_id, "Lista general")
        add_price_list(session, tenant.account_id, "Lista mayorista")
    account = str(tenant.account_id)
    run(ctx, "catalog", "import", str(EXAMPLES / "catalog.csv"), "--account", account)
    published = run(ctx, "catalog", "publish", "--account", account, "--marketplace", "100")
    # Normal products, the kit and the variation master (not the variations themselves).
    assert published["Published"] == 4
    assert run(ctx, "catalog", "publish", "--account", account, "--marketplace", "100")["Published"] == 0
    one = run(ctx, "catalog", "publish", "--account", account, "--marketplace", "100", "--sku", "REM-01-NEG-M")
    assert one["Published"] == 1
    listings = client.get("/v2/productlistings/search", params=tenant.q()).json()
    assert listings["Total"] == 5
    kit = next(r for r in listings["Results"] if r["SKU"] == "KIT-BUJ-4")
    assert (kit["Price"], kit["AvailableQuantity"], kit["Status"]["Name"]) == (27900.0, 3, "Active")
    failed = run(ctx, "catalog", "publish", "--account", account, "--marketplace", "20", ok=False)
    assert "not connected" in failed.output and "Traceback" not in failed.output


def test_share_products(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> None:
    wholesaler = make_tenant(AccountType.DISTRIBUTOR)
    seller = make_tenant(AccountType.SELLER)
    with ctx.db.writing() as session:
        add_price_list(session, wholesaler.account_id, "Lista general")
        add_price_list(session, wholesaler.account_id, "Lista mayorista")
    run(ctx, "catalog", "import", str(EXAMPLES / "catalog.json"), "--account", str(wholesaler.account_id))
    shared = run(ctx, "catalog", "share", "--from", str(wholesaler.account_id), "--to", str(seller.account_id))
    assert shared["Shared"] == 3  # two normal products and one variation
    refused = run(
        ctx, "catalog", "share", "--from", str(seller.account_id), "--to", str(wholesaler.account_id), ok=False
    )
    assert "Traceback" not in refused.output
