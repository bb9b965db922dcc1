"""Domain errors. Services raise these; ``alephee.http.errors`` maps each category to one HTTP status once.

A domain declares its own errors as subclasses of one category, with the message as a class constant
next to the rule that raises it.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every business error; ``message`` is what the client reads."""

    message: str = "Request could not be processed"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message


class InvalidInput(DomainError):
    """The request is malformed or a value is out of range (400)."""


class Unauthorized(DomainError):
    """Missing/unknown key, or an account not linked to the key (401)."""

    message = "Invalid API_KEY"


class Forbidden(DomainError):
    """Authenticated, but the account may not do this (403)."""


class NotFound(DomainError):
    """The addressed resource does not exist for this account (404)."""


class Conflict(DomainError):
    """The request conflicts with the current state (409)."""


class PreconditionFailed(DomainError):
    """A business precondition does not hold (412)."""


class PayloadTooLarge(DomainError):
    """Too many objects in one request (413)."""


class RangeNotSatisfiable(DomainError):
    """Paging values out of range (416)."""


class UnsupportedMediaType(DomainError):
    """Body not in an accepted content type (415)."""


class TooManyRequests(DomainError):
    """Rate limit exceeded (429)."""

    message = "Too many requests"
