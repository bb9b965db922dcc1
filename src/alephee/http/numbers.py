"""Numbers sent by clients: the one strict reading of every integer and decimal in a query, a path or a body.

Python's own readings are too lenient for a wire format: ``str.isdigit()`` accepts ``"²"`` (then ``int()``
raises), ``int()`` and ``Decimal()`` accept ``"1_000"``, Arabic-Indic (``"٣"``) and fullwidth (``"３"``)
digits and, for ``int()``, refuse more than 4,300 digits with an exception nobody expected. Here a number
written as text is ASCII only: an optional sign, the digits ``0-9`` (decimals: one ``.`` with digits on both
sides, no exponent), surrounding ASCII blanks tolerated, a bounded length. Anything else is "not a number",
which every caller turns into its documented 400 or per-element error, never a 500.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

# Text forms. ``[0-9]``, never ``\d`` (which matches every Unicode decimal digit).
_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_DECIMAL_TEXT = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
_SCIENTIFIC_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
BLANKS = " \t\r\n"
# 64-bit integers have at most 19 digits; one more leaves room for a leading zero. Longer is never an id,
# a quantity or a code of ours, so it is refused before Python converts it.
MAX_INT_DIGITS = 20
# NUMERIC(18,4) needs 22 characters; room for trailing zeros ("7430.000000"), never for a megabyte of digits.
MAX_DECIMAL_CHARS = 40

NOT_AN_INTEGER = "must be a whole number (no decimals)"
NOT_A_NUMBER = "must be a number with '.' as decimal separator and no thousands separators"
EMPTY_VALUE = "must not be empty"
OUT_OF_RANGE = "must be between {lo} and {hi}"


class NumberError(ValueError):
    """A value that is not a number of the expected kind; the message is safe to show to the client."""


def int_from_text(text: str) -> int | None:
    """The integer written in ``text`` (ASCII sign and digits, blanks around allowed), else None."""
    value = text.strip(BLANKS)
    if len(value) > MAX_INT_DIGITS + 1 or not _INT_TEXT.fullmatch(value):
        return None
    if len(value.lstrip("+-")) > MAX_INT_DIGITS:
        return None
    return int(value)


def plain_int(text: str) -> int | None:
    """The integer ``text`` is the plain writing of (``"123"``; not ``"+123"``, ``" 123"`` or ``"0123"``),
    else None: for ids stored as text and shown as numbers when they are numbers."""
    number = int_from_text(text)
    return number if number is not None and str(number) == text else None


def decimal_from_text(text: str, *, exponent: bool = False) -> Decimal | None:
    """The decimal written in ``text`` (ASCII, ``.`` as separator; ``1.5e3`` only with ``exponent``), else
    None."""
    value = text.strip(BLANKS)
    pattern = _SCIENTIFIC_TEXT if exponent else _DECIMAL_TEXT
    if len(value) > MAX_DECIMAL_CHARS or not pattern.fullmatch(value):
        return None
    return Decimal(value)


def to_int(value: Any, *, whole_floats: bool = False) -> int | None:
    """An integer from a JSON value (int, or integer text; whole floats such as ``2.0`` when asked), else None.

    Booleans are never numbers. No range is applied: callers bound their own values.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return int_from_text(value)
    if whole_floats and isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def to_decimal(value: Any, *, exponent: bool = False) -> Decimal | None:
    """An exact decimal from a JSON value (number, or decimal text; see ``decimal_from_text``), else None.
    Floats go through their shortest ``repr``, so ``0.1`` is ``Decimal("0.1")``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, str):
        return decimal_from_text(value, exponent=exponent)
    return None


def _in_range(number: int | Decimal, lo: int | Decimal | None, hi: int | Decimal | None) -> None:
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        raise NumberError(OUT_OF_RANGE.format(lo=lo, hi=hi))


def parse_int(value: Any, *, lo: int | None = None, hi: int | None = None, whole_floats: bool = False) -> int:
    """Like ``to_int`` but raising ``NumberError`` (not an integer, empty, or outside ``lo..hi``)."""
    if isinstance(value, str) and not value.strip(BLANKS):
        raise NumberError(EMPTY_VALUE)
    number = to_int(value, whole_floats=whole_floats)
    if number is None:
        raise NumberError(NOT_AN_INTEGER)
    _in_range(number, lo, hi)
    return number


def parse_decimal(value: Any, *, lo: Decimal | None = None, hi: Decimal | None = None) -> Decimal:
    """Like ``to_decimal`` but raising ``NumberError`` (not a number, empty, or outside ``lo..hi``)."""
    if isinstance(value, str) and not value.strip(BLANKS):
        raise NumberError(EMPTY_VALUE)
    number = to_decimal(value)
    if number is None:
        raise NumberError(NOT_A_NUMBER)
    _in_range(number, lo, hi)
    return number
