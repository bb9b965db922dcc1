"""Value checks shared by the shipping writes (codes, integers, the way a refused value is shown)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from alephee.errors import InvalidInput
from alephee.http.numbers import to_int


class FieldRequired(InvalidInput):
    """A required value is missing (400)."""

    message = "{field} is required"

    def __init__(self, field: str) -> None:
        super().__init__(self.message.format(field=field))


class CodeInvalid(InvalidInput):
    """A code is not in its table (400; the message lists the allowed codes)."""

    message = "Invalid {field} {value}: use {allowed}"

    def __init__(self, field: str, value: Any, table: Mapping[int, str]) -> None:
        super().__init__(self.message.format(field=field, value=shown(value), allowed=allowed_codes(table)))


class NotANumber(InvalidInput):
    """A measure is not a number (400)."""

    message = "{field} must be a number"

    def __init__(self, field: str) -> None:
        super().__init__(self.message.format(field=field))


class NotAnInteger(InvalidInput):
    """A count or id is not an integer (400)."""

    message = "{field} must be an integer"

    def __init__(self, field: str) -> None:
        super().__init__(self.message.format(field=field))


class NotPositive(InvalidInput):
    """A value must be greater than 0 (400)."""

    message = "{field} must be greater than 0"

    def __init__(self, field: str) -> None:
        super().__init__(self.message.format(field=field))


class NegativeValue(InvalidInput):
    """A value must be 0 or greater (400)."""

    message = "{field} must be 0 or greater"

    def __init__(self, field: str) -> None:
        super().__init__(self.message.format(field=field))


class ValueTooLarge(InvalidInput):
    """A value is over its configured maximum (400)."""

    message = "{field} must be at most {max}"

    def __init__(self, field: str, maximum: Any) -> None:
        super().__init__(self.message.format(field=field, max=maximum))


def as_int(value: Any) -> int | None:
    """An integer from JSON: int, integral float or integer text (``http.numbers``); never a boolean."""
    return to_int(value, whole_floats=True)


def shown(value: Any) -> str:
    """A refused value as a message shows it (its repr, cut at 40 characters)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def allowed_codes(table: Mapping[int, str]) -> str:
    """The codes of a table as a message lists them: ``1 (Name), 2 (Other)``."""
    return ", ".join(f"{code} ({name})" for code, name in table.items())
