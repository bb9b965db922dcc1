"""What the worker's claims (the outbox's and the inbox's) share: whether a claim is worth its write transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select

from alephee.db import Database


def worth_claiming(db: Database, candidates: Select[Any]) -> bool:
    """Whether a claim selecting ``candidates`` should open its write transaction (SYNC-30). On SQLite a read
    asks first whether any row is due: the read sees the last commit and waits for no writer, and an idle round
    then leaves the one write lock to the API and the other steps. On PostgreSQL always (its claim skips
    locked rows and waits for nobody; the read engine may be a replica that lags)."""
    if db.dialect == "postgresql":
        return True
    with db.reading() as session:
        return session.scalar(candidates.limit(1)) is not None
