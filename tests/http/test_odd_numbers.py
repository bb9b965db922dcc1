"""No documented operation answers a server error to a number written with odd digits or to text with control
characters, anywhere in a query, a path or a body (tests/fixtures/odd_numbers.py)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from alephee.http.context import AppContext
from tests.fixtures.odd_numbers import CONTROL_TEXT, sweep
from tests.fixtures.seed import seed_tenant


def test_no_operation_answers_5xx_to_odd_digits(ctx: AppContext, client: TestClient) -> None:
    tenant = seed_tenant(ctx.db, ctx.settings)
    sent, failures = sweep(client, tenant)
    operations = sorted({f"{f.method} {f.path}" for f in failures})
    print(f"odd-digit sweep: {sent} requests, {len(failures)} server errors on {len(operations)} operations")
    assert not failures, "\n".join([*operations, "", *map(str, failures)])


def test_no_operation_answers_5xx_to_control_characters(ctx: AppContext, client: TestClient) -> None:
    tenant = seed_tenant(ctx.db, ctx.settings)
    sent, failures = sweep(client, tenant, CONTROL_TEXT)
    operations = sorted({f"{f.method} {f.path}" for f in failures})
    print(f"control-character sweep: {sent} requests, {len(failures)} server errors on {len(operations)} operations")
    assert not failures, "\n".join([*operations, "", *map(str, failures)])
