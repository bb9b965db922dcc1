"""Keep the page message catalogs (src/alephee/locales/{es,en}/LC_MESSAGES/messages.po) in step with the code.

    python scripts/catalogs.py          # extract every msgid, add the new ones to both catalogs, drop the gone ones
    python scripts/catalogs.py --check  # exit 1 when a catalog lacks a msgid the code uses or keeps a gone one

Messages are written in English in the code (``{% trans %}``, ``_()`` in templates; ``N_()`` on Python
constants). The English catalog translates each msgid to itself (filled here); Spanish translations are written
by hand in the Spanish catalog (a new msgid arrives there with an empty msgstr, which the tests refuse).
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src" / "alephee"
LOCALES = SOURCE / "locales"
LANGUAGES = ("es", "en")
METHODS = [
    ("console/**.py", "python"),
    ("portal/**.py", "python"),
    ("console/templates/**.html", "jinja2"),
    ("portal/templates/**.html", "jinja2"),
]
OPTIONS = {
    "console/templates/**.html": {"extensions": "jinja2.ext.i18n"},
    "portal/templates/**.html": {"extensions": "jinja2.ext.i18n"},
}
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}


def extracted() -> Catalog:
    """Every msgid the code uses."""
    template = Catalog(domain="messages")
    for _name, _lineno, message, comments, context in extract_from_dir(
        str(SOURCE), METHODS, OPTIONS, KEYWORDS, strip_comment_tags=True
    ):
        template.add(message, None, [], auto_comments=comments, context=context)
    return template


def path(language: str) -> Path:
    """The catalog file of ``language``."""
    return LOCALES / language / "LC_MESSAGES" / "messages.po"


def load(language: str) -> Catalog:
    """A catalog as committed (an empty one when missing)."""
    if not path(language).exists():
        return Catalog(locale=language, domain="messages")
    with path(language).open("rb") as handle:
        return read_po(handle, locale=language, domain="messages")


def _ids(catalog: Catalog) -> set[object]:
    return {message.id for message in catalog if message.id}


def check() -> list[str]:
    """What is out of step, one line each (empty when the catalogs are current)."""
    wanted = _ids(extracted())
    problems = []
    for language in LANGUAGES:
        have = _ids(load(language))
        problems += [f"{language}: missing {message!r}" for message in sorted(map(str, wanted - have))]
        problems += [f"{language}: unused {message!r}" for message in sorted(map(str, have - wanted))]
    return problems


def update() -> None:
    """Merge the extracted msgids into both catalogs (keeping translations); English translates to itself."""
    template = extracted()
    for language in LANGUAGES:
        catalog = load(language)
        created = catalog.creation_date  # kept: a run that changes no message changes no line
        catalog.update(template, no_fuzzy_matching=True)
        catalog.creation_date = created
        catalog.obsolete.clear()
        catalog.project, catalog.version, catalog.fuzzy = "alephee", "", False
        catalog.copyright_holder = "the alephee authors"
        if language == "en":
            for message in catalog:
                empty = not message.string or (isinstance(message.string, tuple) and not all(message.string))
                if message.id and empty:
                    message.string = message.id
        path(language).parent.mkdir(parents=True, exist_ok=True)
        with path(language).open("wb") as handle:
            write_po(handle, catalog, omit_header=False, no_location=True, sort_output=True, width=120)


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        found = check()
        print("\n".join(found) or "catalogs are current")
        sys.exit(1 if found else 0)
    update()
