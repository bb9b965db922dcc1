"""``alephee webhook add|list|remove|test`` and ``alephee notifications purge``."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from alephee import clock
from alephee.cli import app
from alephee.http.context import AppContext
from alephee.webhooks import events
from tests.fixtures.tenants import Tenant
from tests.fixtures.webhooks import Hooks, Receiver, load_example


@pytest.fixture
def cli(ctx: AppContext) -> Callable[..., Any]:
    """Run ``alephee ...`` on the test database (127.0.0.1 receivers allowed); JSON output, or the result."""
    runner = CliRunner()
    env = {"ALEPHEE_DATABASE_URL": ctx.settings.database_url, "ALEPHEE_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true"}

    def run(*args: str, ok: bool = True) -> Any:
        result = runner.invoke(app, list(args), env=env)
        if ok:
            assert result.exit_code == 0, result.output
            return json.loads(result.stdout.strip().splitlines()[-1])
        assert result.exit_code != 0
        return result

    return run


def test_add_list_test_remove(cli: Callable[..., Any], tenant: Tenant, receiver: Receiver) -> None:
    account = str(tenant.account_id)
    added = cli(
        "webhook",
        "add",
        "--account",
        account,
        "--url",
        receiver.url,
        "--event",
        "order.created",
        "--event",
        "order.cancelled",
    )
    assert added["Secret"].startswith("whsec_") and added["EventTypes"] == ["order.created", "order.cancelled"]
    assert added["Active"] is True and added["AccountId"] == tenant.account_id
    listed = cli("webhook", "list", "--account", account)
    assert [w["Id"] for w in listed] == [added["Id"]] and "Secret" not in listed[0]

    outcome = cli("webhook", "test", str(added["Id"]))
    assert outcome["Status"] == 200 and outcome["Delivered"] is True and outcome["Error"] is None
    [request] = receiver.requests
    assert request.json["Type"] == "webhook.test" and request.json["Data"]["WebhookId"] == added["Id"]
    load_example().verify(added["Secret"], request.headers, request.body, now=clock.utcnow().timestamp())

    receiver.answer(500)
    failed = cli("webhook", "test", str(added["Id"]), ok=False)
    assert json.loads(failed.stdout.strip().splitlines()[-1])["Status"] == 500

    removed = cli("webhook", "remove", str(added["Id"]))
    assert removed["Removed"] == added["Id"]
    again = cli("webhook", "remove", str(added["Id"]), ok=False)
    assert "not found" in again.output
    assert cli("webhook", "list", "--account", account) == []


def test_the_example_receiver_takes_every_test_event(cli: Callable[..., Any], tenant: Tenant) -> None:
    from http.server import ThreadingHTTPServer
    from threading import Thread

    example = load_example()
    secret = "whsec_example-receiver-secret"
    answers: list[tuple[str, int, str]] = []

    class Recording(example.make_handler(secret, example.DEFAULT_TOLERANCE)):  # type: ignore[misc]
        def _answer(self, status: int, text: str) -> None:
            answers.append((self.headers["X-Alephee-Event-Id"], status, text))
            super()._answer(status, text)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recording)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
        account = str(tenant.account_id)
        added = cli("webhook", "add", "--account", account, "--url", url, "--event", "*", "--secret", secret)
        # The receiver skips Ids it has already handled (deliveries are at least once): each test needs its own.
        for _ in range(2):
            assert cli("webhook", "test", str(added["Id"]))["Delivered"] is True
    finally:
        server.shutdown()
        server.server_close()
    assert [(status, text) for _, status, text in answers] == [(200, "ok"), (200, "ok")], answers
    ids = [int(event_id) for event_id, _, _ in answers]
    # A distinct Id space: never the Id of a real event (those count up from 1).
    assert ids[0] != ids[1] and all(i < 0 for i in ids)


def test_add_refuses_bad_input(cli: Callable[..., Any], tenant: Tenant) -> None:
    account = str(tenant.account_id)
    assert (
        "http:// or https://"
        in cli("webhook", "add", "--account", account, "--url", "ftp://x/", "--event", "*", ok=False).output
    )
    bad_type = cli("webhook", "add", "--account", account, "--url", "http://127.0.0.1/", "--event", "nope", ok=False)
    assert "Unknown event type" in bad_type.output
    assert (
        "does not exist"
        in cli("webhook", "add", "--account", "999999", "--url", "http://127.0.0.1/", "--event", "*", ok=False).output
    )


def test_purge_deletes_old_events(cli: Callable[..., Any], hooks: Hooks, tenant: Tenant) -> None:
    with clock.frozen(clock.utcnow() - timedelta(days=40)):
        hooks.emit(tenant.account_id, events.ORDER_CREATED, {"OrderId": 1})
    kept = hooks.emit(tenant.account_id, events.ORDER_CREATED, {"OrderId": 2})
    assert cli("notifications", "purge") == {"Purged": 1, "RetentionDays": 30}
    assert [e.id for e in hooks.feed()] == [kept]
    assert [m.topic for m in hooks.outbox()] == [events.PURGE_TOPIC]  # the worker's purge is queued


def test_the_worker_command_delivers_webhooks_and_unregisters_its_sender(
    cli: Callable[..., Any], hooks: Hooks, tenant: Tenant, receiver: Receiver
) -> None:
    from alephee.marketplaces.delivery import unregister_sender
    from alephee.sync.worker import Dispatcher

    hooks.subscribe(tenant.account_id, receiver.url)
    event_id = hooks.emit(tenant.account_id, events.ORDER_CREATED, {"OrderId": 1})
    unregister_sender(events.TOPIC_PREFIX)  # as in a fresh process: only the command registers it
    result = cli("worker", "--once")
    assert (result["Claimed"], result["Delivered"]) == (1, 1)
    assert [r.json["Id"] for r in receiver.requests] == [event_id]
    assert [m.topic for m in hooks.outbox()] == ["webhook.order.created"]  # --once queued no purge
    assert all(r.prefix != events.TOPIC_PREFIX for r in Dispatcher.current().routes)  # cleaned up after itself
