"""Marketplace catalogue: load the channel table from its data file into the database."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from alephee.marketplaces.models import Marketplace

FIELDS = ("name", "channel", "family", "site_id", "country_id", "connector")


def catalogue_entries(path: str | None = None) -> list[dict[str, Any]]:
    """The channel table: the packaged file, or ``path`` (``ALEPHEE_MARKETPLACES_FILE``) to renumber ids."""
    if path:
        text = Path(path).read_text(encoding="utf-8")
    else:
        text = (resources.files("alephee") / "data" / "marketplaces.json").read_text(encoding="utf-8")
    entries: list[dict[str, Any]] = json.loads(text)
    return entries


def sync_catalogue(session: Session, path: str | None = None) -> int:
    """Insert or update every channel of the table (idempotent); returns how many entries were read."""
    entries = catalogue_entries(path)
    for entry in entries:
        row = session.get(Marketplace, int(entry["id"]))
        if row is None:
            row = Marketplace(id=int(entry["id"]))
            session.add(row)
        for field in FIELDS:
            setattr(row, field, entry.get(field))
        row.connector = entry.get("connector") or "none"
        row.active = bool(entry.get("active", True))
    session.flush()
    return len(entries)
