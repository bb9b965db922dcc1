"""Field types of batch elements, read one by one through their schema (``Element.read``).

Each type says exactly what a property accepts on the wire, whatever pydantic's lax reading would allow:
ids are JSON integers or integer text (``http.numbers``), a code that must be a JSON integer refuses text,
flags are booleans or ``"true"``/``"false"`` text, and text is a string (or a JSON integer, shown as written)
under the wire text rule (``clean_text``, ``clean_identifier``), its length counted after cleaning. Limits
are ``Field`` constraints on the schema, so the OpenAPI page shows them.

An element is validated without the ``WIRE_INPUT`` context: these readers, not ``WireModel``'s string
reading, decide what a string means.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Self

from pydantic import BeforeValidator, Field, ValidationError

from alephee.http import numbers
from alephee.http.body import raw_field
from alephee.http.params import MAX_INT64
from alephee.http.results import NOT_AN_OBJECT
from alephee.http.wire import IDENTIFIER, WireModel, clean_identifier, clean_text

NOT_JSON_INTEGER = "must be a JSON integer"
NOT_A_FLAG = "must be true or false"
NOT_TEXT = "must be a string"


def _integer_or_text(value: Any) -> Any:
    number = numbers.to_int(value)
    if number is None:
        raise ValueError(numbers.NOT_AN_INTEGER)
    return number


def _json_integer(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError(NOT_JSON_INTEGER)


def _flag(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError(NOT_A_FLAG)


def _text(value: Any, *, identifier: bool) -> str:
    # A JSON integer is kept as the text it is written as (an ERP's numeric own order id).
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return (clean_identifier if identifier else clean_text)(str(value))
    raise ValueError(NOT_TEXT)


def _free_text(value: Any) -> str:
    return _text(value, identifier=False)


def _identifier_text(value: Any) -> str:
    return _text(value, identifier=True)


# A positive 64-bit id (an order id), as a JSON integer or integer text (ASCII digits, ``http.numbers``), never
# a boolean. The bounds come before the reader so that they constrain the integer it returns (and show in the
# JSON schema).
IdIn = Annotated[int, Field(gt=0, le=MAX_INT64), BeforeValidator(_integer_or_text)]
# An integer the contract wants as a JSON number: ``"20"`` is refused.
JsonIntIn = Annotated[int, BeforeValidator(_json_integer)]
# ``true``/``false`` as JSON booleans or as text (blanks around and any case tolerated).
FlagIn = Annotated[bool, BeforeValidator(_flag)]
# Free text (tabs and line breaks allowed) and identifiers (no control or format characters at all).
TextIn = Annotated[str, BeforeValidator(_free_text)]
IdentifierIn = Annotated[str, IDENTIFIER, BeforeValidator(_identifier_text)]


def picked(model: type[WireModel], raw: dict[Any, Any]) -> dict[str, Any]:
    """The properties of ``raw`` under ``model``'s names: for each, the first property whose name matches
    case-insensitively (``raw_field``, the rule of every raw batch element)."""
    out: dict[str, Any] = {}
    for name in model.model_fields:
        present, value = raw_field(raw, name)
        if present:
            out[name] = value
    return out


class Element(WireModel):
    """Base of a batch element's schema: ``read`` validates one raw element and names its problem."""

    # The message of an element that is not a JSON object.
    not_an_object: ClassVar[str] = NOT_AN_OBJECT

    @classmethod
    def problem(cls, bad: set[str]) -> str:
        """The element's message for the properties (top-level names) that failed validation."""
        raise NotImplementedError

    @classmethod
    def read(cls, raw: Any) -> tuple[Self | None, str | None]:
        """``(element, None)`` when ``raw`` fits the schema, else ``(None, problem)``."""
        if not isinstance(raw, dict):
            return None, cls.not_an_object
        try:
            return cls.model_validate(picked(cls, raw)), None
        except ValidationError as error:
            return None, cls.problem({str(e["loc"][0]) for e in error.errors() if e["loc"]})
