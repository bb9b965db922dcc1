"""The named refusals of the HTTP layer: each rule raises its own class, with the documented status and message."""

from __future__ import annotations

import pytest

from alephee.errors import DomainError
from alephee.http.dates import InvalidDate, parse_filter_datetime
from alephee.http.errors import responses_for
from alephee.http.paging import (
    ID_SORT,
    PAGING_REFUSALS,
    LimitTooSmall,
    NegativeOffset,
    OffsetTooLarge,
    Paging,
    UnknownSort,
)
from alephee.http.params import IntegerOutOfRange, NotABoolean, NotAnInteger, query_bool, query_int

PAGING = Paging.of([ID_SORT])


@pytest.mark.parametrize(
    ("offset", "limit", "sort", "refusal", "status", "message"),
    [
        ("-1", None, None, NegativeOffset, 416, "'offset' must be 0 or greater"),
        ("2147483648", None, None, OffsetTooLarge, 416, "'offset' is out of range"),
        (None, "0", None, LimitTooSmall, 416, "'limit' must be 1 or greater"),
        ("x", None, None, NotAnInteger, 400, "'offset' must be an integer"),
        (None, None, "Name", UnknownSort, 400, "Unknown sort 'Name'. Available sorts: Id"),
    ],
)
def test_paging_refusals(
    offset: str | None, limit: str | None, sort: str | None, refusal: type[DomainError], status: int, message: str
) -> None:
    with pytest.raises(refusal) as caught:
        PAGING.parse(100, offset, limit, sort)
    assert caught.value.status == status
    assert caught.value.message == message


def test_query_value_refusals() -> None:
    with pytest.raises(NotABoolean, match="'integrated' must be true or false"):
        query_bool("maybe", "integrated")
    with pytest.raises(IntegerOutOfRange, match="'n' must be an integer between 1 and 5"):
        query_int("9", "n", lo=1, hi=5)
    with pytest.raises(InvalidDate, match="Invalid date for 'dateFrom'"):
        parse_filter_datetime("yesterday", name="dateFrom")


def test_responses_for_groups_named_refusals_by_status() -> None:
    responses = responses_for(*PAGING_REFUSALS)
    assert sorted(responses) == [400, 416]
    assert "negative" in responses[416]["description"]
