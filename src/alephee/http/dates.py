"""Date filters in the query string: ``yyyy-mm-dd``, ``yyyy-mm-dd HH:mm`` or ISO 8601 (spec 00 §4.1)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from alephee.errors import InvalidInput

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_HM = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$")

BAD_DATE = "Invalid date for '{name}': use yyyy-mm-dd, yyyy-mm-dd HH:mm or ISO 8601"


def parse_filter_datetime(value: str, tz: ZoneInfo, *, name: str = "date", end_of_day: bool = False) -> datetime:
    """Parse a filter date to aware UTC. Naive values are the account's local time.

    With ``end_of_day`` a bare date means the last instant of that day (so "to" filters are inclusive).
    """
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
    except ValueError as exc:
        raise InvalidInput(BAD_DATE.format(name=name)) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)
