"""One group of an account's POST /v2/products batches at a time across server processes (PostgreSQL): a leader
takes the account's advisory lock first, and only then the batches waiting in its process, so the batches that
arrived while it waited for another process's group join its group."""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select, text

from alephee.http.context import AppContext
from alephee.products import batch_groups
from alephee.products.batch_groups import _LOCK_NAMESPACE, BatchGroups, lock_account
from alephee.products.models import Product
from tests.fixtures.products import add_product
from tests.fixtures.tenants import Tenant

SETTINGS: Any = SimpleNamespace(
    products_batch_group_items=2_000, products_batch_group_lock=True, products_batch_queue_limit=0
)


class FakeSession:
    def rollback(self) -> None:  # pragma: no cover - no group fails here
        pass


def _until(condition: Callable[[], bool]) -> None:
    for _ in range(1000):
        if condition():
            return
        threading.Event().wait(0.01)
    raise AssertionError("the condition never held")


def test_batches_arriving_while_the_leader_waits_for_the_lock_join_its_group(monkeypatch: pytest.MonkeyPatch) -> None:
    lock_wanted = threading.Event()
    lock_free = threading.Event()
    calls: list[list[list[Any]]] = []

    def lock(_session: Any, account_id: int) -> None:
        assert account_id == 1
        lock_wanted.set()
        assert lock_free.wait(10)  # another process's group holds the account

    def apply(_session: Any, _settings: Any, _account: int, _plist: Any, batches: list[list[Any]]) -> Any:
        calls.append(batches)
        return [(f"result of {b[0]}", True) for b in batches]

    monkeypatch.setattr(batch_groups, "lock_account", lock)
    monkeypatch.setattr(batch_groups, "update_product_batches", apply)
    groups = BatchGroups()
    answers: dict[str, Any] = {}

    def send(name: str) -> None:
        answers[name] = groups.apply(FakeSession(), SETTINGS, 1, None, [name], lambda _s: None)  # type: ignore[arg-type]

    threads = [threading.Thread(target=send, args=("a",))]
    threads[0].start()
    assert lock_wanted.wait(10)
    threads += [threading.Thread(target=send, args=(name,)) for name in ("b", "c")]
    for thread in threads[1:]:
        thread.start()

    def queued() -> bool:
        with groups._mutex:
            return len(groups._queues.get((1, None), [])) == 2

    _until(queued)
    lock_free.set()
    for thread in threads:
        thread.join(10)
    assert calls == [[["a"], ["b"], ["c"]]]  # one group: the leader took them once it had the lock
    assert answers == {"a": ("result of a", True), "b": ("result of b", True), "c": ("result of c", True)}
    assert groups._queues == {}


def _free(ctx: AppContext, account_id: int) -> bool:
    """Whether another transaction could take ``account_id``'s lock now (and it lets go of it at once)."""
    with ctx.db.write_engine.connect() as conn:
        taken = conn.execute(
            text("SELECT pg_try_advisory_xact_lock(:space, :account)"),
            {"space": _LOCK_NAMESPACE, "account": account_id},
        ).scalar_one()
        conn.rollback()
    return bool(taken)


def test_the_account_lock_is_held_until_the_transaction_ends(ctx: AppContext, tenant: Tenant) -> None:
    if ctx.db.dialect != "postgresql":
        pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE: there is no lock to take")
    with ctx.db.writing() as session:
        lock_account(session, tenant.account_id)
        assert not _free(ctx, tenant.account_id)
        assert _free(ctx, tenant.account_id + 1_000_000)  # other accounts do not wait
    assert _free(ctx, tenant.account_id)


def test_two_processes_groups_lose_no_stock_movement(ctx: AppContext, tenant: Tenant) -> None:
    """Two processes' queues (two ``BatchGroups``) send movements of the same products at once: every movement
    is applied exactly once, each batch answered with its own result."""
    with ctx.db.writing() as session:
        ids = [add_product(session, tenant.account_id, f"TWO-{n}", quantity=100) for n in range(3)]
    processes = [BatchGroups(), BatchGroups()]
    settings = ctx.settings.model_copy(update={"products_batch_group_lock": True})
    answers: list[Any] = []
    failures: list[BaseException] = []
    batch = [{"SKU": f"TWO-{n}", "Stock": {"Movement": -1}} for n in range(3)]

    def send(groups: BatchGroups) -> None:
        try:
            with ctx.db.writing() as session:
                answers.append(groups.apply(session, settings, tenant.account_id, None, batch, lambda s: s.commit()))
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=send, args=(processes[n % 2],)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures
    assert len(answers) == 12 and all(processed for _result, processed in answers)
    with ctx.db.writing() as session:
        quantities = session.scalars(select(Product.quantity).where(Product.id.in_(ids))).all()
    assert quantities == [88, 88, 88]
