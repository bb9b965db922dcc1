"""Wire types: PascalCase out, case-insensitive property names in, the API's timestamp and number formats."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar

from fastapi import Response
from pydantic import BaseModel, ConfigDict, PlainSerializer, model_validator


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


class WireModel(BaseModel):
    """Base of request and response bodies.

    Field names are the spec's exact PascalCase names. Incoming property names are matched
    case-insensitively (real clients post ``{"sku": ..., "stock": {"quantity": 2}}``); unknown properties
    are ignored.
    """

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    _ci_names: ClassVar[dict[str, str]] = {}
    _exact_names: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        names: dict[str, str] = {}
        exact: set[str] = set()
        for name, field in cls.model_fields.items():
            names.setdefault(name.lower(), name)
            exact.add(name)
            if field.alias:
                names.setdefault(field.alias.lower(), field.alias)
                exact.add(field.alias)
        cls._ci_names = names
        cls._exact_names = frozenset(exact)

    @model_validator(mode="before")
    @classmethod
    def _case_insensitive_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        exact = cls._exact_names
        if all(key in exact for key in data):
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


class AddressOut(WireModel):
    """The API's Address type (stores, buyers, billing, receivers, couriers; spec 10 §4.3, spec 20 §2.4)."""

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
