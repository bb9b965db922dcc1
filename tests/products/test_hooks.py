"""The catalog's extension points: changes told inside ``gathered`` reach the listeners once, merged per account,
at the end of the block, and not at all when the block fails."""

from __future__ import annotations

from typing import Any

import pytest

from alephee.products import hooks
from alephee.products.hooks import CatalogChange

heard: list[CatalogChange] = []


def listener(_session: Any, change: CatalogChange) -> None:
    """A listener registered by name for these tests."""
    heard.append(change)


class FakeSession:
    """What ``notify`` uses of a session: its ``info``."""

    def __init__(self) -> None:
        self.info: dict[str, Any] = {}


@pytest.fixture(autouse=True)
def only_this_listener(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hooks, "CHANGE_LISTENER_NAMES", [f"{__name__}:listener"])
    heard.clear()


def test_changes_inside_gathered_are_told_once_per_account_at_the_end() -> None:
    session: Any = FakeSession()
    with hooks.gathered(session):
        hooks.notify(session, CatalogChange(account_id=2, stock_product_ids=frozenset({5})))
        hooks.notify(session, CatalogChange(account_id=1, stock_product_ids=frozenset({3})))
        with hooks.gathered(session):  # a nested block joins the outer one
            hooks.notify(session, CatalogChange(account_id=2, stock_product_ids=frozenset({4, 5})))
        hooks.notify(
            session, CatalogChange(account_id=2, price_product_ids=frozenset({6}), price_list_ids=frozenset({9}))
        )
        assert heard == []
    assert heard == [
        CatalogChange(account_id=1, stock_product_ids=frozenset({3})),
        CatalogChange(
            account_id=2,
            stock_product_ids=frozenset({4, 5}),
            price_product_ids=frozenset({6}),
            price_list_ids=frozenset({9}),
        ),
    ]
    hooks.notify(session, CatalogChange(account_id=1, stock_product_ids=frozenset({7})))
    assert len(heard) == 3  # outside the block: at once


def test_nothing_is_told_when_the_block_fails() -> None:
    session: Any = FakeSession()
    with pytest.raises(RuntimeError), hooks.gathered(session):
        hooks.notify(session, CatalogChange(account_id=1, stock_product_ids=frozenset({3})))
        raise RuntimeError("rolled back")
    assert heard == [] and session.info == {}
