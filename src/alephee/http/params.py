"""Bounds for integer parameters: ids are 32-bit in the database, so a larger number is a client error (400),
never an overflow deep in the driver."""

from __future__ import annotations

from alephee.errors import InvalidInput
from alephee.http.numbers import int_from_text

MAX_INT32 = 2_147_483_647
MAX_INT64 = 9_223_372_036_854_775_807

BAD_BOOL = "'{name}' must be true or false"
BAD_INT = "'{name}' must be an integer"
INT_OUT_OF_RANGE = "'{name}' must be an integer between {lo} and {hi}"
TRUE_WORDS = frozenset({"true", "1", "yes"})
FALSE_WORDS = frozenset({"false", "0", "no"})


class NotABoolean(InvalidInput):
    """A boolean query value is not true/false, 1/0 or yes/no (400)."""

    message = BAD_BOOL

    def __init__(self, name: str) -> None:
        super().__init__(BAD_BOOL.format(name=name))


class NotAnInteger(InvalidInput):
    """An integer query value is not an integer (400)."""

    message = BAD_INT

    def __init__(self, name: str) -> None:
        super().__init__(BAD_INT.format(name=name))


class IntegerOutOfRange(InvalidInput):
    """An integer query value is outside its bounds (400)."""

    message = INT_OUT_OF_RANGE

    def __init__(self, name: str, lo: int | None, hi: int | None) -> None:
        super().__init__(INT_OUT_OF_RANGE.format(name=name, lo=lo, hi=hi))


def query_bool(value: str | None, name: str) -> bool | None:
    """A boolean query value (true/false, 1/0, yes/no, any case); None when absent; 400 otherwise."""
    if value is None or not value.strip():
        return None
    text = value.strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise NotABoolean(name)


def query_int(value: str | None, name: str, *, lo: int | None = None, hi: int | None = None) -> int | None:
    """An integer query value (``http.numbers``: ASCII digits only); None when absent; 400 when not an integer
    or outside ``lo..hi``."""
    if value is None or not value.strip():
        return None
    number = int_from_text(value)
    if number is None or (lo is not None and number < lo) or (hi is not None and number > hi):
        if lo is None and hi is None:
            raise NotAnInteger(name)
        raise IntegerOutOfRange(name, lo, hi)
    return number
