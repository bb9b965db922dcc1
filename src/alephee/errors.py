"""Domain errors. Services raise these; ``alephee.http.errors`` turns them into ``{"Status", "Message"}`` once.

A domain declares each refusal a client can get as a named subclass of one category, next to the rule that
raises it, with its message as a class constant (``class OrderNotFound(NotFound): message = "Order not
found"``). The category gives the HTTP status (``status``); a route lists the classes it can raise with
``http.errors.responses_for(...)``, which is what its OpenAPI page documents. A message with values is a
format string filled by the raiser (``raise SplitRefused(SplitRefused.message.format(...))``) or by a
constructor of the class.
"""

from __future__ import annotations

from typing import ClassVar


class DomainError(Exception):
    """Base of every business error; ``message`` is what the client reads, ``status`` its HTTP status."""

    status: ClassVar[int] = 400
    message: str = "Request could not be processed"
    # A refusal the audit log keeps as a security event (its name), whatever the method; ``account_id`` of the
    # instance, when set, is the account the caller asked for.
    security_event: ClassVar[str | None] = None
    account_id: int | None = None

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message


class InvalidInput(DomainError):
    """The request is malformed or a value is out of range (400)."""

    status = 400


class Unauthorized(DomainError):
    """Missing/unknown key, or an account not linked to the key (401)."""

    status = 401
    message = "Invalid API_KEY"


class Forbidden(DomainError):
    """Authenticated, but the account may not do this (403)."""

    status = 403


class NotFound(DomainError):
    """The addressed resource does not exist for this account (404)."""

    status = 404


class Conflict(DomainError):
    """The request conflicts with the current state (409)."""

    status = 409


class PreconditionFailed(DomainError):
    """A business precondition does not hold (412)."""

    status = 412


class PayloadTooLarge(DomainError):
    """Too many objects in one request (413)."""

    status = 413


class RangeNotSatisfiable(DomainError):
    """Paging values out of range (416)."""

    status = 416


class UnsupportedMediaType(DomainError):
    """Body not in an accepted content type (415)."""

    status = 415


class TooManyRequests(DomainError):
    """Rate limit exceeded (429)."""

    status = 429
    message = "Too many requests"


class ServiceUnavailable(DomainError):
    """Something the answer depends on (a marketplace) cannot be reached now (503: try again)."""

    status = 503
    message = "Service unavailable; try again"
