"""The real server on a port: the accounts section end to end, and two processes sharing one Redis budget."""

from __future__ import annotations

import gzip
import uuid
from pathlib import Path

import brotli
import httpx
import orjson
import pytest
import redis

from alephee.accounts import service
from alephee.http.context import AppContext
from tests.fixtures.database import REDIS_URL
from tests.fixtures.orders import AddOrder
from tests.fixtures.servers import LiveServer, start_server
from tests.fixtures.tenants import Tenant


def _tenant(ctx: AppContext, rate_limit: int | None = None) -> tuple[int, str]:
    with ctx.db.writing() as session:
        account = service.create_account(session, name="E2E", account_type="seller", b2b_portal=True)
        service.add_marketplace(session, account.id, 100)
        service.create_price_list(session, account.id, "General")
        service.create_store(session, account.id, "Centro", allow_pickup_store=True)
        service.create_user(session, account.id, "e2e@shop.example")
        _, secret = service.create_key(session, [account.id], rate_limit=rate_limit)
        return account.id, secret


@pytest.mark.slow
def test_every_accounts_endpoint_on_the_real_server(ctx: AppContext, live_server: LiveServer) -> None:
    account_id, key = _tenant(ctx, rate_limit=1000)
    base = f"{live_server.base_url}/v2"
    with httpx.Client(timeout=10) as http:
        accounts = http.get(f"{base}/accounts", params={"api_key": key})
        assert accounts.status_code == 200 and accounts.json()["Results"][0]["Id"] == account_id
        for suffix in ("marketplaces", "pricelists", "stores", "fiscaltaxrules"):
            response = http.get(f"{base}/accounts/{account_id}/{suffix}", params={"API_KEY": key})
            assert response.status_code == 200, (suffix, response.text)
            assert response.headers["x-ratelimit-retryafter"] == "-1"
        token = http.get(
            f"{base}/accounts/{account_id}/logintoken", params={"API_KEY": key, "userEmail": "e2e@shop.example"}
        )
        assert token.status_code == 200 and "/login/token?token=" in token.json()["Url"]
        put = http.put(
            f"{base}/accounts/{account_id}/fiscaltaxrules",
            params={"API_KEY": key},
            json=[{"code": "IVA", "name": "IVA", "percentage": 21}],
        )
        assert put.status_code == 200 and put.json()["Quantities"]["Info"] == 1
        assert http.get(f"{live_server.base_url}/swagger/docs/v2").status_code == 200
        assert http.get(f"{base}/accounts").status_code == 401


@pytest.mark.slow
def test_two_processes_share_the_rate_limit_through_redis(ctx: AppContext, tmp_path: Path) -> None:
    account_id, key = _tenant(ctx, rate_limit=6)
    namespace = f"e2e-{uuid.uuid4().hex[:10]}"
    env = {"ALEPHEE_REDIS_URL": REDIS_URL, "ALEPHEE_RATE_LIMIT_NAMESPACE": namespace}
    _mkdirs(tmp_path / "a", tmp_path / "b")
    first = start_server(ctx.settings.database_url, tmp_path / "a", env)
    second = start_server(ctx.settings.database_url, tmp_path / "b", env)
    try:
        statuses = []
        remaining = []
        with httpx.Client(timeout=10) as http:
            for i in range(8):
                server = first if i % 2 == 0 else second
                response = http.get(f"{server.base_url}/v2/accounts/{account_id}/stores", params={"API_KEY": key})
                statuses.append(response.status_code)
                remaining.append(int(response.headers["x-ratelimit-remaining"]))
        # One budget of 6 for both processes: the 7th request, whichever process gets it, is refused.
        assert statuses == [200] * 6 + [429, 429], statuses
        assert remaining[:6] == [5, 4, 3, 2, 1, 0]
    finally:
        first.stop()
        second.stop()
        client = redis.Redis.from_url(REDIS_URL)
        for name in client.scan_iter(f"{namespace}*"):
            client.delete(name)


def _mkdirs(*paths: Path) -> None:
    for path in paths:
        path.mkdir(parents=True, exist_ok=True)


@pytest.mark.slow
def test_compression_nosniff_and_paths_on_the_real_server(
    ctx: AppContext, live_server: LiveServer, add_order: AddOrder
) -> None:
    account_id, key = _tenant(ctx, rate_limit=1000)
    tenant = Tenant(account_id=account_id, api_key=key, key_id=0)
    for _ in range(10):
        add_order(tenant)
    params = {"API_KEY": key, "accountId": account_id}
    url = f"{live_server.base_url}/v2/orders"

    def raw(target: str, accept: str, **headers: str) -> tuple[httpx.Response, bytes]:
        with httpx.Client(timeout=10, follow_redirects=False) as http:
            request_headers = {"Accept-Encoding": accept, **headers}
            with http.stream("GET", target, params=params, headers=request_headers) as response:
                return response, b"".join(response.iter_raw())

    plain, body = raw(url, "identity")
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    assert orjson.loads(body)["Total"] == 10
    for accept, encoding, decode in (("gzip", "gzip", gzip.decompress), ("gzip, deflate, br", "br", brotli.decompress)):
        for _ in range(2):  # the second one from the compressed pages
            response, sent = raw(url, accept)
            assert response.status_code == 200 and response.headers["content-encoding"] == encoding
            assert response.headers["vary"] == "Accept-Encoding"
            assert response.headers["x-content-type-options"] == "nosniff"
            assert int(response.headers["content-length"]) == len(sent) < len(body) / 3
            assert decode(sent) == body
    # Any letter case, one trailing slash, a hostile Host header: served, never redirected.
    response, sent = raw(f"{live_server.base_url}/V2/Orders/", "gzip", Host="evil.example")
    assert response.status_code == 200 and "location" not in response.headers and gzip.decompress(sent) == body
    missing, _ = raw(f"{live_server.base_url}/v2/nothing", "gzip")
    assert missing.status_code == 404 and missing.headers["x-content-type-options"] == "nosniff"
