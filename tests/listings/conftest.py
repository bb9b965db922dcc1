"""Fixtures of the listings tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from alephee.http.context import AppContext
from tests.conftest import Tenant
from tests.listings.helpers import Shop, build_shop


@pytest.fixture
def shop(ctx: AppContext, make_tenant: Callable[..., Tenant]) -> Shop:
    """A seller with a small catalog published on three marketplaces."""
    return build_shop(ctx, make_tenant)
