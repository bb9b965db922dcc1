"""A client that sends back a timestamp it read from GET /v2/orders, in any accepted format, gets exactly the
orders whose rendered field is at or after it, never fewer: whatever the account's time zone, for every date
filter paired with the field it reads (``dateCreatedFrom``/``saleDateFrom`` → ``DateCreated``,
``statusDateFrom`` → ``LastUpdated``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from alephee import clock
from alephee.accounts import service as accounts
from alephee.http.context import AppContext
from tests.fixtures.orders import AddOrder, utc
from tests.fixtures.tenants import Tenant

# Filter → the rendered field it pairs with.
PAIRS = {"dateCreatedFrom": "DateCreated", "saleDateFrom": "DateCreated", "statusDateFrom": "LastUpdated"}
# Far west, far east, half and quarter hours, daylight saving time.
ZONES = [
    "America/Argentina/Buenos_Aires",
    "UTC",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "America/St_Johns",
    "Europe/Madrid",
    "America/Los_Angeles",
]


def _read(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


# Ways a client re-sends a timestamp ``t`` it read (in the account's zone ``tz``): the text, and the instant the
# text denotes (naive texts are UTC: a re-formatted value, truncated to the minute or the day, is never later).
FORMATS: dict[str, Callable[[datetime, ZoneInfo], tuple[str, datetime]]] = {
    "as read": lambda t, tz: (t.strftime("%Y-%m-%dT%H:%M:%SZ"), t),
    "fraction": lambda t, tz: (t.strftime("%Y-%m-%dT%H:%M:%S.000Z"), t),
    "no Z": lambda t, tz: (t.strftime("%Y-%m-%dT%H:%M:%S"), t),
    "space": lambda t, tz: (t.strftime("%Y-%m-%d %H:%M:%S"), t),
    "tap (yyyy-mm-dd HH:mm)": lambda t, tz: (t.strftime("%Y-%m-%d %H:%M"), t.replace(second=0)),
    "T minutes": lambda t, tz: (t.strftime("%Y-%m-%dT%H:%M"), t.replace(second=0)),
    "date": lambda t, tz: (t.strftime("%Y-%m-%d"), t.replace(hour=0, minute=0, second=0)),
    "account's offset": lambda t, tz: (t.astimezone(tz).isoformat(), t),
    "UTC offset": lambda t, tz: (t.strftime("%Y-%m-%dT%H:%M:%S+00:00"), t),
}


def _all(client: TestClient, tenant: Tenant, **query: Any) -> list[dict[str, Any]]:
    body = client.get("/v2/orders", params=tenant.q(**query)).json()
    assert body["Total"] == len(body["Results"]) < 100, body.get("Message")
    results: list[dict[str, Any]] = body["Results"]
    return results


def _history(client: TestClient, tenant: Tenant, add_order: AddOrder) -> None:
    # Sales around midnight UTC (where a truncated day and the zones disagree), a few seconds apart within one
    # minute, and days apart; each arrives a few minutes after its sale and later changes again, some of them
    # by a change that is no status news (an ERP status), which moves only LastUpdated.
    base = utc(2026, 12, 3, 23, 58)
    offsets = [0, 7, 59, 61, 125, 180, 181, 60 * 24 * 60 + 5, 3 * 3600, 2 * 86400 - 1, 2 * 86400 + 30]
    for n, seconds in enumerate(offsets):
        sale = base + timedelta(seconds=seconds)
        arrived = sale + timedelta(minutes=n % 4 + 1)
        add_order(tenant, sale_date=sale, created_at=arrived, status_date=arrived + timedelta(seconds=17 * n))
    for n, order in enumerate(_all(client, tenant)):
        if n % 3 == 0:
            with clock.frozen(_read(order["LastUpdated"]) + timedelta(hours=5, seconds=n)):
                mark = [{"OrderId": order["Id"], "Integrated": False, "ErpStatus": f"seen-{n}"}]
                response = client.put("/v2/orders/integrate", params=tenant.q(), json=mark)
                assert response.json()["Results"][0]["Status"] == "200"


def test_a_timestamp_sent_back_returns_every_order_from_it_on(
    client: TestClient, ctx: AppContext, seller: Tenant, add_order: AddOrder
) -> None:
    _history(client, seller, add_order)
    # What the same query returns without the date (dateCreatedFrom/saleDateFrom keep the default
    # Integrated=false, statusDateFrom sees integrated orders too).
    everything = {name: _all(client, seller, **{name: "2000-01-01"}) for name in PAIRS}
    assert len(everything["dateCreatedFrom"]) == 11
    assert any(o["LastUpdated"] != o["DateCreated"] for o in everything["statusDateFrom"])

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        zone=hs.sampled_from(ZONES),
        name=hs.sampled_from(sorted(PAIRS)),
        pick=hs.integers(min_value=0, max_value=10),
        style=hs.sampled_from(sorted(FORMATS)),
    )
    def sent_back(zone: str, name: str, pick: int, style: str) -> None:
        with ctx.db.writing() as session:
            accounts.set_account_flags(session, seller.account_id, timezone=zone)
        field = PAIRS[name]
        orders = everything[name]
        read = _read(orders[pick]["DateCreated" if field == "DateCreated" else "LastUpdated"])
        text, instant = FORMATS[style](read, ZoneInfo(zone))
        got = {o["Id"] for o in _all(client, seller, **{name: text})}
        exactly = {o["Id"] for o in orders if _read(o[field]) >= instant}
        at_or_after_read = {o["Id"] for o in orders if _read(o[field]) >= read}
        assert got == exactly, (zone, name, text)
        assert at_or_after_read <= got and orders[pick]["Id"] in got, (zone, name, text)

    sent_back()
