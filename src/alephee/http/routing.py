"""Routes that bind query-parameter names case-insensitively (``api_key``, ``accountID``, ``integrated``).

Each route knows its own query parameters (including those of its dependencies); before FastAPI reads
them, the query string is rewritten so every differently-cased name takes the declared spelling. Unknown
parameters are left alone and ignored, never rejected.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute


def canonical_query(query_string: bytes, names: dict[str, str]) -> bytes:
    """Rename query keys to their declared spelling; the first occurrence of a name wins."""
    if not query_string:
        return query_string
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    changed = False
    for key, value in pairs:
        canonical = names.get(key.lower())
        if canonical is None:
            out.append((key, value))
            continue
        if canonical != key:
            changed = True
        if canonical in seen:
            changed = True
            continue
        seen.add(canonical)
        out.append((canonical, value))
    if not changed:
        return query_string
    return urlencode(out).encode("latin-1")


def query_aliases(dependant: Dependant) -> list[str]:
    """Every query-parameter name declared by a route and its (nested) dependencies."""
    names = [param.alias for param in dependant.query_params]
    for sub in dependant.dependencies:
        names.extend(query_aliases(sub))
    return names


def read_query(descriptions: Mapping[str, str]) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads these optional string query parameters itself.

    For the hottest routes: the OpenAPI page and the case-insensitive binding know the names, but FastAPI
    does not validate each one on every request (measured in docs/performance.md, Orders).
    """
    return {
        "parameters": [
            {"name": name, "in": "query", "required": False, "description": text, "schema": {"type": "string"}}
            for name, text in descriptions.items()
        ]
    }


def _documented_query(openapi_extra: dict[str, Any] | None) -> list[str]:
    parameters = (openapi_extra or {}).get("parameters", [])
    return [p["name"] for p in parameters if p.get("in") == "query"]


class CaseInsensitiveRoute(APIRoute):
    """An ``APIRoute`` whose query-parameter names are matched case-insensitively."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        declared = query_aliases(self.dependant) + _documented_query(self.openapi_extra)
        names = {alias.lower(): alias for alias in declared}

        async def case_insensitive_handler(request: Request) -> Response:
            scope = request.scope
            scope["query_string"] = canonical_query(scope.get("query_string", b""), names)
            request.__dict__.pop("_query_params", None)
            return await handler(request)

        return case_insensitive_handler


def api_router(**kwargs: Any) -> APIRouter:
    """An ``APIRouter`` using ``CaseInsensitiveRoute`` for every route."""
    return APIRouter(route_class=CaseInsensitiveRoute, **kwargs)
