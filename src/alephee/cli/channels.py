"""``alephee channel``: link an account's marketplace to its seller (``connect`` prints the authorization URL
the seller opens), list the connections (``status``), forget one (``disconnect``) and catch up with the
marketplace (``sync``: orders, listing links, missed notifications, the channel's reconciliation), choose the
Tiendanube location the hub's stock goes to (``location``); ``channel category`` maps the hub's product
categories to a marketplace's categories (``set``, ``list``, ``delete``)."""

from __future__ import annotations

from typing import Annotated

import typer

from alephee.bootstrap import prepare_database
from alephee.channels import backstop, categories, connections
from alephee.channels.tiendanube import upkeep as tiendanube_upkeep
from alephee.channels.tiendanube.auth import CONNECTOR as TIENDANUBE
from alephee.cli.common import emit, fail, session_scope
from alephee.clock import utcnow
from alephee.config import Settings
from alephee.db import Database
from alephee.errors import DomainError
from alephee.http.dates import parse_filter_datetime
from alephee.http.errors import status_for
from alephee.marketplaces.contract import DeliveryError

channel_app = typer.Typer(help="Marketplace channel connections (Mercado Libre, Tiendanube).", no_args_is_help=True)
category_app = typer.Typer(
    help="Map the hub's product categories to a marketplace's categories, per account.", no_args_is_help=True
)
channel_app.add_typer(category_app, name="category")


@channel_app.command("connect")
def channel_connect(
    account: Annotated[int, typer.Option(help="Account id.")],
    marketplace: Annotated[int, typer.Option(help="Marketplace id (a Mercado Libre site, Tiendanube 40/41).")],
) -> None:
    """Print the URL where the seller authorizes this hub (valid once, for a few minutes)."""
    settings = Settings()
    with session_scope(settings) as session:
        url = connections.start_authorization(session, settings, account, marketplace)
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
    """Forget the connection's tokens (the seller may also revoke or uninstall the application on the
    marketplace)."""
    with session_scope() as session:
        connector = connections.connector_of(session, marketplace)
        connections.check_target(session, account, marketplace, connector)
        connections.disconnect(session, account, marketplace, now=utcnow(), reason=None)
        rows = [row for row in connections.status(session, account) if row["MarketplaceId"] == marketplace]
    emit(rows[0])


@channel_app.command("location")
def channel_location(
    account: Annotated[int, typer.Option(help="Account id.")],
    marketplace: Annotated[int, typer.Option(help="Marketplace id (a Tiendanube store).")],
    use: Annotated[
        str | None,
        typer.Option(
            "--use", help="The location the hub's stock goes to: its id or name, or 'default' (the store's default)."
        ),
    ] = None,
) -> None:
    """Show the store's stock locations (as last read; ``channel sync`` reads them again) and the one the hub's
    stock goes to; ``--use`` chooses it. The other locations' stock is left as the store has it."""
    with session_scope() as session:
        connections.check_target(session, account, marketplace, TIENDANUBE)
        if use is None:
            found = tiendanube_upkeep.save_locations(session, account, marketplace, None)
        else:
            found = tiendanube_upkeep.choose_location(session, account, marketplace, use)
    emit({"Locations": found.known, "StockLocation": found.stock_location})


@category_app.command("set")
def category_set(
    account: Annotated[int, typer.Option(help="Account id.")],
    marketplace: Annotated[int, typer.Option(help="Marketplace id (linked to the account).")],
    category: Annotated[str, typer.Option(help="The hub's category, e.g. 'Herramientas > Hidrolavadoras'.")],
    external: Annotated[str, typer.Option(help="The marketplace's category id, e.g. MLA30840 on site MLA.")],
    name: Annotated[str | None, typer.Option(help="The marketplace's name of that category.")] = None,
) -> None:
    """Map a hub category to a marketplace category for the account (replaces its previous choice)."""
    with session_scope() as session:
        row = categories.set_mapping(session, account, marketplace, category, external, name)
        out = categories.as_dict(row)
    emit(out)


@category_app.command("list")
def category_list(
    account: Annotated[int, typer.Option(help="Account id.")],
    marketplace: Annotated[int | None, typer.Option(help="Only this marketplace.")] = None,
) -> None:
    """List the account's mappings: the seller's choices and the cached predictions (Source)."""
    with session_scope() as session:
        rows = categories.list_mappings(session, account, marketplace)
    emit(rows)


@category_app.command("delete")
def category_delete(
    account: Annotated[int, typer.Option(help="Account id.")],
    marketplace: Annotated[int, typer.Option(help="Marketplace id.")],
    category: Annotated[str, typer.Option(help="The hub's category (or a prediction's title: key).")],
) -> None:
    """Remove one mapping; prints it as it was."""
    with session_scope() as session:
        gone = categories.delete_mapping(session, account, marketplace, category)
    emit(gone)


@channel_app.command("sync")
def channel_sync(
    account: Annotated[int, typer.Option(help="Account id.")],
    marketplace: Annotated[int, typer.Option(help="Marketplace id.")],
    since: Annotated[
        str | None,
        typer.Option(help="Pull orders updated since (ISO 8601; default: the feed's cursor, else 24 h ago)."),
    ] = None,
) -> None:
    """Pull the orders, link the seller's listings to the products by SKU and read the missed notifications."""
    settings = Settings()
    prepare_database(settings)
    database = Database(settings)
    try:
        start = parse_filter_datetime(since, name="since") if since else None
        report = backstop.sync_channel(database, settings, account, marketplace, since=start)
    except DomainError as exc:
        fail(exc.message, status_for(exc))
    except DeliveryError as exc:
        # The marketplace refused or did not answer: the connection's last error says so too.
        fail(exc.message, 502)
    finally:
        database.dispose()
    emit(report.as_json())
