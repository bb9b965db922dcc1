"""Fixtures local to the portal tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.fixtures.portal import Shop


@pytest.fixture
def shop(make_shop: Callable[..., Shop]) -> Shop:
    """The default shop."""
    return make_shop()
