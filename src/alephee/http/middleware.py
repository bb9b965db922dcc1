"""The outermost ASGI layer: request ids, the body-size cap, rate-limit headers and ``nosniff`` on every
response, and the plain-string 500 (so even an unexpected error carries the headers and is logged with its
request id)."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from alephee.http.observe import RequestRecord, audit_query, needs_audit, observe
from alephee.http.ratelimit import RateDecision
from alephee.http.wire import ErrorBody

if TYPE_CHECKING:
    from alephee.db import Database
    from alephee.http.context import AppContext

# Writes the audit row of a request (``accounts.audit.write_audit``, given by ``app.py``).
AuditWriter = Callable[["Database", RequestRecord, str], None]

log = logging.getLogger("alephee.http")

BODY_TOO_LARGE = "Request body too large (the limit is {limit} bytes)"


class _BodyTooLarge(Exception):
    pass


class ApiMiddleware:
    """See module docstring. ``scope["state"]["ratelimit"]`` is set by the auth dependency."""

    def __init__(self, app: ASGIApp, ctx: AppContext, audit: AuditWriter) -> None:
        self.app = app
        self.ctx = ctx
        self.audit = audit
        self.settings = ctx.settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = False
        status = 500
        began = time.perf_counter()
        cap = self.settings.max_body_bytes

        async def send_with_headers(message: Message) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                headers = MutableHeaders(scope=message)
                decision = state.get("ratelimit") or self._untouched(scope)
                for name, value in decision.headers():
                    headers[name.decode()] = value.decode()
                headers["x-request-id"] = request_id
                # Browsers must take every body as the type it is sent with (API, portal, files, errors).
                headers["x-content-type-options"] = "nosniff"
            await send(message)

        declared = _content_length(scope)
        if declared is not None and declared > cap:
            await _send_error(send_with_headers, 413, BODY_TOO_LARGE.format(limit=cap))
            await self._record(scope, state, request_id, status, began)
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
        await self._record(scope, state, request_id, status, began)

    async def _record(self, scope: Scope, state: dict[str, Any], request_id: str, status: int, began: float) -> None:
        route = scope.get("route")
        caller = state.get("caller") or (None, None)
        record = RequestRecord(
            request_id=request_id,
            method=scope["method"],
            path=scope["path"],
            endpoint=getattr(route, "name", None) or "unmatched",
            status=status,
            duration=time.perf_counter() - began,
            key_id=caller[0],
            account_id=caller[1],
            items=int(state.get("items", 0)),
            event=state.get("audit_event"),
        )
        observe(record, access=self.settings.access_log)
        if needs_audit(record):
            query = audit_query(scope.get("query_string", b""))
            await anyio.to_thread.run_sync(self.audit, self.ctx.db, record, query)

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
