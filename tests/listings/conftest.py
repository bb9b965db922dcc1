"""Fixtures of the listings tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from alephee.http.context import AppContext
from tests.fixtures.listings import Shop, build_shop
from tests.fixtures.tenants import Tenant


@pytest.fixture
def shop(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> Shop:
    """A seller with a small catalog published on three marketplaces."""
    return build_shop(ctx, make_tenant)
