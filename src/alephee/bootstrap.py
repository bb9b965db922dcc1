"""Bringing a database up to date: migrations, then the reference data every hub needs."""

from __future__ import annotations

from alephee import db as database
from alephee.config import Settings
from alephee.db import Database
from alephee.marketplaces.service import sync_catalogue


def prepare_database(settings: Settings, db: Database | None = None, *, service: bool = False) -> None:
    """Apply migrations and load the marketplace catalogue (idempotent, safe on every start). ``service``: a
    long-running process (``serve``, ``worker``) starting, which on PostgreSQL also warns when the server's
    autovacuum is off, once, where its logs go (a CLI command's output stays its JSON)."""
    database.upgrade(settings)
    owned = db is None
    db = db or Database(settings)
    try:
        with db.writing() as session:
            sync_catalogue(session, settings.marketplaces_file)
        if service:
            database.warn_if_autovacuum_off(db)
    finally:
        if owned:
            db.dispose()
