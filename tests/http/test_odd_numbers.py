"""No documented operation answers a server error to a number written with odd digits (tests/http/odd_numbers.py)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from alephee.context import AppContext
from tests.fuzz.seed import seed_tenant
from tests.http.odd_numbers import sweep


def test_no_operation_answers_5xx_to_odd_digits(ctx: AppContext, client: TestClient) -> None:
    tenant = seed_tenant(ctx.db, ctx.settings)
    sent, failures = sweep(client, tenant)
    operations = sorted({f"{f.method} {f.path}" for f in failures})
    print(f"odd-digit sweep: {sent} requests, {len(failures)} server errors on {len(operations)} operations")
    assert not failures, "\n".join([*operations, "", *map(str, failures)])
