"""Operator passwords: Argon2id hashes (argon2-cffi, its recommended parameters), verified in constant time; a
hash made with older parameters is renewed at the next sign-in. A password is never logged nor stored."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from alephee.errors import InvalidInput

MIN_LENGTH = 10
MAX_LENGTH = 200
PASSWORD_TOO_SHORT = f"The password must have at least {MIN_LENGTH} characters"
PASSWORD_TOO_LONG = f"The password must have at most {MAX_LENGTH} characters"

_hasher = PasswordHasher()
# Verified when the e-mail is unknown, so a wrong e-mail costs as much time as a wrong password.
_DUMMY = _hasher.hash("not a password of anyone")


class WeakPassword(InvalidInput):
    """A new password outside the allowed length (400)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


def check_strength(password: str) -> None:
    """Refuse a password that is too short or too long."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(PASSWORD_TOO_SHORT)
    if len(password) > MAX_LENGTH:
        raise WeakPassword(PASSWORD_TOO_LONG)


def hash_password(password: str) -> str:
    """The Argon2id hash of a new password (checked first)."""
    check_strength(password)
    return _hasher.hash(password)


def verify(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored`` (None: no such operator; the same work is done anyway)."""
    try:
        return _hasher.verify(stored or _DUMMY, password[:MAX_LENGTH]) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether ``stored`` was made with parameters weaker than today's."""
    return _hasher.check_needs_rehash(stored)
