"""A sweep of every documented /v2 operation with numbers written in ways the API does not accept.

Each query parameter, each path parameter and each property of a body element (top level and one level down)
is sent, one at a time, as a digit string Python's ``str.isdigit``/``int``/``Decimal`` would take or choke on:
superscripts, Arabic-Indic and fullwidth digits, underscores, digit strings beyond ``int``'s 4,300-digit limit.
Body elements are sent beside a plausible element built from the seeded tenant, so a batch gets past its
required fields. ``sweep`` returns every (operation, where, value, status) that answered 5xx.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi.testclient import TestClient

from tests.fuzz.seed import Seeded
from tests.orders.conftest import PDF, order_info

ODD_DIGITS = (
    "²",  # superscript two: str.isdigit() says yes, int() says no
    "٣",  # Arabic-Indic three: int() and Decimal() take it
    "３",  # fullwidth three
    "1_000",  # int() and Decimal() take underscores
    "9" * 5000,  # over int()'s 4,300-digit limit
    "-²",
)
# Text PostgreSQL cannot store (NUL) or that no identifier should carry.
CONTROL_TEXT = ("A\x00B", "A\x1fB\x7f")
AUTH = frozenset({"api_key", "accountid"})


@dataclass(frozen=True)
class Failure:
    """One request that answered a server error."""

    method: str
    path: str
    where: str
    value: str
    status: int

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.where}={self.value[:12]!r} -> {self.status}"


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    for key in ("anyOf", "oneOf"):
        options = [s for s in schema.get(key, []) if s.get("type") != "null"]
        if options:
            return _resolve(document, options[0])
    return schema


def _plausible(name: str, schema: dict[str, Any], tenant: Seeded) -> Any:
    """A value a real client could send for property ``name`` of this tenant."""
    lower = name.lower()
    if lower in ("orderid", "id") or (lower.endswith("orderid") and "own" not in lower and "external" not in lower):
        return tenant.order_ids[0]
    if lower in ("sku", "skus"):
        return tenant.skus[0]
    if lower in ("externalid", "externalids", "listingid"):
        return tenant.external_ids[0]
    if lower == "marketplaceid":
        return 100
    if lower == "pricelistid":
        return tenant.price_list_ids[0]
    kind = schema.get("type")
    if kind == "integer":
        return 1
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if kind == "object":
        return {}
    return "1"


def _element(document: dict[str, Any], schema: dict[str, Any], tenant: Seeded) -> dict[str, Any]:
    props = _resolve(document, schema).get("properties", {})
    return {name: _plausible(name, _resolve(document, sub), tenant) for name, sub in props.items()}


def _order(tenant: Seeded) -> dict[str, Any]:
    body = order_info("SWEEP-1", marketplace_id=100)
    body["Items"][0]["Product"] = {"Sku": tenant.skus[0]}
    return body


def _discount(tenant: Seeded) -> dict[str, Any]:
    return {
        "SKU": tenant.skus[0],
        "Marketplace": 100,
        "DiscountPercent": 10,
        "StartDate": "2030-03-01T12:00:00Z",
        "FinishDate": "2030-03-10T12:00:00Z",
    }


PACK = {
    "UnitType": 3,
    "Quantity": 1,
    "Dimensions": {"MeasureType": 1, "Height": 10, "Width": 20, "Depth": 30},
    "Weight": {"MeasureType": 3, "Gross": 1500, "Liquid": 1200},
}
# Complete elements of the operations whose generic element would stop at a missing required property,
# by method and the path's last segment.
EXAMPLES: dict[tuple[str, str], Callable[[Seeded], dict[str, Any]]] = {
    ("post", "orders"): _order,
    ("post", "products"): lambda tenant: {"SKU": tenant.skus[0], "Stock": {"Quantity": 1}},
    ("post", "documents"): lambda tenant: {"fileBase64": base64.b64encode(PDF).decode(), "documentNumber": "1"},
    **{(method, "discounts"): _discount for method in ("put", "post")},
    **{(method, tail): lambda tenant: dict(PACK) for method in ("put", "post") for tail in ("packaging", "packinfo")},
}
IDENTITY = frozenset({"orderid", "id", "sku", "externalid", "listingid", "code"})


def _body_cases(
    document: dict[str, Any], method: str, path: str, operation: dict[str, Any], tenant: Seeded
) -> Iterator[tuple[str, Any]]:
    """``(where, body-with-ODD)`` for every property; ``ODD`` is replaced by each odd value."""
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return
    top = _resolve(document, content["schema"])
    array = top.get("type") == "array"
    element_schema = _resolve(document, top["items"]) if array else top
    example = EXAMPLES.get((method, path.rsplit("/", 1)[-1]))
    base = example(tenant) if example else _element(document, element_schema, tenant)
    identity = {name: value for name, value in base.items() if name.lower() in IDENTITY}

    def wrap(element: dict[str, Any]) -> Any:
        return [base, element] if array else element

    for where, element in _variants(document, element_schema, base, tenant, DEPTH):
        yield where, wrap(element)
        name = where.split(".")[0]
        if "." not in where and identity and name not in identity:
            yield where, wrap({**identity, name: "ODD"})


DEPTH = 3


def _variants(
    document: dict[str, Any], schema: dict[str, Any], value: dict[str, Any], tenant: Seeded, depth: int
) -> Iterator[tuple[str, dict[str, Any]]]:
    """``value`` with one property (at any depth down to ``depth``) replaced by ``"ODD"``."""
    for name, sub in _resolve(document, schema).get("properties", {}).items():
        yield name, {**value, name: "ODD"}
        if depth <= 1:
            continue
        inner = _resolve(document, sub)
        current = value.get(name)
        if inner.get("type") == "array":
            items = _resolve(document, inner.get("items", {}))
            first = current[0] if isinstance(current, list) and current and isinstance(current[0], dict) else None
            element = first if first is not None else _element(document, items, tenant)
            for where, changed in _variants(document, items, element, tenant, depth - 1):
                yield f"{name}.{where}", {**value, name: [changed]}
        elif inner.get("properties"):
            element = current if isinstance(current, dict) and current else _element(document, inner, tenant)
            for where, changed in _variants(document, inner, element, tenant, depth - 1):
                yield f"{name}.{where}", {**value, name: changed}


def _substitute(body: Any, value: str, serial: int) -> Any:
    # A new ExternalOrderId each time: a repeated one would be answered as a replay without parsing.
    text = json.dumps(body).replace('"ODD"', json.dumps(value)).replace('"SWEEP-1"', f'"SWEEP-{serial}"')
    return json.loads(text)


def _path(path: str, tenant: Seeded, odd: tuple[str, str] | None) -> str:
    defaults = {
        "accountId": str(tenant.account_id),
        "orderId": str(tenant.order_ids[0]),
        "packId": tenant.pack_ids[0],
        "webhookId": str(tenant.webhook_ids[0]),
    }
    for name, value in defaults.items():
        if odd is not None and odd[0] == name:
            value = odd[1]
        path = path.replace("{" + name + "}", quote(value, safe=""))
    return path


def sweep(client: TestClient, tenant: Seeded, values: tuple[str, ...] = ODD_DIGITS) -> tuple[int, list[Failure]]:
    """Send every one of ``values`` everywhere; ``(requests sent, server errors)``."""
    document = client.get("/swagger/docs/v2").json()
    failures: list[Failure] = []
    sent = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            params = operation.get("parameters", [])
            cases: list[tuple[str, str, Any]] = []  # (where, kind, name-or-body)
            for param in params:
                if param["in"] == "query" and param["name"].lower() not in AUTH:
                    cases.append((param["name"], "query", param["name"]))
                elif param["in"] == "path":
                    cases.append((param["name"], "path", param["name"]))
            for where, body in _body_cases(document, method, path, operation, tenant):
                cases.append((where, "body", body))
            base_body = None
            if operation.get("requestBody"):
                base_body = next((b for _, b in _body_cases(document, method, path, operation, tenant)), [])
            for where, kind, target in cases:
                for value in values:
                    query: dict[str, Any] = {"API_KEY": tenant.api_key}
                    if "{accountId}" not in path:
                        query["accountId"] = tenant.account_id
                    url = _path(path, tenant, (target, value) if kind == "path" else None)
                    body: Any = None
                    if kind == "query":
                        query[target] = value
                    if kind == "body":
                        body = _substitute(target, value, sent)
                    elif base_body is not None:
                        body = _substitute(base_body, "1", sent)
                    response = client.request(method.upper(), url, params=query, json=body)
                    sent += 1
                    if response.status_code >= 500:
                        failures.append(Failure(method.upper(), path, where, value, response.status_code))
    return sent, failures
