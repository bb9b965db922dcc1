"""The cursor of the marketplaces' orders backstop (``pull_orders``), written and read the same way by every
connector: the latest change seen, and while a window has more pages its start and the next page's position."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from alephee.marketplaces.contract import parse_window_cursor, window_cursor

LATEST = datetime(2026, 5, 1, 12, 30, tzinfo=UTC)
WINDOW = datetime(2026, 5, 1, 11, 0, tzinfo=UTC)


def _parse(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def test_a_window_with_more_pages_is_read_back_as_written() -> None:
    local = LATEST.astimezone(timezone(timedelta(hours=-3)))
    written = window_cursor(None, local, WINDOW, 100, True)
    assert written == f"{LATEST.isoformat()} {WINDOW.isoformat()} 100"
    assert parse_window_cursor(written, _parse, 0) == (LATEST, WINDOW, 100)


def test_the_last_page_keeps_only_the_latest_change_or_the_cursor_given() -> None:
    assert window_cursor("before", LATEST, WINDOW, 3, False) == LATEST.isoformat()
    assert window_cursor("before", None, WINDOW, 3, False) == "before"
    assert window_cursor(None, None, WINDOW, 3, True) == f"{WINDOW.isoformat()} {WINDOW.isoformat()} 3"
    assert parse_window_cursor(LATEST.isoformat(), _parse, 1) == (LATEST, None, 1)


def test_an_odd_cursor_starts_the_window_again() -> None:
    assert parse_window_cursor(None, _parse, 1) == (None, None, 1)
    assert parse_window_cursor("", _parse, 0) == (None, None, 0)
    assert parse_window_cursor(f"{LATEST.isoformat()} nonsense 4", _parse, 1) == (LATEST, None, 1)
    assert parse_window_cursor(f"{LATEST.isoformat()} {WINDOW.isoformat()} x", _parse, 1) == (LATEST, WINDOW, 1)
    assert parse_window_cursor(f"{LATEST.isoformat()} {WINDOW.isoformat()} -5", _parse, 0) == (LATEST, WINDOW, 0)
