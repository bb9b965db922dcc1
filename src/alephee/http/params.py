"""Bounds for integer parameters: ids are 32-bit in the database, so a larger number is a client error (400),
never an overflow deep in the driver."""

from __future__ import annotations

from alephee.http.numbers import int_from_text

MAX_INT32 = 2_147_483_647
MAX_INT64 = 9_223_372_036_854_775_807

BAD_BOOL = "'{name}' must be true or false"
BAD_INT = "'{name}' must be an integer"
INT_OUT_OF_RANGE = "'{name}' must be an integer between {lo} and {hi}"
TRUE_WORDS = frozenset({"true", "1", "yes"})
FALSE_WORDS = frozenset({"false", "0", "no"})


def query_bool(value: str | None, name: str) -> bool | None:
    """A boolean query value (true/false, 1/0, yes/no, any case); None when absent; 400 otherwise."""
    from alephee.errors import InvalidInput

    if value is None or not value.strip():
        return None
    text = value.strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise InvalidInput(BAD_BOOL.format(name=name))


def query_int(value: str | None, name: str, *, lo: int | None = None, hi: int | None = None) -> int | None:
    """An integer query value (``http.numbers``: ASCII digits only); None when absent; 400 when not an integer
    or outside ``lo..hi``."""
    from alephee.errors import InvalidInput

    if value is None or not value.strip():
        return None
    number = int_from_text(value)
    if number is None or (lo is not None and number < lo) or (hi is not None and number > hi):
        if lo is None and hi is None:
            raise InvalidInput(BAD_INT.format(name=name))
        raise InvalidInput(INT_OUT_OF_RANGE.format(name=name, lo=lo, hi=hi))
    return number
