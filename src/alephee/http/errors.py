"""One mapping from domain errors (``alephee.errors``) to HTTP statuses, and the 4xx handlers.

Every 4xx leaves as ``{"Status": int, "Message": str}``. A 500 is a plain string naming the request id
(the middleware in ``alephee.http.middleware`` produces it and logs the traceback).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from alephee import errors
from alephee.http.auth import AccountNotLinked, account_refused
from alephee.http.wire import error_response

STATUS_OF: dict[type[errors.DomainError], int] = {
    errors.InvalidInput: 400,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.PreconditionFailed: 412,
    errors.PayloadTooLarge: 413,
    errors.UnsupportedMediaType: 415,
    errors.RangeNotSatisfiable: 416,
    errors.TooManyRequests: 429,
}

HTTP_MESSAGES = {
    404: "The requested resource was not found",
    405: "Method not allowed for this resource",
}


# OpenAPI descriptions of the error statuses routes declare (``responses=error_responses(...)``).
ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Invalid parameters",
    401: "Missing or unknown API_KEY, or account not linked to it",
    403: "The account may not do this",
    404: "Not found",
    409: "Conflict with the current state",
    412: "Precondition failed",
    413: "Too many objects in one request; nothing was processed",
    415: "Body is not JSON",
    416: "Paging out of range",
    429: "Too many requests",
}


def error_responses(*codes: int, **overrides: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status with the error body; ``overrides`` as ``_404="..."``."""
    from alephee.http.wire import ErrorBody

    texts = {int(k.lstrip("_")): v for k, v in overrides.items()}
    return {
        code: {"model": ErrorBody, "description": texts.get(code, ERROR_DESCRIPTIONS[code])}
        for code in (*codes, *(c for c in texts if c not in codes))
    }


def status_for(exc: errors.DomainError) -> int:
    """HTTP status of a domain error (by its category)."""
    for cls in type(exc).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]
    return 400


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


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.DomainError)
    if isinstance(exc, AccountNotLinked):
        account_refused(request, exc)
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


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    from sqlalchemy.exc import DataError

    app.add_exception_handler(DataError, _out_of_range)
    app.add_exception_handler(OverflowError, _out_of_range)
    app.add_exception_handler(errors.DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
