"""One mapping from domain errors (``alephee.errors``) to HTTP statuses, and the 4xx handlers.

Every 4xx leaves as ``{"Status": int, "Message": str}``. A 500 is a plain string naming the request id
(the middleware in ``alephee.http.middleware`` produces it and logs the traceback).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from alephee import errors
from alephee.http.wire import ErrorBody, error_response

HTTP_MESSAGES = {
    404: "The requested resource was not found",
    405: "Method not allowed for this resource",
}


class InvalidParameters(errors.InvalidInput):
    """A query, path or body value does not fit its declared type or bounds (400)."""

    message = "Invalid request"


# What every authenticated route can answer before its own rules run (accounts/auth.py, http/ratelimit.py): the key
# and account checks, then the rate limit (by category; ``accounts.auth`` has the same sets with each refusal named).
AUTHENTICATED: tuple[type[errors.DomainError], ...] = (errors.Unauthorized, errors.TooManyRequests)


def _describe(cls: type[errors.DomainError]) -> str:
    # The first line of the class's docstring, without the category's "(NNN)" note; else its message.
    doc = (cls.__doc__ or "").strip().splitlines()
    first = re.sub(r"\s*\(\d{3}\)\.?$", ".", doc[0].strip()) if doc else ""
    return first or cls.message


def responses_for(*raised: type[errors.DomainError], **extra: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a route, derived from the domain errors it can raise (plus ``AUTHENTICATED``'s when
    listed): one entry per status with the error body and the refusals of that status, each on its line.
    ``extra`` adds non-error answers by status, e.g. ``_206={"model": ..., "description": ...}``."""
    by_status: dict[int, list[str]] = {}
    for cls in raised:
        lines = by_status.setdefault(cls.status, [])
        text = _describe(cls)
        if text not in lines:
            lines.append(text)
    out: dict[int | str, dict[str, Any]] = {
        status: {"model": ErrorBody, "description": "\n\n".join(lines)} for status, lines in sorted(by_status.items())
    }
    for key, value in extra.items():
        out[int(key.lstrip("_"))] = value
    return out


def status_for(exc: errors.DomainError) -> int:
    """HTTP status of a domain error (its class's ``status``)."""
    return exc.status


def describe_validation_errors(errs: list[Any] | tuple[Any, ...]) -> str:
    """A short human message from Pydantic/FastAPI error entries (first error, with its location)."""
    if not errs:
        return "Invalid request"
    first = errs[0]
    loc = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path", "header")]
    where = ".".join(loc)
    msg = first.get("msg", "Invalid value")
    extra = f" (and {len(errs) - 1} more error(s))" if len(errs) > 1 else ""
    return f"Invalid value for '{where}': {msg}{extra}" if where else f"{msg}{extra}"


def _mark_security_event(request: Request, exc: errors.DomainError) -> None:
    # The audit log (written by the middleware) keeps the refusal: the key id (never the key) and the account
    # asked for. Nothing when no valid key was identified (that refusal is an ordinary 401).
    state = request.scope.setdefault("state", {})
    caller = state.get("caller")
    if caller is None:
        return
    state["caller"] = (caller[0], exc.account_id)
    state["audit_event"] = exc.security_event


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.DomainError)
    if exc.security_event:
        _mark_security_event(request, exc)
    return error_response(status_for(exc), exc.message)


async def _validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return error_response(400, describe_validation_errors(exc.errors()))


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    message = exc.detail if isinstance(exc.detail, str) and exc.detail else HTTP_MESSAGES.get(exc.status_code)
    if exc.status_code in HTTP_MESSAGES and exc.detail in ("Not Found", "Method Not Allowed"):
        message = HTTP_MESSAGES[exc.status_code]
    response = error_response(exc.status_code, message or "Request could not be processed")
    if exc.headers:
        response.headers.update(exc.headers)
    return response


OUT_OF_RANGE = "A value in the request is out of range"


async def _out_of_range(_request: Request, _exc: Exception) -> Response:
    # Safety net: a number that slipped past validation and overflowed the database column is still the
    # client's input, so it is a 400, not a 500. Routes should bound their parameters (http/params.py).
    return error_response(400, OUT_OF_RANGE)


# PostgreSQL's deadlock, serialisation failure and lock-not-available: the transaction was rolled back because
# of another writer, not because of the request; SQLite says "database is locked" after its busy timeout.
CONFLICT_STATES = frozenset({"40P01", "40001", "55P03"})
BUSY = "The database was busy with a conflicting write; nothing was changed. Retry the request"


def write_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` is a database error that only says another writer was in the way (retrying succeeds)."""
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) in CONFLICT_STATES or "database is locked" in str(orig or "")


async def _operational_error(_request: Request, exc: Exception) -> Response:
    # A conflict with another writer rolled the request's transaction back: 503 with Retry-After, so that
    # clients retry; any other database failure stays the plain 500 of the middleware.
    if not write_conflict(exc):
        raise exc
    response = error_response(503, BUSY)
    response.headers["Retry-After"] = "1"
    return response


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    from sqlalchemy.exc import DataError, OperationalError

    app.add_exception_handler(DataError, _out_of_range)
    app.add_exception_handler(OperationalError, _operational_error)
    app.add_exception_handler(OverflowError, _out_of_range)
    app.add_exception_handler(errors.DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
