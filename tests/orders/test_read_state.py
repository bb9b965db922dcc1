"""``ReadState`` and ``StateCache`` (db.py): results reused only while the database is unchanged.

The rule they rely on: a read connection's state stays equal while nothing commits and changes with every
commit (of any connection or process). GET /v2/orders reuses the key lookup and the page's total and keys
under it, so a revocation, an integration or a new order shows on the very next poll.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from alephee.accounts import service as accounts
from alephee.db import ReadState, StateCache, read_state
from alephee.http.context import AppContext
from tests.fixtures.orders import AddOrder
from tests.fixtures.tenants import Tenant

# --- the cache ----------------------------------------------------------------------------------------------


def test_a_value_is_served_only_under_the_state_it_was_computed_in() -> None:
    cache: StateCache[str, int] = StateCache(max_entries=10)
    cache.put(ReadState("conn-1", 7), "k", 1)
    assert cache.get(ReadState("conn-1", 7), "k") == 1
    assert cache.get(ReadState("conn-1", 8), "k") is None  # something committed since
    assert cache.get(ReadState("conn-2", 7), "k") is None  # versions of another connection do not compare
    cache.put(ReadState("conn-1", 8), "k", 2)  # the newer state replaces the entry
    assert cache.get(ReadState("conn-1", 7), "k") is None and cache.get(ReadState("conn-1", 8), "k") == 2
    assert (cache.hits, cache.misses, len(cache)) == (2, 3, 1)


def test_the_cache_is_bounded_and_can_be_turned_off() -> None:
    cache: StateCache[int, int] = StateCache(max_entries=2)
    state = ReadState("cluster", "1:1:")
    for key in (1, 2):
        cache.put(state, key, key)
    assert cache.get(state, 1) == 1  # 1 becomes the most recent
    cache.put(state, 3, 3)  # so 2 goes
    assert [cache.get(state, key) for key in (1, 2, 3)] == [1, None, 3]
    off: StateCache[int, int] = StateCache(max_entries=0)
    off.put(state, 1, 1)
    assert off.get(state, 1) is None and len(off) == 0


# --- the state ----------------------------------------------------------------------------------------------


def test_the_state_moves_with_every_commit_of_another_connection(ctx: AppContext, seller: Tenant) -> None:
    with ctx.db.read_engine.connect() as connection:
        before = read_state(connection)
        with ctx.db.writing() as session:
            session.execute(text("UPDATE accounts SET name = name || '.' WHERE id = :id"), {"id": seller.account_id})
        assert read_state(connection) != before


def test_the_state_holds_while_nothing_commits(ctx: AppContext, backend: str, seller: Tenant) -> None:
    if backend == "postgresql":
        pytest.skip("the PostgreSQL snapshot is cluster-wide: other test workers commit all the time")
    with ctx.db.read_engine.connect() as connection:
        before = read_state(connection)
        connection.execute(text("SELECT count(*) FROM accounts")).all()
        with ctx.db.writing() as session:  # a transaction that changes nothing commits nothing
            session.execute(text("SELECT 1"))
        assert read_state(connection) == before


def test_read_connections_cannot_write(ctx: AppContext, seller: Tenant) -> None:
    # A write on a read connection would not move that connection's own state (SQLite): it is refused.
    with ctx.db.reading() as session, pytest.raises(DBAPIError):
        session.execute(text("UPDATE accounts SET name = 'x' WHERE id = :id"), {"id": seller.account_id})


# --- GET /v2/orders follows every commit at once ------------------------------------------------------------


def _ids(client: TestClient, tenant: Tenant, **query: object) -> tuple[int, list[int]]:
    response = client.get("/v2/orders", params=tenant.q(**query))
    assert response.status_code == 200, response.text
    body = response.json()
    return body["Total"], [order["Id"] for order in body["Results"]]


def test_polling_reuses_the_page_until_something_commits(
    ctx: AppContext, backend: str, client: TestClient, seller: Tenant, add_order: AddOrder
) -> None:
    first = add_order(seller)
    # Several idle read connections in the pool, as after concurrent requests: a poll must still find the
    # state its predecessor left (SQLite states compare only on one connection, and read connections are
    # reused last-in-first-out).
    held = [ctx.db.read_engine.connect() for _ in range(3)]
    for connection in held:
        connection.exec_driver_sql("SELECT 1")
        connection.close()
    assert _ids(client, seller, Integrated="false") == (1, [first])
    assert _ids(client, seller, Integrated="false") == (1, [first])
    if backend == "sqlite":  # on PostgreSQL other test workers' commits may move the state in between
        assert ctx.db.state_cache("order_pages").hits >= 1
        assert ctx.db.state_cache("api_keys").hits >= 1
    second = add_order(seller)
    assert _ids(client, seller, Integrated="false") == (2, [first, second])
    done = client.put("/v2/orders/integrate", params=seller.q(), json=[{"OrderId": first, "Integrated": True}])
    assert done.status_code == 200, done.text
    assert _ids(client, seller, Integrated="false") == (1, [second])
    assert _ids(client, seller, Integrated="true") == (1, [first])
    # Any commit counts, whatever wrote it (here plain SQL on another connection, as another process would).
    with ctx.db.write_engine.begin() as connection:
        connection.execute(
            text("UPDATE orders SET integrated = :yes, version = version + 1 WHERE id = :id"),
            {"yes": True, "id": second},
        )
    assert _ids(client, seller, Integrated="false") == (0, [])


def test_a_revoked_key_gets_401_on_the_next_poll(
    ctx: AppContext, client: TestClient, seller: Tenant, add_order: AddOrder
) -> None:
    add_order(seller)
    for _ in range(2):
        assert client.get("/v2/orders", params=seller.q()).status_code == 200
    with ctx.db.writing() as session:
        accounts.revoke_key(session, seller.key_id)
    refused = client.get("/v2/orders", params=seller.q(offset="bad"))  # the key is checked before the paging
    assert refused.status_code == 401, refused.text
    assert client.get("/v2/orders", params=seller.q()).status_code == 401


def test_metrics_show_the_read_caches(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    add_order(seller)
    client.get("/v2/orders", params=seller.q())
    lines = [line for line in client.get("/metrics").text.splitlines() if line.startswith("alephee_read_cache{")]
    assert any('cache="order_pages",measure="entries"' in line for line in lines)
    assert any('cache="api_keys",measure="misses"' in line for line in lines)


def test_a_dropped_read_connection_is_replaced_on_checkout(
    ctx: AppContext, backend: str, client: TestClient, seller: Tenant, add_order: AddOrder
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite connections are files, not sessions a server can drop")
    add_order(seller)
    assert client.get("/v2/orders", params=seller.q()).status_code == 200
    with ctx.db.read_engine.connect() as connection:  # the pooled connection the next request will get
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    with ctx.db.writing() as session:  # as a server restart or an idle timeout would
        assert session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    response = client.get("/v2/orders", params=seller.q())
    assert response.status_code == 200, response.text
    assert response.json()["Total"] == 1
