"""The ``alephee`` command: serve, migrate, and operator actions. Every command prints JSON on stdout.

One module per command group; this one assembles them, in the order ``alephee --help`` lists them. Commands
import the domains they drive inside their function: ``alephee --help`` and a one-off command load only what they
use (the import contract of ``make lint`` still sees those imports and keeps them acyclic).
"""

from __future__ import annotations

import json
import sys

import typer

from alephee.cli import accounts, catalog, channels, db, demo, operators, serve, webhooks, worker
from alephee.cli import post_sale as _post_sale  # noqa: F401  (channel questions|answer|claims)
from alephee.errors import DomainError

app = typer.Typer(help="Alephee-compatible marketplace-integration hub.", no_args_is_help=True, add_completion=False)
for sub, name in (
    (db.db_app, "db"),
    (accounts.account_app, "account"),
    (accounts.key_app, "key"),
    (accounts.user_app, "user"),
    (accounts.marketplace_app, "marketplace"),
    (accounts.pricelist_app, "pricelist"),
    (accounts.store_app, "store"),
):
    app.add_typer(sub, name=name)
app.command()(serve.serve)
app.command()(accounts.audit)
app.command()(demo.demo)
app.add_typer(worker.outbox_app, name="outbox")
app.add_typer(worker.sandbox_app, name="sandbox")
app.command()(worker.worker)
app.add_typer(catalog.catalog_app, name="catalog")
app.add_typer(webhooks.webhook_app, name="webhook")
app.add_typer(webhooks.notifications_app, name="notifications")
app.add_typer(channels.channel_app, name="channel")
app.add_typer(operators.operator_app, name="operator")


def main() -> None:
    """Entry point of the ``alephee`` script."""
    try:
        app()
    except DomainError as exc:  # pragma: no cover - session_scope handles most
        print(json.dumps({"Status": 400, "Message": exc.message}), file=sys.stderr)
        sys.exit(1)
