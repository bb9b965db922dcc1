"""A small HTTP client of the Mercado Libre API (``mercadolibre_api_url``): the token endpoint and ``/users/me``.

Every error body shape of the API is read (the standard ``message``/``error``/``status``/``cause``, the OAuth one
with ``error_description``, and the messaging one with ``status_code``/``code``) into one ``MercadoLibreError``;
429, 5xx and network failures are transient (retry later), anything else is permanent. Tokens never reach a log
line nor an error message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from alephee.config import Settings

TOKEN_PATH = "/oauth/token"
USERS_ME_PATH = "/users/me"


class MercadoLibreError(Exception):
    """A refused or failed call: HTTP ``status`` (0 when no response came), the API's ``error`` code and its
    human ``description``."""

    def __init__(self, status: int, error: str, description: str = "") -> None:
        super().__init__(f"Mercado Libre answered {status} {error}: {description}".rstrip(": "))
        self.status = status
        self.error = error
        self.description = description

    @property
    def transient(self) -> bool:
        """Whether trying again later may succeed (rate limit, server error, network failure)."""
        return self.status == 0 or self.status == 429 or self.status >= 500 or self.error == "local_rate_limited"


def error_from(response: httpx.Response) -> MercadoLibreError:
    """Read any of the API's error body shapes (or a body that is not JSON at all)."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return MercadoLibreError(response.status_code, f"http_{response.status_code}", response.reason_phrase)
    error = body.get("error") or body.get("code") or f"http_{response.status_code}"
    description = body.get("error_description") or body.get("message") or ""
    return MercadoLibreError(response.status_code, str(error), str(description))


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """A token endpoint answer. The tokens are left out of ``repr`` so they never end up in a log."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_in: int
    user_id: int
    scope: str = ""


@dataclass(frozen=True, slots=True)
class SellerIdentity:
    """Who owns a token (``GET /users/me``)."""

    id: int
    nickname: str
    site_id: str | None


class MercadoLibreClient:
    """Calls to ``settings.mercadolibre_api_url``; ``http`` lets a caller (a test) choose the transport."""

    def __init__(self, settings: Settings, http: httpx.Client | None = None) -> None:
        self._base = settings.mercadolibre_api_url.rstrip("/")
        self._own = http is None
        self._http = http or httpx.Client(timeout=settings.mercadolibre_timeout_seconds)

    def close(self) -> None:
        """Close the connection pool (only when this client created it)."""
        if self._own:
            self._http.close()

    def __enter__(self) -> MercadoLibreClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, self._base + path, **kwargs)
        except httpx.HTTPError as exc:
            raise MercadoLibreError(0, "network_error", type(exc).__name__) from None
        if response.status_code not in (200, 201, 206):
            raise error_from(response)
        try:
            return response.json()
        except ValueError:
            raise MercadoLibreError(response.status_code, "invalid_json", "the answer is not JSON") from None

    def token(self, form: dict[str, str]) -> TokenGrant:
        """``POST /oauth/token`` with ``form`` (form-encoded, as the endpoint requires)."""
        body = self._send("POST", TOKEN_PATH, data=form, headers={"accept": "application/json"})
        try:
            return TokenGrant(
                access_token=str(body["access_token"]),
                refresh_token=str(body["refresh_token"]),
                expires_in=int(body["expires_in"]),
                user_id=int(body["user_id"]),  # may come as a string: normalised to int
                scope=str(body.get("scope") or ""),
            )
        except (KeyError, TypeError, ValueError):
            raise MercadoLibreError(200, "invalid_token_response", "the token answer lacks a field") from None

    def users_me(self, access_token: str) -> SellerIdentity:
        """``GET /users/me``: the seller owning ``access_token``."""
        body = self._send("GET", USERS_ME_PATH, headers={"Authorization": f"Bearer {access_token}"})
        try:
            return SellerIdentity(id=int(body["id"]), nickname=str(body["nickname"]), site_id=body.get("site_id"))
        except (KeyError, TypeError, ValueError):
            raise MercadoLibreError(200, "invalid_user_response", "the /users/me answer lacks a field") from None
