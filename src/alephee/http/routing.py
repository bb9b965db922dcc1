"""Routes that bind query-parameter names case-insensitively (``api_key``, ``accountID``, ``integrated``).

Each route knows its own query parameters (including those of its dependencies); before FastAPI reads
them, the query string is rewritten so every differently-cased name takes the declared spelling. Unknown
parameters are left alone and ignored, never rejected.

Query and path values follow the text rule of ``http.wire`` (NFC, no control characters): they are
normalised here, and a value with a control character is refused with a 400 once the caller is
authenticated and within its rate limit (``refuse_bad_text``, called by ``http.auth``), the documented order.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from alephee.errors import InvalidInput
from alephee.http.wire import clean_text

BAD_QUERY_TEXT = "Query parameter '{name}' {problem}"
BAD_PATH_TEXT = "Path parameter '{name}' {problem}"
# Where the first refused value waits for the caller to be authenticated (request scope "state").
TEXT_PROBLEM = "text_problem"
# Percent-escapes or raw bytes of control or non-ASCII characters: only such query strings need a look.
_SUSPECT = re.compile(rb"%(?:[01][0-9a-fA-F]|7[fF]|[89a-fA-F][0-9a-fA-F])|[\x00-\x1f\x7f-\xff]")


def clean_query(query_string: bytes) -> tuple[bytes, str | None]:
    """The query string with every value in NFC, and the first value refused by ``clean_text`` (a message)."""
    if not query_string or not _SUSPECT.search(query_string):
        return query_string, None
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    problem = None
    out: list[tuple[str, str]] = []
    for key, value in pairs:
        try:
            value = clean_text(value)
        except ValueError as exc:
            problem = problem or BAD_QUERY_TEXT.format(name=key, problem=exc)
        out.append((key, value))
    if out == pairs:
        return query_string, problem
    return urlencode(out).encode("latin-1"), problem


def clean_path_params(path_params: dict[str, Any]) -> str | None:
    """Path values in NFC (in place); the first value refused by ``clean_text`` (a message)."""
    problem = None
    for name, value in path_params.items():
        if isinstance(value, str) and not (value.isascii() and value.isprintable()):
            try:
                path_params[name] = clean_text(value)
            except ValueError as exc:
                problem = problem or BAD_PATH_TEXT.format(name=name, problem=exc)
    return problem


def refuse_bad_text(request: Request) -> None:
    """400 when a query or path value of the request was refused by the text rule (see the module doc)."""
    problem = request.scope.get("state", {}).get(TEXT_PROBLEM)
    if problem:
        raise InvalidInput(problem)


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
            query, problem = clean_query(scope.get("query_string", b""))
            scope["query_string"] = canonical_query(query, names)
            request.__dict__.pop("_query_params", None)
            problem = clean_path_params(scope.get("path_params", {})) or problem
            if problem:
                scope.setdefault("state", {})[TEXT_PROBLEM] = problem
            return await handler(request)

        return case_insensitive_handler


def api_router(**kwargs: Any) -> APIRouter:
    """An ``APIRouter`` using ``CaseInsensitiveRoute`` for every route."""
    return APIRouter(route_class=CaseInsensitiveRoute, **kwargs)
