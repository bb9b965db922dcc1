"""Request bodies: read after authentication and the rate limit, capped per endpoint (413, nothing
applied), parsed with orjson, property names matched case-insensitively by ``WireModel``.

Routes declare their body with ``json_array``/``json_object`` dependencies (so checks run in the
documented order) and ``body_doc(...)`` for the OpenAPI page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import orjson
from fastapi import Request
from pydantic import BaseModel, TypeAdapter, ValidationError

from alephee.errors import DomainError, InvalidInput, PayloadTooLarge, UnsupportedMediaType
from alephee.http.context import AppContext
from alephee.http.errors import describe_validation_errors
from alephee.http.wire import read_input

M = TypeVar("M", bound=BaseModel)

EMPTY_BODY = "A JSON request body is required"
BAD_JSON = "The request body is not valid JSON"
NOT_AN_ARRAY = "The request body must be a JSON array"
NOT_AN_OBJECT = "The request body must be a JSON object"
TOO_MANY = "Too many objects in one request: {count} sent, at most {cap} allowed. Nothing was processed"
WRONG_TYPE = "Content-Type must be application/json"


class NotJsonMedia(UnsupportedMediaType):
    """The Content-Type does not announce JSON (415)."""

    message = WRONG_TYPE


class EmptyBody(InvalidInput):
    """The request has no body (400)."""

    message = EMPTY_BODY


class InvalidJson(InvalidInput):
    """The body is not valid JSON (400)."""

    message = BAD_JSON


class BodyNotAnArray(InvalidInput):
    """The body must be a JSON array (400)."""

    message = NOT_AN_ARRAY


class BodyNotAnObject(InvalidInput):
    """The body must be a JSON object (400)."""

    message = NOT_AN_OBJECT


class InvalidBody(InvalidInput):
    """A property of the body is missing or invalid (400); the message names the first problem."""

    message = "Invalid request"


class TooManyObjects(PayloadTooLarge):
    """More objects than the endpoint accepts in one request; nothing was processed (413)."""

    message = TOO_MANY

    def __init__(self, count: int, cap: int) -> None:
        super().__init__(TOO_MANY.format(count=count, cap=cap))


# What reading a JSON body can refuse: an array of elements (``json_array``), or one object (``json_object``).
JSON_ARRAY_REFUSALS: tuple[type[DomainError], ...] = (
    NotJsonMedia,
    EmptyBody,
    InvalidJson,
    BodyNotAnArray,
    TooManyObjects,
)
JSON_OBJECT_REFUSALS: tuple[type[DomainError], ...] = (
    NotJsonMedia,
    EmptyBody,
    InvalidJson,
    BodyNotAnObject,
    InvalidBody,
    TooManyObjects,
)

# The UTF-8 byte order mark some serializers (Delphi, .NET) write before the JSON text; RFC 8259 §8.1 lets a
# parser ignore it, and the service being replaced did.
UTF8_BOM = b"\xef\xbb\xbf"
# ``text/json`` is what older .NET and Delphi clients send; ``+json`` suffixes (RFC 6839) are JSON too.
JSON_MEDIA_TYPES = frozenset({"application/json", "text/json"})

# Schemas referenced from ``body_doc``; merged into the OpenAPI components by ``alephee.app``.
EXTRA_SCHEMAS: dict[str, Any] = {}


async def capped_body(request: Request, limit: int) -> bytes | None:
    """The raw body, or None as soon as it exceeds ``limit`` bytes (declared or read; the rest is not read):
    for endpoints that must see the exact bytes (signatures) before anything else."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    raw = bytearray()
    async for chunk in request.stream():
        raw.extend(chunk)
        if len(raw) > limit:
            return None
    return bytes(raw)


def _cap(request: Request) -> int | None:
    ctx: AppContext = request.app.state.ctx
    route = request.scope.get("route")
    return ctx.settings.endpoint_limit(getattr(route, "name", None)).cap


def media_type(request: Request) -> str:
    """The request's media type, lower-cased, without parameters ("" when no Content-Type was sent)."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def is_json_media(content_type: str) -> bool:
    """Whether a media type (as ``media_type`` gives it) announces JSON; no Content-Type at all counts as JSON."""
    return not content_type or content_type in JSON_MEDIA_TYPES or content_type.endswith("+json")


async def read_json(request: Request) -> Any:
    """The parsed JSON body (415 for a non-JSON content type, 400 for empty or invalid JSON); a leading UTF-8
    byte order mark is skipped."""
    if not is_json_media(media_type(request)):
        raise NotJsonMedia()
    raw = await request.body()
    if raw.startswith(UTF8_BOM):
        raw = raw[len(UTF8_BOM) :]
    if not raw.strip():
        raise EmptyBody()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidJson() from None


def json_array() -> Callable[[Request], Awaitable[list[Any]]]:
    """Dependency: the body as a raw JSON array, at most the endpoint's cap of elements.

    Elements are validated one by one by the service, so a bad element fails alone (batch semantics).
    """

    async def dependency(request: Request) -> list[Any]:
        data = await read_json(request)
        if not isinstance(data, list):
            raise BodyNotAnArray()
        request.scope.setdefault("state", {})["items"] = len(data)
        cap = _cap(request)
        if cap is not None and len(data) > cap:
            raise TooManyObjects(len(data), cap)
        return data

    return dependency


def json_object(model: type[M], *, unwrap_single: bool = False) -> Callable[[Request], Awaitable[M]]:
    """Dependency: the body validated as ``model`` (400 with the first problem otherwise).

    ``unwrap_single``: a one-element array is accepted as its element (tolerance for clients that wrap the
    object); longer arrays still get 413 over the endpoint's cap, else 400.
    """

    async def dependency(request: Request) -> M:
        data = await read_json(request)
        if isinstance(data, list):
            cap = _cap(request)
            if cap is not None and len(data) > cap:
                raise TooManyObjects(len(data), cap)
            if not (unwrap_single and len(data) == 1):
                raise BodyNotAnObject()
            data = data[0]
        if not isinstance(data, dict):
            raise BodyNotAnObject()
        request.scope.setdefault("state", {})["items"] = 1
        return validate(model, data)

    return dependency


def validate(model: type[M], data: Any) -> M:
    """Validate ``data`` as ``model``, turning errors into a 400 ``InvalidInput``."""
    try:
        return read_input(model, data)
    except ValidationError as exc:
        raise InvalidBody(describe_validation_errors(exc.errors())) from None


def body_doc(model: type[BaseModel], *, array: bool, description: str = "") -> dict[str, Any]:
    """``openapi_extra`` documenting a JSON body of ``model`` (or an array of it)."""
    adapter: TypeAdapter[Any] = TypeAdapter(list[model] if array else model)  # type: ignore[valid-type]
    schema = adapter.json_schema(ref_template="#/components/schemas/{model}", mode="validation")
    EXTRA_SCHEMAS.update(schema.pop("$defs", {}))
    if not array and "$ref" not in schema:
        EXTRA_SCHEMAS[model.__name__] = schema
        schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {
        "requestBody": {
            "required": True,
            "description": description or "JSON body; property names are matched case-insensitively.",
            "content": {"application/json": {"schema": schema}},
        }
    }


def raw_field(raw: Any, name: str) -> tuple[bool, Any]:
    """``(present, value)`` of property ``name`` (matched case-insensitively) in a raw body element.

    Batch services use it to read elements that have not been (or could not be) validated.
    """
    if isinstance(raw, Mapping):
        wanted = name.lower()
        for key, value in raw.items():
            if isinstance(key, str) and key.lower() == wanted:
                return True, value
    return False, None


def raw_property(raw: Any, name: str) -> Any:
    """The value of property ``name`` (matched case-insensitively) in a raw body element, or None."""
    return raw_field(raw, name)[1]
