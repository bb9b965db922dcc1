"""What every server-rendered area (the B2B portal, the operator console) shares: the security headers of a page,
the session cookie (random value, only its SHA-256 stored; its flags), the CSRF comparison, the one-shot flash
message, and the parsing of form fields and query numbers that never fails."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import update
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

# What a page may load: only its own files (no external assets, no inline script).
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}
# Longest cookie value looked up (a longer one is refused before hashing).
MAX_COOKIE = 200


@dataclass(frozen=True, slots=True)
class Flash:
    """A one-shot message: ``level`` is ``ok`` or ``error``."""

    level: str
    text: str


# The longest flash message kept (a longer one is cut).
MAX_FLASH = 500


def set_flash(session: Session, table: Any, session_id: int, level: str, text: str) -> None:
    """Leave a message for the next page on the browser session row ``session_id`` of ``table`` (a model with
    ``flash_level``/``flash_text``), in the caller's transaction."""
    session.execute(
        update(table)
        .where(table.id == session_id)
        .values(flash_level=level, flash_text=text[:MAX_FLASH])
        .execution_options(synchronize_session=False)
    )


def pop_flash(session: Session, table: Any, session_id: int, shown: Flash | None) -> None:
    """Clear the message the page is about to show (only that one: a newer message left meanwhile stays)."""
    if shown is None:
        return
    session.execute(
        update(table)
        .where(table.id == session_id, table.flash_text == shown.text)
        .values(flash_level=None, flash_text=None)
        .execution_options(synchronize_session=False)
    )


def new_secret() -> str:
    """A random value for a session cookie or a form token."""
    return secrets.token_urlsafe(32)


def digest(raw: str) -> str:
    """What is stored of a cookie value: its SHA-256 (hex)."""
    return hashlib.sha256(raw.encode()).hexdigest()


def csrf_matches(expected: str, submitted: str | None) -> bool:
    """Whether a form echoed the expected token (compared in constant time)."""
    return bool(submitted) and hmac.compare_digest(str(submitted).encode(), expected.encode())


def secure(response: Response) -> Response:
    """Add the page security headers to ``response``."""
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    return response


def is_https(request: Request) -> bool:
    """Whether the browser reached us over HTTPS (cookies are then ``Secure``)."""
    return request.url.scheme == "https"


def set_cookie(request: Request, response: Response, name: str, value: str, *, max_age: int, path: str) -> None:
    """A session cookie: HttpOnly, SameSite=Lax, Secure over HTTPS, limited to ``path``."""
    response.set_cookie(
        name, value, max_age=max_age, path=path, httponly=True, samesite="lax", secure=is_https(request)
    )


def clear_cookie(request: Request, response: Response, name: str, *, path: str) -> Response:
    """Forget a session cookie (the same flags it was set with)."""
    response.delete_cookie(name, path=path, httponly=True, samesite="lax", secure=is_https(request))
    return response


def form_field(form: FormData, name: str) -> str | None:
    """A text field of a form (None when absent or a file)."""
    value = form.get(name)
    return value if isinstance(value, str) else None


def int_param(raw: str | None, default: int, *, upper: int) -> int:
    """A non-negative decimal integer from a query or form value, ``default`` when it is not one, at most
    ``upper``."""
    text = (raw or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        return default
    return min(int(text), upper)


def safe_next(raw: str | None, default: str) -> str:
    """A local path to return to after a form (never another site)."""
    text = (raw or "").strip()
    if text.startswith("/") and not text.startswith("//") and "\\" not in text and len(text) < 500:
        return text
    return default
