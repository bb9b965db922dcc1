"""The pure listing rules, table-driven: why the hub keeps a listing paused, which status changes a client may
ask for, price changes and discount windows (no HTTP, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from alephee.config import Settings
from alephee.listings import rules, statuses
from alephee.listings.publish import MarketplaceNotConnected
from alephee.listings.query import UnknownListingStatus, parse_status_filter
from alephee.listings.schemas import ListingPriceIn

SETTINGS = Settings(_env_file=None)  # type: ignore[call-arg]
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("priced", "publish_quantity", "reason"),
    [
        (True, 5, None),
        (True, 1, None),
        (True, 0, statuses.REASON_STOCK),
        (True, -1, statuses.REASON_STOCK),
        # No price wins over no stock: it needs the seller's action.
        (False, 0, statuses.REASON_NO_PRICE),
        (False, 5, statuses.REASON_NO_PRICE),
    ],
)
def test_automatic_pause_reason(priced: bool, publish_quantity: int, reason: str | None) -> None:
    assert statuses.automatic_pause_reason(priced=priced, publish_quantity=publish_quantity) == reason


def test_only_the_hub_pauses_are_undone_automatically() -> None:
    assert {statuses.REASON_STOCK, statuses.REASON_NO_PRICE} == statuses.AUTOMATIC_REASONS
    assert statuses.REASON_USER not in statuses.AUTOMATIC_REASONS
    assert statuses.REASON_MARKETPLACE not in statuses.AUTOMATIC_REASONS


@pytest.mark.parametrize(
    ("current", "allowed"),
    [
        (statuses.ACTIVE, {statuses.PAUSED, statuses.FINISHED}),
        (statuses.PAUSED, {statuses.ACTIVE, statuses.FINISHED}),
        (statuses.UNDER_REVIEW, {statuses.FINISHED}),
        (statuses.INACTIVE, {statuses.FINISHED}),
        (statuses.FINISHED, set()),
    ],
)
def test_user_transitions(current: str, allowed: set[str]) -> None:
    assert statuses.USER_TRANSITIONS[current] == allowed
    assert allowed <= statuses.USER_TARGETS


@pytest.mark.parametrize(
    ("body", "change", "problems"),
    [
        ({"Price": "10.5"}, rules.PriceChange(fixed=Decimal("10.5"), margin=None, added=None), []),
        ({"Margin": "10"}, rules.PriceChange(fixed=None, margin=Decimal("10"), added=None), []),
        ({"AddedFixedValue": "-5"}, rules.PriceChange(fixed=None, margin=None, added=Decimal("-5")), []),
        ({}, None, [rules.PRICE_REQUIRED]),
        ({"Price": "10", "Margin": "5"}, None, [rules.PRICE_WITH_OTHERS]),
    ],
)
def test_price_change(body: dict[str, str], change: rules.PriceChange | None, problems: list[str]) -> None:
    got, found = rules.price_change(ListingPriceIn.model_validate(body))
    assert found == problems
    assert got == change


def test_no_price_object_is_refused() -> None:
    assert rules.price_change(None) == (None, [rules.PRICE_REQUIRED])


@pytest.mark.parametrize(
    ("base", "margin", "added", "expected"),
    [
        ("100", None, None, "100.00"),
        ("100", "10", None, "110.00"),
        ("100", None, "5.5", "105.50"),
        ("100", "-50", "-10", "40.00"),
        ("1", "-99.99", None, "0.01"),
        ("10", None, "-20", "0.01"),
        ("33.33", "3.333", None, "34.44"),
    ],
)
def test_auto_price(base: str, margin: str | None, added: str | None, expected: str) -> None:
    got = rules.auto_price(Decimal(base), Decimal(margin) if margin else None, Decimal(added) if added else None)
    assert got == Decimal(expected)


@pytest.mark.parametrize(
    ("price", "percent", "expected"),
    [("100", "0", "100.00"), ("100", "15", "85.00"), ("99.99", "33.3", "66.69"), ("10", "100", "0.00")],
)
def test_discounted(price: str, percent: str, expected: str) -> None:
    assert rules.discounted(Decimal(price), Decimal(percent)) == Decimal(expected)


HOUR = timedelta(hours=1)


@pytest.mark.parametrize(
    ("percent", "start", "finish", "problems"),
    [
        ("10", NOW, NOW + HOUR, []),
        ("0", NOW, NOW + HOUR, []),
        ("100", NOW, NOW + HOUR, []),
        (None, NOW, NOW + HOUR, [rules.PERCENT_REQUIRED]),
        ("100.01", NOW, NOW + HOUR, [rules.PERCENT_RANGE]),
        ("-1", NOW, NOW + HOUR, [rules.PERCENT_RANGE]),
        ("10.555", NOW, NOW + HOUR, [rules.PERCENT_RANGE]),
        ("10", NOW, NOW, [rules.FINISH_BEFORE_START]),
        ("10", NOW - 2 * HOUR, NOW - HOUR, [rules.FINISH_IN_PAST]),
        (None, NOW, NOW - HOUR, [rules.PERCENT_REQUIRED, rules.FINISH_BEFORE_START]),
    ],
)
def test_discount_problems(percent: str | None, start: datetime, finish: datetime, problems: list[str]) -> None:
    value = Decimal(percent) if percent is not None else None
    assert rules.discount_problems(value, start, finish, NOW) == problems


def test_mercadolibre_discount_limits() -> None:
    lo, hi, days = SETTINGS.ml_discount_min_percent, SETTINGS.ml_discount_max_percent, SETTINGS.ml_discount_max_days
    percent_problem = rules.ML_PERCENT.format(lo=lo, hi=hi)
    duration_problem = rules.ML_DURATION.format(days=days)
    window = timedelta(days=days)
    assert rules.mercadolibre_problems(Decimal(lo), NOW, NOW + window, SETTINGS) == []
    assert rules.mercadolibre_problems(Decimal(hi), NOW, NOW + HOUR, SETTINGS) == [percent_problem]
    assert rules.mercadolibre_problems(Decimal(lo) - 1, NOW, NOW + HOUR, SETTINGS) == [percent_problem]
    assert rules.mercadolibre_problems(Decimal(lo), NOW, NOW + window + HOUR, SETTINGS) == [duration_problem]


@pytest.mark.parametrize(
    ("text", "expected", "problem"),
    [
        ("2026-03-01T12:00:00Z", NOW, None),
        ("2026-03-01T12:00:00", NOW, None),
        ("2026-03-01T09:00:00-03:00", NOW, None),
        (None, None, rules.DATES_REQUIRED),
        ("  ", None, rules.DATES_REQUIRED),
        ("yesterday", None, rules.BAD_DATE.format(field="StartDate")),
    ],
)
def test_parse_utc(text: str | None, expected: datetime | None, problem: str | None) -> None:
    assert rules.parse_utc(text, "StartDate") == (expected, problem)


def test_unknown_status_filter_is_a_named_refusal() -> None:
    with pytest.raises(UnknownListingStatus) as info:
        parse_status_filter(SETTINGS, "42")
    assert info.value.status == 400
    assert info.value.message.startswith("Unknown listing status 42; known codes: ")


def test_publishing_on_a_marketplace_not_connected_is_a_named_refusal() -> None:
    refused = MarketplaceNotConnected(3, 7)
    assert (refused.status, refused.message) == (400, "Marketplace 3 is not connected to account 7")
