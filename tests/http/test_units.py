"""Unit tests of the cross-cutting helpers (no database)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alephee.config import DEFAULT_LIMITS, Settings
from alephee.errors import InvalidInput
from alephee.http.dates import parse_datetime, parse_filter_datetime
from alephee.http.ratelimit import RateLimiter
from alephee.http.results import ActionResultBuilder
from alephee.http.routing import canonical_query
from alephee.http.wire import WireDateTime, WireDecimal, WireModel, format_utc

BA = ZoneInfo("America/Argentina/Buenos_Aires")


class Inner(WireModel):
    Quantity: int | None = None


class Outer(WireModel):
    SKU: str
    Stock: Inner | None = None
    KeyValue: str | None = None
    keyValue: str | None = None


class Out(WireModel):
    When: WireDateTime
    Price: WireDecimal


def test_json_property_names_are_case_insensitive_at_every_level() -> None:
    parsed = Outer.model_validate({"sku": "A1", "stock": {"QUANTITY": 2}, "unknown": 1})
    assert parsed.SKU == "A1"
    assert parsed.Stock is not None and parsed.Stock.Quantity == 2


def test_exact_spelling_wins_and_case_variant_fields_stay_apart() -> None:
    parsed = Outer.model_validate({"SKU": "exact", "sku": "other", "KeyValue": "a", "keyValue": "b"})
    assert parsed.SKU == "exact"
    assert (parsed.KeyValue, parsed.keyValue) == ("a", "b")


def test_timestamps_and_decimals_on_the_wire() -> None:
    body = Out(When=datetime(2024, 5, 1, 12, 0, 30, 123456, tzinfo=UTC), Price=Decimal("10.5000")).model_dump_json()
    assert body == '{"When":"2024-05-01T12:00:30Z","Price":10.5}'
    assert format_utc(datetime(2024, 5, 1, 9, 0, tzinfo=BA)) == "2024-05-01T12:00:00Z"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # Filters: a value without an offset is UTC, like every timestamp the API writes.
        ("2024-05-01", datetime(2024, 5, 1, 0, 0, tzinfo=UTC)),
        ("2024-05-01 10:30", datetime(2024, 5, 1, 10, 30, tzinfo=UTC)),
        ("2024-05-01T10:30:15", datetime(2024, 5, 1, 10, 30, 15, tzinfo=UTC)),
        ("2024-05-01T10:30:15Z", datetime(2024, 5, 1, 10, 30, 15, tzinfo=UTC)),
        ("2024-05-01T10:30:15-05:00", datetime(2024, 5, 1, 15, 30, 15, tzinfo=UTC)),
        ("2021-09-01T23:17:33.638Z", datetime(2021, 9, 1, 23, 17, 33, 638000, tzinfo=UTC)),
    ],
)
def test_filter_dates_accept_the_three_formats(value: str, expected: datetime) -> None:
    assert parse_filter_datetime(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # Dates that are data ("UTC with local user time zone"): a value without an offset is local time.
        ("2024-05-01", datetime(2024, 5, 1, 3, 0, tzinfo=UTC)),
        ("2024-05-01 10:30", datetime(2024, 5, 1, 13, 30, tzinfo=UTC)),
        ("2024-05-01T10:30:15", datetime(2024, 5, 1, 13, 30, 15, tzinfo=UTC)),
        ("2024-05-01T10:30:15Z", datetime(2024, 5, 1, 10, 30, 15, tzinfo=UTC)),
        ("2024-05-01T10:30:15-05:00", datetime(2024, 5, 1, 15, 30, 15, tzinfo=UTC)),
    ],
)
def test_local_dates_read_naive_values_in_the_zone(value: str, expected: datetime) -> None:
    assert parse_datetime(value, BA) == expected


def test_date_only_upper_bound_covers_the_whole_day() -> None:
    end = parse_filter_datetime("2024-05-01", end_of_day=True)
    assert end.date().isoformat() == "2024-05-01" and end.hour == 23
    local_end = parse_datetime("2024-05-01", BA, end_of_day=True)
    assert local_end.astimezone(BA).date().isoformat() == "2024-05-01"
    assert local_end.astimezone(BA).hour == 23


@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "2024-13-01",
        "01/05/2024",
        "2024-05-01 25:00",
        "",
        # Instants UTC cannot hold: 400, not a 500.
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
    ],
)
def test_bad_filter_dates_are_invalid_input(value: str) -> None:
    with pytest.raises(InvalidInput):
        parse_filter_datetime(value, name="dateFrom")
    with pytest.raises(InvalidInput):
        parse_datetime(value, BA, name="dateFrom")


@given(st.text(min_size=0, max_size=40))
def test_filter_dates_never_raise_anything_but_invalid_input(value: str) -> None:
    try:
        result = parse_filter_datetime(value)
    except InvalidInput:
        return
    assert result.tzinfo is not None


@given(st.datetimes(timezones=st.timezones()))
def test_dates_at_the_edges_of_the_calendar_are_parsed_or_refused(moment: datetime) -> None:
    for text in (moment.isoformat(), moment.replace(tzinfo=None).isoformat(sep=" ")):
        for parse in (parse_filter_datetime, lambda v: parse_datetime(v, BA)):
            try:
                result = parse(text)
            except InvalidInput:
                continue
            assert result.tzinfo is not None


def test_canonical_query_renames_and_keeps_unknown() -> None:
    names = {"api_key": "API_KEY", "accountid": "accountId"}
    out = canonical_query(b"api_key=K&ACCOUNTID=3&Foo=bar", names)
    assert out == b"API_KEY=K&accountId=3&Foo=bar"
    # First occurrence of a name wins.
    assert canonical_query(b"API_KEY=a&api_key=b", names) == b"API_KEY=a"
    assert canonical_query(b"", names) == b""


@given(st.lists(st.tuples(st.sampled_from(["api_key", "API_KEY", "Api_Key", "x", "accountID"]), st.text(max_size=5))))
def test_canonical_query_property(pairs: list[tuple[str, str]]) -> None:
    from urllib.parse import parse_qsl, urlencode

    names = {"api_key": "API_KEY", "accountid": "accountId"}
    out = parse_qsl(canonical_query(urlencode(pairs).encode(), names).decode(), keep_blank_values=True)
    keys = [k for k, _ in out]
    assert keys.count("API_KEY") <= 1 and keys.count("accountId") <= 1
    assert not any(k.lower() == "api_key" and k != "API_KEY" for k in keys)


def test_gcra_allows_the_minute_budget_then_refuses() -> None:
    limiter = RateLimiter(Settings(_env_file=None))  # type: ignore[call-arg]
    decisions = [limiter.hit(1, "orders.list", 5) for _ in range(6)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert [d.remaining for d in decisions[:5]] == [4, 3, 2, 1, 0]
    refused = decisions[-1]
    assert refused.retry_after >= 1 and refused.remaining == 0
    headers = dict(refused.headers())
    assert headers[b"x-ratelimit-retryafter"] == str(refused.retry_after).encode()
    assert dict(decisions[0].headers())[b"x-ratelimit-retryafter"] == b"-1"
    # Buckets are per key and per endpoint.
    assert limiter.hit(2, "orders.list", 5).allowed
    assert limiter.hit(1, "products.list", 5).allowed


def test_limits_table_defaults_and_overrides() -> None:
    settings = Settings(_env_file=None, limits={"orders.list": {"rpm": 99}})  # type: ignore[call-arg]
    assert settings.endpoint_limit("orders.list").rpm == 99
    assert settings.endpoint_limit("orders.list").cap == DEFAULT_LIMITS["orders.list"].cap
    assert settings.endpoint_limit("products.update").cap == 500
    day = datetime(2024, 5, 1, 15, 0, tzinfo=UTC)  # 12:00 in Buenos Aires
    night = datetime(2024, 5, 1, 3, 0, tzinfo=UTC)  # 00:00 in Buenos Aires
    assert settings.rpm_for("products.update", day) == 30
    assert settings.rpm_for("products.update", night) == 120


def test_action_result_levels_and_counts() -> None:
    builder = ActionResultBuilder("SKU")
    builder.item(0, "A")
    builder.item(1, "B").error("not found", "B")
    warn = builder.item(2, "C")
    warn.warning("clamped")
    warn.info("fyi")
    result = builder.build()
    assert result.Quantities.model_dump() == {"Ok": 1, "Error": 1, "Warning": 1, "Info": 0, "Total": 3}
    assert [i.ValidationLevel.Id for i in result.Items] == [99, 0, 1]
    assert result.Items[0].Messages == []
    assert builder.processed_any
