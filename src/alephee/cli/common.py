"""What every command shares: JSON out (``emit``), a JSON error and exit 1 (``fail``), and the one transaction
scope (``session_scope``): committed when the command's block ends, rolled back when it raises."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from sqlalchemy.orm import Session

from alephee.bootstrap import prepare_database
from alephee.config import Settings
from alephee.db import Database
from alephee.errors import DomainError
from alephee.http.errors import status_for


def emit(data: Any) -> None:
    """Print ``data`` as JSON on stdout (the contract scripts rely on)."""
    typer.echo(json.dumps(data, ensure_ascii=False, default=str))


def fail(message: str, status: int = 400) -> None:
    """Print a JSON error on stderr and exit 1."""
    typer.echo(json.dumps({"Status": status, "Message": message}, ensure_ascii=False), err=True)
    raise typer.Exit(1)


@contextmanager
def session_scope(settings: Settings | None = None) -> Iterator[Session]:
    """A write session on a migrated database; domain errors become a JSON error and exit 1."""
    settings = settings or Settings()
    database = Database(settings)
    prepare_database(settings, database)
    try:
        with database.writing() as session:
            yield session
    except DomainError as exc:
        fail(exc.message, status_for(exc))
    finally:
        database.dispose()
