"""A real local webhook receiver (``http.server`` in a thread) and a harness that registers the webhook sender
with test settings and runs the outbox worker in-process. Fixtures are imported by ``conftest.py`` and by
``tests/contract/test_webhooks.py``."""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import select

from alephee import clock
from alephee.config import Settings
from alephee.http.context import AppContext
from alephee.marketplaces.delivery import register_sender, unregister_sender
from alephee.marketplaces.models import OutboxMessage
from alephee.sync.worker import RoundStats, Worker
from alephee.webhooks import events, service
from alephee.webhooks.models import WebhookEvent, WebhookSubscription
from alephee.webhooks.sender import WebhookSender
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]


def load_example() -> ModuleType:
    """``examples/webhook_receiver.py`` as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("webhook_receiver_example", ROOT / "examples" / "webhook_receiver.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Received:
    """One POST the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST and answers the scripted statuses (then 200)."""

    requests: list[Received] = field(default_factory=list)
    script: list[int] = field(default_factory=list)
    default_status: int = 200
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks?src=alephee"

    def answer(self, *statuses: int) -> None:
        """Answer the next requests with these statuses."""
        with self._lock:
            self.script.extend(statuses)

    def _next_status(self) -> int:
        with self._lock:
            return self.script.pop(0) if self.script else self.default_status

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver._next_status()
                with receiver._lock:
                    receiver.requests.append(Received(self.path, dict(self.headers.items()), body, status))
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True, name="webhook-receiver").start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def delivered(self) -> list[Received]:
        """Requests answered 2xx, in arrival order."""
        return [r for r in self.requests if 200 <= r.status < 300]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A running receiver (stopped after the test)."""
    server = Receiver()
    server.start()
    yield server
    server.stop()


class Hooks:
    """The webhook side of the hub in a test: settings allowing 127.0.0.1, fast backoff, 3 attempts, the sender
    registered for those settings, and the worker run in-process."""

    def __init__(self, ctx: AppContext, **overrides: Any) -> None:
        values: dict[str, Any] = {
            "webhook_allow_private_targets": True,
            "outbox_backoff_base_seconds": 1.0,
            "outbox_backoff_max_seconds": 4.0,
            "outbox_max_attempts": 3,
            "webhook_timeout_seconds": 5.0,
        }
        values.update(overrides)
        self.ctx = ctx
        self.settings: Settings = make_settings(ctx.settings.database_url, **values)
        self.sender = WebhookSender(self.settings)
        self.worker = Worker(ctx.db, self.settings, worker_id="webhook-test")

    def subscribe(self, account_id: int, url: str, types: list[str] | None = None, **fields: Any) -> tuple[int, str]:
        """A webhook of ``account_id``; returns (id, secret)."""
        with self.ctx.db.writing() as session:
            row, secret = service.create_subscription(
                session, self.settings, account_id, url=url, event_types=types or ["*"], **fields
            )
            return row.id, secret

    def emit(self, account_id: int, event_type: str, ids: dict[str, int], payload: dict[str, Any] | None = None) -> int:
        """Emit one event in its own committed transaction; returns its id."""
        with self.ctx.db.writing() as session:
            event = events.emit(session, account_id, event_type, ids, payload)
            session.flush()
            return event.id

    def run(self) -> RoundStats:
        """One worker round."""
        return self.worker.run_once()

    def drain(self, *, skip_backoff: bool = True, rounds: int = 20) -> RoundStats:
        """Rounds until nothing is pending; with ``skip_backoff`` the clock jumps over every retry delay."""
        total = RoundStats()
        for _ in range(rounds):
            stats = self.worker.drain()
            total.add(stats)
            if not skip_backoff or not self.pending():
                break
            clock.advance(clock_step(self.settings))
        return total

    def pending(self) -> int:
        with self.ctx.db.reading() as session:
            return len(
                session.scalars(
                    select(OutboxMessage.id).where(
                        OutboxMessage.topic.startswith("webhook."), OutboxMessage.status.in_(("pending", "in_flight"))
                    )
                ).all()
            )

    def outbox(self) -> list[OutboxMessage]:
        with self.ctx.db.reading() as session:
            return list(
                session.scalars(
                    select(OutboxMessage).where(OutboxMessage.topic.startswith("webhook.")).order_by(OutboxMessage.id)
                )
            )

    def feed(self, account_id: int | None = None) -> list[WebhookEvent]:
        with self.ctx.db.reading() as session:
            query = select(WebhookEvent).order_by(WebhookEvent.id)
            if account_id is not None:
                query = query.where(WebhookEvent.account_id == account_id)
            return list(session.scalars(query))

    def subscriptions(self) -> list[WebhookSubscription]:
        with self.ctx.db.reading() as session:
            return list(session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id)))


def clock_step(settings: Settings) -> Any:
    from datetime import timedelta

    return timedelta(seconds=settings.outbox_backoff_max_seconds + 1)


@pytest.fixture
def hooks(ctx: AppContext) -> Iterator[Hooks]:
    """The harness, with its sender registered for the test only."""
    harness = Hooks(ctx)
    previous = register_sender(events.TOPIC_PREFIX, harness.sender)
    yield harness
    unregister_sender(events.TOPIC_PREFIX, previous)
