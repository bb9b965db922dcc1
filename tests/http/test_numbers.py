"""The strict number reader (http/numbers.py): examples and Hypothesis properties."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from alephee.http import numbers
from alephee.http.wire import WireModel, read_input
from tests.fixtures.strategies import UNICODE_DIGITS, odd_numbers

ASCII_NUMBER_CHARS = set("0123456789+- \t\r\n")


@pytest.mark.parametrize(
    "text",
    ["²", "-²", "٣", "３", "१", "1_000", "9" * 5000, "9" * 21, "", " ", "1.0", "1e3", "0x10", "--1", "+-1", "1 2"],
)
def test_int_text_refused(text: str) -> None:
    assert numbers.int_from_text(text) is None
    with pytest.raises(numbers.NumberError):
        numbers.parse_int(text)


@pytest.mark.parametrize(
    ("text", "value"), [("607", 607), (" 607 ", 607), ("-5", -5), ("+5", 5), ("007", 7), ("9" * 20, int("9" * 20))]
)
def test_int_text_accepted(text: str, value: int) -> None:
    assert numbers.int_from_text(text) == value
    assert numbers.parse_int(text) == value


@pytest.mark.parametrize(
    "text", ["٣.٥", "１.５", "1_000.5", "1,5", "1.", ".5", "1e3", "NaN", "Infinity", "1" * 41, "²"]
)
def test_decimal_text_refused(text: str) -> None:
    assert numbers.decimal_from_text(text) is None
    with pytest.raises(numbers.NumberError):
        numbers.parse_decimal(text)


def test_decimal_values() -> None:
    assert numbers.to_decimal("1288.44") == Decimal("1288.44")
    assert numbers.to_decimal(0.1) == Decimal("0.1")
    assert numbers.to_decimal(7) == Decimal(7)
    assert numbers.to_decimal(True) is None
    assert numbers.to_decimal(float("nan")) is None
    assert numbers.decimal_from_text("1.5e2", exponent=True) == Decimal("150")
    assert numbers.decimal_from_text("٣e2", exponent=True) is None


def test_json_values() -> None:
    assert numbers.to_int(True) is None and numbers.to_int(None) is None and numbers.to_int([1]) is None
    assert numbers.to_int(2.0) is None and numbers.to_int(2.0, whole_floats=True) == 2
    assert numbers.to_int(2.5, whole_floats=True) is None
    with pytest.raises(numbers.NumberError, match="between 1 and 10"):
        numbers.parse_int("11", lo=1, hi=10)


def test_plain_int_is_only_the_plain_writing() -> None:
    assert numbers.plain_int("123") == 123
    assert [numbers.plain_int(t) for t in ("+123", " 123", "0123", "١٢٣", "12a")] == [None] * 5


@given(st.one_of(odd_numbers(), st.text()))
def test_int_reader_accepts_only_ascii_sign_and_digits(text: str) -> None:
    """Never raises; whatever it accepts is ASCII digits (one sign, blanks around), at most 20 digits, and
    read exactly as Python reads it."""
    number = numbers.int_from_text(text)
    if number is None:
        return
    assert set(text) <= ASCII_NUMBER_CHARS
    assert "_" not in text and not any(char in UNICODE_DIGITS for char in text)
    assert number == int(text)
    assert len(text.strip(" \t\r\n").lstrip("+-")) <= numbers.MAX_INT_DIGITS


@given(st.one_of(odd_numbers(), st.text()))
def test_decimal_reader_accepts_only_ascii_decimals(text: str) -> None:
    number = numbers.decimal_from_text(text)
    if number is None:
        return
    assert set(text) <= ASCII_NUMBER_CHARS | {"."}
    assert number == Decimal(text.strip(" \t\r\n")) and number.is_finite()


@given(st.integers(min_value=-(10**19), max_value=10**19), st.sampled_from(["", " ", "\t"]))
def test_every_plain_integer_reads_back(number: int, blank: str) -> None:
    assert numbers.int_from_text(f"{blank}{number}{blank}") == number
    assert numbers.plain_int(str(number)) == number


@given(st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-(10**14), max_value=10**14))
def test_every_plain_decimal_reads_back(number: Decimal) -> None:
    text = format(number, "f")
    assert numbers.decimal_from_text(text) == number


class _Numbers(WireModel):
    Quantity: int | None = None
    Price: Decimal | None = None
    Rate: float | None = None


@given(odd_numbers(), st.sampled_from(["Quantity", "Price", "Rate"]))
def test_wire_number_fields_read_text_strictly(text: str, field: str) -> None:
    """A string sent for a number field of any wire model is read by the same reader: refused (a validation
    error, the per-element error of batches) or read exactly as ``http.numbers`` reads it."""
    expected = numbers.int_from_text(text) if field == "Quantity" else numbers.decimal_from_text(text)
    try:
        value = getattr(read_input(_Numbers, {field: text}), field)
    except ValidationError:
        assert expected is None
        return
    assert expected is not None and value == (float(expected) if field == "Rate" else expected)
