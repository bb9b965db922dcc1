"""POST /v2/products batches of one account waiting for each other are applied together by the first of them,
each with its own result, exactly as if each had been applied alone after the ones before it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from alephee.http.context import AppContext
from alephee.products import batch_groups
from alephee.products.batch_groups import BatchGroups
from alephee.products.bulk_update import update_product_batches
from tests.fixtures.products import add_product
from tests.fixtures.tenants import Tenant

SETTINGS: Any = SimpleNamespace(
    products_batch_group_items=2_000, products_batch_group_lock=False, products_batch_queue_limit=0
)


class FakeSession:
    def __init__(self) -> None:
        self.rollbacks = 0

    def rollback(self) -> None:
        self.rollbacks += 1


class Applier:
    """Stands in for ``update_product_batches``: the first call waits until released; ``fail`` makes a call of
    more than one batch raise."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[list[list[Any]]] = []
        self.release = threading.Event()
        self.entered = threading.Event()
        self.fail = fail

    def __call__(self, _session: Any, _settings: Any, _account: int, _plist: Any, batches: list[list[Any]]) -> Any:
        self.calls.append(batches)
        if len(self.calls) == 1:
            self.entered.set()
            assert self.release.wait(10)
        if self.fail and len(batches) > 1:
            raise RuntimeError("the group failed")
        return [(f"result of {b[0]}", True) for b in batches]


@pytest.fixture
def applier(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Applier]]:
    def make(fail: bool = False) -> Applier:
        fake = Applier(fail)
        monkeypatch.setattr(batch_groups, "update_product_batches", fake)
        return fake

    yield make


def _send_while_the_first_is_applied(groups: BatchGroups, fake: Applier, names: list[str]) -> dict[str, Any]:
    """``names[0]`` leads; the others arrive while it is being applied, then it is released."""
    answers: dict[str, Any] = {}
    commits: list[str] = []

    def send(name: str, account: int = 1) -> None:
        answers[name] = groups.apply(FakeSession(), SETTINGS, account, None, [name], lambda _s: commits.append(name))  # type: ignore[arg-type]

    first = threading.Thread(target=send, args=(names[0],))
    first.start()
    assert fake.entered.wait(10)
    others = [threading.Thread(target=send, args=(name,)) for name in names[1:]]
    for thread in others:
        thread.start()
    # Wait until every other batch is queued behind the leader.
    for _ in range(1000):
        with groups._mutex:
            if len(groups._queues.get((1, None), [])) == len(names) - 1:
                break
        threading.Event().wait(0.01)
    fake.release.set()
    for thread in [first, *others]:
        thread.join(10)
    answers["commits"] = commits
    return answers


def test_batches_waiting_behind_a_leader_are_applied_together_each_with_its_result(
    applier: Callable[..., Applier],
) -> None:
    fake = applier()
    groups = BatchGroups()
    answers = _send_while_the_first_is_applied(groups, fake, ["a", "b", "c"])
    assert fake.calls[0] == [["a"]]
    assert sorted(fake.calls[1]) == [["b"], ["c"]]  # the next leader took both waiting batches
    assert len(fake.calls) == 2
    assert answers["a"] == ("result of a", True)
    assert answers["b"] == ("result of b", True) and answers["c"] == ("result of c", True)
    assert len(answers["commits"]) == 2  # one commit per group, by its leader
    assert groups._queues == {}


def test_a_failed_group_applies_each_batch_alone(applier: Callable[..., Applier]) -> None:
    fake = applier(fail=True)
    groups = BatchGroups()
    answers = _send_while_the_first_is_applied(groups, fake, ["a", "b", "c"])
    # The group of b and c failed: each was applied again alone.
    alone = sorted(batches for batches in fake.calls[2:])
    assert alone == [[["b"]], [["c"]]]
    assert answers["b"] == ("result of b", True) and answers["c"] == ("result of c", True)
    assert groups._queues == {}


def test_grouping_off_or_an_empty_batch_applies_alone(applier: Callable[..., Applier]) -> None:
    fake = applier()
    fake.release.set()
    groups = BatchGroups()
    off: Any = SimpleNamespace(products_batch_group_items=0, products_batch_queue_limit=0)
    assert groups.apply(FakeSession(), off, 1, None, ["a"], lambda _s: None) == ("result of a", True)  # type: ignore[arg-type]
    assert groups._queues == {}


def test_batches_applied_together_answer_as_if_applied_one_after_the_other(
    client: TestClient, ctx: AppContext, tenant: Tenant
) -> None:
    with ctx.db.writing() as session:
        add_product(session, tenant.account_id, "G-1", quantity=5)
        add_product(session, tenant.account_id, "G-2", quantity=1)
    first = [{"SKU": "G-1", "Stock": {"Movement": -3}}, {"SKU": "NOPE", "Stock": {"Quantity": 1}}]
    second = [{"SKU": "G-1", "Stock": {"Movement": -4}}, {"SKU": "G-2", "Stock": {"Movement": 2}}]
    third = [{"SKU": "NOPE", "Stock": {"Quantity": 1}}]
    with ctx.db.writing() as session:
        together = update_product_batches(session, ctx.settings, tenant.account_id, None, [first, second, third])
        session.rollback()
    alone = []
    for batch in (first, second, third):
        response = client.post("/v2/products", params=tenant.q(), json=batch)
        alone.append((response.json(), response.status_code == 200))
    assert [(result.model_dump(mode="json"), processed) for result, processed in together] == alone
    # The second batch's movement was clamped at 0 after the first one's: 5 - 3 = 2, then 2 - 4 → 0.
    assert alone[1][0]["Quantities"]["Warning"] == 1
    assert not alone[2][1]


def test_a_batch_past_the_queue_limit_is_refused_with_429_and_nothing_applied(
    applier: Callable[..., Applier],
) -> None:
    fake = applier()
    groups = BatchGroups()
    limited: Any = SimpleNamespace(
        products_batch_group_items=2_000, products_batch_group_lock=False, products_batch_queue_limit=1
    )
    answers: dict[str, Any] = {}

    def send(name: str) -> None:
        answers[name] = groups.apply(FakeSession(), limited, 1, None, [name], lambda _s: None)  # type: ignore[arg-type]

    first = threading.Thread(target=send, args=("a",))
    first.start()
    assert fake.entered.wait(10)
    second = threading.Thread(target=send, args=("b",))
    second.start()
    for _ in range(1000):
        with groups._mutex:
            if len(groups._queues.get((1, None), [])) == 1:
                break
        threading.Event().wait(0.01)
    with pytest.raises(batch_groups.BatchQueueFull) as refused:
        groups.apply(FakeSession(), limited, 1, None, ["c"], lambda _s: None)  # type: ignore[arg-type]
    assert refused.value.status == 429
    # Once the queue has drained, a batch is taken again.
    other = threading.Thread(target=send, args=("other",))
    fake.release.set()
    for thread in (first, second):
        thread.join(10)
    other.start()
    other.join(10)
    assert [batch for call in fake.calls for batch in call] == [["a"], ["b"], ["other"]]
    assert answers["b"] == ("result of b", True)
    assert groups._queues == {}
