"""Value checks shared by the shipping writes (codes, integers, the way a refused value is shown)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from alephee.http.numbers import to_int

FIELD_REQUIRED = "{field} is required"
BAD_CODE = "Invalid {field} {value}: use {allowed}"
NOT_A_NUMBER = "{field} must be a number"
NOT_AN_INTEGER = "{field} must be an integer"
NOT_POSITIVE = "{field} must be greater than 0"
NEGATIVE = "{field} must be 0 or greater"
TOO_LARGE = "{field} must be at most {max}"


def as_int(value: Any) -> int | None:
    """An integer from JSON: int, integral float or integer text (``http.numbers``); never a boolean."""
    return to_int(value, whole_floats=True)


def shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def allowed_codes(table: Mapping[int, str]) -> str:
    return ", ".join(f"{code} ({name})" for code, name in table.items())
