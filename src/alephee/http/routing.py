"""Routes that bind query-parameter names case-insensitively (``api_key``, ``accountID``, ``integrated``),
and paths matched without regard to letter case or one trailing slash.

Each route knows its own query parameters (including those of its dependencies); before FastAPI reads
them, the query string is rewritten so every differently-cased name takes the declared spelling. Unknown
parameters are left alone and ignored, never rejected.

Query and path values follow the text rule of ``http.wire`` (NFC, no control characters): they are
normalised here, and a value with a control character is refused with a 400 once the caller is
authenticated and within its rate limit (``refuse_bad_text``, called by ``accounts.auth``), the documented order.

Paths: ``CanonicalPaths`` rewrites the request path before routing, so ``/v2/Orders/`` reaches ``/v2/orders``
exactly as the service being replaced (ASP.NET routing) did: literal segments match in any case, path
parameter values keep theirs, one trailing slash is dropped. Routes, their regexes and the OpenAPI document
stay as declared; a path already in canonical form costs one set lookup.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from alephee.errors import InvalidInput
from alephee.http.wire import clean_text

BAD_QUERY_TEXT = "Query parameter '{name}' {problem}"
BAD_PATH_TEXT = "Path parameter '{name}' {problem}"


class RefusedText(InvalidInput):
    """A query or path value holds a control character (400); the message names the parameter."""

    message = "A query or path value holds a control character"


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
        raise RefusedText(problem)


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
