"""The Mercado Libre client's seller calls on their own: documented caps checked before calling, the missed
notifications feed (``site_id`` required for items), 206 as success, network failures as transient errors."""

from __future__ import annotations

import httpx
import pytest

from alephee.channels.mercadolibre.client import MercadoLibreClient, MercadoLibreError, StatelessHttp
from tests.fixtures.database import make_settings

API = "http://ml.example"


def client(handler: httpx.MockTransport) -> MercadoLibreClient:
    settings = make_settings("sqlite://", mercadolibre_api_url=API)
    return MercadoLibreClient(settings, httpx.Client(transport=handler))


def test_caps_are_checked_before_calling() -> None:
    calls: list[httpx.Request] = []
    ml = client(httpx.MockTransport(lambda r: calls.append(r) or httpx.Response(200, json=[])))
    with pytest.raises(ValueError, match="at most 20"):
        ml.items_bulk("t", [f"MLA{n}" for n in range(21)])
    with pytest.raises(ValueError, match="1 to 50"):
        ml.shipment_labels("t", [str(n) for n in range(51)], "pdf")
    with pytest.raises(ValueError, match="site_id is required"):
        ml.missed_feeds("t", "3486171129139063", topic="items")
    assert calls == []


def test_missed_feeds() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        message = {"_id": "5da8", "resource": "/items/MLA820048955", "user_id": 468424240, "topic": "items"}
        return httpx.Response(200, json={"messages": [message]})

    [message] = client(httpx.MockTransport(answer)).missed_feeds("t", "3486171129139063", topic="items", site_id="MLA")
    assert message["resource"] == "/items/MLA820048955"
    assert dict(seen[0].url.params) == {
        "app_id": "3486171129139063",
        "offset": "0",
        "limit": "10",
        "topic": "items",
        "site_id": "MLA",
    }
    assert seen[0].headers["authorization"] == "Bearer t"


def test_partial_content_is_success_and_network_failures_are_transient() -> None:
    partial = client(
        httpx.MockTransport(
            lambda r: httpx.Response(206, json={"id": 1, "status": "paid"}, headers={"X-Content-Missing": "buyer"})
        )
    )
    assert partial.get_order("t", 1) == {"id": 1, "status": "paid"}

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(MercadoLibreError) as failed:
        client(httpx.MockTransport(down)).get_item("t", "MLA1")
    assert failed.value.status == 0 and failed.value.transient


def test_no_cookie_is_kept_or_sent_back() -> None:
    # Each call carries its bearer token: a cookie a response sets is not kept for the next call.
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": 1}, headers={"Set-Cookie": "_d2id=abc; Path=/"})

    settings = make_settings("sqlite://", mercadolibre_api_url=API)
    http = StatelessHttp(transport=httpx.MockTransport(answer))
    ml = MercadoLibreClient(settings, http)
    ml.get_order("t", "1")
    ml.get_order("t", "2")
    assert [r.headers.get("cookie") for r in seen] == [None, None]
    assert not http.cookies
    # The client it makes for itself is one of these.
    assert isinstance(MercadoLibreClient(settings)._http, StatelessHttp)
