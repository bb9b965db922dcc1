"""What a marketplace listing needs from the catalog besides name, price and stock: picture URLs, a plain-text
description, the hub's own category (mapped per marketplace by the channels) and the condition.

One place for the rules, used by POST /v2/products (``ProductAdditionalData``), the catalog import and the
GET output. A value is ``None`` when cleared; an empty text or an empty picture list clears too.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from alephee.http.wire import clean_identifier, clean_text

# Mercado Libre's usual max_pictures_per_item and max_description_length (categories may allow fewer).
MAX_PICTURES = 12
MAX_PICTURE_URL = 500
MAX_DESCRIPTION = 50_000
MAX_CATEGORY = 300
CONDITIONS = ("new", "used", "refurbished")
# The columns of ``products`` this module fills, in the order the API shows them.
FIELDS = ("pictures", "description", "category", "condition")

# Stable message codes (PRD-6 lists the others).
CODE_PICTURES = 50
CODE_DESCRIPTION = 51
CODE_CATEGORY = 52
CODE_CONDITION = 53

TOO_MANY_PICTURES = f"{{field}} accepts at most {MAX_PICTURES} URLs"
PICTURES_NOT_TEXT = "{field} must be a list of URLs"
PICTURE_INVALID = "{field}: '{url}' is not an absolute http or https URL"
PICTURE_TOO_LONG = f"{{field}}: a URL is longer than {MAX_PICTURE_URL} characters"
DESCRIPTION_TOO_LONG = f"{{field}} is longer than {MAX_DESCRIPTION} characters"
CATEGORY_TOO_LONG = f"{{field}} is longer than {MAX_CATEGORY} characters"
NOT_TEXT = "{field} must be text"
BAD_TEXT = "{field} {reason}"
CONDITION_INVALID = f"{{field}} must be one of {', '.join(CONDITIONS)}"
# How the API names each field in its messages.
API_NAMES = {
    "pictures": "ProductAdditionalData.Pictures",
    "description": "ProductAdditionalData.Description",
    "category": "ProductAdditionalData.Category",
    "condition": "ProductAdditionalData.Condition",
}

_SPACES = re.compile(r"\s+")


class ListingDataProblem(Exception):
    """A listing-data value the rules refuse: a stable code, the message (a template naming ``{field}``) and
    the value that failed."""

    def __init__(self, code: int, template: str, value: Any = None, **details: Any) -> None:
        super().__init__(template)
        self.code = code
        self.template = template
        self.value = value
        self.details = details
        self.field = ""

    def message_for(self, field: str) -> str:
        """The message naming the field as the caller's users know it (an API property, an import column)."""
        return self.template.format(field=field, **self.details)


def clean_pictures(value: Any) -> list[str] | None:
    """Picture URLs, each absolute http/https without spaces, at most ``MAX_PICTURES``; duplicates are dropped
    (the marketplace would show the same picture twice). An empty list clears."""
    if value is None:
        return None
    if not isinstance(value, list | tuple) or not all(isinstance(url, str) for url in value):
        raise ListingDataProblem(CODE_PICTURES, PICTURES_NOT_TEXT)
    urls = list(dict.fromkeys(url.strip() for url in value if url.strip()))
    if len(urls) > MAX_PICTURES:
        raise ListingDataProblem(CODE_PICTURES, TOO_MANY_PICTURES, len(urls))
    for url in urls:
        if len(url) > MAX_PICTURE_URL:
            raise ListingDataProblem(CODE_PICTURES, PICTURE_TOO_LONG, url[:80])
        if not _is_web_url(url):
            raise ListingDataProblem(CODE_PICTURES, PICTURE_INVALID, url[:80], url=url[:80])
    return urls or None


def _is_web_url(url: str) -> bool:
    # The marketplace downloads the picture: it needs a full http(s) address with a host.
    if _SPACES.search(url) or any(ord(char) < 32 or ord(char) == 127 for char in url):
        return False
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - a malformed port raises here
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(host)


def split_pictures(text: str) -> list[str]:
    """A picture cell of an import file: URLs separated by ``|`` or whitespace."""
    return [part for part in re.split(r"[|\s]+", text) if part]


def clean_description(value: Any) -> str | None:
    """Plain text (line breaks and tabs kept) up to ``MAX_DESCRIPTION`` characters; blank clears."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ListingDataProblem(CODE_DESCRIPTION, NOT_TEXT)
    try:
        text = clean_text(value).strip()
    except ValueError as exc:
        raise ListingDataProblem(CODE_DESCRIPTION, BAD_TEXT, reason=str(exc)) from None
    if len(text) > MAX_DESCRIPTION:
        raise ListingDataProblem(CODE_DESCRIPTION, DESCRIPTION_TOO_LONG, len(text))
    return text or None


def category_key(value: str) -> str:
    """A category path as stored and matched: one line, runs of spaces collapsed, trimmed, in NFC
    (``ValueError`` on control characters). ``Herramientas  >Hidrolavadoras `` and
    ``Herramientas >Hidrolavadoras`` are the same category; case counts."""
    return _SPACES.sub(" ", clean_identifier(_SPACES.sub(" ", value))).strip()


def clean_category(value: Any) -> str | None:
    """The hub's category path (free text such as ``Herramientas > Hidrolavadoras``), up to ``MAX_CATEGORY``
    characters; blank clears."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ListingDataProblem(CODE_CATEGORY, NOT_TEXT)
    try:
        text = category_key(value)
    except ValueError as exc:
        raise ListingDataProblem(CODE_CATEGORY, BAD_TEXT, reason=str(exc)) from None
    if len(text) > MAX_CATEGORY:
        raise ListingDataProblem(CODE_CATEGORY, CATEGORY_TOO_LONG, len(text))
    return text or None


def clean_condition(value: Any) -> str | None:
    """``new``, ``used`` or ``refurbished`` (any case); blank clears."""
    if value is None:
        return None
    text = value.strip().lower() if isinstance(value, str) else None
    if text == "":
        return None
    if text not in CONDITIONS:
        raise ListingDataProblem(CODE_CONDITION, CONDITION_INVALID, str(value)[:40])
    return text


CLEANERS = {
    "pictures": clean_pictures,
    "description": clean_description,
    "category": clean_category,
    "condition": clean_condition,
}


def clean_changes(sent: dict[str, Any]) -> dict[str, Any]:
    """The column values of the fields in ``sent`` (column name → raw value; only what was sent changes, a
    ``None`` clears). Raises the first ``ListingDataProblem``, its ``field`` set to the column name."""
    out: dict[str, Any] = {}
    for name in FIELDS:
        if name in sent:
            try:
                out[name] = CLEANERS[name](sent[name])
            except ListingDataProblem as exc:
                exc.field = name
                raise
    return out


def is_empty(pictures: list[str] | None, description: str | None, category: str | None, condition: str | None) -> bool:
    """No listing data at all (GET answers ``ProductAdditionalData: null``)."""
    return not pictures and description is None and category is None and condition is None
