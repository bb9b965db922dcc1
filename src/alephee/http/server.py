"""The HTTP/1.1 protocol ``alephee serve`` runs: uvicorn's httptools protocol plus the limits it lacks.

httptools (llhttp) puts no bound on the request line and headers, and uvicorn starts no timer before a
request's head is complete (its keep-alive timer only runs between requests), so a 32 MB header is read
into memory and a connection that sends nothing, or half a head, or half a body, stays open for ever.
This subclass adds, per connection:

* a cap on the request head (``ALEPHEE_HTTP_MAX_HEADER_BYTES``): past it the client gets 431 and the
  connection is closed; the bytes are counted as they arrive, so no more than the cap plus one read
  (at most 256 KiB) is ever buffered;
* a deadline for the head (``ALEPHEE_HTTP_HEADER_TIMEOUT_SECONDS``), from the connection's opening or the
  request's first byte: a client that sends nothing or trickles its headers is disconnected;
* an idle limit while a body is being received (``ALEPHEE_HTTP_BODY_TIMEOUT_SECONDS`` without a byte).

Between requests uvicorn's own keep-alive timer applies (``ALEPHEE_HTTP_KEEP_ALIVE_SECONDS``, passed by
``alephee serve`` as ``timeout_keep_alive``). Selected with ``uvicorn.run(http="alephee.http.server:...")``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import cache
from typing import Any

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from alephee.config import Settings
from alephee.http.ratelimit import RateDecision
from alephee.http.wire import ErrorBody

HEADERS_TOO_LARGE = "Request header fields too large (the limit is {limit} bytes for the request line and headers)"


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """The per-connection limits of this process."""

    max_header_bytes: int
    header_timeout: float
    body_timeout: float
    refusal: bytes


@cache
def connection_limits() -> ConnectionLimits:
    """Read once per process from the settings (the environment and ``.env``, as ``create_app`` does)."""
    settings = Settings()
    limit = settings.http_max_header_bytes
    body = ErrorBody(Status=431, Message=HEADERS_TOO_LARGE.format(limit=limit)).model_dump_json().encode()
    # The documented rate-limit headers go on every response; this one consumed no quota.
    untouched = RateDecision.untouched(settings.endpoint_limit(None).rpm)
    head = [
        b"HTTP/1.1 431 Request Header Fields Too Large",
        b"content-type: application/json; charset=utf-8",
        b"content-length: " + str(len(body)).encode(),
        b"connection: close",
        *(name + b": " + value for name, value in untouched.headers()),
    ]
    return ConnectionLimits(
        max_header_bytes=limit,
        header_timeout=settings.http_header_timeout_seconds,
        body_timeout=settings.http_body_timeout_seconds,
        refusal=b"\r\n".join(head) + b"\r\n\r\n" + body,
    )


class _HeadTooLarge(Exception):
    """Raised from a parser callback to stop parsing a head past the cap (httptools wraps it)."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` with a capped, time-limited request head and an idle limit on bodies."""

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any], _loop: Any = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._limits = connection_limits()
        self._in_head = False
        self._head_bytes = 0
        self._head_parsed = 0
        self._in_body = False
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # type: ignore[override]
        """Start the head deadline at once: a client that connects and says nothing is disconnected."""
        super().connection_made(transport)  # type: ignore[arg-type]
        self._in_head = True
        self._arm(self._limits.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        """Drop the timer with the connection."""
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Parse (as uvicorn does, plus the 431), then count a read that left the head unfinished, or rearm
        the body timer."""
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, _HeadTooLarge):
                self._refuse_head()
            else:
                self._invalid()
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError:
            self._invalid()
            return
        if self.transport.is_closing():
            return
        if self._in_head:
            # httptools keeps an unfinished header to itself until it is complete: count the reads (a read
            # that started this request may also hold the end of a pipelined previous one: a slight
            # overcount), so a giant header is cut after the cap plus one read.
            self._head_bytes += len(data)
            if self._head_bytes > self._limits.max_header_bytes:
                self._refuse_head()
        elif self._in_body:
            self._arm(self._limits.body_timeout)

    def _invalid(self) -> None:
        message = "Invalid HTTP request received."
        self.logger.warning(message)
        self.send_400_response(message)

    def on_message_begin(self) -> None:
        """A request starts: its head must be complete within the deadline."""
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = 0
        self._head_parsed = 0
        if self._timer is None:
            self._arm(self._limits.header_timeout)

    def on_url(self, url: bytes) -> None:
        """Count the request line as it is parsed (a head that fits in one read is counted here)."""
        self._count_parsed(len(url) + 16)  # + method, version, blanks and CRLF
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        """Count each header as it is parsed."""
        self._count_parsed(len(name) + len(value) + 4)  # + ": " and CRLF
        super().on_header(name, value)

    def _count_parsed(self, size: int) -> None:
        self._head_parsed += size
        if self._head_parsed > self._limits.max_header_bytes:
            raise _HeadTooLarge

    def on_headers_complete(self) -> None:
        """The head is in: no more deadline for it; a body, if any, now has its idle limit."""
        self._in_head = False
        self._in_body = True
        self._disarm()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        """The request is in: the application has it; uvicorn's keep-alive timer takes over afterwards."""
        self._in_body = False
        self._disarm()
        super().on_message_complete()

    def _refuse_head(self) -> None:
        self._in_head = False
        self._disarm()
        self.transport.write(self._limits.refusal)
        self.transport.close()

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        if not self._in_head and not self._in_body:
            return
        if self._in_head and self.cycle is not None and not self.cycle.response_complete:
            # The next pipelined head is slow while a response is still being written: let that one finish.
            self._arm(self._limits.header_timeout)
            return
        self.transport.close()
