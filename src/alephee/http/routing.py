"""Routes that bind query-parameter names case-insensitively (``api_key``, ``accountID``, ``integrated``),
and paths matched without regard to letter case or one trailing slash.

Each route knows its own query parameters (including those of its dependencies); before FastAPI reads
them, the query string is rewritten so every differently-cased name takes the declared spelling. Unknown
parameters are left alone and ignored, never rejected.

Paths: ``CanonicalPaths`` rewrites the request path before routing, so ``/v2/Orders/`` reaches ``/v2/orders``
exactly as the service being replaced (ASP.NET routing) did: literal segments match in any case, path
parameter values keep theirs, one trailing slash is dropped. Routes, their regexes and the OpenAPI document
stay as declared; a path already in canonical form costs one set lookup.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send


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


class _Segment:
    """A node of the path tree: literal children by lower-cased text, and at most one parameter child."""

    __slots__ = ("end", "literals", "parameter")

    def __init__(self) -> None:
        self.literals: dict[str, tuple[str, _Segment]] = {}
        self.parameter: _Segment | None = None
        self.end = False


class PathCanonicalizer:
    """Maps a request path to the spelling of the route template it matches (see module docstring).

    Templates use FastAPI's ``{name}`` syntax, one segment per parameter. Where a segment could be a literal
    or a parameter value, the literal wins (as in ASP.NET routing), falling back to the parameter when the
    rest of the path only matches that way.
    """

    def __init__(self, templates: Iterable[str]) -> None:
        self._root = _Segment()
        self._exact: set[str] = set()
        for template in templates:
            node = self._root
            for part in template.strip("/").split("/"):
                if part.startswith("{") and part.endswith("}"):
                    node.parameter = node.parameter or _Segment()
                    node = node.parameter
                else:
                    node = node.literals.setdefault(part.lower(), (part, _Segment()))[1]
            node.end = True
            if "{" not in template:
                self._exact.add(template)

    def canonical(self, path: str) -> str:
        """``path`` with its literal segments spelled as declared and one trailing slash dropped; a path that
        matches no template only loses the trailing slash."""
        if path in self._exact:
            return path
        if len(path) > 1 and path.endswith("/"):
            path = path[:-1]
        found = self._walk(self._root, path[1:].split("/"), 0)
        return path if found is None else "/" + "/".join(found)

    def _walk(self, node: _Segment, parts: list[str], index: int) -> list[str] | None:
        if index == len(parts):
            return [] if node.end else None
        part = parts[index]
        literal = node.literals.get(part.lower())
        if literal is not None:
            rest = self._walk(literal[1], parts, index + 1)
            if rest is not None:
                return [literal[0], *rest]
        if node.parameter is not None and part:
            rest = self._walk(node.parameter, parts, index + 1)
            if rest is not None:
                return [part, *rest]
        return None


class CanonicalPaths:
    """ASGI layer in front of the router: request paths in canonical form (``PathCanonicalizer``)."""

    def __init__(self, app: ASGIApp, templates: Iterable[str]) -> None:
        self.app = app
        self.paths = PathCanonicalizer(templates)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            canonical = self.paths.canonical(path)
            if canonical != path:
                # ``raw_path`` keeps what the client sent (routing reads ``path``).
                scope["path"] = canonical
        await self.app(scope, receive, send)
