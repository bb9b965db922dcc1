"""A small HTTP client of the Mercado Libre API (``mercadolibre_api_url``): the token endpoint, ``/users/me`` and
the seller calls the channel makes (items, orders, packs, shipments, labels, fiscal documents, messages,
questions, claims).

Every error body shape of the API is read (the standard ``message``/``error``/``status``/``cause``, the OAuth one
with ``error_description``, and the messaging one with ``status_code``/``code``) into one ``MercadoLibreError``;
429, 5xx and network failures are transient (retry later), anything else is permanent. Tokens never reach a log
line nor an error message. A 409 ``optimistic locking`` answer (two writes to one item raced) is transient too;
a ``Retry-After`` header is kept on the error so the caller can wait that long.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import httpx

from alephee.config import Settings

TOKEN_PATH = "/oauth/token"
USERS_ME_PATH = "/users/me"
# Documented caps: ids per items bulk call, per labels call, the seller search page and the order search page.
MAX_BULK_ITEMS = 20
MAX_LABEL_SHIPMENTS = 50
MAX_SEARCH_LIMIT = 100
MAX_ORDER_PAGE = 50


@dataclass(frozen=True, slots=True)
class Cause:
    """One element of an error's ``cause[]``: the machine ``code`` and the human ``message`` (``type`` ``error`` or
    ``warning``)."""

    code: str
    message: str
    type: str = "error"


class MercadoLibreError(Exception):
    """A refused or failed call: HTTP ``status`` (0 when no response came), the API's ``error`` code, its
    human ``description``, the ``cause[]`` elements of a validation refusal and how long the API asked to wait
    (``Retry-After``, seconds) before trying again."""

    def __init__(
        self,
        status: int,
        error: str,
        description: str = "",
        causes: tuple[Cause, ...] = (),
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"Mercado Libre answered {status} {error}: {description}".rstrip(": "))
        self.status = status
        self.error = error
        self.description = description
        self.causes = causes
        self.retry_after = retry_after

    @property
    def optimistic_locking(self) -> bool:
        """A 409 ``item optimistic locking error``: another write to the item won the race; retry shortly."""
        text = f"{self.error} {self.description}".lower().replace("_", " ")
        return self.status == 409 and "optimistic locking" in text

    @property
    def transient(self) -> bool:
        """Whether trying again later may succeed (rate limit, server error, network failure, a lost race)."""
        return (
            self.status == 0
            or self.status == 429
            or self.status >= 500
            or self.error == "local_rate_limited"
            or self.optimistic_locking
        )

    def refusal(self) -> str:
        """What Mercado Libre refused, for the user: every ``cause[].code: message`` (or the error itself)."""
        reasons = [f"{c.code}: {c.message}".rstrip(": ") for c in self.causes if c.type != "warning"]
        if not reasons:
            reasons = [f"{self.error}: {self.description}".rstrip(": ")]
        return "; ".join(reasons)


def retry_after_seconds(value: str | None) -> float | None:
    """The ``Retry-After`` header as seconds to wait: a number of seconds or an HTTP date."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def causes_of(body: Any) -> tuple[Cause, ...]:
    """The ``cause[]`` elements of a body (strings or objects, as the API sends either)."""
    raw = body.get("cause") if isinstance(body, dict) else None
    if not isinstance(raw, list):
        return ()
    out: list[Cause] = []
    for element in raw:
        if isinstance(element, dict):
            code = str(element.get("code") or element.get("cause_id") or "")
            out.append(Cause(code, str(element.get("message") or ""), str(element.get("type") or "error")))
        elif element:
            out.append(Cause(str(element), ""))
    return tuple(out)


def error_from(response: httpx.Response) -> MercadoLibreError:
    """Read any of the API's error body shapes (or a body that is not JSON at all)."""
    retry_after = retry_after_seconds(response.headers.get("retry-after"))
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    return error_of(response.status_code, body, response.reason_phrase, retry_after=retry_after)


def error_of(status: int, body: Any, reason: str = "", *, retry_after: float | None = None) -> MercadoLibreError:
    """The error of a ``status`` and its body (a whole answer's, or one element's of a multiget)."""
    if not isinstance(body, dict):
        return MercadoLibreError(status, f"http_{status}", reason, retry_after=retry_after)
    error = body.get("error") or body.get("code") or f"http_{status}"
    description = body.get("error_description") or body.get("message") or ""
    return MercadoLibreError(status, str(error), str(description), causes_of(body), retry_after=retry_after)


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


class _NoCookies(httpx.Cookies):
    """A cookie jar that keeps nothing (see ``StatelessHttp``)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        """Keep none of the response's cookies."""
        return None


class StatelessHttp(httpx.Client):
    """An ``httpx.Client`` that neither keeps nor sends cookies: every Mercado Libre call carries its bearer token
    and no session, and reading a response's cookies into the jar was a tenth of the client's CPU per call."""

    @property  # type: ignore[override]
    def cookies(self) -> httpx.Cookies:
        return _NoCookies()

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        return None


class MercadoLibreClient:
    """Calls to ``settings.mercadolibre_api_url``; ``http`` lets a caller (a test) choose the transport.

    Every seller call takes the access token and sends it as ``Authorization: Bearer``; answers come back as
    the API's JSON (``dict``/``list``), labels as bytes. 200, 201 and 206 (success with gaps) are success.
    """

    def __init__(self, settings: Settings, http: httpx.Client | None = None) -> None:
        self._base = settings.mercadolibre_api_url.rstrip("/")
        self._own = http is None
        self._http = http or StatelessHttp(timeout=settings.mercadolibre_timeout_seconds)

    def close(self) -> None:
        """Close the connection pool (only when this client created it)."""
        if self._own:
            self._http.close()

    def __enter__(self) -> MercadoLibreClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _response(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, self._base + path, **kwargs)
        except httpx.HTTPError as exc:
            raise MercadoLibreError(0, "network_error", type(exc).__name__) from None
        if response.status_code not in (200, 201, 206):
            raise error_from(response)
        return response

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._response(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise MercadoLibreError(response.status_code, "invalid_json", "the answer is not JSON") from None

    @staticmethod
    def _auth(token: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", "accept": "application/json", **extra}

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

    # --- items ---------------------------------------------------------------------------------------------

    def create_item(self, token: str, item: dict[str, Any]) -> dict[str, Any]:
        """``POST /items``: publish; the created item (with its id)."""
        return _object(self._send("POST", "/items", json=item, headers=self._auth(token)))

    def get_item(self, token: str, item_id: str) -> dict[str, Any]:
        """``GET /items/{id}``."""
        return _object(self._send("GET", f"/items/{quote(item_id)}", headers=self._auth(token)))

    def items_bulk(self, token: str, item_ids: list[str]) -> list[dict[str, Any]]:
        """``GET /items/bulk?ids=`` (at most 20): one element per id, each with its own ``status_code`` and
        ``body`` (a partial failure is normal: the caller checks each)."""
        if not item_ids:
            return []
        if len(item_ids) > MAX_BULK_ITEMS:
            raise ValueError(f"at most {MAX_BULK_ITEMS} items per bulk call")
        body = self._send("GET", "/items/bulk", params={"ids": ",".join(item_ids)}, headers=self._auth(token))
        return [e for e in body if isinstance(e, dict)] if isinstance(body, list) else []

    def update_item(self, token: str, item_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """``PUT /items/{id}`` with only the fields to change; the item as it is now."""
        return _object(self._send("PUT", f"/items/{quote(item_id)}", json=changes, headers=self._auth(token)))

    def create_description(self, token: str, item_id: str, text: str) -> dict[str, Any]:
        """``POST /items/{id}/description`` (descriptions are created after the item, never inside it)."""
        path = f"/items/{quote(item_id)}/description"
        return _object(self._send("POST", path, json={"plain_text": text}, headers=self._auth(token)))

    def search_items(
        self, token: str, seller_id: int, *, scroll_id: str | None = None, limit: int = 100
    ) -> dict[str, Any]:
        """``GET /users/{id}/items/search?search_type=scan``: a page of the seller's item ids; pass the answer's
        ``scroll_id`` back for the next page (it expires in 5 minutes)."""
        params: dict[str, Any] = {"search_type": "scan", "limit": max(1, min(limit, MAX_SEARCH_LIMIT))}
        if scroll_id:
            params["scroll_id"] = scroll_id
        path = f"/users/{seller_id}/items/search"
        return _object(self._send("GET", path, params=params, headers=self._auth(token)))

    def predict_category(self, token: str, site_id: str, title: str, *, limit: int = 1) -> list[dict[str, Any]]:
        """``GET /sites/{site}/domain_discovery/search?q=``: categories predicted from a title, best first."""
        path = f"/sites/{quote(site_id)}/domain_discovery/search"
        body = self._send("GET", path, params={"q": title, "limit": limit}, headers=self._auth(token))
        return [e for e in body if isinstance(e, dict)] if isinstance(body, list) else []

    # --- orders, packs, shipments --------------------------------------------------------------------------

    def get_order(self, token: str, order_id: int | str) -> dict[str, Any]:
        """``GET /orders/{id}``."""
        return _object(self._send("GET", f"/orders/{quote(str(order_id))}", headers=self._auth(token)))

    def search_orders(
        self, token: str, seller_id: int, updated_from: str, *, offset: int = 0, limit: int = MAX_ORDER_PAGE
    ) -> dict[str, Any]:
        """``GET /orders/search``: the seller's orders changed since ``updated_from`` (hour-granular), oldest
        first."""
        params = {
            "seller": seller_id,
            "order.date_last_updated.from": updated_from,
            "sort": "date_asc",
            "offset": max(0, offset),
            "limit": max(1, min(limit, MAX_ORDER_PAGE)),
        }
        return _object(self._send("GET", "/orders/search", params=params, headers=self._auth(token)))

    def get_pack(self, token: str, pack_id: int | str) -> dict[str, Any]:
        """``GET /packs/{id}``: the pack's orders and shipment."""
        return _object(self._send("GET", f"/packs/{quote(str(pack_id))}", headers=self._auth(token)))

    def get_shipment(self, token: str, shipment_id: int | str) -> dict[str, Any]:
        """``GET /shipments/{id}`` with ``x-format-new: true`` (mandatory)."""
        headers = self._auth(token, **{"x-format-new": "true"})
        return _object(self._send("GET", f"/shipments/{quote(str(shipment_id))}", headers=headers))

    def shipment_orders(self, token: str, shipment_id: int | str) -> list[dict[str, Any]]:
        """``GET /shipments/{id}/orders``: the orders a shipment carries (ids may come as strings)."""
        headers = self._auth(token, **{"x-format-new": "true", "X-New-Domain": "true"})
        body = self._send("GET", f"/shipments/{quote(str(shipment_id))}/orders", headers=headers)
        if isinstance(body, dict):  # some answers wrap the list
            body = body.get("orders") or body.get("results") or []
        return [e for e in body if isinstance(e, dict)] if isinstance(body, list) else []

    def shipment_labels(self, token: str, shipment_ids: list[str], response_type: str) -> tuple[bytes, str]:
        """``GET /shipment_labels?shipment_ids=..&response_type=pdf|zpl2`` (at most 50 ids): the label file and
        its media type."""
        if not shipment_ids or len(shipment_ids) > MAX_LABEL_SHIPMENTS:
            raise ValueError(f"1 to {MAX_LABEL_SHIPMENTS} shipments per label call")
        params = {"shipment_ids": ",".join(shipment_ids), "response_type": response_type}
        headers = {"Authorization": f"Bearer {token}"}
        response = self._response("GET", "/shipment_labels", params=params, headers=headers)
        return response.content, response.headers.get("content-type", "application/octet-stream")

    # --- documents and messages ----------------------------------------------------------------------------

    def upload_fiscal_document(
        self, token: str, pack_id: int | str, file_name: str, content: bytes, content_type: str
    ) -> dict[str, Any]:
        """``POST /packs/{id}/fiscal_documents`` (multipart, key ``fiscal_document``): the stored ids."""
        files = {"fiscal_document": (file_name, content, content_type)}
        path = f"/packs/{quote(str(pack_id))}/fiscal_documents"
        return _object(self._send("POST", path, files=files, headers=self._auth(token)))

    def import_invoice(self, token: str, shipment_id: int | str, xml: bytes, site_id: str) -> dict[str, Any]:
        """``POST /shipments/{id}/invoice_data/?siteId=`` with the raw authorised NF-e (``<nfeProc>``) XML:
        Brazil's invoice of a shipment, which releases its label."""
        headers = {"Authorization": f"Bearer {token}", "accept": "application/json", "Content-Type": "application/xml"}
        path = f"/shipments/{quote(str(shipment_id))}/invoice_data/"
        response = self._response("POST", path, params={"siteId": site_id}, content=xml, headers=headers)
        try:
            body = response.json()
        except ValueError:
            body = None  # the import is done; its answer's body is not documented
        return body if isinstance(body, dict) else {}

    def get_messages(
        self, token: str, pack_id: int | str, seller_id: int, *, offset: int = 0, limit: int = 50
    ) -> dict[str, Any]:
        """``GET /messages/packs/{pack}/sellers/{seller}?tag=post_sale``, without marking them read (the seller
        still sees them as new on Mercado Libre)."""
        params = {"tag": "post_sale", "mark_as_read": "false", "offset": max(0, offset), "limit": max(1, limit)}
        path = f"/messages/packs/{quote(str(pack_id))}/sellers/{seller_id}"
        return _object(self._send("GET", path, params=params, headers=self._auth(token)))

    def get_message(self, token: str, message_id: str) -> dict[str, Any]:
        """``GET /messages/{id}?tag=post_sale``: one message, with the pack it belongs to in
        ``message_resources``."""
        params = {"tag": "post_sale", "mark_as_read": "false"}
        path = f"/messages/{quote(message_id)}"
        body = self._send("GET", path, params=params, headers=self._auth(token))
        if isinstance(body, dict) and isinstance(body.get("messages"), list) and body["messages"]:
            first = body["messages"][0]
            return first if isinstance(first, dict) else {}
        return _object(body)

    def send_message(self, token: str, pack_id: int | str, seller_id: int, buyer_id: int, text: str) -> dict[str, Any]:
        """``POST /messages/packs/{pack}/sellers/{seller}?tag=post_sale`` from the seller to ``buyer_id``."""
        body = {"from": {"user_id": str(seller_id)}, "to": {"user_id": str(buyer_id)}, "text": text}
        path = f"/messages/packs/{quote(str(pack_id))}/sellers/{seller_id}"
        answer = self._send("POST", path, params={"tag": "post_sale"}, json=body, headers=self._auth(token))
        return answer if isinstance(answer, dict) else {}

    # --- questions and claims ------------------------------------------------------------------------------

    def get_question(self, token: str, question_id: str) -> dict[str, Any]:
        """``GET /questions/{id}?api_version=4``: one question with its answer."""
        path = f"/questions/{quote(question_id)}"
        return _object(self._send("GET", path, params={"api_version": "4"}, headers=self._auth(token)))

    def search_questions(
        self, token: str, seller_id: int, *, status: str | None = None, offset: int = 0, limit: int = 50
    ) -> dict[str, Any]:
        """``GET /questions/search?seller_id=...&api_version=4``: the seller's received questions, oldest first
        (``{"total", "limit", "questions": [...]}``)."""
        params: dict[str, Any] = {
            "seller_id": seller_id,
            "api_version": "4",
            "sort_fields": "date_created",
            "sort_types": "ASC",
            "offset": max(0, offset),
            "limit": max(1, limit),
        }
        if status:
            params["status"] = status
        return _object(self._send("GET", "/questions/search", params=params, headers=self._auth(token)))

    def answer_question(self, token: str, question_id: int, text: str) -> dict[str, Any]:
        """``POST /answers`` ``{"question_id", "text"}`` (UTF-8 JSON)."""
        body = {"question_id": question_id, "text": text}
        answer = self._send("POST", "/answers", json=body, headers=self._auth(token))
        return answer if isinstance(answer, dict) else {}

    def get_claim(self, token: str, claim_id: str) -> dict[str, Any]:
        """``GET /post-purchase/v1/claims/{id}``."""
        path = f"/post-purchase/v1/claims/{quote(claim_id)}"
        return _object(self._send("GET", path, headers=self._auth(token)))

    def search_claims(
        self, token: str, seller_id: int, *, status: str | None = "opened", offset: int = 0, limit: int = 30
    ) -> dict[str, Any]:
        """``GET /post-purchase/v1/claims/search`` with the seller as respondent (a real filter is required),
        ``{"paging": {...}, "data": [...]}``."""
        params: dict[str, Any] = {
            "players.role": "respondent",
            "players.user_id": seller_id,
            "offset": max(0, offset),
            "limit": max(1, limit),
        }
        if status:
            params["status"] = status
        return _object(self._send("GET", "/post-purchase/v1/claims/search", params=params, headers=self._auth(token)))

    def missed_feeds(
        self,
        token: str,
        app_id: str,
        *,
        topic: str | None = None,
        site_id: str | None = None,
        offset: int = 0,
        limit: int = 10,
    ) -> list[dict[str, Any]]:
        """``GET /missed_feeds``: notifications Mercado Libre could not deliver (``site_id`` is required with
        ``topic=items``)."""
        if topic == "items" and not site_id:
            raise ValueError("missed items notifications are read one site at a time: site_id is required")
        params: dict[str, Any] = {"app_id": app_id, "offset": max(0, offset), "limit": max(1, limit)}
        if topic:
            params["topic"] = topic
        if site_id:
            params["site_id"] = site_id
        body = _object(self._send("GET", "/missed_feeds", params=params, headers=self._auth(token)))
        messages = body.get("messages")
        return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []


def _object(body: Any) -> dict[str, Any]:
    """An answer that must be a JSON object."""
    if not isinstance(body, dict):
        raise MercadoLibreError(200, "invalid_response", "the answer is not a JSON object")
    return body
