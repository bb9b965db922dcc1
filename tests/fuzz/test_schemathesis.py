"""Schema fuzzing of every /v2 operation with schemathesis, against our own OpenAPI document.

Each operation is fuzzed as a seeded tenant (a valid key and account, real order/pack ids most of the time):
positive and negative data, the explicit examples and the coverage phase's boundary cases, then
``ALEPHEE_FUZZ_EXAMPLES`` (default 25) Hypothesis examples, one in three with a number written in digits
Python reads too leniently (tests/fixtures/strategies.py). Every response must be no 5xx, a documented
status with the documented content type and schema, and every 4xx not documented as a batch-result body
must be exactly ``{"Status", "Message"}`` with ``Status`` equal to the HTTP status.

``ALEPHEE_FUZZ_EXAMPLES=500 ALEPHEE_FUZZ_SEED=<n>`` is the release run (docs/reliability.md).
"""

from __future__ import annotations

import json
import os
import random
import zlib
from dataclasses import dataclass
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis.strategies import SearchStrategy
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from alephee.app import OPENAPI_URL, create_app
from alephee.config import Settings
from alephee.http.context import AppContext
from alephee.http.ratelimit import RateLimiter
from tests.fixtures.database import empty_tables
from tests.fixtures.seed import Seeded, seed_tenant
from tests.fixtures.strategies import with_odd_number

EXAMPLES = int(os.environ.get("ALEPHEE_FUZZ_EXAMPLES", "25"))
# Coverage phase: every case up to COVERAGE_ALL per operation, then one in COVERAGE_STRIDE (-1: all).
COVERAGE_ALL = int(os.environ.get("ALEPHEE_FUZZ_COVERAGE", "60"))
COVERAGE_STRIDE = 10
# A file to append "operation<TAB>phase<TAB>status" lines to (the figures of docs/reliability.md).
STATS = os.environ.get("ALEPHEE_FUZZ_STATS")
SEED = int(os.environ.get("ALEPHEE_FUZZ_SEED", "20240917"))

# The document is the same for every backend: load it once from an app that is never asked for data, then
# send each case to the backend's app (``case.call(app=...)``).
_DOC_APP = create_app(Settings(_env_file=None, database_url="sqlite://"))  # type: ignore[call-arg]


def alias_operation_ids(document: dict[str, Any]) -> list[str]:
    """Operation ids of the aliases: every operation but the first of those with the same route name (the
    operation id's prefix), the same parameters and the same body (``PUT /v2/productlisting`` beside
    ``PUT /v2/productlistings``, the PUT twin of a POST)."""
    seen: set[tuple[str, str, str]] = set()
    aliases = []
    for operations in document["paths"].values():
        for operation in operations.values():
            op_id = operation["operationId"]
            params = sorted((p["name"], p["in"]) for p in operation.get("parameters", []))
            key = (op_id.split("_v2_")[0], json.dumps(params), json.dumps(operation.get("requestBody"), sort_keys=True))
            if key in seen:
                aliases.append(op_id)
            seen.add(key)
    return aliases


ALIASES = alias_operation_ids(_DOC_APP.openapi())
ALIAS_EXAMPLES = max(1, EXAMPLES // 5)
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "generation": {"max-examples": EXAMPLES, "mode": "all", "database": "none"},
        "phases": {
            "stateful": {"enabled": False},
            # 405s come from the router, the same for every path: two unexpected methods are enough.
            "coverage": {"unexpected-methods": ["PATCH", "TRACE"]},
        },
        # Aliases share the canonical operation's handler: a short run (no coverage phase) checks the wiring.
        "operations": [
            {
                "include-operation-id": ALIASES,
                "phases": {"coverage": {"enabled": False}},
                "generation": {"max-examples": ALIAS_EXAMPLES},
            }
        ],
    }
)
schema = schemathesis.openapi.from_asgi(OPENAPI_URL, _DOC_APP, config=CONFIG)


# One generated case in three has one query value, path value or body leaf written as an odd number
# (superscript, Arabic-Indic or fullwidth digits, underscores, thousands of digits, stray signs, Unicode
# blanks; tests/fixtures/strategies.py): the schema alone would only ever produce ASCII digits.
@schema.hook
def flatmap_query(_context: schemathesis.HookContext, query: dict[str, Any]) -> SearchStrategy[Any]:
    return with_odd_number(query)


@schema.hook
def flatmap_path_parameters(_context: schemathesis.HookContext, path: dict[str, Any]) -> SearchStrategy[Any]:
    return with_odd_number(path)


@schema.hook
def flatmap_body(_context: schemathesis.HookContext, body: Any) -> SearchStrategy[Any]:
    return with_odd_number(body)


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _documented_bodies(case: schemathesis.Case, status: int) -> set[str]:
    """Names of the component schemas documented for ``status`` (empty: not documented, or inline)."""
    documented = case.operation.definition.raw.get("responses", {}).get(str(status))
    if documented is None:
        return set()
    schema = documented.get("content", {}).get("application/json", {}).get("schema", {})
    refs = [schema.get("$ref", "")] + [s.get("$ref", "") for s in schema.get("anyOf", []) + schema.get("oneOf", [])]
    return {ref.rsplit("/", 1)[-1] for ref in refs if ref}


def error_shape(response: Any, case: schemathesis.Case) -> None:
    """Every 4xx is exactly ``{"Status", "Message"}`` with ``Status`` equal to the HTTP status, unless the
    operation documents a batch-result body for that status and the body is one (its schema is then checked
    by response_schema_conformance)."""
    status = response.status_code
    if not 400 <= status < 500:
        return
    body = response.json()
    is_error = isinstance(body, dict) and set(body) == {"Status", "Message"}
    batch_bodies = _documented_bodies(case, status) - {"ErrorBody"}
    if batch_bodies and not is_error:
        return
    assert is_error, f"{status} body is not an error body: {body}"
    assert body["Status"] == status, f"Status {body['Status']} in a {status} response"
    assert isinstance(body["Message"], str) and body["Message"], "empty Message"


@dataclass
class FuzzRun:
    """One operation's run: the backend's app, the seeded tenant, the coverage cases seen so far."""

    app: FastAPI
    tenant: Seeded
    coverage_seen: int = 0

    def keep_coverage_case(self) -> bool:
        """The first ``COVERAGE_ALL`` coverage cases, then one in ``COVERAGE_STRIDE`` (deep bodies such as
        POST /v2/orders yield over a thousand); deterministic, as the phase's order is."""
        self.coverage_seen += 1
        if COVERAGE_ALL < 0 or self.coverage_seen <= COVERAGE_ALL:
            return True
        return (self.coverage_seen - COVERAGE_ALL) % COVERAGE_STRIDE == 0


@pytest.fixture
def fuzz_run(session_ctx: AppContext, session_app: FastAPI) -> FuzzRun:
    """The backend's app on fresh tables with one seeded tenant and a fresh rate limiter."""
    empty_tables(session_ctx.db)
    session_ctx.limiter = RateLimiter(session_ctx.settings)
    return FuzzRun(session_app, seed_tenant(session_ctx.db, session_ctx.settings, seed=SEED))


def _record(case: schemathesis.Case, status: int) -> None:
    if STATS:
        phase = case.meta.phase.name.value if case.meta else "-"
        with open(STATS, "a", encoding="utf-8") as out:
            out.write(f"{case.operation.label}\t{phase}\t{status}\n")


def _authenticate(case: schemathesis.Case, tenant: Seeded, rng: random.Random) -> None:
    query = dict(case.query or {})
    # Drop generated spellings of the auth parameters (names are case-insensitive), then set ours.
    for name in list(query):
        if name.lower() in ("api_key", "accountid"):
            del query[name]
    query["API_KEY"] = tenant.api_key
    path = dict(case.path_parameters or {})
    if "accountId" in path:
        path["accountId"] = str(tenant.account_id)
    else:
        query["accountId"] = str(tenant.account_id)
    # Aim at real resources most of the time (random ids only reach the 400/404 paths).
    if "orderId" in path and rng.random() < 0.7:
        path["orderId"] = str(rng.choice(tenant.order_ids))
    if "packId" in path and rng.random() < 0.7:
        path["packId"] = rng.choice(tenant.pack_ids)
    if "orderId" in query and rng.random() < 0.5:
        query["orderId"] = str(rng.choice(tenant.order_ids))
    case.query = query
    if case.path_parameters is not None:
        case.path_parameters = path


@schema.parametrize()
@hypothesis.settings(
    deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture, hypothesis.HealthCheck.too_slow],
)
def test_operation(case: schemathesis.Case, fuzz_run: FuzzRun) -> None:
    if case.meta is not None and case.meta.phase.name.value == "coverage" and not fuzz_run.keep_coverage_case():
        return
    rng = random.Random(zlib.crc32(f"{case.operation.label} {case.query} {case.body!r}".encode()))
    _authenticate(case, fuzz_run.tenant, rng)
    response = case.call(app=fuzz_run.app)
    _record(case, response.status_code)
    case.validate_response(response, checks=CHECKS)
    error_shape(response, case)
