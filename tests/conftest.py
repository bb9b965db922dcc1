"""Shared fixtures. Database tests run once per backend (SQLite and PostgreSQL; ``ALEPHEE_TEST_DATABASES``
narrows the list), each test on emptied tables with a fresh rate limiter and the real clock."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from alephee import clock
from alephee.accounts import service as accounts
from alephee.accounts.schemas import AccountType
from alephee.app import create_app
from alephee.bootstrap import prepare_database
from alephee.config import Settings
from alephee.db import Database
from alephee.http.context import AppContext
from alephee.http.ratelimit import RateLimiter
from alephee.marketplaces.contract import BaseChannel
from alephee.marketplaces.models import Marketplace
from alephee.marketplaces.registry import has_channel, register_channel, unregister_channel
from alephee.registry import metadata

BACKENDS = [b.strip() for b in os.environ.get("ALEPHEE_TEST_DATABASES", "sqlite,postgresql").split(",") if b.strip()]
PG_SERVER = os.environ.get("ALEPHEE_TEST_PG_SERVER", "postgresql+psycopg://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("ALEPHEE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
# The generated master key of webhook secrets (webhooks/crypto.py) stays out of the working tree; set in the
# environment so in-process settings, CLI runs and started servers all use the same key.
os.environ.setdefault(
    "ALEPHEE_SECRET_KEY_FILE", str(Path(os.environ.get("TMPDIR", "/tmp")) / f"alephee-secret-{WORKER}.key")
)
# Nothing a test does leaves this machine (tests/netguard/sitecustomize.py): this process, and every process the
# tests start (they import the guard from PYTHONPATH at start-up).
_NETGUARD = str(Path(__file__).parent / "netguard")
os.environ["ALEPHEE_TEST_NETWORK_GUARD"] = "loopback"
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (_NETGUARD, os.environ.get("PYTHONPATH")) if p)
sys.path.insert(0, _NETGUARD)
from sitecustomize import install as install_network_guard  # noqa: E402

install_network_guard()

# Tables holding reference data loaded at migration time: never emptied between tests.
REFERENCE_TABLES = {"marketplaces"}


def _create_pg_database(name: str) -> str:
    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{PG_SERVER}/{name}"


def _drop_pg_database(name: str) -> None:
    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database of the backend under test (one per xdist worker)."""
    backend = request.param
    if backend == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "hub.db"
        url = f"sqlite:///{path}"
        prepare_database(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
        yield url
        return
    if backend != "postgresql":
        raise ValueError(f"unknown test backend {backend}")
    # Unique per process: several test runs (developers, CI, xdist workers) may share one server.
    name = f"alephee_test_{WORKER}_{os.getpid()}"
    url = _create_pg_database(name)
    prepare_database(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]
    yield url
    _drop_pg_database(name)


def make_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings for tests: no .env, a private rate-limit namespace, temporary document storage."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "rate_limit_namespace": f"test-{uuid.uuid4().hex[:12]}",
        "documents_dir": str(Path(os.environ.get("TMPDIR", "/tmp")) / f"alephee-docs-{WORKER}"),
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def session_ctx(database_url: str) -> Iterator[AppContext]:
    """One context (engines) per backend for the whole run."""
    ctx = AppContext.build(make_settings(database_url))
    yield ctx
    ctx.db.dispose()


@pytest.fixture(scope="session")
def session_app(session_ctx: AppContext) -> FastAPI:
    """The application, built once per backend."""
    return create_app(context=session_ctx)


def empty_tables(db: Database) -> None:
    """Delete every row except reference data (children first)."""
    with db.writing() as session:
        for table in reversed(metadata.sorted_tables):
            if table.name not in REFERENCE_TABLES:
                session.execute(table.delete())
    # SQLite hands the same ids out again: renderings cached for the removed rows must go too.
    db.clear_process_caches()


@pytest.fixture
def ctx(session_ctx: AppContext) -> Iterator[AppContext]:
    """The backend's context on empty tables, with a fresh in-memory rate limiter and the real clock."""
    empty_tables(session_ctx.db)
    session_ctx.limiter = RateLimiter(session_ctx.settings)
    clock.reset()
    yield session_ctx
    clock.reset()


@pytest.fixture
def backend(ctx: AppContext) -> str:
    """``sqlite`` or ``postgresql``."""
    return ctx.db.dialect


@pytest.fixture
def client(ctx: AppContext, session_app: FastAPI) -> Iterator[TestClient]:
    """An in-process HTTP client on the app (server errors come back as 500 responses)."""
    with TestClient(session_app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def make_client(ctx: AppContext) -> Iterator[Callable[..., TestClient]]:
    """Build a client on an app with overridden settings (same database), e.g. ``make_client(limits=...)``."""
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        settings = make_settings(ctx.settings.database_url, **overrides)
        app = create_app(context=AppContext(settings=settings, db=ctx.db, limiter=RateLimiter(settings)))
        test_client = TestClient(app, raise_server_exceptions=False)
        clients.append(test_client)
        return test_client

    yield make
    for test_client in clients:
        test_client.close()


@dataclass
class Tenant:
    """An account with its own API key."""

    account_id: int
    api_key: str
    key_id: int
    extra_accounts: list[int] = field(default_factory=list)

    def q(self, **extra: Any) -> dict[str, Any]:
        """Query parameters authenticating as this tenant, plus ``extra``."""
        return {"API_KEY": self.api_key, "accountId": self.account_id, **extra}

    def key(self, **extra: Any) -> dict[str, Any]:
        """Only the key, plus ``extra``."""
        return {"API_KEY": self.api_key, **extra}


class StandInChannel(BaseChannel):
    """A connector that implements nothing (every push fails as "not supported"): installed for the test when a
    tenant connects a catalogue marketplace whose connector is not written yet (Mercado Libre 1, Amazon 20),
    so orders and listings of those marketplaces can be tested as once their connector exists."""


@pytest.fixture
def make_tenant(ctx: AppContext) -> Iterator[Callable[..., Tenant]]:
    """Create an account (of ``account_type``) and a key for it; ``rate_limit`` defaults to very high.
    ``marketplaces`` are connected; those without a connector get a ``StandInChannel`` for the test."""
    installed: list[tuple[str, Any]] = []

    def stand_in(session: Any, marketplace_id: int) -> None:
        marketplace = session.get(Marketplace, marketplace_id)
        if marketplace is not None and not has_channel(marketplace.connector):
            installed.append((marketplace.connector, register_channel(marketplace.connector, StandInChannel)))

    def make(
        account_type: AccountType | str = AccountType.SELLER,
        *,
        name: str | None = None,
        rate_limit: int | None = 100_000,
        marketplaces: tuple[int, ...] = (),
        **account_fields: Any,
    ) -> Tenant:
        with ctx.db.writing() as session:
            account = accounts.create_account(
                session,
                name=name or f"Tenant {uuid.uuid4().hex[:6]}",
                account_type=AccountType(account_type),
                **account_fields,
            )
            for marketplace_id in marketplaces:
                stand_in(session, marketplace_id)
                accounts.add_marketplace(session, account.id, marketplace_id)
            key, secret = accounts.create_key(session, [account.id], rate_limit=rate_limit)
            return Tenant(account_id=account.id, api_key=secret, key_id=key.id)

    yield make
    for connector, previous in reversed(installed):
        unregister_channel(connector, previous)


@pytest.fixture
def tenant(make_tenant: Callable[..., Tenant]) -> Tenant:
    """A seller account with a key."""
    return make_tenant()


# --- real server processes ----------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    """A real ``alephee serve`` process."""

    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def stop(self) -> None:
        """Terminate the process (and wait for it)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(
    database_url: str, tmp_path: Path, env: dict[str, str] | None = None, args: tuple[str, ...] = ()
) -> LiveServer:
    """Start ``alephee serve [args]`` on a free port and wait until /health answers."""
    port = free_port()
    log_path = tmp_path / f"server-{port}.log"
    full_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ALEPHEE_")},
        "ALEPHEE_DATABASE_URL": database_url,
        "ALEPHEE_DOCUMENTS_DIR": str(tmp_path / "documents"),
        "ALEPHEE_SECRET_KEY_FILE": os.environ["ALEPHEE_SECRET_KEY_FILE"],
        **(env or {}),
    }
    exe = Path(sys.executable).with_name("alephee")
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port), *args],
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    server = LiveServer(process=process, base_url=f"http://127.0.0.1:{port}", log_path=log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{server.base_url}/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"server did not start:\n{log_path.read_text()}")


@pytest.fixture
def live_server(ctx: AppContext, tmp_path: Path) -> Iterator[LiveServer]:
    """A real server process on the backend under test."""
    server = start_server(ctx.settings.database_url, tmp_path)
    yield server
    server.stop()
