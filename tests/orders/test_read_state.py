"""The read caches of GET /v2/orders (``db.read_states``, ``db.StateCache``): results reused only while the
counters they depend on are unchanged.

The rule they rely on: database triggers move an account's counter with every committed write to its orders
or order options (whatever runs it: ORM flush, bulk statement, plain SQL, another connection or process), and
the key lookup's counter with every change to keys, their links or their accounts. So every kind of write shows
on the very next poll, and a write to another account leaves this account's cached pages in use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError

from alephee.accounts import service as accounts
from alephee.db import KEY_SERIAL, ReadState, StateCache, read_states
from alephee.http.context import AppContext
from alephee.orders import privacy
from alephee.orders import statuses as st
from alephee.orders.account_options import set_account_options
from alephee.orders.models import Order
from alephee.sandbox import state as sandbox
from tests.fixtures import marketplaces as _marketplaces
from tests.fixtures.marketplaces import pull
from tests.fixtures.orders import AddOrder
from tests.fixtures.tenants import Tenant

# --- the cache ----------------------------------------------------------------------------------------------


def test_a_value_is_served_only_under_the_state_it_was_computed_in() -> None:
    cache: StateCache[str, int] = StateCache(max_entries=10)
    cache.put(ReadState(1, 7), "k", 1)
    assert cache.get(ReadState(1, 7), "k") == 1
    assert cache.get(ReadState(1, 8), "k") is None  # something committed since
    assert cache.get(ReadState(2, 7), "k") is None  # another counter's values do not compare
    cache.put(ReadState(1, 8), "k", 2)  # the newer state replaces the entry
    assert cache.get(ReadState(1, 7), "k") is None and cache.get(ReadState(1, 8), "k") == 2
    assert (cache.hits, cache.misses, len(cache)) == (2, 3, 1)


def test_the_cache_is_bounded_and_can_be_turned_off() -> None:
    cache: StateCache[int, int] = StateCache(max_entries=2)
    state = ReadState(KEY_SERIAL, 1)
    for key in (1, 2):
        cache.put(state, key, key)
    assert cache.get(state, 1) == 1  # 1 becomes the most recent
    cache.put(state, 3, 3)  # so 2 goes
    assert [cache.get(state, key) for key in (1, 2, 3)] == [1, None, 3]
    off: StateCache[int, int] = StateCache(max_entries=0)
    off.put(state, 1, 1)
    assert off.get(state, 1) is None and len(off) == 0


# --- the counters -------------------------------------------------------------------------------------------


def _serials(ctx: AppContext, account_id: int) -> tuple[Any, Any, Any]:
    with ctx.db.read_engine.connect() as connection:
        states = read_states(connection, account_id)
    assert states.account is not None and states.backlog is not None
    return states.keys.version, states.account.version, states.backlog.version


@contextmanager
def _moves(
    ctx: AppContext, account_id: int, *, keys: bool = False, account: bool = True, backlog: bool | None = None
) -> Iterator[None]:
    """Assert that what runs inside moves (or leaves) the key lookup's, the account's and its backlog's
    counters (the backlog's like the account's unless told)."""
    before = _serials(ctx, account_id)
    yield
    after = _serials(ctx, account_id)
    expected = (keys, account, account if backlog is None else backlog)
    assert tuple(a != b for a, b in zip(after, before, strict=True)) == expected, (before, after)


def test_every_write_to_an_accounts_orders_moves_its_counter_and_only_its(
    ctx: AppContext, seller: Tenant, make_tenant: Callable[..., Tenant], add_order: AddOrder
) -> None:
    other = make_tenant(marketplaces=(100,))
    with _moves(ctx, seller.account_id):
        order_id = add_order(seller)
    with _moves(ctx, other.account_id, account=False):
        add_order(seller)
    with _moves(ctx, seller.account_id), ctx.db.writing() as session:  # an ORM flush
        session.get_one(Order, order_id).erp_status = "picked"
    with _moves(ctx, seller.account_id), ctx.db.writing() as session:  # a bulk statement
        session.execute(update(Order).where(Order.account_id == seller.account_id).values(erp_status="x"))
    with _moves(ctx, seller.account_id), ctx.db.write_engine.begin() as connection:  # plain SQL, no hook
        connection.execute(text("UPDATE orders SET tracking_number = 'T1' WHERE id = :id"), {"id": order_id})
    with _moves(ctx, seller.account_id), ctx.db.writing() as session:
        privacy.redact_orders(session, [session.get_one(Order, order_id)])
    with _moves(ctx, seller.account_id), ctx.db.writing() as session:  # what an order shows depends on them
        set_account_options(session, seller.account_id, pending_payments=True)
    with _moves(ctx, seller.account_id), ctx.db.writing() as session:
        session.execute(delete(Order).where(Order.id == order_id))
    with _moves(ctx, seller.account_id, account=False), ctx.db.writing() as session:  # nothing matched
        session.execute(update(Order).where(Order.id == -1).values(erp_status="x"))


def test_writes_to_integrated_orders_leave_the_backlogs_counter(
    ctx: AppContext, seller: Tenant, add_order: AddOrder
) -> None:
    done = add_order(seller, integrated=True)
    with _moves(ctx, seller.account_id, backlog=False), ctx.db.writing() as session:
        session.execute(update(Order).where(Order.id == done).values(erp_status="shipped"))
    with _moves(ctx, seller.account_id, backlog=True):  # back in the integration cycle
        _set_integrated(ctx, done, False)
    with _moves(ctx, seller.account_id, backlog=True):  # out of it
        _set_integrated(ctx, done, True)
    with _moves(ctx, seller.account_id, backlog=False), ctx.db.writing() as session:
        session.execute(delete(Order).where(Order.id == done))
    with _moves(ctx, seller.account_id, backlog=True), ctx.db.writing() as session:  # options count for both
        set_account_options(session, seller.account_id, pending_payments=True)


def test_key_changes_move_the_key_lookups_counter_not_the_accounts(ctx: AppContext, seller: Tenant) -> None:
    with _moves(ctx, seller.account_id, keys=True, account=False), ctx.db.writing() as session:
        accounts.revoke_key(session, seller.key_id)
    with _moves(ctx, seller.account_id, keys=True, account=False), ctx.db.writing() as session:
        session.execute(text("UPDATE accounts SET timezone = 'America/Sao_Paulo' WHERE id = :id"),
                        {"id": seller.account_id})  # fmt: skip
    with _moves(ctx, seller.account_id, account=False), ctx.db.writing() as session:  # not read by the lookup
        session.execute(text("UPDATE accounts SET name = name || '.' WHERE id = :id"), {"id": seller.account_id})


def test_a_transaction_moves_the_counter_once_on_postgresql(
    ctx: AppContext, backend: str, seller: Tenant, add_order: AddOrder
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite counts every row (its writers are serialised anyway)")
    ids = [add_order(seller) for _ in range(3)]
    before = _serials(ctx, seller.account_id)[1]
    with ctx.db.writing() as session:
        for order_id in ids:
            session.execute(update(Order).where(Order.id == order_id).values(erp_status="a"))
        session.execute(update(Order).where(Order.id.in_(ids)).values(erp_status="b"))
    assert _serials(ctx, seller.account_id)[1] == before + 1


def test_truncating_the_orders_moves_every_counter_on_postgresql(
    ctx: AppContext, backend: str, seller: Tenant, make_tenant: Callable[..., Tenant], add_order: AddOrder
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    other = make_tenant(marketplaces=(100,))
    add_order(seller)
    add_order(other)
    with (
        _moves(ctx, seller.account_id, keys=True),
        _moves(ctx, other.account_id, keys=True),
        ctx.db.writing() as session,
    ):
        session.execute(text("TRUNCATE orders CASCADE"))


def test_a_rolled_back_write_leaves_the_counter(ctx: AppContext, seller: Tenant, add_order: AddOrder) -> None:
    order_id = add_order(seller)
    with _moves(ctx, seller.account_id, account=False), pytest.raises(RuntimeError), ctx.db.writing() as session:
        session.execute(update(Order).where(Order.id == order_id).values(erp_status="a"))
        session.flush()
        raise RuntimeError("abort")


def test_a_poll_reads_the_counters_as_it_takes_its_connection(
    ctx: AppContext, seller: Tenant, add_order: AddOrder
) -> None:
    # On PostgreSQL the pool's checkout ping answers them; a plain checkout never reuses that answer.
    order_id = add_order(seller)
    with ctx.db.polling(seller.account_id) as (_, before):
        pass
    with ctx.db.polling(seller.account_id) as (_, again):
        assert again == before
    _plain_sql(ctx, order_id)
    with ctx.db.polling(seller.account_id) as (_, after):
        assert after.account != before.account and after.keys == before.keys
    for _ in range(ctx.settings.db_pool_size + 1):  # every pooled connection, checked out without a poll
        with ctx.db.read_engine.connect() as connection:
            assert read_states(connection, seller.account_id) == after


def test_read_connections_cannot_write(ctx: AppContext, seller: Tenant) -> None:
    with ctx.db.reading() as session, pytest.raises(DBAPIError):
        session.execute(text("UPDATE accounts SET name = 'x' WHERE id = :id"), {"id": seller.account_id})


# --- GET /v2/orders follows every commit at once ------------------------------------------------------------


def _ids(client: TestClient, tenant: Tenant, **query: object) -> tuple[int, list[int]]:
    response = client.get("/v2/orders", params=tenant.q(**query))
    assert response.status_code == 200, response.text
    body = response.json()
    return body["Total"], [order["Id"] for order in body["Results"]]


def _page(client: TestClient, tenant: Tenant, **query: object) -> bytes:
    response = client.get("/v2/orders", params=tenant.q(**query))
    assert response.status_code == 200, response.text
    return response.content


def _fresh_page(ctx: AppContext, client: TestClient, tenant: Tenant, **query: object) -> bytes:
    """The page as a process with empty caches answers it."""
    ctx.db.clear_process_caches()
    return _page(client, tenant, **query)


def _status(ctx: AppContext, order_id: int, status: int) -> None:
    with ctx.db.writing() as session:
        order = session.get_one(Order, order_id)
        order.status, order.status_type = status, st.status_type_of(status)


def _bulk_erp_mark(ctx: AppContext, order_id: int) -> None:
    with ctx.db.writing() as session:
        session.execute(update(Order).where(Order.id == order_id).values(erp_status="in-erp"))


def _plain_sql(ctx: AppContext, order_id: int) -> None:
    # As another process would: no ORM, no hook.
    with ctx.db.write_engine.begin() as connection:
        connection.execute(text("UPDATE orders SET integrated = :yes WHERE id = :id"), {"yes": True, "id": order_id})


def _set_integrated(ctx: AppContext, order_id: int, integrated: bool) -> None:
    with ctx.db.write_engine.begin() as connection:
        connection.execute(text("UPDATE orders SET integrated = :v WHERE id = :id"), {"v": integrated, "id": order_id})


def _redact(ctx: AppContext, order_id: int) -> None:
    with ctx.db.writing() as session:
        privacy.redact_orders(session, [session.get_one(Order, order_id)])


def _remove(ctx: AppContext, order_id: int) -> None:
    with ctx.db.writing() as session:
        session.execute(delete(Order).where(Order.id == order_id))


WRITES: dict[str, Callable[[AppContext, int], None]] = {
    "status": lambda ctx, order_id: _status(ctx, order_id, st.CANCELLED),
    "soft delete": lambda ctx, order_id: _status(ctx, order_id, st.DELETED),
    "bulk statement": _bulk_erp_mark,
    "plain SQL": _plain_sql,
    "redaction": _redact,
    "removal": _remove,
}


@pytest.mark.parametrize("write", list(WRITES))
def test_the_next_poll_after_any_write_is_the_page_from_scratch(
    ctx: AppContext, client: TestClient, seller: Tenant, add_order: AddOrder, write: str
) -> None:
    ids = [add_order(seller) for _ in range(3)]
    for query in ({"Integrated": "false"}, {"statusType": st.TYPE_CANCELLED}):
        _page(client, seller, **query)  # cached
    WRITES[write](ctx, ids[1])
    for query in ({"Integrated": "false"}, {"statusType": st.TYPE_CANCELLED}):
        served = _page(client, seller, **query)
        assert served == _fresh_page(ctx, client, seller, **query), (write, query)


def test_polling_reuses_the_page_until_the_account_changes(
    ctx: AppContext, backend: str, client: TestClient, seller: Tenant, add_order: AddOrder
) -> None:
    first = add_order(seller)
    # Several idle read connections in the pool, as after concurrent requests: the counters are the
    # database's, so any of them serves the cached page.
    held = [ctx.db.read_engine.connect() for _ in range(3)]
    for connection in held:
        connection.exec_driver_sql("SELECT 1")
        connection.close()
    assert _ids(client, seller, Integrated="false") == (1, [first])
    pages, keys = ctx.db.state_cache("order_pages"), ctx.db.state_cache("api_keys")
    hits = (pages.hits, keys.hits)
    assert _ids(client, seller, Integrated="false") == (1, [first])
    assert (pages.hits, keys.hits) == (hits[0] + 1, hits[1] + 1)
    second = add_order(seller)
    assert _ids(client, seller, Integrated="false") == (2, [first, second])
    done = client.put("/v2/orders/integrate", params=seller.q(), json=[{"OrderId": first, "Integrated": True}])
    assert done.status_code == 200, done.text
    assert _ids(client, seller, Integrated="false") == (1, [second])
    assert _ids(client, seller, Integrated="true") == (1, [first])
    _plain_sql(ctx, second)
    assert _ids(client, seller, Integrated="false") == (0, [])


def test_a_write_to_another_account_keeps_this_accounts_pages(
    ctx: AppContext, client: TestClient, seller: Tenant, make_tenant: Callable[..., Tenant], add_order: AddOrder
) -> None:
    other = make_tenant(marketplaces=(100,))
    mine, theirs = add_order(seller), add_order(other)
    assert _ids(client, seller, Integrated="false") == (1, [mine])
    pages = ctx.db.state_cache("order_pages")
    hits, misses = pages.hits, pages.misses
    _plain_sql(ctx, theirs)
    new = add_order(other)
    assert _ids(client, seller, Integrated="false") == (1, [mine])
    assert (pages.hits, pages.misses) == (hits + 1, misses)
    assert _ids(client, other, Integrated="false") == (1, [new])


def test_writes_to_integrated_orders_keep_the_integration_cycles_pages(
    ctx: AppContext, client: TestClient, seller: Tenant, add_order: AddOrder
) -> None:
    waiting, done = add_order(seller), add_order(seller, integrated=True)
    assert _ids(client, seller, Integrated="false") == (1, [waiting])
    pages = ctx.db.state_cache("order_pages")
    hits, misses = pages.hits, pages.misses
    with ctx.db.writing() as session:  # the news of an order the ERP already has
        session.execute(update(Order).where(Order.id == done).values(erp_status="shipped"))
    served = _page(client, seller, Integrated="false")
    assert (pages.hits, pages.misses) == (hits + 1, misses)
    assert served == _fresh_page(ctx, client, seller, Integrated="false")
    assert _ids(client, seller, Integrated="true") == (1, [done])
    _set_integrated(ctx, done, False)  # the ERP asks for it again
    assert _ids(client, seller, Integrated="false") == (2, [waiting, done])
    _set_integrated(ctx, waiting, True)
    assert _ids(client, seller, Integrated="false") == (1, [done])


def test_granting_pending_payments_shows_on_the_next_poll(
    ctx: AppContext, client: TestClient, seller: Tenant, add_order: AddOrder
) -> None:
    paid, pending = add_order(seller), add_order(seller, payment_pending=True)
    with ctx.db.writing() as session:
        set_account_options(session, seller.account_id, pending_payments=False)
    assert _ids(client, seller, includePendingPayments="true") == (1, [paid])
    with ctx.db.writing() as session:
        set_account_options(session, seller.account_id, pending_payments=True)
    assert _ids(client, seller, includePendingPayments="true") == (2, [paid, pending])


def test_an_order_pulled_from_the_sandbox_shows_on_the_next_poll(
    ctx: AppContext, client: TestClient, open_shop: Callable[..., _marketplaces.Shop]
) -> None:
    shop = open_shop()
    assert _ids(client, shop.tenant) == (0, [])
    with ctx.db.writing() as session:
        sandbox.create_order(
            session,
            account_id=shop.account_id,
            marketplace_id=100,
            external_order_id="771",
            items=[{"external_listing_id": shop.external_ids["REM-01"], "quantity": 1, "unit_price": "10", "sku": "S"}],
            payments=[{"id": "p1", "status": "approved", "amount": "10"}],
        )
    assert pull(ctx).created == 1
    total, ids = _ids(client, shop.tenant)
    with ctx.db.reading() as session:
        assert ids == list(session.scalars(select(Order.id).where(Order.account_id == shop.account_id)))
    assert total == 1


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


def test_an_unlinked_account_gets_401_on_the_next_poll(
    ctx: AppContext, client: TestClient, seller: Tenant, add_order: AddOrder
) -> None:
    add_order(seller)
    for _ in range(2):
        assert client.get("/v2/orders", params=seller.q()).status_code == 200
    with ctx.db.writing() as session:
        session.execute(text("DELETE FROM api_key_accounts WHERE key_id = :key"), {"key": seller.key_id})
    assert client.get("/v2/orders", params=seller.q()).status_code == 401


@pytest.mark.parametrize("account", ["99999999999999999999", "-1", "0"])
def test_an_account_id_no_account_can_have_is_refused_not_counted(
    client: TestClient, seller: Tenant, account: str
) -> None:
    response = client.get("/v2/orders", params={**seller.q(), "accountId": account})
    assert response.status_code == 401, response.text


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
