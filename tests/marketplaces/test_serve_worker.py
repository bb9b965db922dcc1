"""``alephee serve --with-worker``: the embedded worker delivers the outbox of a real server, and the
application's lifespan starts and stops it."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from alephee.app import create_app
from alephee.http.context import AppContext
from alephee.marketplaces.models import OutboxMessage, SandboxListing
from tests.fixtures.database import make_settings
from tests.fixtures.marketplaces import put, start_server_with


def _wait_delivered(ctx: AppContext, message_id: int, timeout: float = 20) -> OutboxMessage:
    deadline = time.monotonic() + timeout
    while True:
        with ctx.db.reading() as session:
            row = session.get(OutboxMessage, message_id)
            assert row is not None
        if row.status == "delivered" or time.monotonic() > deadline:
            return row
        time.sleep(0.1)


@pytest.mark.slow
def test_serve_with_worker_delivers_end_to_end(ctx: AppContext, tmp_path: Path) -> None:
    server = start_server_with(
        ctx.settings.database_url, tmp_path, "--with-worker", env={"ALEPHEE_WORKER_INTERVAL_SECONDS": "0.2"}
    )
    try:
        message_id = put(ctx, payload={"listing_id": 1, "external_id": "MLA42", "price": "10", "quantity": 7})
        row = _wait_delivered(ctx, message_id)
        assert row.status == "delivered", server.log_path.read_text()
        assert row.delivered_at is not None and row.attempts == 1
        with ctx.db.reading() as session:
            listing = session.scalar(select(SandboxListing))
            assert listing is not None and (listing.external_id, listing.available_quantity) == ("MLA42", 7)
        assert httpx.get(f"{server.base_url}/health", timeout=5).status_code == 200
    finally:
        server.stop()
    # SIGTERM: uvicorn ran the lifespan shutdown (which joins the worker thread) before exiting.
    assert "Application shutdown complete" in server.log_path.read_text()


@pytest.mark.slow
def test_plain_serve_runs_no_worker(ctx: AppContext, tmp_path: Path) -> None:
    server = start_server_with(ctx.settings.database_url, tmp_path, env={"ALEPHEE_WORKER_INTERVAL_SECONDS": "0.2"})
    try:
        message_id = put(ctx)
        time.sleep(0.6)
        with ctx.db.reading() as session:
            row = session.get(OutboxMessage, message_id)
            assert row is not None and row.status == "pending"
    finally:
        server.stop()


def test_the_lifespan_starts_and_stops_the_worker_thread(ctx: AppContext) -> None:
    settings = make_settings(ctx.settings.database_url, worker_interval_seconds=0.05)
    app = create_app(settings, with_worker=True)
    with TestClient(app) as client:
        thread = app.state.outbox_worker
        assert thread._thread is not None and thread._thread.is_alive()
        message_id = put(ctx)
        assert _wait_delivered(ctx, message_id, timeout=10).status == "delivered"
        assert client.get("/health").status_code == 200
    assert not thread._thread.is_alive()
    app.state.ctx.db.dispose()
