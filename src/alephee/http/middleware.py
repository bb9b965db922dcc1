"""The outermost ASGI layer: request ids, the body-size cap, rate-limit headers on every response, and the
plain-string 500 (so even an unexpected error carries the headers and is logged with its request id)."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from alephee.config import Settings
from alephee.http.ratelimit import RateDecision
from alephee.http.wire import ErrorBody

log = logging.getLogger("alephee.http")

BODY_TOO_LARGE = "Request body too large (the limit is {limit} bytes)"


class _BodyTooLarge(Exception):
    pass


class ApiMiddleware:
    """See module docstring. ``scope["state"]["ratelimit"]`` is set by the auth dependency."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = False
        cap = self.settings.max_body_bytes

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                decision = state.get("ratelimit") or self._untouched(scope)
                for name, value in decision.headers():
                    headers[name.decode()] = value.decode()
                headers["x-request-id"] = request_id
            await send(message)

        declared = _content_length(scope)
        if declared is not None and declared > cap:
            await _send_error(send_with_headers, 413, BODY_TOO_LARGE.format(limit=cap))
            return

        received = 0

        async def capped_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, capped_receive, send_with_headers)
        except _BodyTooLarge:
            if not started:
                await _send_error(send_with_headers, 413, BODY_TOO_LARGE.format(limit=cap))
        except Exception:
            log.exception("unhandled error (request id %s) on %s %s", request_id, scope["method"], scope["path"])
            if not started:
                body = f"An unexpected error occurred. Request id: {request_id}".encode()
                await send_with_headers(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8")],
                    }
                )
                await send_with_headers({"type": "http.response.body", "body": body})

    def _untouched(self, scope: Scope) -> RateDecision:
        route = scope.get("route")
        name = getattr(route, "name", None)
        return RateDecision.untouched(self.settings.endpoint_limit(name).rpm)


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            # Only accept something log-safe.
            if 0 < len(text) <= 64 and all(c.isalnum() or c in "-_." for c in text):
                return text
    return None


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_error(send: Send, status: int, message: str) -> None:
    body = ErrorBody(Status=status, Message=message).model_dump_json().encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
