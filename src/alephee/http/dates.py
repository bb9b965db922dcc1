"""Dates sent by clients: ``yyyy-mm-dd``, ``yyyy-mm-dd HH:mm`` or ISO 8601 (CF-00.4.1).

Two readings of a value without an offset ("naive"):

* **query-string filters** (``parse_filter_datetime``): UTC. Every timestamp the API writes is UTC
  (``...Z``), and clients re-send what they read, often re-formatted without the ``Z`` (the public Singer
  tap sends its ``DateCreated`` bookmark as ``yyyy-mm-dd HH:mm``); read in any other zone, such a value
  would move and hide the orders it was read from.
* **dates that are data** (``parse_datetime`` with the account's zone): the "UTC with local user time zone"
  fields of request bodies, e.g. ``DateCreated`` of POST /v2/orders (CF-00.4.1 rule 7).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta, tzinfo

from alephee.errors import InvalidInput

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_HM = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$")

BAD_DATE = "Invalid date for '{name}': use yyyy-mm-dd, yyyy-mm-dd HH:mm or ISO 8601"


class InvalidDate(InvalidInput):
    """A date is not yyyy-mm-dd, yyyy-mm-dd HH:mm or ISO 8601 (400)."""

    message = BAD_DATE

    def __init__(self, name: str) -> None:
        super().__init__(BAD_DATE.format(name=name))


def parse_filter_datetime(value: str, *, name: str = "date", end_of_day: bool = False) -> datetime:
    """Parse a query-string date filter to aware UTC. Naive values are UTC (see the module docstring).

    With ``end_of_day`` a bare date means the last instant of that day (so "to" filters are inclusive).
    """
    return parse_datetime(value, UTC, name=name, end_of_day=end_of_day)


def parse_datetime(value: str, tz: tzinfo, *, name: str = "date", end_of_day: bool = False) -> datetime:
    """Parse a date to aware UTC; naive values are local time of ``tz``."""
    text = value.strip()
    try:
        if _DATE.match(text):
            day = datetime.strptime(text, "%Y-%m-%d")
            local = datetime.combine(day.date(), time.max if end_of_day else time.min)
            return local.replace(tzinfo=tz).astimezone(UTC)
        if _DATE_HM.match(text):
            parsed = datetime.fromisoformat(text.replace(" ", "T"))
            if end_of_day and len(text) == 16:
                # "yyyy-mm-dd HH:mm" as an upper bound covers the whole minute.
                parsed = parsed + timedelta(seconds=59, microseconds=999_999)
            return parsed.replace(tzinfo=tz).astimezone(UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=tz)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        # OverflowError: an instant of year 1 or 9999 that UTC cannot hold (e.g. 0001-01-01T00:00+01:00).
        raise InvalidDate(name) from exc
