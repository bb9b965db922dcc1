"""Response compression: ``br`` (Brotli) or ``gzip``, whichever the client's ``Accept-Encoding`` prefers.

Only text bodies (JSON, XML, text, JavaScript, CSS) of at least ``ALEPHEE_COMPRESSION_MIN_BYTES`` are
compressed; PDFs, images and ZIP files never (they are compressed already). Every response of a compressible
type says ``Vary: Accept-Encoding``, compressed or not, so a cache never hands one client's encoding to another.

``CompressionMiddleware`` compresses what the routes send. A route may compress a body itself (GET /v2/orders
keeps its compressed pages in a cache, orders/rendering.py) with ``negotiate`` and ``encode``; a response that
already has a ``Content-Encoding`` passes through untouched.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable
from typing import Any

import anyio.to_thread
import brotli
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BROTLI, GZIP = "br", "gzip"
# Preferred first when the client weighs several alike (Brotli: smaller and faster at these settings).
ENCODINGS = (BROTLI, GZIP)
# Levels for bodies compressed per request: Brotli 5 and gzip 6 (zlib's default). On a page of 100 orders
# (554 KiB) here: Brotli 5 in 2.2 ms to 1/50 of the size, gzip 6 in 7 ms to 1/17 (docs/performance.md).
BROTLI_QUALITY = 5
GZIP_LEVEL = 6
# Bodies at least this large are compressed in a worker thread, not on the event loop (both libraries release
# the GIL while they work); smaller ones cost less than the hand-off.
THREAD_BYTES = 64 * 1024

_TEXT_TYPES = frozenset({"application/json", "application/xml", "application/javascript", "text/javascript"})


def compressible(content_type: str) -> bool:
    """Whether a body of this media type is worth compressing (text); binary formats are not."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith("text/") or media in _TEXT_TYPES or media.endswith(("+json", "+xml"))


@functools.lru_cache(maxsize=256)
def negotiate(accept_encoding: str | None) -> str | None:
    """The encoding to answer with for this ``Accept-Encoding`` (None: send the body as it is).

    The client's weights (``q``) decide; ``*`` stands for any coding it did not name; ``q=0`` refuses one.
    """
    if not accept_encoding:
        return None
    weights: dict[str, float] = {}
    for item in accept_encoding.split(","):
        coding, _, params = item.partition(";")
        coding = coding.strip().lower()
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if coding and coding not in weights:
            weights[coding] = weight
    if "x-gzip" in weights:
        weights.setdefault(GZIP, weights["x-gzip"])
    best, best_weight = None, 0.0
    for encoding in ENCODINGS:
        weight = weights.get(encoding, weights.get("*", 0.0))
        if weight > best_weight:
            best, best_weight = encoding, weight
    return best


def compress(body: bytes, encoding: str) -> bytes:
    """``body`` compressed with ``encoding`` (one of ``ENCODINGS``)."""
    if encoding == BROTLI:
        return bytes(brotli.compress(body, quality=BROTLI_QUALITY))
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)  # 31: the gzip container
    return compressor.compress(body) + compressor.flush()


def encode(body: bytes, encoding: str | None, min_bytes: int) -> bytes | None:
    """``body`` compressed with ``encoding``, or None when it is not to be (no encoding, or under ``min_bytes``)."""
    if encoding is None or len(body) < min_bytes:
        return None
    return compress(body, encoding)


class _Stream:
    """Incremental compression of a body sent in several messages."""

    def __init__(self, encoding: str) -> None:
        self._brotli = brotli.Compressor(quality=BROTLI_QUALITY) if encoding == BROTLI else None
        self._zlib = None if self._brotli else zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)

    def chunk(self, data: bytes) -> bytes:
        if self._brotli is not None:
            return bytes(self._brotli.process(data))
        assert self._zlib is not None
        return self._zlib.compress(data)

    def finish(self) -> bytes:
        if self._brotli is not None:
            return bytes(self._brotli.finish())
        assert self._zlib is not None
        return self._zlib.flush()


async def _run(function: Callable[..., bytes], *args: Any, size: int) -> bytes:
    if size >= THREAD_BYTES:
        return await anyio.to_thread.run_sync(function, *args)
    return function(*args)


def _add_vary(headers: MutableHeaders) -> None:
    vary = headers.get("vary")
    if vary is None:
        headers["vary"] = "Accept-Encoding"
    elif "accept-encoding" not in vary.lower() and vary.strip() != "*":
        headers["vary"] = vary + ", Accept-Encoding"


def _accept_encoding(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"accept-encoding":
            return str(value.decode("latin-1"))
    return None


class CompressionMiddleware:
    """Compresses response bodies the client accepts compressed (see module docstring)."""

    def __init__(self, app: ASGIApp, min_bytes: int) -> None:
        self.app = app
        self.min_bytes = min_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        encoding = negotiate(_accept_encoding(scope)) if scope["method"] != "HEAD" else None
        start: Message | None = None
        stream: _Stream | None = None

        async def compressing_send(message: Message) -> None:
            nonlocal start, stream
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if not compressible(headers.get("content-type", "")):
                    await send(message)
                    return
                _add_vary(headers)
                length = headers.get("content-length")
                if (
                    encoding is None
                    or "content-encoding" in headers
                    or "content-range" in headers
                    or message["status"] < 200
                    or message["status"] in (204, 304)
                    or (length is not None and length.isdigit() and int(length) < self.min_bytes)
                ):
                    await send(message)
                    return
                start = message  # held until the body shows whether it is worth compressing
                return
            if message["type"] != "http.response.body" or (start is None and stream is None):
                await send(message)
                return
            body: bytes = message.get("body", b"")
            more = bool(message.get("more_body", False))
            if start is not None:
                held, start = start, None
                headers = MutableHeaders(scope=held)
                if not more and len(body) < self.min_bytes:
                    await send(held)
                    await send(message)
                    return
                assert encoding is not None
                headers["content-encoding"] = encoding
                etag = headers.get("etag")
                if etag is not None and not etag.startswith("W/"):
                    # Another representation of the same content: the validator becomes weak.
                    headers["etag"] = "W/" + etag
                if not more:
                    compressed = await _run(compress, body, encoding, size=len(body))
                    headers["content-length"] = str(len(compressed))
                    await send(held)
                    await send({"type": "http.response.body", "body": compressed})
                    return
                del headers["content-length"]
                stream = _Stream(encoding)
                await send(held)
            assert stream is not None
            data = await _run(stream.chunk, body, size=len(body))
            if not more:
                data += stream.finish()
                stream = None
            await send({"type": "http.response.body", "body": data, "more_body": more})

        await self.app(scope, receive, compressing_send)
