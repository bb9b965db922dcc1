"""A local Mercado Libre stand-in speaking the same wire protocol as the real API for the OAuth link: the
authorization page, ``POST /oauth/token`` (both grants, single-use refresh tokens where only the newest is
valid) and ``GET /users/me``. State lives in memory, per process.

The hub serves it at ``/_standin/mercadolibre`` when ``ALEPHEE_MERCADOLIBRE_STANDIN=true``; point
``ALEPHEE_MERCADOLIBRE_API_URL`` and ``ALEPHEE_MERCADOLIBRE_AUTH_URL`` there to link a seller with no outside
service. Tests build it on its own with ``create_app``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from alephee.clock import utcnow

PREFIX = "/_standin/mercadolibre"
CODE_TTL = timedelta(minutes=10)
TOKEN_TTL_SECONDS = 21600
SCOPE = "offline_access read write"
INVALID_GRANT = {
    "error_description": (
        "Error validating grant. Your authorization code or refresh token may be expired or it was already used"
    ),
    "error": "invalid_grant",
    "status": 400,
    "cause": [],
}


@dataclass(frozen=True, slots=True)
class StandInSeller:
    """The test seller who grants access on the stand-in's authorization page."""

    id: int = 241461054
    nickname: str = "TESTSELLER"
    site_id: str = "MLA"
    country_id: str = "AR"


@dataclass(slots=True)
class _Code:
    client_id: str
    redirect_uri: str
    challenge: str | None
    method: str | None
    expires_at: datetime


def _oauth_error(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error_description": description, "error": error, "status": status, "cause": []}, status)


class MercadoLibreStandIn:
    """The stand-in's state (codes, tokens) and its routes. ``client_id``/``client_secret``, when given, are the
    only credentials accepted; ``auto_approve`` skips the authorization page (the redirect comes at once)."""

    def __init__(
        self,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        seller: StandInSeller | None = None,
        auto_approve: bool = False,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.seller = seller or StandInSeller()
        self.auto_approve = auto_approve
        self._lock = threading.Lock()
        self._codes: dict[str, _Code] = {}
        self._access: dict[str, datetime] = {}
        self._latest_refresh: str | None = None
        self.token_calls = 0

    # The wire protocol.

    def router(self) -> APIRouter:
        """The stand-in's routes (mount them under any prefix)."""
        router = APIRouter(include_in_schema=False)
        router.add_api_route("/authorization", self.authorization_page, methods=["GET"])
        router.add_api_route("/authorization/approve", self.approve, methods=["GET"])
        router.add_api_route("/oauth/token", self.token, methods=["POST"])
        router.add_api_route("/users/me", self.users_me, methods=["GET"])
        return router

    def _check_request(self, query: dict[str, str]) -> str | None:
        if query.get("response_type") != "code":
            return "response_type must be code"
        if not query.get("client_id") or (self.client_id and query["client_id"] != self.client_id):
            return "unknown client_id"
        if not query.get("redirect_uri"):
            return "redirect_uri is required"
        return None

    async def authorization_page(self, request: Request) -> Response:
        """The page where the seller grants the application access (or the redirect at once with auto-approve)."""
        query = dict(request.query_params)
        problem = self._check_request(query)
        if problem:
            return HTMLResponse(
                f"<!doctype html><p>Sorry, the application cannot connect to your account: {html.escape(problem)}</p>",
                400,
            )
        if self.auto_approve:
            return self._redirect(query)
        link = "authorization/approve?" + urlencode(query)
        return HTMLResponse(
            "<!doctype html><html><head><title>Mercado Libre stand-in: authorize</title></head><body>"
            f"<h1>Authorize application {html.escape(query['client_id'])}</h1>"
            f"<p>Seller {html.escape(self.seller.nickname)} ({self.seller.id}, {self.seller.site_id})</p>"
            f'<p><a id="authorize" href="{html.escape(link)}">Authorize</a></p></body></html>'
        )

    async def approve(self, request: Request) -> Response:
        """The seller pressed Authorize: back to ``redirect_uri`` with a fresh ``code`` and the ``state``."""
        query = dict(request.query_params)
        problem = self._check_request(query)
        if problem:
            return HTMLResponse(f"<!doctype html><p>{html.escape(problem)}</p>", 400)
        return self._redirect(query)

    def _redirect(self, query: dict[str, str]) -> Response:
        code = f"TG-{secrets.token_hex(12)}-{self.seller.id}"
        with self._lock:
            self._codes[code] = _Code(
                client_id=query["client_id"],
                redirect_uri=query["redirect_uri"],
                challenge=query.get("code_challenge"),
                method=query.get("code_challenge_method"),
                expires_at=utcnow() + CODE_TTL,
            )
        back = {"code": code} | ({"state": query["state"]} if "state" in query else {})
        separator = "&" if "?" in query["redirect_uri"] else "?"
        return RedirectResponse(query["redirect_uri"] + separator + urlencode(back), status_code=302)

    async def token(self, request: Request) -> Response:
        """``POST /oauth/token`` (form-encoded): the authorization_code and refresh_token grants."""
        if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return _oauth_error("invalid_request", "content-type must be application/x-www-form-urlencoded")
        fields = parse_qs((await request.body()).decode("utf-8", "replace"))
        if any(len(values) > 1 for values in fields.values()):
            return _oauth_error("invalid_request", "duplicate parameter")
        form = {name: values[0] for name, values in fields.items()}
        client_id = form.get("client_id")
        if not client_id or not form.get("client_secret"):
            return _oauth_error("invalid_request", "client_id and client_secret are required")
        if (self.client_id and client_id != self.client_id) or (
            self.client_secret and not secrets.compare_digest(form["client_secret"], self.client_secret)
        ):
            return _oauth_error("invalid_client", "invalid client_id or client_secret")
        with self._lock:
            self.token_calls += 1
            grant = form.get("grant_type")
            if grant == "authorization_code":
                return self._exchange(form)
            if grant == "refresh_token":
                return self._refresh(form)
        return _oauth_error("unsupported_grant_type", "grant_type must be authorization_code or refresh_token")

    def _exchange(self, form: dict[str, str]) -> Response:
        entry = self._codes.pop(form.get("code", ""), None)  # single use, even when refused below
        if (
            entry is None
            or entry.expires_at <= utcnow()
            or entry.client_id != form["client_id"]
            or entry.redirect_uri != form.get("redirect_uri")
            or not _verifier_matches(entry, form.get("code_verifier"))
        ):
            return JSONResponse(INVALID_GRANT, 400)
        return self._issue()

    def _refresh(self, form: dict[str, str]) -> Response:
        token = form.get("refresh_token")
        if not token or self._latest_refresh is None or not secrets.compare_digest(token, self._latest_refresh):
            return JSONResponse(INVALID_GRANT, 400)
        return self._issue()

    def _issue(self) -> Response:
        now = utcnow()
        user = self.seller.id
        access = f"APP_USR-{self.client_id or '1'}-{now:%m%d%H}-{secrets.token_hex(16)}-{user}"
        refresh = f"TG-{secrets.token_hex(12)}-{user}"
        self._access[access] = now + timedelta(seconds=TOKEN_TTL_SECONDS)
        self._latest_refresh = refresh  # every earlier refresh token stops working
        body = {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": TOKEN_TTL_SECONDS,
            "scope": SCOPE,
            "user_id": user,
            "refresh_token": refresh,
        }
        return JSONResponse(body)

    async def users_me(self, request: Request) -> Response:
        """``GET /users/me``: the seller owning the bearer token."""
        header = request.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else ""
        with self._lock:
            expires = self._access.get(token)
        if expires is None or expires <= utcnow():
            body: dict[str, Any] = {
                "message": "invalid access token",
                "error": "unauthorized",
                "status": 401,
                "cause": [],
            }
            return JSONResponse(body, 401)
        seller = self.seller
        return JSONResponse(
            {
                "id": seller.id,
                "nickname": seller.nickname,
                "country_id": seller.country_id,
                "site_id": seller.site_id,
                "user_type": "normal",
                "tags": ["normal", "test_user"],
                "status": {"site_status": "active"},
            }
        )


def _verifier_matches(entry: _Code, verifier: str | None) -> bool:
    if entry.challenge is None:
        return True
    if verifier is None:
        return False
    if entry.method == "plain":
        return secrets.compare_digest(verifier, entry.challenge)
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()
    return secrets.compare_digest(digest, entry.challenge)


def create_app(standin: MercadoLibreStandIn) -> FastAPI:
    """The stand-in alone, at the root (as ``api.mercadolibre.com`` serves it)."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(standin.router())
    return app
