"""Languages of the server-rendered pages (portal and console): the Babel message catalogs under
``alephee/locales/<lang>/LC_MESSAGES/messages.po``, compiled in memory the first time a language is used (no build
step, no ``.mo`` file to keep current), the language of a request (the switch cookie, else ``Accept-Language``,
else the area's default), and the Jinja2 ``i18n`` extension (``{% trans %}``, ``_()``) bound per render."""

from __future__ import annotations

import io
from functools import cache
from importlib import resources
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from fastapi import Request
from jinja2 import Environment

LANGUAGES = ("es", "en")
# The switch: a cookie for the whole site (both areas share it), a year long.
COOKIE = "alephee_lang"
COOKIE_MAX_AGE = 365 * 24 * 3600
DOMAIN = "messages"
_LOCALES = resources.files("alephee") / "locales"


def N_(text: str) -> str:
    """Mark a message constant for the catalogs (``pybabel extract -k N_``); translated where it is shown."""
    return text


def catalog_path(language: str) -> Any:
    """The ``.po`` file of ``language``."""
    return _LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(language: str) -> Translations:
    """The compiled catalog of ``language`` (one of ``LANGUAGES``), read once per process."""
    with catalog_path(language).open("rb") as handle:
        catalog = read_po(handle, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def _accepted(header: str) -> list[str]:
    """The primary language tags of an ``Accept-Language`` header, best first (q=0 dropped)."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, position, tag.split("-")[0].strip().lower()))
    return [tag for _, _, tag in sorted(ranked)]


def language_of(request: Request, default: str, *, negotiate: bool = True) -> str:
    """The language of a page: the switch cookie, else (when ``negotiate``) the first of ``Accept-Language`` we
    speak, else ``default``."""
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return str(chosen)
    if negotiate:
        for tag in _accepted(request.headers.get("accept-language", "")[:500]):
            if tag in LANGUAGES:
                return tag
    return default


def install(env: Environment) -> None:
    """Add the ``i18n`` extension to ``env``; every render passes ``gettext_context(language)`` values."""
    env.add_extension("jinja2.ext.i18n")
    # Defaults for a template rendered without a language (never by the routes): the source strings.
    env.install_null_translations(newstyle=False)  # type: ignore[attr-defined]


def gettext_context(language: str) -> dict[str, Any]:
    """Template values that make ``{% trans %}`` and ``_()`` speak ``language``."""
    catalog = translations(language)
    return {
        "gettext": catalog.gettext,
        "ngettext": catalog.ngettext,
        "_": catalog.gettext,
        "language": language,
        "languages": LANGUAGES,
    }
