"""Bringing a database up to date: migrations, then the reference data every hub needs."""

from __future__ import annotations

from alephee import db as database
from alephee.config import Settings
from alephee.db import Database
from alephee.marketplaces.service import sync_catalogue


def prepare_database(settings: Settings, db: Database | None = None) -> None:
    """Apply migrations and load the marketplace catalogue (idempotent, safe on every start)."""
    database.upgrade(settings)
    owned = db is None
    db = db or Database(settings)
    try:
        with db.writing() as session:
            sync_catalogue(session, settings.marketplaces_file)
    finally:
        if owned:
            db.dispose()
