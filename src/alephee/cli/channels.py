"""``alephee channel``: link an account's marketplace to its seller (``connect`` prints the authorization URL
the seller opens), list the connections (``status``) and forget one (``disconnect``)."""

from __future__ import annotations

from typing import Annotated

import typer

from alephee.channels import connections
from alephee.channels.mercadolibre import auth
from alephee.cli.common import emit, session_scope
from alephee.clock import utcnow
from alephee.config import Settings

channel_app = typer.Typer(help="Marketplace channel connections (Mercado Libre).", no_args_is_help=True)


@channel_app.command("connect")
def channel_connect(
    account: Annotated[int, typer.Option(help="Account id.")],
    marketplace: Annotated[int, typer.Option(help="Marketplace id (a Mercado Libre site).")],
) -> None:
    """Print the URL where the seller authorizes this hub (valid once, for a few minutes)."""
    settings = Settings()
    with session_scope(settings) as session:
        url = auth.start(session, settings, account, marketplace)
    emit({"AuthorizationUrl": url})


@channel_app.command("status")
def channel_status(account: Annotated[int | None, typer.Option(help="Only this account.")] = None) -> None:
    """List the connections: seller, token expiry, last sync and last error."""
    with session_scope() as session:
        emit(connections.status(session, account))


@channel_app.command("disconnect")
def channel_disconnect(
    account: Annotated[int, typer.Option(help="Account id.")],
    marketplace: Annotated[int, typer.Option(help="Marketplace id.")],
) -> None:
    """Forget the connection's tokens (the seller may also revoke the application on Mercado Libre)."""
    with session_scope() as session:
        connections.check_target(session, account, marketplace, auth.CONNECTOR)
        connections.disconnect(session, account, marketplace, now=utcnow(), reason=None)
        rows = [row for row in connections.status(session, account) if row["MarketplaceId"] == marketplace]
    emit(rows[0])
