"""Compressed responses over HTTP: GET /v2/orders from its cache of compressed pages (never stale), every other
text response through the middleware, files that are compressed already left alone."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from typing import Any

import brotli
import httpx
import orjson
from fastapi.testclient import TestClient

from alephee.http.context import AppContext
from alephee.orders import rendering
from tests.fixtures.orders import AddOrder
from tests.fixtures.tenants import Tenant

DECODE = {"gzip": gzip.decompress, "br": brotli.decompress}


def _raw(client: TestClient, path: str, accept: str | None, **params: Any) -> tuple[httpx.Response, bytes]:
    """The response and its body exactly as sent (the client does not decode it)."""
    headers = {"Accept-Encoding": accept or "identity"}
    with client.stream("GET", path, params=params, headers=headers) as response:
        return response, b"".join(response.iter_raw())


def test_orders_pages_are_compressed_and_never_stale(
    client: TestClient, ctx: AppContext, seller: Tenant, add_order: AddOrder
) -> None:
    ids = [add_order(seller) for _ in range(5)]
    plain, body = _raw(client, "/v2/orders", None, **seller.q())
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    assert plain.headers["vary"] == "Accept-Encoding" and plain.headers["x-content-type-options"] == "nosniff"
    for accept, encoding in (("gzip", "gzip"), ("gzip, deflate, br", "br"), ("br;q=0.1, gzip", "gzip")):
        response, sent = _raw(client, "/v2/orders", accept, **seller.q())
        assert response.status_code == 200 and response.headers["content-encoding"] == encoding, accept
        assert response.headers["vary"] == "Accept-Encoding"
        assert response.headers["content-type"].startswith("application/json")
        assert int(response.headers["content-length"]) == len(sent) < len(body) / 3
        assert DECODE[encoding](sent) == body
    # Polling again is served from the compressed pages: same bytes, nothing compressed anew.
    pages = rendering.compressed_pages_of(ctx.db)
    assert pages is not None
    hits = pages.hits
    _, sent_again = _raw(client, "/v2/orders", "gzip", **seller.q())
    assert pages.hits == hits + 1 and DECODE["gzip"](sent_again) == body
    # A change to one order of the page is in the very next compressed page.
    integrated = client.put("/v2/orders/integrate", params=seller.q(), json=[{"OrderId": ids[0], "OwnOrderId": "E-1"}])
    assert integrated.status_code == 200
    _, after = _raw(client, "/v2/orders", "gzip", **seller.q(idFrom=ids[0], idTo=ids[-1]))
    _, plain_after = _raw(client, "/v2/orders", None, **seller.q(idFrom=ids[0], idTo=ids[-1]))
    assert DECODE["gzip"](after) == plain_after
    first = orjson.loads(DECODE["gzip"](after))["Results"][0]
    assert first["Id"] == ids[0] and first["IntegratedOrderId"] == "E-1"


def test_small_pages_errors_and_206_keep_their_shape(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    empty, body = _raw(client, "/v2/orders", "gzip, br", **seller.q())
    assert empty.status_code == 200 and "content-encoding" not in empty.headers
    assert orjson.loads(body)["Results"] == []
    unauthorized, body = _raw(client, "/v2/orders", "gzip, br", API_KEY="nope", accountId=1)
    assert unauthorized.status_code == 401 and "content-encoding" not in unauthorized.headers
    assert set(orjson.loads(body)) == {"Status", "Message"}
    for _ in range(3):
        add_order(seller)
    capped, sent = _raw(client, "/v2/orders", "br", **seller.q(limit=1000))
    assert capped.status_code == 206 and capped.headers["content-encoding"] == "br"
    assert orjson.loads(brotli.decompress(sent))["Paging"]["Limit"] == 100


def test_other_responses_are_compressed_by_the_middleware(
    client: TestClient, make_client: Callable[..., TestClient], seller: Tenant
) -> None:
    openapi, sent = _raw(client, "/swagger/docs/v2", "gzip")
    assert openapi.headers["content-encoding"] == "gzip" and openapi.headers["vary"] == "Accept-Encoding"
    assert "paths" in orjson.loads(gzip.decompress(sent))
    script, sent = _raw(client, "/swagger/static/swagger-ui-bundle.js", "br")
    assert script.status_code == 200 and script.headers["content-encoding"] == "br"
    assert len(brotli.decompress(sent)) > 2 * len(sent)
    # Off by configuration: nothing is compressed, not even the orders.
    off = make_client(compression=False)
    for path, params in (("/v2/orders", seller.q()), ("/swagger/docs/v2", {})):
        response, _ = _raw(off, path, "gzip, br", **params)
        assert "content-encoding" not in response.headers, path


def test_labels_in_pdf_and_zip_are_never_compressed(client: TestClient, seller: Tenant, add_order: AddOrder) -> None:
    order_id = add_order(seller, shipment_status="ready_to_ship", shipment_substatus="ready_to_print")
    url = f"/v2/orders/{order_id}/shippinglabel"
    for fmt, media in (("PDF", "application/pdf"), ("ZIP", "application/zip")):
        response, sent = _raw(client, url, "gzip, br", **seller.q(format=fmt))
        assert response.status_code == 200 and response.headers["content-type"] == media
        assert "content-encoding" not in response.headers and int(response.headers["content-length"]) == len(sent)
    zpl, sent = _raw(client, url, "gzip", **seller.q(format="TXT"))
    assert zpl.status_code == 200
    text = gzip.decompress(sent) if zpl.headers.get("content-encoding") == "gzip" else sent
    assert text.startswith(b"^XA")
