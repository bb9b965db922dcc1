"""``alephee catalog``: import products, publish them on marketplaces, share them between accounts."""

from __future__ import annotations

from typing import Annotated

import typer

from alephee.accounts import service as accounts
from alephee.cli.common import emit, fail, session_scope
from alephee.config import Settings

# --- catalog (products/, listings/) ---------------------------------------------------------------------------

catalog_app = typer.Typer(help="Catalog: import products, publish them on marketplaces.", no_args_is_help=True)


@catalog_app.command("import")
def catalog_import(
    file: Annotated[str, typer.Argument(help="CSV or JSON file (format: docs/catalog-import.md).")],
    account: Annotated[int, typer.Option(help="Account id.")],
    price_list: Annotated[
        str | None, typer.Option(help="Price list (id or name) of the price columns; default: the account's.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate and report, change nothing.")] = False,
) -> None:
    """Upsert products from FILE (by brand + SKU); prints a JSON report, row errors included (exit 1 if any)."""
    from pathlib import Path

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from alephee.products.import_rows import ImportFileError, read_rows
    from alephee.products.importer import import_catalog

    try:
        rows = read_rows(Path(file))
    except ImportFileError as exc:
        fail(str(exc))
    settings = Settings()
    with session_scope(settings) as session:
        accounts.require_account_row(session, account)
        progress = Progress(
            TextColumn("Importing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        with progress:
            task = progress.add_task("import", total=len(rows))
            report = import_catalog(
                session,
                settings,
                account,
                rows,
                price_list=price_list,
                dry_run=dry_run,
                progress=lambda n: progress.advance(task, n),
            )
        emit(report.as_dict(account))
    if report.errors:
        raise typer.Exit(1)


@catalog_app.command("publish")
def catalog_publish(
    account: Annotated[int, typer.Option(help="Account id.")],
    marketplace: Annotated[int, typer.Option(help="Marketplace id connected to the account.")],
    sku: Annotated[list[str] | None, typer.Option(help="SKU to publish (repeatable); default: every product.")] = None,
) -> None:
    """Publish catalog products on a marketplace (one listing each; products already listed there are skipped)."""
    from alephee.listings.publish import publish_catalog

    with session_scope() as session:
        created = publish_catalog(session, account, marketplace, skus=sku or [])
        emit({"AccountId": account, "MarketplaceId": marketplace, "Published": len(created), "ListingIds": created})


@catalog_app.command("share")
def catalog_share(
    source: Annotated[int, typer.Option("--from", help="BRAND/DISTRIBUTOR account sharing its products.")],
    target: Annotated[int, typer.Option("--to", help="Seller account receiving them.")],
    sku: Annotated[list[str] | None, typer.Option(help="SKU to share (repeatable); default: every product.")] = None,
) -> None:
    """Share products of a brand/wholesaler account with a seller account (the seller cannot set their prices)."""
    from alephee.products.brands import share_products

    with session_scope() as session:
        emit({"From": source, "To": target, "Shared": share_products(session, source, target, sku or [])})


# --- push notifications (webhooks/) ---------------------------------------------------------------------------
