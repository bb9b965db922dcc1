"""What every module of the Tiendanube stand-in shares: its error (answered in Tiendanube's shapes), the date
format, money as decimal strings, language objects, the ``fields`` selection and the list paging (``page``,
``per_page``, ``since_id``, date bounds) with its ``Link`` and ``x-total-count`` headers."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from alephee.clock import precise_utcnow

VERSIONS = ("v1", "2025-03")
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
MAX_PER_PAGE = 200
MAX_AMOUNT = Decimal("1000000000000")  # beyond any real price; keeps quantize within precision
DEFAULT_PER_PAGE = 30
STATUS_MESSAGES = {
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    404: "Not Found",
    415: "Unsupported Media Type",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class TNError(Exception):
    """A refusal answered with ``status`` and ``body`` as Tiendanube shapes it."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(str(body.get("description") or body))
        self.status = status
        self.body = body
        self.headers = headers or {}


def refuse(status: int, description: str | None, /, **fields: Any) -> TNError:
    """The standard error body ``{"code", "message", "description"}`` plus any per-field arrays."""
    return TNError(
        status, {"code": status, "message": STATUS_MESSAGES.get(status, "Error"), "description": description} | fields
    )


def not_found(what: str) -> TNError:
    """404 ``{what} with such id does not exist``."""
    return refuse(404, f"{what} with such id does not exist")


def invalid(**fields: list[str]) -> TNError:
    """422 in the short shape: only the per-field message arrays (``{"name": ["can't be blank"]}``)."""
    return TNError(422, dict(fields))


def ulid() -> str:
    """A new ULID (26 Crockford base-32 characters: 48 bits of milliseconds, 80 random bits), as Tiendanube's
    locations, fulfillment orders and tracking events are identified."""
    number = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    return "".join(CROCKFORD[(number >> shift) & 31] for shift in range(125, -1, -5))


def now() -> datetime:
    """The current UTC time (whole seconds: Tiendanube's dates have none)."""
    return precise_utcnow().replace(microsecond=0)


def stamp(moment: datetime | None = None) -> str:
    """Tiendanube's date spelling: ``2022-11-15T19:36:59+0000``."""
    return (moment or now()).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def parse_date(text: str) -> datetime | None:
    """Any ISO 8601 spelling (``Z``, ``-03:00``, ``-0300``, a date alone), aware; None when it is not one."""
    value = text.strip().replace(" ", "+")  # an unescaped '+' of a query string arrives as a space
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    if len(value) >= 5 and value[-5] in "+-" and value[-3] != ":" and value[-4:].isdigit():
        value = value[:-2] + ":" + value[-2:]
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def money(value: Any, name: str, *, nullable: bool = True) -> str | None:
    """A price sent as number or string, as the decimal string Tiendanube answers (``"25.00"``); 422 otherwise."""
    if value is None or value == "":
        if nullable:
            return None
        raise refuse(422, "Validation error", **{name: [f"The {name} must be a number."]})
    if isinstance(value, bool):
        raise refuse(422, "Validation error", **{name: [f"The {name} must be a number."]})
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise refuse(422, "Validation error", **{name: [f"The {name} must be a number."]}) from None
    if not amount.is_finite():
        raise refuse(422, "Validation error", **{name: [f"The {name} must be a number."]})
    if amount < 0:
        raise refuse(422, "Validation error", **{name: [f"The {name} must be at least 0."]})
    if amount >= MAX_AMOUNT:
        raise refuse(422, "Validation error", **{name: [f"The {name} may not be greater than {MAX_AMOUNT}."]})
    return str(amount.quantize(Decimal("0.01")))


def stock_value(value: Any) -> int | None:
    """A stock sent on a write: an integer ≥ 0, or ``null``/``""`` for infinite stock; 422 otherwise."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise refuse(422, "Validation error", stock=["The stock must be an integer."])
    try:
        number = int(value)
    except ValueError:
        raise refuse(422, "Validation error", stock=["The stock must be an integer."]) from None
    if number < 0:
        raise refuse(422, "Validation error", stock=["The stock must be at least 0."])
    return number


def lang(value: Any, languages: list[str]) -> dict[str, str]:
    """A language object from what a write sent: an object is kept, a plain string applies to every language."""
    if isinstance(value, dict):
        return {str(key): "" if text is None else str(text) for key, text in value.items()}
    return {code: "" if value is None else str(value) for code in languages}


def first_text(value: dict[str, str]) -> str:
    """The first non-empty text of a language object."""
    return next((text for text in value.values() if text), "")


def as_int(value: Any) -> int | None:
    """An id sent as a number or a string, as int (None when it is neither)."""
    if isinstance(value, bool):
        return None
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def select_fields(body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    """The ``fields`` selection: only the named top-level keys (every key without it)."""
    wanted = [name.strip() for name in query.get("fields", "").split(",") if name.strip()]
    return {key: value for key, value in body.items() if key in wanted} if wanted else body


def int_param(query: dict[str, str], name: str, default: int, low: int = 0, high: int | None = None) -> int:
    """An integer query parameter within bounds; 400 ``Invalid {name}`` otherwise."""
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    number = as_int(raw)
    if number is None or number < low or (high is not None and number > high):
        raise refuse(400, f"Invalid {name}")
    return number


def date_param(query: dict[str, str], name: str) -> datetime | None:
    """A date-time query parameter; 400 ``Invalid {name}`` when it cannot be read."""
    raw = query.get(name)
    if not raw:
        return None
    moment = parse_date(raw)
    if moment is None:
        raise refuse(400, f"Invalid {name}")
    return moment


def bool_param(query: dict[str, str], name: str) -> bool | None:
    """A ``true|false`` query parameter (None when absent); 400 otherwise."""
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() not in ("true", "false"):
        raise refuse(400, f"Invalid {name}")
    return raw.lower() == "true"


def common_filters(query: dict[str, str]) -> Callable[[dict[str, Any]], bool]:
    """``since_id`` and the ``created_at``/``updated_at`` bounds every list accepts."""
    since = int_param(query, "since_id", 0)
    bounds = {
        name: date_param(query, name)
        for name in ("created_at_min", "created_at_max", "updated_at_min", "updated_at_max")
    }

    def keep(body: dict[str, Any]) -> bool:
        if since and not (isinstance(body.get("id"), int) and body["id"] > since):
            return False
        for name, bound in bounds.items():
            if bound is None:
                continue
            moment = parse_date(str(body.get(name[:10]) or ""))
            if moment is None or (moment < bound if name.endswith("_min") else moment > bound):
                return False
        return True

    return keep


@dataclass(slots=True)
class Page:
    """One page of a list and its headers (``x-total-count``, ``Link``)."""

    items: list[dict[str, Any]]
    headers: dict[str, str] = field(default_factory=dict)


def paginate(rows: list[dict[str, Any]], query: dict[str, str], url: str) -> Page:
    """The ``page``/``per_page`` slice of ``rows`` (max 200, default 30) with the ``fields`` selection, and the
    ``Link`` header (``first``/``prev``/``next``/``last``, absolute URLs) and ``x-total-count``."""
    per_page = int_param(query, "per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
    page = int_param(query, "page", 1, 1)
    total = len(rows)
    last = max(1, -(-total // per_page))
    chunk = rows[(page - 1) * per_page : page * per_page]
    links = []

    def link(number: int, rel: str) -> None:
        links.append(f'<{url}?{urlencode(query | {"page": str(number), "per_page": str(per_page)})}>; rel="{rel}"')

    if page < last:
        link(page + 1, "next")
        link(last, "last")
    if page > 1:
        link(1, "first")
        link(min(page - 1, last), "prev")
    headers = {"x-total-count": str(total)}
    if links:
        headers["link"] = ", ".join(links)
    return Page([select_fields(item, query) for item in chunk], headers)
