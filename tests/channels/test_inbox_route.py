"""``POST /channels/mercadolibre/notifications``: answered 200 ``{}`` after one write to the inbox; repeats collapse
into one row; notices for another application, an unknown seller or with a broken body are ignored (200) and
counted in /metrics; oversized, non-JSON and too frequent posts get the documented error shape."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session
from starlette.routing import Match

from alephee.channels import inbox
from alephee.channels.models import DISCONNECTED, ChannelConnection
from alephee.clock import precise_utcnow
from alephee.http.context import AppContext
from alephee.marketplaces.models import NOTICE_DONE, NOTICE_PENDING, ChannelNotification
from tests.channels.inbox_fakes import APPLICATION, SELLER, connect, notification
from tests.fixtures.tenants import Tenant

PATH = "/channels/mercadolibre/notifications"


@pytest.fixture
def hub(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(mercadolibre_client_id=APPLICATION)


@pytest.fixture
def seller(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> Tenant:
    tenant = make_tenant(marketplaces=(1,))
    connect(ctx, tenant.account_id)
    return tenant


def rows(ctx: AppContext) -> list[ChannelNotification]:
    with ctx.db.reading() as session:
        return list(session.scalars(select(ChannelNotification).order_by(ChannelNotification.id)))


def counted(client: TestClient, outcome: str) -> float:
    pattern = re.compile(
        r'^alephee_channel_notifications_total\{connector="mercadolibre",outcome="' + outcome + r'"\} (\S+)$'
    )
    for line in client.get("/metrics").text.splitlines():
        match = pattern.match(line)
        if match:
            return float(match.group(1))
    return 0.0


def test_a_notification_is_stored_and_answered_with_an_empty_object(
    hub: TestClient, ctx: AppContext, seller: Tenant
) -> None:
    response = hub.post(PATH, json=notification(actions=["created"]))
    assert response.status_code == 200 and response.json() == {}
    [row] = rows(ctx)
    assert (row.connector, row.topic, row.resource) == ("mercadolibre", "orders_v2", "/orders/2000001")
    assert (row.account_id, row.marketplace_id, row.seller_id) == (seller.account_id, 1, str(SELLER))
    assert (row.status, row.received_count, row.attempts, row.actions) == (NOTICE_PENDING, 1, 0, ["created"])
    # user_id may come as a string, and an item notice is another pointer, so another row.
    assert hub.post(PATH, json=notification("/items/MLA1", "items", user_id=str(SELLER))).status_code == 200
    assert [r.resource for r in rows(ctx)] == ["/orders/2000001", "/items/MLA1"]
    assert PATH not in hub.get("/v2/openapi.json").text


def test_repeats_collapse_into_one_row_and_reopen_a_read_one(hub: TestClient, ctx: AppContext, seller: Tenant) -> None:
    for attempt in (1, 2, 3):
        assert hub.post(PATH, json=notification(attempts=attempt, _id=f"n{attempt}")).status_code == 200
    [row] = rows(ctx)
    assert (row.received_count, row.status) == (3, NOTICE_PENDING)
    with ctx.db.writing() as session:
        session.execute(
            update(ChannelNotification).values(status=NOTICE_DONE, attempts=2, last_error="old", locked_by=None)
        )
    assert hub.post(PATH, json=notification(recieved="2026-11-30T16:20:00.000Z")).status_code == 200
    [row] = rows(ctx)
    assert (row.received_count, row.status, row.attempts, row.last_error) == (4, NOTICE_PENDING, 0, None)


@pytest.mark.parametrize(
    ("body", "outcome"),
    [
        (notification(application_id=1234), "foreign_application"),
        (notification(user_id=999), "unknown_seller"),
        (notification(user_id="not-a-seller"), "malformed"),
        (notification(user_id=10**20), "malformed"),
        (notification(user_id=True), "malformed"),
        ({k: v for k, v in notification().items() if k != "resource"}, "malformed"),
        (notification(actions="created"), "malformed"),
    ],
)
def test_notices_not_for_this_hub_are_ignored_and_counted(
    hub: TestClient, ctx: AppContext, seller: Tenant, body: dict[str, Any], outcome: str
) -> None:
    before = counted(hub, outcome)
    response = hub.post(PATH, json=body)
    assert response.status_code == 200 and response.json() == {}
    assert rows(ctx) == []
    assert counted(hub, outcome) == before + 1


def test_a_disconnected_seller_is_unknown(hub: TestClient, ctx: AppContext, make_tenant: Callable[..., Tenant]) -> None:
    tenant = make_tenant(marketplaces=(1,))
    connect(ctx, tenant.account_id, status=DISCONNECTED)
    before = counted(hub, "unknown_seller")
    assert hub.post(PATH, json=notification()).status_code == 200
    assert rows(ctx) == [] and counted(hub, "unknown_seller") == before + 1


def test_one_statement_stores_a_notice_for_the_oldest_connected_connection(
    hub: TestClient, ctx: AppContext, make_tenant: Callable[..., Tenant]
) -> None:
    gone, first, second = (make_tenant(marketplaces=(1,)) for _ in range(3))
    connect(ctx, gone.account_id, status=DISCONNECTED)
    connect(ctx, first.account_id)
    connect(ctx, second.account_id)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(ctx.db.write_engine, "before_cursor_execute", seen)
    try:
        assert hub.post(PATH, json=notification(actions=["created"])).status_code == 200
    finally:
        event.remove(ctx.db.write_engine, "before_cursor_execute", seen)
    # BEGIN and COMMIT aside, the notice is one INSERT ... SELECT ... ON CONFLICT.
    written = [s for s in statements if not s.strip().upper().startswith(("BEGIN", "COMMIT"))]
    assert len(written) == 1 and written[0].lstrip().upper().startswith("INSERT")
    [row] = rows(ctx)
    assert (row.account_id, row.marketplace_id, row.seller_id) == (first.account_id, 1, str(SELLER))
    assert (row.actions, row.status, row.received_count) == (["created"], NOTICE_PENDING, 1)
    # The first connection gone: a repeat re-opens the row for the one still connected.
    with ctx.db.writing() as session:
        session.execute(
            update(ChannelConnection)
            .where(ChannelConnection.account_id == first.account_id)
            .values(status=DISCONNECTED)
        )
        session.execute(update(ChannelNotification).values(status=NOTICE_DONE))
    assert hub.post(PATH, json=notification()).status_code == 200
    [row] = rows(ctx)
    assert (row.account_id, row.actions, row.status, row.received_count) == (
        second.account_id,
        None,
        NOTICE_PENDING,
        2,
    )


def test_without_an_application_configured_every_notice_is_foreign(
    client: TestClient, ctx: AppContext, seller: Tenant
) -> None:
    assert client.post(PATH, json=notification()).status_code == 200
    assert rows(ctx) == []


def test_oversized_and_non_json_bodies_are_refused(hub: TestClient, ctx: AppContext, seller: Tenant) -> None:
    padded = notification(padding="x" * 9000)
    large = hub.post(PATH, json=padded)
    assert large.status_code == 413
    assert large.json() == {"Status": 413, "Message": "A notification body is at most 8 KiB"}
    for content in (b"not json", b"[1, 2]", b""):
        bad = hub.post(PATH, content=content, headers={"content-type": "application/json"})
        assert bad.status_code == 400
        assert bad.json() == {"Status": 400, "Message": "A notification body is a JSON object"}
    assert rows(ctx) == []


def test_each_source_address_is_rate_limited(
    make_client: Callable[..., TestClient], ctx: AppContext, seller: Tenant
) -> None:
    limited = make_client(mercadolibre_client_id=APPLICATION, channel_notifications_per_minute=2)
    statuses = [limited.post(PATH, json=notification(f"/orders/{n}")).status_code for n in range(6)]
    assert statuses[0] == 200 and 429 in statuses
    refused = limited.post(PATH, json=notification("/orders/last"))
    assert refused.status_code == 429
    assert refused.json() == {"Status": 429, "Message": "Too many requests"}
    assert refused.headers["x-ratelimit-limit"] == "2" and int(refused.headers["x-ratelimit-retryafter"]) >= 1
    assert len(rows(ctx)) == statuses.count(200)


def test_writes_waiting_together_commit_in_one_transaction_and_a_failing_one_fails_alone(
    ctx: AppContext, seller: Tenant
) -> None:
    writer = inbox.GroupWriter(ctx.db)
    commits: list[int] = []

    def committed(_conn: Any) -> None:
        commits.append(1)

    event.listen(ctx.db.write_engine, "commit", committed)

    def store(resource: str) -> Callable[[Session], str]:
        def write(session: Session) -> str:
            if resource == "/orders/broken":
                raise RuntimeError("this write fails")
            return inbox.receive(
                session,
                "mercadolibre",
                notification(resource),
                application_ids=frozenset({APPLICATION}),
                now=precise_utcnow(),
            )

        return write

    resources = [f"/orders/{n}" for n in range(6)] + ["/orders/broken"]
    answers: dict[str, str] = {}

    def post(resource: str) -> None:
        try:
            answers[resource] = writer.write(store(resource))
        except RuntimeError as exc:
            answers[resource] = str(exc)

    def burst(resources: list[str]) -> None:
        # Every request queued while another write holds the turn: the next turn writes them all at once.
        with writer._turn:
            threads = [threading.Thread(target=post, args=(r,)) for r in resources]
            for thread in threads:
                thread.start()
            while len(writer._queue) < len(resources):
                threading.Event().wait(0.01)
        for thread in threads:
            thread.join()

    try:
        burst(resources)
        first = len(commits)
        burst([f"/orders/again-{n}" for n in range(5)])
    finally:
        event.remove(ctx.db.write_engine, "commit", committed)
    assert answers == {
        **{r: inbox.RECEIVED for r in resources[:-1]},
        "/orders/broken": "this write fails",
        **{f"/orders/again-{n}": inbox.RECEIVED for n in range(5)},
    }
    # The group failed as a whole (one write raised), so each was written alone: six commits, the broken one none.
    assert sorted(r.resource for r in rows(ctx) if "again" not in r.resource) == sorted(resources[:-1])
    assert first == 6
    # Five writes together, none failing: one transaction.
    assert len(commits) == first + 1 and len(rows(ctx)) == 11


@pytest.mark.parametrize("path", [PATH, "/channels/tiendanube/webhooks"])
def test_the_marketplaces_notifications_are_matched_before_the_api_routes(hub: TestClient, path: str) -> None:
    # The router tries its routes in order: a marketplace's burst of notifications must not walk every /v2 route
    # first. Only the application's own routes (its docs' page) come before the channels'.
    scope = {"type": "http", "method": "POST", "path": path, "root_path": "", "headers": [], "query_string": b""}
    tried = 0
    for route in hub.app.router.routes:  # type: ignore[attr-defined]
        tried += 1
        if route.matches(dict(scope))[0] == Match.FULL:
            break
    else:
        raise AssertionError(f"no route matches {path}")
    assert tried <= 3
