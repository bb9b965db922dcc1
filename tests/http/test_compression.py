"""Response compression (http/compression.py): negotiation, which bodies are compressed, and the middleware on a
small application of its own (no database)."""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import brotli
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from alephee.http.compression import CompressionMiddleware, compressible, negotiate

BIG = {"Results": [{"Id": n, "Name": f"Producto {n}", "Price": 1234.5} for n in range(200)]}
MIN_BYTES = 1024


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("identity", None),
        ("gzip", "gzip"),
        ("GZIP", "gzip"),
        ("x-gzip", "gzip"),
        ("deflate", None),
        ("gzip, deflate, br", "br"),
        ("br;q=0.5, gzip", "gzip"),
        ("br;q=0, gzip;q=0.1", "gzip"),
        ("br;q=0, gzip;q=0", None),
        ("*", "br"),
        ("*;q=0.3, gzip;q=0.2", "br"),
        ("*, br;q=0", "gzip"),
        ("gzip;q=nonsense, br;q=0", None),
        ("zstd, gzip;q=0.9", "gzip"),
    ],
)
def test_negotiation_follows_the_client_weights(header: str | None, expected: str | None) -> None:
    assert negotiate(header) == expected


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("application/problem+json", True),
        ("application/xml", True),
        ("image/svg+xml", True),
        ("text/plain; charset=utf-8", True),
        ("text/html; charset=utf-8", True),
        ("text/css", True),
        ("application/javascript", True),
        ("application/pdf", False),
        ("application/zip", False),
        ("image/png", False),
        ("image/jpeg", False),
        ("application/octet-stream", False),
        ("", False),
    ],
)
def test_only_text_is_worth_compressing(content_type: str, expected: bool) -> None:
    assert compressible(content_type) is expected


def _chunks() -> Iterator[bytes]:
    for n in range(50):
        yield (f"line {n} " * 40 + "\n").encode()


def _app() -> Starlette:
    async def big(_: Request) -> Response:
        return JSONResponse(BIG)

    async def small(_: Request) -> Response:
        return JSONResponse({"Status": 401, "Message": "no"}, status_code=401)

    async def pdf(_: Request) -> Response:
        return Response(b"%PDF-1.4 " + b"0" * 5000, media_type="application/pdf")

    async def encoded(_: Request) -> Response:
        body = gzip.compress(b"{}" * 2000)
        return Response(body, media_type="application/json", headers={"Content-Encoding": "gzip"})

    async def stream(_: Request) -> Response:
        return StreamingResponse(_chunks(), media_type="text/plain")

    async def tagged(_: Request) -> Response:
        return Response(b"a" * 5000, media_type="text/css", headers={"ETag": '"abc"', "Vary": "Cookie"})

    async def empty(_: Request) -> Response:
        return Response(status_code=204)

    routes = [Route("/big", big, methods=["GET", "HEAD"])] + [
        Route(f"/{handler.__name__}", handler) for handler in (small, pdf, encoded, stream, tagged, empty)
    ]
    app = Starlette(routes=routes)
    app.add_middleware(CompressionMiddleware, min_bytes=MIN_BYTES)
    return app


@pytest.fixture(scope="module")
def raw() -> Iterator[TestClient]:
    with TestClient(_app()) as client:
        yield client


def _get(client: TestClient, path: str, accept: str | None, method: str = "GET") -> tuple[httpx.Response, bytes]:
    """The response and its body exactly as sent (not decoded by the client)."""
    headers = {"Accept-Encoding": accept if accept is not None else "identity"}
    with client.stream(method, path, headers=headers) as response:
        return response, b"".join(response.iter_raw())


def test_big_json_is_compressed_as_the_client_asks(raw: TestClient) -> None:
    plain, body = _get(raw, "/big", None)
    assert "content-encoding" not in plain.headers and plain.headers["vary"] == "Accept-Encoding"
    assert len(body) > MIN_BYTES
    for accept, encoding, decode in (("gzip", "gzip", gzip.decompress), ("gzip, br", "br", brotli.decompress)):
        response, sent = _get(raw, "/big", accept)
        assert response.headers["content-encoding"] == encoding
        assert response.headers["vary"] == "Accept-Encoding"
        assert int(response.headers["content-length"]) == len(sent) < len(body) / 4
        assert decode(sent) == body


def test_small_bodies_binary_files_and_encoded_ones_are_left_alone(raw: TestClient) -> None:
    small, body = _get(raw, "/small", "gzip, br")
    assert small.status_code == 401 and "content-encoding" not in small.headers
    assert small.headers["vary"] == "Accept-Encoding" and body == b'{"Status":401,"Message":"no"}'
    pdf, body = _get(raw, "/pdf", "gzip, br")
    assert "content-encoding" not in pdf.headers and "vary" not in pdf.headers and body.startswith(b"%PDF")
    encoded, body = _get(raw, "/encoded", "br")
    assert encoded.headers["content-encoding"] == "gzip" and gzip.decompress(body) == b"{}" * 2000
    assert encoded.headers["vary"] == "Accept-Encoding"
    empty, body = _get(raw, "/empty", "gzip")
    assert empty.status_code == 204 and body == b"" and "content-encoding" not in empty.headers
    head, body = _get(raw, "/big", "gzip", method="HEAD")
    assert head.status_code == 200 and "content-encoding" not in head.headers and body == b""


def test_streamed_bodies_are_compressed_as_they_go(raw: TestClient) -> None:
    expected = b"".join(_chunks())
    for accept, decode in (("gzip", gzip.decompress), ("br", brotli.decompress)):
        response, sent = _get(raw, "/stream", accept)
        assert response.headers["content-encoding"] == accept and "content-length" not in response.headers
        assert decode(sent) == expected and len(sent) < len(expected) / 4


def test_validators_become_weak_and_vary_is_merged(raw: TestClient) -> None:
    response, _ = _get(raw, "/tagged", "gzip")
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["etag"] == 'W/"abc"'
    assert response.headers["vary"] == "Cookie, Accept-Encoding"
    plain, _ = _get(raw, "/tagged", None)
    assert plain.headers["etag"] == '"abc"' and plain.headers["vary"] == "Cookie, Accept-Encoding"
