"""The install of the app on a store: the authorization page where the merchant approves (``auto_approve``
redirects at once), single-use codes that expire after five minutes, ``POST /apps/authorize/token`` (JSON or a
form), and the ``Authentication: bearer`` check every API call goes through (401; 402 while suspended)."""

from __future__ import annotations

import html
import json
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from alephee.channels.standin_store import Store, Tx
from alephee.channels.tiendanube.standin import stores
from alephee.channels.tiendanube.standin.common import as_int, first_text, now, parse_date, refuse, stamp

CODE_TTL = timedelta(minutes=5)
DEFAULT_SCOPES = ("write_products", "write_orders", "read_customers", "write_fulfillment_orders", "read_locations")
INVALID_TOKEN = "Invalid access token"


def _token_error(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status)


class Install:
    """The install flow of one app (``app_id``, ``client_secret``) whose redirect URL is ``redirect_url``."""

    def __init__(
        self,
        store: Store,
        app_id: str,
        client_secret: str,
        redirect_url: str | None,
        scopes: tuple[str, ...],
        auto_approve: bool,
    ) -> None:
        self.store = store
        self.app_id = app_id
        self.client_secret = client_secret
        self.redirect_url = redirect_url
        self.scopes = scopes
        self.auto_approve = auto_approve
        self.token_calls = 0

    def _shops(self) -> list[dict[str, Any]]:
        with self.store.begin() as tx:
            return tx.find("tn_store")

    async def authorize_page(self, request: Request, app_id: str) -> Response:
        """``GET /apps/{app_id}/authorize?state=``: the merchant (of ``store_id``, else the first store) accepts the
        app's scopes; ``auto_approve`` sends them to the redirect URL at once."""
        if app_id != self.app_id:
            return HTMLResponse("<!doctype html><p>This application does not exist.</p>", 404)
        if self.redirect_url is None:
            return HTMLResponse("<!doctype html><p>The application has no redirect URL configured.</p>", 400)
        query = dict(request.query_params)
        shops = await run_in_threadpool(self._shops)
        if not shops:
            return HTMLResponse("<!doctype html><p>There is no store to install the application on.</p>", 400)
        chosen = as_int(query.get("store_id"))
        if chosen is not None and all(shop["id"] != chosen for shop in shops):
            return HTMLResponse("<!doctype html><p>Unknown store.</p>", 400)
        if self.auto_approve:
            return await run_in_threadpool(self._redirect, chosen or shops[0]["id"], query.get("state"))
        options = "".join(
            f'<option value="{shop["id"]}"{" selected" if shop["id"] == chosen else ""}>'
            f"{html.escape(first_text(shop['name']))} ({shop['id']}, {html.escape(shop['email'])})</option>"
            for shop in shops
        )
        state = html.escape(query.get("state", ""))
        scopes = "".join(f"<li>{html.escape(scope)}</li>" for scope in self.scopes)
        return HTMLResponse(
            "<!doctype html><html><head><title>Tiendanube stand-in: install</title></head><body>"
            f"<h1>Install application {html.escape(self.app_id)}</h1><p>It asks for:</p><ul>{scopes}</ul>"
            f'<form method="post"><input type="hidden" name="state" value="{state}">'
            f'<label>Store <select name="store_id">{options}</select></label> '
            '<button id="accept" type="submit">Accept and install</button></form></body></html>'
        )

    async def approve(self, request: Request, app_id: str) -> Response:
        """The merchant pressed accept (the form posts to the page itself): back to the redirect URL."""
        if app_id != self.app_id or self.redirect_url is None:
            return HTMLResponse("<!doctype html><p>This application does not exist.</p>", 404)
        form = {name: values[0] for name, values in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
        store_id = as_int(form.get("store_id"))
        shops = await run_in_threadpool(self._shops)
        if store_id is None or all(shop["id"] != store_id for shop in shops):
            return HTMLResponse("<!doctype html><p>Unknown store.</p>", 400)
        return await run_in_threadpool(self._redirect, store_id, form.get("state") or None)

    def _redirect(self, store_id: int, state: str | None) -> Response:
        code = secrets.token_hex(20)
        with self.store.begin() as tx:
            tx.put("tn_code", code, {"store_id": store_id, "expires_at": stamp(now() + CODE_TTL)}, owner=store_id)
        back = {"code": code} | ({"state": state} if state is not None else {})
        redirect_url = self.redirect_url or ""
        separator = "&" if "?" in redirect_url else "?"
        return RedirectResponse(redirect_url + separator + urlencode(back), status_code=302)

    async def token(self, request: Request) -> Response:
        """``POST /apps/authorize/token``: the code exchange (JSON body, or the legacy form body)."""
        raw = await request.body()
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                body = json.loads(raw or b"null")
            except ValueError:
                return JSONResponse({"error": "Problems parsing JSON"}, 400)
            if not isinstance(body, dict):
                return JSONResponse({"error": "Problems parsing JSON"}, 400)
            form = {str(key): "" if value is None else str(value) for key, value in body.items()}
        else:
            form = {name: values[0] for name, values in parse_qs(raw.decode("utf-8", "replace")).items()}
        self.token_calls += 1
        if not form.get("client_id") or not form.get("client_secret"):
            return _token_error("invalid_request", "client_id and client_secret are required")
        if form["client_id"] != self.app_id or not secrets.compare_digest(form["client_secret"], self.client_secret):
            return _token_error("invalid_client", "Invalid client credentials", 401)
        if form.get("grant_type") != "authorization_code":
            return _token_error("unsupported_grant_type", "The grant type is not supported")
        return await run_in_threadpool(self._exchange, form.get("code", ""))

    def _exchange(self, code: str) -> Response:
        with self.store.begin() as tx:
            entry = tx.get("tn_code", code) if code else None
            if entry is not None:
                tx.delete("tn_code", code)  # single use, even when expired
            expires = parse_date(entry["expires_at"]) if entry else None
            if entry is None or expires is None or expires <= now():
                return _token_error("invalid_grant", "The authorization code is invalid or has expired")
            return JSONResponse(self.issue(tx, int(entry["store_id"])))

    def issue(self, tx: Tx, store_id: int) -> dict[str, Any]:
        """A new token of the app for the store (the store's earlier one stops working); the app is installed."""
        token = secrets.token_hex(20)
        tx.put("tn_token", token, {"store_id": store_id}, owner=store_id)
        shop = stores.get(tx, store_id)
        if shop is not None and shop["_token"]:
            tx.delete("tn_token", shop["_token"])
        standing = stores.SUSPENDED if shop is not None and shop["_app"] == stores.SUSPENDED else stores.INSTALLED
        stores.set_app(tx, store_id, standing, token)
        return {"access_token": token, "token_type": "bearer", "scope": ",".join(self.scopes), "user_id": str(store_id)}


def authenticate(tx: Tx, request: Request, store_id: int) -> dict[str, Any]:
    """The store of the request's ``Authentication: bearer`` token, which must be the path's store and current;
    401 otherwise, 402 while the app is suspended on the store."""
    header = request.headers.get("authentication", "")
    token = header[7:].strip() if header.startswith("bearer ") else ""
    entry = tx.get("tn_token", token) if token else None
    shop = stores.get(tx, store_id) if entry is not None and entry["store_id"] == store_id else None
    if shop is None or shop["_token"] != token or shop["_app"] not in (stores.INSTALLED, stores.SUSPENDED):
        raise refuse(401, INVALID_TOKEN)
    if shop["_app"] == stores.SUSPENDED:
        raise refuse(402, "The store's subscription or the app's charge is unpaid")
    return shop
