"""Fixtures the channel tests share."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from alephee.http.context import AppContext
from tests.channels.mercadolibre_standin_kit import Linked, linked_standin
from tests.fixtures.tenants import Tenant


@pytest.fixture
def linked(
    ctx: AppContext, tmp_path: Path, make_tenant: Callable[..., Tenant], use_channel: Callable[[str, Any], None]
) -> Iterator[Linked]:
    """A tenant connected to the Mercado Libre stand-in, its channel the one the hub uses (test modules that need
    another channel define their own ``linked``)."""
    with linked_standin(ctx, tmp_path, make_tenant) as kit:
        use_channel("mercadolibre", kit.channel)
        yield kit
