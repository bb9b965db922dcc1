"""What every part of the stand-in shares: its error (answered in Mercado Libre's error shapes), the date formats
of each resource, the sites with their currency, offset and domains, and the small parsers of query values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from alephee.clock import precise_utcnow

# site_id -> (currency, UTC offset in hours of its orders' dates, web domain)
SITES: dict[str, tuple[str, int, str]] = {
    "MLA": ("ARS", -3, "mercadolibre.com.ar"),
    "MLB": ("BRL", -3, "mercadolivre.com.br"),
    "MLM": ("MXN", -6, "mercadolibre.com.mx"),
    "MLC": ("CLP", -4, "mercadolibre.cl"),
    "MCO": ("COP", -5, "mercadolibre.com.co"),
    "MLU": ("UYU", -3, "mercadolibre.com.uy"),
    "MPE": ("PEN", -5, "mercadolibre.com.pe"),
}


class MLError(Exception):
    """A refusal answered with ``status`` and ``body`` as Mercado Libre shapes it."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("message") or body.get("error"))
        self.status = status
        self.body = body


def refuse(status: int, error: str, message: str, cause: list[dict[str, Any]] | None = None) -> MLError:
    """The standard error body ``{"message","error","status","cause"}``."""
    return MLError(status, {"message": message, "error": error, "status": status, "cause": cause or []})


def not_found(message: str, error: str = "not_found") -> MLError:
    """404 in the standard shape."""
    return refuse(404, error, message)


def forbidden(message: str, error: str = "forbidden") -> MLError:
    """403 in the standard shape (a token of another seller)."""
    return refuse(403, error, message)


def now() -> datetime:
    """The current UTC time with milliseconds (Mercado Libre's dates carry them)."""
    moment = precise_utcnow()
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def utc_text(moment: datetime) -> str:
    """Items, notifications: ``2021-03-19T19:23:37.000Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def site_zone(site_id: str) -> timezone:
    """The fixed offset the site's orders and shipments are dated in."""
    return timezone(timedelta(hours=SITES[site_id][1]))


def local_text(moment: datetime, site_id: str) -> str:
    """Orders, shipments: ``2022-04-08T17:01:30.000-03:00``."""
    return moment.astimezone(site_zone(site_id)).isoformat(timespec="milliseconds")


def pack_text(moment: datetime, site_id: str) -> str:
    """Packs: the offset without a colon, ``2024-08-15T17:38:30.000-0300``."""
    local = moment.astimezone(site_zone(site_id))
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}" + local.strftime("%z")


def parse_date(text: str) -> datetime | None:
    """Any of Mercado Libre's date spellings (``Z``, ``-03:00``, ``-0300``, ``-00:00``), aware; None if not one."""
    value = text.strip().replace(" ", "+")  # a '+' left unescaped in a query string arrives as a space
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    if len(value) >= 5 and value[-5] in "+-" and value[-3] != ":" and value[-4:].isdigit():
        value = value[:-2] + ":" + value[-2:]
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def int_param(query: dict[str, str], name: str, default: int) -> int:
    """A non-negative integer query parameter; 400 ``Invalid {name} param`` when it is not one."""
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise refuse(400, "bad_request", f"Invalid {name} param") from None
    if value < 0:
        raise refuse(400, "bad_request", f"Invalid {name} param")
    return value


def public(body: dict[str, Any]) -> dict[str, Any]:
    """A stored document without its private keys (those starting with ``_``)."""
    return {key: value for key, value in body.items() if not key.startswith("_")}


def as_int(value: Any) -> int | None:
    """An id sent as a number or a string, as int (None when it is neither)."""
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None
