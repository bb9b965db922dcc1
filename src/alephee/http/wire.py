"""Wire types: PascalCase out, case-insensitive property names in, the API's timestamp and number formats."""

from __future__ import annotations

import html
import re
import types
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, TypeVar, Union, get_args, get_origin

from fastapi import Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, PlainSerializer, ValidationInfo, field_validator, model_validator

from alephee.http import numbers


def format_utc(value: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ``: real clients re-send these values as filters, so no fractions."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _decimal_out(value: Decimal) -> float | int:
    # JSON numbers, not strings; whole amounts stay integral-looking only if they are ints.
    return float(value)


WireDateTime = Annotated[datetime, PlainSerializer(format_utc, return_type=str, when_used="json")]
WireDecimal = Annotated[Decimal, PlainSerializer(_decimal_out, return_type=float, when_used="json")]


# --- Text sent by clients ----------------------------------------------------------------------------------
# One rule for every string in a request, the same on SQLite and PostgreSQL: Unicode NFC (so "CAFÉ" typed
# with a combining accent and with a precomposed "É" is one SKU), and no control characters (PostgreSQL
# cannot store NUL at all; SQLite would). Free text may keep tabs and line breaks; identifiers (SKUs,
# codes, external ids) may not, nor invisible format characters (zero-width, bidi overrides, BOM).

CONTROL_IN_TEXT = "must not contain control characters"
CONTROL_IN_IDENTIFIER = "must not contain control, format or line-break characters"
_TEXT_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_IDENTIFIER_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def clean_text(value: str) -> str:
    """``value`` in NFC; ``ValueError`` when it holds a control character other than tab, CR or LF."""
    if not value.isascii():
        value = unicodedata.normalize("NFC", value)
    if _TEXT_CONTROLS.search(value):
        raise ValueError(CONTROL_IN_TEXT)
    return value


def clean_identifier(value: str) -> str:
    """``value`` in NFC; ``ValueError`` when it holds any control character (tab and line breaks included)
    or an invisible format character (Unicode category Cf)."""
    if _IDENTIFIER_CONTROLS.search(value):
        raise ValueError(CONTROL_IN_IDENTIFIER)
    if not value.isascii():
        value = unicodedata.normalize("NFC", value)
        if any(unicodedata.category(char) == "Cf" for char in value):
            raise ValueError(CONTROL_IN_IDENTIFIER)
    return value


class _IdentifierMark:
    """Marks a ``str`` field as an identifier (``Identifier``) for ``WireModel``."""


IDENTIFIER = _IdentifierMark()
# A string field that names something (SKU, brand, code, external id): ``clean_identifier`` applies.
Identifier = Annotated[str, IDENTIFIER]


def _int_in(value: str) -> int:
    return numbers.parse_int(value)


def _decimal_in(value: str) -> Decimal:
    return numbers.parse_decimal(value)


def _float_in(value: str) -> float:
    return float(numbers.parse_decimal(value))


_NUMBER_READERS: dict[Any, Callable[[str], Any]] = {int: _int_in, Decimal: _decimal_in, float: _float_in}


def _text_reader(annotation: Any, metadata: list[Any]) -> Callable[[str], Any]:
    """How a string sent for a field of this type is read: the strict number reader when the field can only
    take the string as a number (``int``, ``Decimal``, ``float``, optional or in a union without ``str``),
    else the identifier rule (fields marked ``Identifier``) or the free-text rule."""
    options = get_args(annotation) if get_origin(annotation) in (Union, types.UnionType) else (annotation,)
    bases = []
    for option in options:
        if get_origin(option) is Annotated:
            option, *marks = get_args(option)
            metadata = [*metadata, *marks]
        bases.append(option)
    if str in bases:
        return clean_identifier if IDENTIFIER in metadata else clean_text
    return next((_NUMBER_READERS[base] for base in bases if base in _NUMBER_READERS), clean_text)


class WireModel(BaseModel):
    """Base of request and response bodies.

    Field names are the spec's exact PascalCase names. Incoming property names are matched
    case-insensitively (real clients post ``{"sku": ..., "stock": {"quantity": 2}}``); unknown properties
    are ignored. A string sent for a number field is read by ``http.numbers`` (ASCII digits only), any other
    string is NFC-normalised and refused with control characters (``clean_text``, ``clean_identifier``).
    """

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    _ci_names: ClassVar[dict[str, str]] = {}
    _exact_names: ClassVar[frozenset[str]] = frozenset()
    _text_readers: ClassVar[dict[str, Callable[[str], Any]]] = {}

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        names: dict[str, str] = {}
        exact: set[str] = set()
        readers: dict[str, Callable[[str], Any]] = {}
        for name, field in cls.model_fields.items():
            names.setdefault(name.lower(), name)
            exact.add(name)
            if field.alias:
                names.setdefault(field.alias.lower(), field.alias)
                exact.add(field.alias)
            readers[name] = _text_reader(field.annotation, field.metadata)
        cls._ci_names = names
        cls._exact_names = frozenset(exact)
        cls._text_readers = readers

    @field_validator("*", mode="before")
    @classmethod
    def _strict_text(cls, value: Any, info: ValidationInfo) -> Any:
        # Only strings of a request (``read_input``): stored rows and marketplace data rendered into
        # responses are shown as they are. JSON numbers, booleans and objects go to the field's own
        # validation untouched.
        if isinstance(value, str) and info.context is WIRE_INPUT and info.field_name is not None:
            return cls._text_readers.get(info.field_name, clean_text)(value)
        return value

    @model_validator(mode="before")
    @classmethod
    def _case_insensitive_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        exact = cls._exact_names
        if exact.issuperset(data):
            return data
        names = cls._ci_names
        out: dict[str, Any] = {key: value for key, value in data.items() if key in exact}
        for key, value in data.items():
            if key in exact or not isinstance(key, str):
                continue
            canonical = names.get(key.lower(), key)
            # An exact-case key wins over a differently-cased duplicate.
            out.setdefault(canonical, value)
        return out


M = TypeVar("M", bound=BaseModel)
# The validation context of request data: turns on the strict reading of numbers and text in WireModel.
WIRE_INPUT: dict[str, bool] = {"wire_input": True}


def read_input(model: type[M], data: Any) -> M:
    """``data`` from a request validated as ``model`` with the strict number and text rules
    (``pydantic.ValidationError`` when it does not fit)."""
    return model.model_validate(data, context=WIRE_INPUT)


class AddressOut(WireModel):
    """The API's Address type (stores, buyers, billing, receivers, couriers; CF-10.4.3, CF-20.2.4)."""

    CountryId: str | None = None
    StateCode: str | None = None
    State: str | None = None
    City: str | None = None
    Neighborhood: str | None = None
    StreetName: str | None = None
    StreetNumber: str | None = None
    ZipCode: str | None = None
    Notes: str | None = None
    Description: str | None = None
    Phone: str | None = None
    AlternativePhone: str | None = None


class ErrorBody(WireModel):
    """The documented error shape of every 4xx."""

    Status: int
    Message: str


class IdName(WireModel):
    """``{"Id", "Name"}`` enum-like object (catalog/product/account contexts)."""

    Id: int | str
    Name: str


JSON_MEDIA = "application/json; charset=utf-8"


def json_response(model: BaseModel | list[Any], status_code: int = 200) -> Response:
    """Serialise a wire model (or a list of them) straight to bytes with the documented names."""
    if isinstance(model, BaseModel):
        body = model.model_dump_json()
    else:
        from pydantic import TypeAdapter

        body = TypeAdapter(list[Any]).dump_json(model).decode()
    return Response(content=body, status_code=status_code, media_type=JSON_MEDIA)


def error_response(status: int, message: str) -> Response:
    """``{"Status": status, "Message": message}`` with that HTTP status."""
    return Response(
        content=ErrorBody(Status=status, Message=message).model_dump_json(),
        status_code=status,
        media_type=JSON_MEDIA,
    )


def html_page(title: str, body: str, status: int = 200) -> HTMLResponse:
    """A small HTML page (the channels' authorization callbacks): ``title`` escaped here, ``body`` already
    escaped by the caller; never cached."""
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>",
        status_code=status,
        headers={"cache-control": "no-store"},
    )
