"""The Tiendanube client on its own (an ``httpx.MockTransport`` plays the platform): the base URL and the two
required headers, every error body shape read into one refusal, 429/5xx/no answer transient with the wait the
store asked for, the per-store pacing (room taken before a call, resynced from the x-rate-limit-* headers, a
call that would wait too long given back), pages followed through ``Link``, and the lenient value parsing."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alephee.channels.tiendanube.client import (
    LOCAL_RATE_LIMITED,
    LeakyBucket,
    Pacer,
    SharedPacer,
    StoreAuth,
    TiendanubeClient,
    TiendanubeError,
    as_datetime,
    as_id,
    as_money,
    user_agent,
)
from tests.fixtures.database import REDIS_URL, make_settings

API = "http://tn.example"
STORE = StoreAuth(store_id=2**40 + 7, token="tok-123", version="v1", api_url=API)


def client(handler: Any, **overrides: Any) -> TiendanubeClient:
    settings = make_settings("sqlite://", tiendanube_api_url=API, tiendanube_auth_url=API, **overrides)
    return TiendanubeClient(settings, httpx.Client(transport=httpx.MockTransport(handler)))


def test_calls_carry_the_store_base_and_the_required_headers() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": STORE.store_id})

    tn = client(answer, tiendanube_user_agent="Hub (ops@hub.example)")
    assert tn.get(STORE, "/store") == {"id": STORE.store_id}
    tn.post(STORE, "/orders/1/close")
    tn.put(STORE, "/webhooks/3", {"event": "order/paid", "url": "https://hub.example/w"})
    get, close, put = seen
    assert str(get.url) == f"{API}/v1/{STORE.store_id}/store"
    assert get.headers["authentication"] == "bearer tok-123"
    assert "authorization" not in get.headers
    assert get.headers["user-agent"] == "Hub (ops@hub.example)"
    assert close.headers["content-length"] == "0"
    assert put.headers["content-type"].startswith("application/json")
    assert "tok-123" not in repr(STORE)


def test_the_default_user_agent_names_the_hub_and_its_public_url() -> None:
    settings = make_settings("sqlite://", public_url="https://hub.example/")
    assert user_agent(settings) == "Alephee hub (https://hub.example)"


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (422, {"name": ["can't be blank"]}, "name: can't be blank"),
        (
            422,
            {
                "code": 422,
                "message": "Unprocessable Entity",
                "description": "Validation error",
                "price": ["The price must be at least 0."],
                "stock": ["The stock must be an integer."],
            },
            "price: The price must be at least 0.; stock: The stock must be an integer.",
        ),
        (
            422,
            {"code": 422, "message": "Unprocessable Entity", "description": "Too many variants"},
            "Too many variants",
        ),
        (404, {"code": 404, "message": "Not Found", "description": "Product with such id does not exist"}, "Product"),
        (400, {"error": "Problems parsing JSON"}, "Problems parsing JSON"),
        (400, {"description": "Bad", "messages": {"shipping.carrier.carrier_id": ["should not be empty"]}}, "carrier"),
    ],
)
def test_refusals_are_permanent_and_say_what_was_refused(status: int, body: dict[str, Any], expected: str) -> None:
    tn = client(lambda r: httpx.Response(status, json=body))
    with pytest.raises(TiendanubeError) as caught:
        tn.get(STORE, "/products/1")
    assert caught.value.status == status and not caught.value.transient
    assert expected in caught.value.refusal()


def test_401_402_and_transient_failures() -> None:
    for status, flag in ((401, "unauthorized"), (402, "payment_required")):
        with pytest.raises(TiendanubeError) as caught:
            client(lambda r, s=status: httpx.Response(s)).get(STORE, "/store")
        assert getattr(caught.value, flag) and not caught.value.transient
    with pytest.raises(TiendanubeError) as caught:
        client(lambda r: httpx.Response(500, json={"code": 500, "description": None})).get(STORE, "/store")
    assert caught.value.transient

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("slow", request=request)

    with pytest.raises(TiendanubeError) as caught:
        client(down).get(STORE, "/store")
    assert caught.value.status == 0 and caught.value.transient and "tok-123" not in str(caught.value)


def test_a_429_is_transient_with_the_wait_until_the_bucket_is_empty() -> None:
    headers = {"x-rate-limit-limit": "40", "x-rate-limit-remaining": "0", "x-rate-limit-reset": "1500"}
    tn = client(lambda r: httpx.Response(429, headers=headers))
    with pytest.raises(TiendanubeError) as caught:
        tn.get(STORE, "/products")
    assert caught.value.transient and caught.value.retry_after == 1.5


def test_the_bucket_waits_for_room_and_learns_a_bigger_plan() -> None:
    bucket = LeakyBucket(40, 2.0)
    # 35 at once (an eighth of the bucket is left free), the 36th waits for one to leak.
    assert [bucket.take(0.0) for _ in range(36)] == [0.0] * 35 + [0.5]
    # One second leaked two: the 37th fits at once, the 38th waits again.
    assert [bucket.take(1.0), bucket.take(1.0)] == [0.0, 0.5]
    bucket.resync(10.0, 400, 399, 50)  # a "Next" plan: 10× the bucket and the leak
    assert (bucket.size, bucket.rate) == (400.0, 20.0)
    assert bucket.take(10.0) == 0.0


def test_a_call_that_would_wait_too_long_is_not_sent() -> None:
    calls: list[httpx.Request] = []
    pacer = Pacer(2, 0.5, max_wait=1.5)
    tn = TiendanubeClient(
        make_settings("sqlite://"),
        httpx.Client(transport=httpx.MockTransport(lambda r: calls.append(r) or httpx.Response(200, json={}))),
        pacer,
    )
    tn.get(STORE, "/a")
    tn.get(STORE, "/b")
    with pytest.raises(TiendanubeError) as caught:
        tn.get(STORE, "/c")  # the third would wait 2.5 s for room
    assert caught.value.transient and caught.value.retry_after is not None and len(calls) == 2
    # Another store has its own bucket.
    tn.get(StoreAuth(1, "other", "v1", API), "/a")
    assert len(calls) == 3


def test_threads_share_one_bucket_per_store() -> None:
    pacer = Pacer(4, 1000.0, max_wait=5.0)
    tn = TiendanubeClient(
        make_settings("sqlite://"), httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200))), pacer
    )
    threads = [threading.Thread(target=lambda: [tn.get(STORE, "/x") for _ in range(5)]) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    bucket = pacer._buckets[(API, STORE.store_id)]
    time.sleep(0.01)
    assert bucket.level <= bucket.size + 20


def test_pages_follow_the_link_header() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        headers = {"x-total-count": "6"}
        if page < 3:
            headers["link"] = f'<{API}/v1/{STORE.store_id}/products?page={page + 1}&per_page=2>; rel="next"'
        else:
            headers["link"] = f'<{API}/v1/{STORE.store_id}/products?page=1&per_page=2>; rel="first"'
        return httpx.Response(200, json=[{"id": page * 10}, {"id": page * 10 + 1}], headers=headers)

    pages = list(client(answer).pages(STORE, "/products", {"updated_at_min": "2026-01-01T00:00:00Z"}, per_page=2))
    assert [[p["id"] for p in page] for page in pages] == [[10, 11], [20, 21], [30, 31]]

    def unlinked(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        return httpx.Response(200, json=[{"id": page}] * 2, headers={"x-total-count": "5"})

    # Without Link headers: the next page while pages come full, up to the total.
    assert len(list(client(unlinked).pages(STORE, "/orders", per_page=2))) == 3


def test_the_token_exchange() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200, json={"access_token": "abc", "token_type": "bearer", "scope": "write_orders", "user_id": "1234567"}
        )

    grant = client(answer).token("4321", "secret", "code-1")
    assert (grant.store_id, grant.access_token, grant.scope) == (1234567, "abc", "write_orders")
    assert str(seen[0].url) == f"{API}/apps/authorize/token"
    assert "abc" not in repr(grant)
    with pytest.raises(TiendanubeError):
        client(lambda r: httpx.Response(400, json={"error": "invalid_grant"})).token("4321", "secret", "old")


def test_value_parsing() -> None:
    assert as_id("18446744") == 18446744 and as_id(2**63) is None and as_id(True) is None
    assert as_id("01HTMFDH09VC6E2Q8KGTGP44D3") == "01HTMFDH09VC6E2Q8KGTGP44D3"
    assert as_money("5190.00") == Decimal("5190.00") and as_money(10.5) == Decimal("10.5") and as_money("x") is None
    expected = datetime(2022, 11, 15, 19, 36, 59, tzinfo=UTC)
    assert as_datetime("2022-11-15T19:36:59+0000") == expected
    assert as_datetime("2022-11-15T16:36:59-03:00") == expected
    assert as_datetime({"date": "2022-11-15 19:36:59.000000", "timezone_type": 3, "timezone": "UTC"}) == expected
    assert as_datetime("2022-11-24T11:29:57.742Z") == datetime(2022, 11, 24, 11, 29, 57, 742000, tzinfo=UTC)
    assert as_datetime("soon") is None


@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_ids_round_trip_as_numbers_or_strings(value: int) -> None:
    assert as_id(value) == value and as_id(str(value)) == value


# --- pacing shared through Redis -----------------------------------------------------------------------------


def _shared_client(namespace: str, answer: Callable[[httpx.Request], httpx.Response], **settings: Any) -> Any:
    values = {
        "redis_url": REDIS_URL,
        "rate_limit_namespace": namespace,
        "tiendanube_bucket_size": 4,
        "tiendanube_leak_per_second": 0.5,
        "tiendanube_max_wait_seconds": 0.5,
    } | settings
    return TiendanubeClient(make_settings("sqlite://", **values), httpx.Client(transport=httpx.MockTransport(answer)))


def test_with_redis_two_processes_share_the_store_bucket() -> None:
    namespace = f"test-tn-{uuid.uuid4().hex[:12]}"
    ok = lambda r: httpx.Response(200, json={})  # noqa: E731
    first, second = _shared_client(namespace, ok), _shared_client(namespace, ok)
    assert isinstance(first.pacer, SharedPacer)
    for path in ("/a", "/b", "/c"):  # the room of a bucket of 4 (an eighth left free)
        first.get(STORE, path)
    with pytest.raises(TiendanubeError) as caught:
        second.get(STORE, "/d")  # another process, the same store: its bucket is full
    assert caught.value.code == LOCAL_RATE_LIMITED and caught.value.transient
    second.get(StoreAuth(1, "other", "v1", API), "/a")  # another store has its own
    assert first.pacer.fallbacks == second.pacer.fallbacks == 0


def test_with_redis_the_store_headers_fill_the_shared_bucket() -> None:
    namespace = f"test-tn-{uuid.uuid4().hex[:12]}"
    full = {"x-rate-limit-limit": "4", "x-rate-limit-remaining": "0", "x-rate-limit-reset": "8000"}
    busy = _shared_client(namespace, lambda r: httpx.Response(200, json={}, headers=full))
    busy.get(STORE, "/a")  # the store says its bucket is full (other apps' calls, another hub)
    other = _shared_client(namespace, lambda r: httpx.Response(200, json={}))
    with pytest.raises(TiendanubeError):
        other.get(STORE, "/b")


def test_without_redis_answering_each_process_paces_alone() -> None:
    namespace = f"test-tn-{uuid.uuid4().hex[:12]}"
    down = _shared_client(
        namespace, lambda r: httpx.Response(200, json={}), redis_url="redis://127.0.0.1:1/0", redis_timeout_seconds=0.2
    )
    for path in ("/a", "/b", "/c"):
        down.get(STORE, path)
    with pytest.raises(TiendanubeError):
        down.get(STORE, "/d")  # the process's own bucket still holds
    assert down.pacer.fallbacks == 1  # then Redis is left alone until its recheck
