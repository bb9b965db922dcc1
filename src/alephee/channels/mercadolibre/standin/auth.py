"""The stand-in's OAuth: the authorization page where one of its sellers approves, ``POST /oauth/token``
(both grants; refresh tokens single-use, only the newest per seller valid), ``GET /users/me``, and the bearer
check every private call goes through (401 ``invalid access token``)."""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from alephee.channels.mercadolibre.standin.common import MLError, as_int, now, parse_date, utc_text
from alephee.channels.standin_store import Store, Tx

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
INVALID_TOKEN = MLError(401, {"message": "invalid access token", "error": "unauthorized", "status": 401, "cause": []})


@dataclass(frozen=True, slots=True)
class StandInSeller:
    """A test seller who can grant access on the stand-in's authorization page."""

    id: int = 241461054
    nickname: str = "TESTSELLER"
    site_id: str = "MLA"
    country_id: str = "AR"


def _oauth_error(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error_description": description, "error": error, "status": status, "cause": []}, status)


def user_body(seller: StandInSeller) -> dict[str, Any]:
    """The stored ``/users/me`` document of a seller."""
    return {
        "id": seller.id,
        "nickname": seller.nickname,
        "registration_date": "2020-01-02T10:00:00.000-03:00",
        "country_id": seller.country_id,
        "site_id": seller.site_id,
        "user_type": "normal",
        "tags": ["normal", "test_user"],
        "permalink": f"http://perfil.mercadolibre.com/{seller.nickname}",
        "status": {"site_status": "active"},
    }


def bearer_seller(tx: Tx, request: Request) -> int:
    """The seller owning the request's bearer token (issued here and not expired); 401 otherwise."""
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    entry = tx.get("token", token) if token else None
    expires = parse_date(entry["expires_at"]) if entry else None
    if entry is None or expires is None or expires <= now():
        raise INVALID_TOKEN
    return int(entry["user_id"])


class OAuth:
    """The OAuth half of the stand-in over its store. ``client_id``/``client_secret``, when given, are the only
    credentials accepted; ``auto_approve`` redirects at once instead of showing the page."""

    def __init__(
        self,
        store: Store,
        sellers: list[StandInSeller],
        client_id: str | None,
        client_secret: str | None,
        auto_approve: bool,
    ) -> None:
        self.store = store
        self.sellers = {seller.id: seller for seller in sellers}
        self.default_seller = sellers[0].id
        self.client_id = client_id
        self.client_secret = client_secret
        self.auto_approve = auto_approve
        self.token_calls = 0
        with store.begin() as tx:
            for seller in sellers:
                if tx.get("user", seller.id) is None:
                    tx.put("user", seller.id, user_body(seller), owner=seller.id)

    def _check_request(self, query: dict[str, str]) -> str | None:
        if query.get("response_type") != "code":
            return "response_type must be code"
        if not query.get("client_id") or (self.client_id and query["client_id"] != self.client_id):
            return "unknown client_id"
        if not query.get("redirect_uri"):
            return "redirect_uri is required"
        if "seller_id" in query and as_int(query["seller_id"]) not in self.sellers:
            return "unknown seller_id"
        return None

    async def authorization_page(self, request: Request) -> Response:
        """The page where a seller (``seller_id``, or the first one) grants the application access."""
        query = dict(request.query_params)
        problem = self._check_request(query)
        if problem:
            return HTMLResponse(
                f"<!doctype html><p>Sorry, the application cannot connect to your account: {html.escape(problem)}</p>",
                400,
            )
        if self.auto_approve:
            return self._redirect(query)
        seller = self.sellers[as_int(query.get("seller_id")) or self.default_seller]
        link = "authorization/approve?" + urlencode(query)
        others = "".join(
            f'<li><a href="authorization?{html.escape(urlencode(query | {"seller_id": str(other.id)}))}">'
            f"{html.escape(other.nickname)} ({other.id}, {other.site_id})</a></li>"
            for other in self.sellers.values()
            if other.id != seller.id
        )
        return HTMLResponse(
            "<!doctype html><html><head><title>Mercado Libre stand-in: authorize</title></head><body>"
            f"<h1>Authorize application {html.escape(query['client_id'])}</h1>"
            f"<p>Seller {html.escape(seller.nickname)} ({seller.id}, {seller.site_id})</p>"
            f'<p><a id="authorize" href="{html.escape(link)}">Authorize</a></p>'
            + (f"<p>Another seller:</p><ul>{others}</ul>" if others else "")
            + "</body></html>"
        )

    async def approve(self, request: Request) -> Response:
        """The seller pressed Authorize: back to ``redirect_uri`` with a fresh ``code`` and the ``state``."""
        query = dict(request.query_params)
        problem = self._check_request(query)
        if problem:
            return HTMLResponse(f"<!doctype html><p>{html.escape(problem)}</p>", 400)
        return self._redirect(query)

    def _redirect(self, query: dict[str, str]) -> Response:
        seller_id = as_int(query.get("seller_id")) or self.default_seller
        code = f"TG-{secrets.token_hex(12)}-{seller_id}"
        with self.store.begin() as tx:
            entry = {
                "client_id": query["client_id"],
                "redirect_uri": query["redirect_uri"],
                "challenge": query.get("code_challenge"),
                "method": query.get("code_challenge_method"),
                "expires_at": utc_text(now() + CODE_TTL),
                "user_id": seller_id,
            }
            tx.put("code", code, entry, owner=seller_id)
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
        self.token_calls += 1
        grant = form.get("grant_type")
        if grant not in ("authorization_code", "refresh_token"):
            return _oauth_error("unsupported_grant_type", "grant_type must be authorization_code or refresh_token")
        with self.store.begin() as tx:
            seller_id = self._exchange(tx, form) if grant == "authorization_code" else self._refresh(tx, form)
            if seller_id is None:
                return JSONResponse(INVALID_GRANT, 400)
            return JSONResponse(self.issue(tx, seller_id, client_id))

    def _exchange(self, tx: Tx, form: dict[str, str]) -> int | None:
        code = form.get("code", "")
        entry = tx.get("code", code) if code else None
        if entry is None:
            return None
        tx.delete("code", code)  # single use, even when refused below
        expires = parse_date(entry["expires_at"])
        if (
            expires is None
            or expires <= now()
            or entry["client_id"] != form["client_id"]
            or entry["redirect_uri"] != form.get("redirect_uri")
            or not _verifier_matches(entry, form.get("code_verifier"))
        ):
            return None
        return int(entry["user_id"])

    def _refresh(self, tx: Tx, form: dict[str, str]) -> int | None:
        token = form.get("refresh_token") or ""
        seller_id = as_int(token.rsplit("-", 1)[-1]) if token.startswith("TG-") else None
        latest = tx.get("refresh", seller_id) if seller_id is not None else None
        if latest is None or latest["client_id"] != form["client_id"]:
            return None
        if not secrets.compare_digest(token, latest["token"]):
            return None
        return seller_id

    def issue(self, tx: Tx, seller_id: int, client_id: str) -> dict[str, Any]:
        """A new access token and refresh token for the seller; every earlier refresh token stops working."""
        moment = now()
        access = f"APP_USR-{client_id}-{moment:%m%d%H}-{secrets.token_hex(16)}-{seller_id}"
        refresh = f"TG-{secrets.token_hex(12)}-{seller_id}"
        expires = utc_text(moment + timedelta(seconds=TOKEN_TTL_SECONDS))
        tx.put("token", access, {"user_id": seller_id, "expires_at": expires}, owner=seller_id)
        tx.put("refresh", seller_id, {"token": refresh, "client_id": client_id}, owner=seller_id)
        return {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": TOKEN_TTL_SECONDS,
            "scope": SCOPE,
            "user_id": seller_id,
            "refresh_token": refresh,
        }

    async def users_me(self, request: Request) -> Response:
        """``GET /users/me``: the seller owning the bearer token."""
        with self.store.begin() as tx:
            seller_id = bearer_seller(tx, request)
            body = tx.get("user", seller_id) or {}
        return JSONResponse(body)


def _verifier_matches(entry: dict[str, Any], verifier: str | None) -> bool:
    challenge = entry.get("challenge")
    if challenge is None:
        return True
    if verifier is None:
        return False
    if entry.get("method") == "plain":
        return secrets.compare_digest(verifier, challenge)
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()
    return secrets.compare_digest(digest, challenge)
