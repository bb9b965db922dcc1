"""Webhook signing secrets encrypted at rest (``webhooks.crypto``): the column never holds a secret, deliveries
are signed from the decrypted secret, key rotation and ``alephee webhook rekey``, legacy rows stored in clear,
clear errors for a wrong, missing or malformed key, the generated key file, and migration 0012."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from typer.testing import CliRunner

from alephee import clock
from alephee.cli import app
from alephee.config import Settings
from alephee.db import UtcDateTime, alembic_config
from alephee.http.context import AppContext
from alephee.marketplaces.delivery import FAILED, register_sender, unregister_sender
from alephee.webhooks import crypto, events, sender
from alephee.webhooks.models import OPEN, WebhookSubscription
from tests.fixtures.database import create_pg_database, drop_pg_database
from tests.fixtures.tenants import Tenant
from tests.fixtures.webhooks import Hooks, Receiver, load_example

K1 = crypto.new_key()
K2 = crypto.new_key()
LEGACY_SECRET = "legacy-secret-kept-in-clear-0123"


@pytest.fixture(autouse=True)
def fresh_keys() -> Iterator[None]:
    """Every test builds its keyrings anew (as a new process would)."""
    crypto.forget_keys()
    yield
    crypto.forget_keys()


@pytest.fixture
def keyed(ctx: AppContext, tmp_path: Path) -> Iterator[Callable[..., Hooks]]:
    """``keyed(secret_key, key_file=None)``: a harness whose settings have these keys (None: the key file, by
    default in tmp_path); its sender becomes the registered webhook sender until the test ends."""
    previous: list[Any] = []

    def make(secret_key: str | None, key_file: Path | None = None) -> Hooks:
        harness = Hooks(ctx, secret_key=secret_key, secret_key_file=str(key_file or tmp_path / "secret.key"))
        previous.append(register_sender(events.TOPIC_PREFIX, harness.sender))
        return harness

    yield make
    for route in reversed(previous):
        unregister_sender(events.TOPIC_PREFIX, route)


def stored_secrets(ctx: AppContext) -> dict[int, str]:
    """``webhook_subscriptions.secret`` as the database holds it (what a dump would show), by id."""
    with ctx.db.reading() as session:
        return {row[0]: row[1] for row in session.execute(text("SELECT id, secret FROM webhook_subscriptions"))}


def insert_legacy(ctx: AppContext, account_id: int, url: str, secret: str, *, active: bool = True) -> int:
    """A subscription as a hub before encryption wrote it: the secret in clear."""
    with ctx.db.writing() as session:
        row = WebhookSubscription(
            account_id=account_id,
            url=url,
            event_types=["*"],
            secret=secret,
            active=active,
            created_at=clock.utcnow(),
        )
        session.add(row)
        session.flush()
        return row.id


def settings_with(**overrides: Any) -> Settings:
    """Settings without .env (no database needed)."""
    return Settings(_env_file=None, **overrides)  # type: ignore[call-arg]


def assert_signed_with(secret: str, request: Any) -> None:
    load_example().verify(secret, request.headers, request.body, now=clock.utcnow().timestamp())


# --- what the database holds --------------------------------------------------------------------------------


def test_the_stored_column_never_holds_the_secret(
    ctx: AppContext, make_client: Callable[..., TestClient], tenant: Tenant
) -> None:
    client = make_client(webhook_allow_private_targets=True)
    longest = "L" * 200  # the longest accepted secret still fits once encrypted (column widened by 0012)
    created = [
        client.post("/v2/webhooks", params=tenant.q(), json=body).json()
        for body in (
            {"Url": "http://127.0.0.1:9/a", "EventTypes": ["*"]},
            {"Url": "http://127.0.0.1:9/b", "EventTypes": ["*"], "Secret": "my-own-secret-0123456789"},
            {"Url": "http://127.0.0.1:9/c", "EventTypes": ["*"], "Secret": longest},
        )
    ]
    secrets = [c["Secret"] for c in created]
    assert secrets[0].startswith("whsec_") and secrets[1:] == ["my-own-secret-0123456789", longest]

    stored = stored_secrets(ctx)
    assert sorted(stored) == sorted(c["Id"] for c in created)
    dump = json.dumps(stored)
    for created_row, secret in zip(created, secrets, strict=True):
        value = stored[created_row["Id"]]
        assert value.startswith(crypto.PREFIX_V1) and secret not in value
        assert crypto.decrypt_secret(ctx.settings, value) == secret
        assert secret not in dump
    # Two encryptions of one secret differ (random IV): equal secrets are not visible in a dump either.
    assert crypto.encrypt_secret(ctx.settings, longest) != stored[created[2]["Id"]]
    listed = client.get("/v2/webhooks", params=tenant.q()).text
    assert all(secret not in listed for secret in secrets) and crypto.PREFIX_V1 not in listed


def test_a_delivery_signed_from_the_encrypted_secret_verifies(
    ctx: AppContext, keyed: Callable[..., Hooks], receiver: Receiver, tenant: Tenant
) -> None:
    hooks = keyed(K1)
    webhook_id, secret = hooks.subscribe(tenant.account_id, receiver.url, ["order.created"])
    assert secret not in stored_secrets(ctx)[webhook_id]
    hooks.emit(tenant.account_id, events.ORDER_CREATED, {"OrderId": 7})
    assert hooks.run().delivered == 1

    [request] = receiver.requests
    assert_signed_with(secret, request)
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert headers["x-alephee-signature"] == sender.signature(secret, headers["x-alephee-timestamp"], request.body)
    assert stored_secrets(ctx)[webhook_id].startswith(crypto.PREFIX_V1)  # untouched by the delivery


# --- rotation ------------------------------------------------------------------------------------------------


@pytest.fixture
def cli(ctx: AppContext, tmp_path: Path) -> Callable[..., tuple[int, Any]]:
    """``alephee ...`` on the test database with ``ALEPHEE_SECRET_KEY`` = ``key``: (exit code, JSON output)."""
    runner = CliRunner()

    def run(*args: str, key: str) -> tuple[int, Any]:
        env = {
            "ALEPHEE_DATABASE_URL": ctx.settings.database_url,
            "ALEPHEE_SECRET_KEY": key,
            "ALEPHEE_SECRET_KEY_FILE": str(tmp_path / "unused.key"),
            "ALEPHEE_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
        }
        result = runner.invoke(app, list(args), env=env)
        lines = (result.stdout or result.output).strip().splitlines()
        return result.exit_code, json.loads(lines[-1]) if lines else None

    return run


def test_rotation_decrypts_old_rows_and_rekey_moves_them_to_the_new_key(
    ctx: AppContext,
    keyed: Callable[..., Hooks],
    cli: Callable[..., tuple[int, Any]],
    receiver: Receiver,
    tenant: Tenant,
) -> None:
    old = keyed(K1)
    webhook_id, secret = old.subscribe(tenant.account_id, receiver.url)
    legacy_id = insert_legacy(ctx, tenant.account_id, receiver.url + "&legacy", LEGACY_SECRET, active=False)
    under_k1 = stored_secrets(ctx)[webhook_id]

    # The new key first, the old one second: rows written with the old key still sign.
    rotated = keyed(f"{K2}, {K1}")
    rotated.emit(tenant.account_id, events.ORDER_CREATED, {"OrderId": 1})
    assert rotated.run().delivered == 1
    assert_signed_with(secret, receiver.requests[-1])
    with pytest.raises(crypto.SecretDecryptError):
        crypto.decrypt_secret(settings_with(secret_key=K2), under_k1)

    code, report = cli("webhook", "rekey", key=f"{K2},{K1}")
    assert code == 0
    assert report == {
        "Webhooks": 2,
        "Rekeyed": 1,
        "Encrypted": 1,
        "Unchanged": 0,
        "Failed": [],
        "KeySource": "ALEPHEE_SECRET_KEY",
    }
    after = stored_secrets(ctx)
    assert after[webhook_id] != under_k1 and LEGACY_SECRET not in after[legacy_id]
    only_new, only_old = settings_with(secret_key=K2), settings_with(secret_key=K1)
    assert crypto.decrypt_secret(only_new, after[webhook_id]) == secret
    assert crypto.decrypt_secret(only_new, after[legacy_id]) == LEGACY_SECRET
    with pytest.raises(crypto.SecretDecryptError):
        crypto.decrypt_secret(only_old, after[webhook_id])
    assert cli("webhook", "rekey", key=K2)[1]["Unchanged"] == 2  # idempotent

    # The old key can now go: deliveries sign with the new key alone.
    new_only = keyed(K2)
    new_only.emit(tenant.account_id, events.ORDER_CREATED, {"OrderId": 2})
    assert new_only.run().delivered == 1
    assert_signed_with(secret, receiver.requests[-1])


def test_rekey_reports_secrets_no_key_decrypts_and_leaves_them(
    ctx: AppContext, keyed: Callable[..., Hooks], cli: Callable[..., tuple[int, Any]], tenant: Tenant
) -> None:
    lost_id, _ = keyed(K1).subscribe(tenant.account_id, "http://127.0.0.1:9/lost")
    kept_id, _ = keyed(K2).subscribe(tenant.account_id, "http://127.0.0.1:9/kept")
    before = stored_secrets(ctx)
    code, report = cli("webhook", "rekey", key=K2)
    assert code == 1 and report["Failed"] == [lost_id] and report["Unchanged"] == 1
    assert stored_secrets(ctx) == before and kept_id != lost_id

    code, _ = cli("webhook", "rekey", key="not-a-fernet-key")
    assert code == 1


# --- legacy rows ---------------------------------------------------------------------------------------------


def test_a_legacy_row_in_clear_still_signs_and_is_encrypted_after_its_delivery(
    ctx: AppContext, keyed: Callable[..., Hooks], receiver: Receiver, tenant: Tenant
) -> None:
    hooks = keyed(K1)
    webhook_id = insert_legacy(ctx, tenant.account_id, receiver.url, LEGACY_SECRET)
    receiver.answer(503)
    hooks.emit(tenant.account_id, events.ORDER_CREATED, {"OrderId": 3})
    assert hooks.run().retried == 1
    assert stored_secrets(ctx)[webhook_id] == LEGACY_SECRET  # a failed delivery changes nothing
    hooks.drain()

    assert [r.status for r in receiver.requests] == [503, 200]
    for request in receiver.requests:
        assert_signed_with(LEGACY_SECRET, request)
    stored = stored_secrets(ctx)[webhook_id]
    assert stored.startswith(crypto.PREFIX_V1) and LEGACY_SECRET not in stored
    assert crypto.decrypt_secret(hooks.settings, stored) == LEGACY_SECRET

    hooks.emit(tenant.account_id, events.ORDER_CREATED, {"OrderId": 4})
    assert hooks.run().delivered == 1
    assert_signed_with(LEGACY_SECRET, receiver.requests[-1])


# --- wrong, missing or malformed keys ------------------------------------------------------------------------


def test_a_wrong_key_is_a_clear_error_and_nothing_is_sent(
    ctx: AppContext, keyed: Callable[..., Hooks], receiver: Receiver, tenant: Tenant
) -> None:
    webhook_id, secret = keyed(K1).subscribe(tenant.account_id, receiver.url)
    wrong = keyed(K2)
    event_id = wrong.emit(tenant.account_id, events.ORDER_CREATED, {"OrderId": 5})
    first = wrong.run()
    assert (first.claimed, first.retried, first.delivered) == (1, 1, 0)
    [row] = wrong.outbox()
    assert row.status == "pending"  # retried: another worker, or this one with its key fixed, may deliver it
    error = row.last_error or ""
    assert f"webhook {webhook_id} cannot be signed" in error and "ALEPHEE_SECRET_KEY" in error
    assert secret not in error and K1 not in error and K2 not in error

    wrong.drain()
    [row] = wrong.outbox()
    assert row.status == FAILED and receiver.requests == []  # never sent, signed or not
    [event] = wrong.feed()
    assert event.id == event_id and event.state == OPEN  # still in the feed

    with ctx.db.reading() as session:
        subscription = session.get(WebhookSubscription, webhook_id)
        assert subscription is not None
        outcome = sender.send_test(subscription, wrong.settings)
    assert outcome["Delivered"] is False and outcome["Status"] is None and "cannot be signed" in outcome["Error"]
    assert receiver.requests == []


def test_a_missing_key_file_is_a_clear_error_not_a_new_secret(
    ctx: AppContext, keyed: Callable[..., Hooks], receiver: Receiver, tenant: Tenant, tmp_path: Path
) -> None:
    key_file = tmp_path / "state" / "secret.key"
    hooks = keyed(None, key_file)
    webhook_id, _ = hooks.subscribe(tenant.account_id, receiver.url)
    key_file.unlink()  # lost with the machine: a new key is generated, which cannot decrypt the old rows
    with pytest.raises(crypto.SecretDecryptError, match=r"the key file .*secret\.key") as raised:
        crypto.decrypt_secret(hooks.settings, stored_secrets(ctx)[webhook_id])
    assert "ALEPHEE_SECRET_KEY" in str(raised.value)
    hooks.emit(tenant.account_id, events.ORDER_CREATED, {"OrderId": 6})
    assert hooks.run().retried == 1 and receiver.requests == []


def test_a_malformed_key_is_refused_clearly(
    ctx: AppContext, make_client: Callable[..., TestClient], tenant: Tenant
) -> None:
    bad = settings_with(secret_key=f"{K1},not-a-fernet-key")
    with pytest.raises(crypto.SecretKeyError, match="ALEPHEE_SECRET_KEY: key #2 is not a Fernet key") as raised:
        crypto.encrypt_secret(bad, "whsec_anything-at-all-0123")
    assert "not-a-fernet-key" not in str(raised.value) and K1 not in str(raised.value)
    with pytest.raises(crypto.SecretKeyError):
        sender.install(bad)  # a worker does not start with it

    client = make_client(webhook_allow_private_targets=True, secret_key="nope")
    response = client.post("/v2/webhooks", params=tenant.q(), json={"Url": "http://127.0.0.1:9/", "EventTypes": ["*"]})
    assert response.status_code == 500 and "nope" not in response.text
    assert stored_secrets(ctx) == {}  # nothing written
    with ctx.db.reading() as session:
        assert session.scalar(select(sa.func.count()).select_from(WebhookSubscription)) == 0


# --- the generated key file ----------------------------------------------------------------------------------

_OTHER_PROCESS = """
import sys
from alephee.config import Settings
from alephee.webhooks import crypto
settings = Settings(_env_file=None, secret_key_file=sys.argv[1])
if sys.argv[2] == "encrypt":
    print(crypto.encrypt_secret(settings, sys.argv[3]))
else:
    print(crypto.decrypt_secret(settings, sys.argv[3]))
"""


def _other_process(key_file: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALEPHEE_")}
    return subprocess.Popen(
        [sys.executable, "-c", _OTHER_PROCESS, str(key_file), *args],
        env=env,
        cwd=key_file.parent.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_the_generated_key_file_is_private_and_reused(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    key_file = tmp_path / "var" / "secret.key"
    first = settings_with(secret_key_file=str(key_file))
    previous_umask = os.umask(0)  # the file is 0600 whatever the umask
    try:
        with caplog.at_level(logging.WARNING, logger="alephee.webhooks"):
            stored = crypto.encrypt_secret(first, "whsec_first-context-secret")
    finally:
        os.umask(previous_umask)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    crypto.Keyring([crypto.Fernet(key.encode())], "test")  # a valid Fernet key
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("ALEPHEE_SECRET_KEY" in w and "production" in w and str(key_file) in w for w in warnings)
    assert all(key not in w for w in warnings)

    # A second Settings/context (as a new process) reuses the file and decrypts.
    crypto.forget_keys()
    second = settings_with(secret_key_file=str(key_file))
    assert crypto.decrypt_secret(second, stored) == "whsec_first-context-secret"
    assert key_file.read_text().strip() == key
    # So does another process.
    other = _other_process(key_file, "decrypt", stored)
    out, err = other.communicate(timeout=60)
    assert other.returncode == 0, err
    assert out.strip() == "whsec_first-context-secret" and key not in err


def test_processes_starting_together_end_up_with_one_key(tmp_path: Path) -> None:
    # Threads racing to create the file: exactly one wins, everyone reads its key.
    key_file = tmp_path / "race" / "secret.key"
    barrier = threading.Barrier(8)
    created: list[bool] = []

    def create() -> None:
        barrier.wait()
        created.append(crypto.create_key_file(key_file))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(created) == [False] * 7 + [True]
    assert [p.name for p in key_file.parent.iterdir()] == ["secret.key"]  # no temporary file left

    # Processes starting together on a missing file: every token decrypts with the one key left on disk.
    shared = tmp_path / "var" / "secret.key"
    processes = [_other_process(shared, "encrypt", f"whsec_process-{n}-secret") for n in range(2)]
    tokens = []
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        tokens.append(out.strip())
    settings = settings_with(secret_key_file=str(shared))
    assert [crypto.decrypt_secret(settings, t) for t in tokens] == ["whsec_process-0-secret", "whsec_process-1-secret"]


def test_keys_and_secrets_stay_out_of_reprs() -> None:
    settings = settings_with(secret_key=K1)
    assert K1 not in repr(settings) and K1 not in str(settings.model_dump())
    assert K1 not in repr(crypto.keyring(settings))


# --- migration 0012 ------------------------------------------------------------------------------------------


@pytest.fixture
def old_database(backend: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the backend under test, not yet migrated."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    name = f"alephee_mig_{uuid.uuid4().hex[:10]}"
    try:
        yield create_pg_database(name)
    finally:
        drop_pg_database(name)


def test_migration_0012_keeps_legacy_rows_readable(old_database: str) -> None:
    config = alembic_config(old_database)
    command.upgrade(config, "0010")  # webhooks as they were: secrets in clear, VARCHAR(200)
    accounts = sa.table(
        "accounts",
        sa.column("id", sa.Integer),
        sa.column("name", sa.String),
        sa.column("account_type", sa.String),
        sa.column("b2b_portal_enabled", sa.Boolean),
        sa.column("allow_pricelist_delete", sa.Boolean),
        sa.column("created_at", UtcDateTime()),
    )
    subscriptions = sa.table(
        "webhook_subscriptions",
        sa.column("id", sa.Integer),
        sa.column("account_id", sa.Integer),
        sa.column("url", sa.String),
        sa.column("event_types", sa.JSON),
        sa.column("secret", sa.String),
        sa.column("active", sa.Boolean),
        sa.column("created_at", UtcDateTime()),
    )
    engine = sa.create_engine(old_database)
    try:
        with engine.begin() as conn:
            now = clock.utcnow()
            conn.execute(
                accounts.insert().values(
                    id=1,
                    name="Before",
                    account_type="SELLER",
                    b2b_portal_enabled=False,
                    allow_pricelist_delete=False,
                    created_at=now,
                )
            )
            conn.execute(
                subscriptions.insert().values(
                    id=1,
                    account_id=1,
                    url="https://93.184.216.34/h",
                    event_types=["*"],
                    secret=LEGACY_SECRET,
                    active=True,
                    created_at=now,
                )
            )
        command.upgrade(config, "heads")
        with engine.connect() as conn:
            [column] = [c for c in sa.inspect(conn).get_columns("webhook_subscriptions") if c["name"] == "secret"]
            stored = conn.execute(select(subscriptions.c.secret)).scalar_one()
        assert column["type"].length == 512
        assert stored == LEGACY_SECRET  # schema only: encrypted lazily by the application
        assert crypto.decrypt_secret(settings_with(secret_key=K1), stored) == LEGACY_SECRET
        with engine.begin() as conn:  # the widened column takes the longest ciphertext
            longest = crypto.encrypt_secret(settings_with(secret_key=K1), "L" * 200)
            conn.execute(subscriptions.update().values(secret=longest))
    finally:
        engine.dispose()
