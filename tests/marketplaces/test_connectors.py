"""A marketplace without a connector cannot be connected to an account (Mercado Libre has one; Amazon not yet);
"has a connector" is a lookup in the channel registry, so a connector registered later makes its marketplaces
usable. The demo uses only marketplaces that work, and ``alephee demo`` + ``alephee worker --once`` leave a clean
log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text

from alephee.accounts import service as accounts
from alephee.accounts.models import AccountMarketplace
from alephee.bootstrap import prepare_database
from alephee.config import Settings
from alephee.errors import InvalidInput
from alephee.http.context import AppContext
from alephee.marketplaces.contract import BaseChannel
from alephee.marketplaces.registry import has_channel
from alephee.sync.feeds import feeds
from alephee.webhooks import crypto
from tests.fixtures.database import create_pg_database, drop_pg_database
from tests.fixtures.tenants import Tenant


def test_has_channel_is_a_registry_lookup(use_channel: Callable[[str, Any], None]) -> None:
    assert has_channel("sandbox") and has_channel("b2b") and has_channel("api") and has_channel("mercadolibre")
    assert not has_channel("amazon") and not has_channel("none") and not has_channel(None)
    use_channel("amazon", BaseChannel())
    assert has_channel("amazon")


def test_a_marketplace_without_a_connector_cannot_be_connected(
    ctx: AppContext, make_tenant: Callable[..., Tenant], use_channel: Callable[[str, Any], None]
) -> None:
    tenant = make_tenant()
    with ctx.db.writing() as session:
        for marketplace_id, name in ((20, "Amazon"), (21, "Shopee")):
            with pytest.raises(InvalidInput) as refused:
                accounts.add_marketplace(session, tenant.account_id, marketplace_id)
            assert refused.value.message.startswith(f"Marketplace {marketplace_id} ({name}) has no connector yet")
        # What works: Mercado Libre, the sandbox, the B2B portal, the seller's own shop (orders through the API).
        for marketplace_id in (1, 100, 30, 24):
            accounts.add_marketplace(session, tenant.account_id, marketplace_id)
    # An Amazon connector being installed is all it takes for marketplace 20.
    use_channel("amazon", BaseChannel())
    with ctx.db.writing() as session:
        accounts.add_marketplace(session, tenant.account_id, 20)
    with ctx.db.reading() as session:
        linked = session.scalars(
            select(AccountMarketplace.marketplace_id)
            .where(AccountMarketplace.account_id == tenant.account_id)
            .order_by(AccountMarketplace.marketplace_id)
        ).all()
        assert list(linked) == [1, 20, 24, 30, 100]
        assert {f.marketplace.id for f in feeds(session, tenant.account_id)} == {1, 20, 24, 30, 100}


def test_old_links_without_a_connector_are_not_pulled(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> None:
    tenant = make_tenant(marketplaces=(100,))
    with ctx.db.writing() as session:
        # A link made before marketplaces needed a connector.
        session.add(AccountMarketplace(account_id=tenant.account_id, marketplace_id=20))
    with ctx.db.reading() as session:
        assert [f.marketplace.id for f in feeds(session, tenant.account_id)] == [100]


def test_cli_marketplace_add_refuses_one_without_a_connector(
    ctx: AppContext, make_tenant: Callable[..., Tenant]
) -> None:
    from typer.testing import CliRunner

    from alephee.cli import app

    tenant = make_tenant()
    env = {"ALEPHEE_DATABASE_URL": ctx.settings.database_url}
    args = ["marketplace", "add", "--account", str(tenant.account_id), "--marketplace", "20"]
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "Marketplace 20 (Amazon) has no connector yet" in result.output
    ok = CliRunner().invoke(app, [*args[:-1], "101"], env=env)
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout) == {"AccountId": tenant.account_id, "MarketplaceId": 101}


# --- demo + worker, as `make run` starts them ----------------------------------------------------------------


@pytest.fixture
def empty_database(backend: str, tmp_path: Path) -> Iterator[str]:
    """A new, empty database of the backend under test."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'demo.db'}"
        return
    name = f"alephee_demo_{uuid.uuid4().hex[:10]}"
    try:
        yield create_pg_database(name)
    finally:
        drop_pg_database(name)


def _alephee(database_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ALEPHEE_")},
        "ALEPHEE_DATABASE_URL": database_url,
        "ALEPHEE_DOCUMENTS_DIR": str(tmp_path / "documents"),
        # An installed hub has its key: the one-time "generated a new secret key" notice is not the subject here.
        "ALEPHEE_SECRET_KEY": crypto.new_key(),
        "ALEPHEE_DEMO_MERCADOLIBRE": "false",
        "ALEPHEE_DEMO_TIENDANUBE": "false",
    }
    exe = Path(sys.executable).with_name("alephee")
    return subprocess.run([str(exe), *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)


def test_demo_and_one_worker_round_leave_a_clean_log(empty_database: str, tmp_path: Path) -> None:
    prepare_database(Settings(database_url=empty_database, _env_file=None))  # type: ignore[call-arg]
    # The sandbox part of the demo (its Mercado Libre and Tiendanube loops need the server that serves the
    # stand-ins: see tests/channels/test_mercadolibre_loop.py and test_tiendanube_loop.py).
    demo = _alephee(empty_database, tmp_path, "demo", "--if-empty")
    assert demo.returncode == 0, demo.stderr
    worker = _alephee(empty_database, tmp_path, "worker", "--once")
    assert worker.returncode == 0, worker.stderr
    log = (demo.stderr + worker.stderr).splitlines()
    assert [line for line in log if " WARNING " in line or " ERROR " in line or "Traceback" in line] == []
    stats = json.loads(worker.stdout.strip().splitlines()[-1])
    assert stats["Failed"] == 0 and stats["Retried"] == 0 and stats["Delivered"] > 0
    engine = create_engine(empty_database)
    try:
        with engine.connect() as conn:
            by_status = dict(conn.execute(text("SELECT status, COUNT(*) FROM outbox GROUP BY status")).all())
            assert set(by_status) == {"delivered"}, by_status
            marketplaces = set(conn.scalars(text("SELECT DISTINCT marketplace_id FROM listings")))
            assert marketplaces == {100, 101, 102}
            linked = set(conn.scalars(text("SELECT marketplace_id FROM account_marketplaces")))
            assert linked == {100, 101, 102, 30}
            assert conn.scalar(select(func.count()).select_from(text("sandbox_orders"))) > 0
    finally:
        engine.dispose()
