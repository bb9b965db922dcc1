"""``alephee db``: database maintenance."""

from __future__ import annotations

import typer

from alephee.cli.common import emit
from alephee.config import Settings

db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration and load the marketplace catalogue."""
    from alephee.bootstrap import prepare_database

    settings = Settings()
    prepare_database(settings)
    emit({"Status": "ok", "Database": settings.database_url.split("@")[-1]})
