"""The ``alephee`` command: serve, migrate, and operator actions. Every command prints JSON on stdout."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from alephee.accounts import service as accounts
from alephee.accounts.schemas import AccountType
from alephee.config import Settings
from alephee.db import Database
from alephee.errors import DomainError
from alephee.http.numbers import int_from_text

app = typer.Typer(help="Alephee-compatible marketplace-integration hub.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
account_app = typer.Typer(help="Accounts (tenants).", no_args_is_help=True)
key_app = typer.Typer(help="API keys.", no_args_is_help=True)
user_app = typer.Typer(help="Users of an account.", no_args_is_help=True)
marketplace_app = typer.Typer(help="Marketplaces connected to accounts.", no_args_is_help=True)
pricelist_app = typer.Typer(help="Price lists.", no_args_is_help=True)
store_app = typer.Typer(help="Stores, branches and pickup points.", no_args_is_help=True)
for sub, name in (
    (db_app, "db"),
    (account_app, "account"),
    (key_app, "key"),
    (user_app, "user"),
    (marketplace_app, "marketplace"),
    (pricelist_app, "pricelist"),
    (store_app, "store"),
):
    app.add_typer(sub, name=name)


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
    from alephee.bootstrap import prepare_database
    from alephee.http.errors import status_for

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


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes (share the database and, with Redis, limits).")] = 1,
    with_worker: Annotated[
        bool, typer.Option("--with-worker", help="Also deliver the outbox from a background thread of each process.")
    ] = False,
) -> None:
    """Apply migrations, then serve the API (and Swagger at /swagger/ui/index)."""
    import uvicorn

    from alephee.bootstrap import prepare_database
    from alephee.logs import log_config

    settings = Settings()
    prepare_database(settings)
    typer.echo(f"Alephee hub on http://{host}:{port}/v2  Swagger: http://{host}:{port}/swagger/ui/index", err=True)
    uvicorn.run(
        # The worker variant starts/stops its thread in the app's lifespan, so shutdown waits for it.
        # (through webhooks.sender, which also registers the webhook sender with the worker)
        "alephee.webhooks.sender:app_with_worker" if with_worker else "alephee.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        # httptools plus a cap and deadlines on request heads and an idle limit on bodies (http/server.py).
        http="alephee.http.server:GuardedHttpToolsProtocol",
        timeout_keep_alive=settings.http_keep_alive_seconds,  # type: ignore[arg-type]  # uvicorn says int; a float works
        log_level=settings.log_level.lower(),
        # Our access log (alephee.access, written by http/middleware.py) replaces uvicorn's.
        log_config=log_config(settings),
        access_log=False,
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration and load the marketplace catalogue."""
    from alephee.bootstrap import prepare_database

    settings = Settings()
    prepare_database(settings)
    emit({"Status": "ok", "Database": settings.database_url.split("@")[-1]})


@account_app.command("create")
def account_create(
    name: Annotated[str, typer.Option(help="Account name.")],
    type_: Annotated[AccountType, typer.Option("--type", help="Account type.")] = AccountType.SELLER,
    business_name: Annotated[str | None, typer.Option(help="Legal name.")] = None,
    doc_type: Annotated[str | None, typer.Option(help="Document type (CUIT, RUT, CNPJ, ...).")] = None,
    doc_number: Annotated[str | None, typer.Option(help="Document number.")] = None,
    own_code: Annotated[str | None, typer.Option(help="Your ERP code of the account.")] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA zone of naive dates in request bodies.")] = None,
    b2b_portal: Annotated[bool, typer.Option(help="The account has an Alephee B2B portal.")] = False,
    b2b_portal_url: Annotated[str | None, typer.Option(help="Base URL (FQDN) of its B2B portal.")] = None,
) -> None:
    """Create an account; prints ``{"AccountId": n, ...}``."""
    with session_scope() as session:
        account = accounts.create_account(
            session,
            name=name,
            account_type=type_,
            business_name=business_name,
            doc_type=doc_type,
            doc_number=doc_number,
            own_code=own_code,
            timezone=timezone,
            b2b_portal=b2b_portal,
            b2b_portal_url=b2b_portal_url,
        )
        emit({"AccountId": account.id, "Name": account.name, "Type": account.account_type})


@account_app.command("set")
def account_set(
    account: Annotated[int, typer.Option(help="Account id.")],
    allow_pricelist_delete: Annotated[
        bool | None, typer.Option("--allow-pricelist-delete/--deny-pricelist-delete", help="DELETE products/prices.")
    ] = None,
    b2b_portal: Annotated[bool | None, typer.Option("--b2b-portal/--no-b2b-portal", help="B2B portal.")] = None,
    b2b_portal_url: Annotated[str | None, typer.Option(help="Base URL of the B2B portal ('' to clear).")] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA zone ('' for the default).")] = None,
) -> None:
    """Change operator switches of an account."""
    with session_scope() as session:
        row = accounts.set_account_flags(
            session,
            account,
            allow_pricelist_delete=allow_pricelist_delete,
            b2b_portal=b2b_portal,
            b2b_portal_url=b2b_portal_url,
            timezone=timezone,
        )
        emit(
            {
                "AccountId": row.id,
                "AllowPricelistDelete": row.allow_pricelist_delete,
                "B2BPortal": row.b2b_portal_enabled,
                "B2BPortalUrl": row.b2b_portal_url,
                "Timezone": row.timezone,
            }
        )


@account_app.command("list")
def account_list() -> None:
    """Every account."""
    from sqlalchemy import select

    from alephee.accounts.models import Account

    with session_scope() as session:
        rows = session.scalars(select(Account).order_by(Account.id)).all()
        emit([{"AccountId": a.id, "Name": a.name, "Type": a.account_type} for a in rows])


@key_app.command("create")
def key_create(
    account: Annotated[list[int], typer.Option(help="Account id (repeat for several accounts).")],
    rate_limit: Annotated[int | None, typer.Option(help="Requests/minute for every endpoint.")] = None,
    label: Annotated[str | None, typer.Option(help="A note to recognise the key.")] = None,
) -> None:
    """Create an API key; the secret is printed only now (it is stored hashed)."""
    with session_scope() as session:
        key, secret = accounts.create_key(session, account, rate_limit=rate_limit, label=label)
        emit({"KeyId": key.id, "ApiKey": secret, "AccountIds": accounts.key_account_ids(session, key.id)})


def _key_json(key: Any, account_ids: list[int]) -> dict[str, Any]:
    return {
        "KeyId": key.id,
        "Prefix": key.key_prefix,
        "Label": key.label,
        "RateLimit": key.rate_limit,
        "AccountIds": account_ids,
        "CreatedAt": key.created_at.isoformat(),
        "RevokedAt": key.revoked_at.isoformat() if key.revoked_at else None,
    }


@key_app.command("list")
def key_list(account: Annotated[int, typer.Option(help="Account id.")]) -> None:
    """Keys of an account (never the secrets: only their first characters)."""
    with session_scope() as session:
        emit([_key_json(key, ids) for key, ids in accounts.list_keys(session, account)])


@key_app.command("revoke")
def key_revoke(key_id: Annotated[int, typer.Argument(help="Key id (from key list).")]) -> None:
    """Revoke a key: it gets 401 on the next request, on every server process."""
    with session_scope() as session:
        key = accounts.revoke_key(session, key_id)
        emit(_key_json(key, accounts.key_account_ids(session, key.id)))


@key_app.command("rotate")
def key_rotate(key_id: Annotated[int, typer.Argument(help="Key id (from key list).")]) -> None:
    """Revoke a key and create its replacement (same accounts and limit); prints the new secret once."""
    with session_scope() as session:
        key, secret = accounts.rotate_key(session, key_id)
        emit(
            {
                "KeyId": key.id,
                "ApiKey": secret,
                "AccountIds": accounts.key_account_ids(session, key.id),
                "Revoked": key_id,
            }
        )


@app.command()
def audit(
    account: Annotated[int | None, typer.Option(help="Account id (the account acted on or asked for).")] = None,
    limit: Annotated[int, typer.Option(help="How many entries (newest first).")] = 100,
    key: Annotated[int | None, typer.Option(help="Only this key id (alone: every account it touched).")] = None,
    security: Annotated[bool, typer.Option("--security", help="Only security events.")] = False,
) -> None:
    """The audit log: write requests of an account, and security events (a key asking for an account it
    does not serve). Needs --account, --key or both."""
    with session_scope() as session:
        rows = accounts.list_audit(session, account, limit=limit, key_id=key, security_only=security)
        emit(
            [
                {
                    "At": r.created_at.isoformat(),
                    "RequestId": r.request_id,
                    "KeyId": r.key_id,
                    "AccountId": r.account_id,
                    "Event": r.event,
                    "Method": r.method,
                    "Endpoint": r.endpoint,
                    "Path": r.path,
                    "Query": r.query,
                    "Status": r.status,
                    "Items": r.items,
                    "DurationMs": r.duration_ms,
                }
                for r in rows
            ]
        )


@user_app.command("create")
def user_create(
    account: Annotated[int, typer.Option(help="Account id.")],
    email: Annotated[str, typer.Option(help="E-mail (unique per account).")],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    active: Annotated[bool, typer.Option("--active/--inactive", help="Whether the user may log in.")] = True,
) -> None:
    """Add a user to an account."""
    with session_scope() as session:
        user = accounts.create_user(session, account, email, name=name, active=active)
        emit({"UserId": user.id, "AccountId": user.account_id, "Email": user.email, "Active": user.active})


@marketplace_app.command("add")
def marketplace_add(
    account: Annotated[int, typer.Option(help="Account id.")],
    marketplace: Annotated[int, typer.Option(help="Marketplace id from the catalogue.")],
    seller_id: Annotated[str | None, typer.Option(help="The seller's id on the marketplace.")] = None,
) -> None:
    """Connect a marketplace to an account (idempotent)."""
    with session_scope() as session:
        link = accounts.add_marketplace(session, account, marketplace, external_seller_id=seller_id)
        emit({"AccountId": link.account_id, "MarketplaceId": link.marketplace_id})


@marketplace_app.command("list")
def marketplace_list() -> None:
    """The marketplace catalogue (ids usable with ``marketplace add``)."""
    from sqlalchemy import select

    from alephee.marketplaces.models import Marketplace

    with session_scope() as session:
        rows = session.scalars(select(Marketplace).order_by(Marketplace.id)).all()
        emit([{"Id": m.id, "Name": m.name, "Channel": m.channel, "Site": m.site_id} for m in rows])


@pricelist_app.command("create")
def pricelist_create(
    account: Annotated[int, typer.Option(help="Account id.")],
    name: Annotated[str, typer.Option(help="Price list name.")],
    currency: Annotated[str | None, typer.Option(help="Currency code, e.g. ARS.")] = None,
    default: Annotated[bool, typer.Option("--default", help="Make it the account's default list.")] = False,
    discount_rate: Annotated[str | None, typer.Option(help="B2B discount rate, percent.")] = None,
    b2b: Annotated[bool, typer.Option("--b2b", help="The list the B2B portal sells from.")] = False,
) -> None:
    """Create a price list (the account's first list becomes its default)."""
    rate = None
    if discount_rate is not None:
        try:
            rate = Decimal(discount_rate)
        except ArithmeticError:
            fail("discount-rate must be a number")
    with session_scope() as session:
        plist = accounts.create_price_list(
            session, account, name, currency=currency, is_default=default, discount_rate=rate, is_b2b=b2b
        )
        emit(
            {"PriceListId": plist.id, "AccountId": plist.account_id, "Name": plist.name, "IsDefault": plist.is_default}
        )


@store_app.command("create")
def store_create(
    account: Annotated[int, typer.Option(help="Account id.")],
    name: Annotated[str, typer.Option(help="Store name.")],
    business_name: Annotated[str | None, typer.Option(help="Legal name.")] = None,
    integration_code: Annotated[str | None, typer.Option(help="Your ERP code of the branch.")] = None,
    principal: Annotated[bool, typer.Option("--principal", help="Main store.")] = False,
    pickup: Annotated[bool, typer.Option("--pickup", help="Enabled as pick-up-in-store.")] = False,
    open_hours: Annotated[str | None, typer.Option(help="Opening hours label.")] = None,
    zone: Annotated[str | None, typer.Option(help="Zone label.")] = None,
    city: Annotated[str | None, typer.Option(help="Address: city.")] = None,
    street: Annotated[str | None, typer.Option(help="Address: street name.")] = None,
    number: Annotated[str | None, typer.Option(help="Address: street number.")] = None,
    zip_code: Annotated[str | None, typer.Option(help="Address: postal code.")] = None,
    country: Annotated[str | None, typer.Option(help="Address: country code.")] = None,
    pickup_seller_account: Annotated[int | None, typer.Option(help="AccountPickup: seller account id.")] = None,
    pickup_name: Annotated[str | None, typer.Option(help="AccountPickup: pickup point name.")] = None,
    external: Annotated[list[str] | None, typer.Option(help="MARKETPLACE_ID:EXTERNAL_ID[:NAME], repeatable.")] = None,
) -> None:
    """Create a store, branch or pickup point."""
    externals: list[tuple[int, str, str | None]] = []
    for spec in external or []:
        parts = spec.split(":", 2)
        marketplace_id = int_from_text(parts[0]) if len(parts) >= 2 and parts[1] else None
        if marketplace_id is None:
            fail(f"--external '{spec}' must be MARKETPLACE_ID:EXTERNAL_ID[:NAME]")
            return
        externals.append((marketplace_id, parts[1], parts[2] if len(parts) > 2 else None))
    address = {
        k: v
        for k, v in {
            "CountryId": country,
            "City": city,
            "StreetName": street,
            "StreetNumber": number,
            "ZipCode": zip_code,
        }.items()
        if v is not None
    } or None
    pickup_data = None
    if pickup_name or pickup_seller_account:
        pickup_data = {"name": pickup_name or name, "seller_account_id": pickup_seller_account}
    with session_scope() as session:
        store = accounts.create_store(
            session,
            account,
            name,
            business_name=business_name,
            integration_code=integration_code,
            is_principal=principal,
            allow_pickup_store=pickup,
            open_hours=open_hours,
            zone=zone,
            address=address,
            pickup=pickup_data,
            external_ids=externals,
        )
        emit({"StoreId": store.id, "AccountId": store.account_id, "Name": store.name})


@app.command()
def demo(
    if_empty: Annotated[bool, typer.Option("--if-empty", help="Only create it when there is no account yet.")] = False,
) -> None:
    """Create (idempotently) the demo tenant; prints ``{"AccountId": n, "ApiKey": "..."}``."""
    from sqlalchemy import func, select

    from alephee.accounts.models import Account
    from alephee.demo import ensure_demo, find_demo_account

    settings = Settings()
    with session_scope(settings) as session:
        if if_empty and (session.scalar(select(func.count()).select_from(Account)) or 0) > 0:
            existing = find_demo_account(session)
            if existing is None:
                emit({"Status": "skipped", "Message": "the database already has accounts"})
                return
        result = ensure_demo(session, settings)
        emit({"AccountId": result.account_id, "ApiKey": result.api_key, "Created": result.created})


# --- outbox worker and sandbox marketplace (marketplaces/) ------------------------------------------------

outbox_app = typer.Typer(help="The outbox of changes waiting to reach marketplaces.", no_args_is_help=True)
sandbox_app = typer.Typer(help="The built-in sandbox marketplace.", no_args_is_help=True)
app.add_typer(outbox_app, name="outbox")
app.add_typer(sandbox_app, name="sandbox")


@app.command()
def worker(
    once: Annotated[bool, typer.Option("--once", help="Deliver what is due now, then exit.")] = False,
    interval: Annotated[float | None, typer.Option(help="Seconds to sleep when nothing is due.")] = None,
    batch: Annotated[int | None, typer.Option(help="Rows claimed per round.")] = None,
) -> None:
    """Deliver the outbox through the marketplace channels (several workers may run at once)."""
    import logging.config
    import signal
    import threading

    from alephee.bootstrap import prepare_database
    from alephee.logs import log_config
    from alephee.marketplaces.worker import Worker
    from alephee.webhooks.sender import install as install_webhook_sender
    from alephee.webhooks.sender import uninstall as uninstall_webhook_sender

    settings = Settings()
    logging.config.dictConfig(log_config(settings))
    if batch is not None and batch < 1:
        fail("--batch must be at least 1")
    if interval is not None and interval < 0:
        fail("--interval must not be negative")
    prepare_database(settings)
    database = Database(settings)
    runner = Worker(database, settings)
    # A long-running worker also keeps the feed purge queued; --once only delivers what is already due.
    previous_sender = install_webhook_sender(settings, None if once else database)
    try:
        if once:
            stats = runner.drain(batch)
        else:
            stop = threading.Event()
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: stop.set())
            stats = runner.run_forever(stop, interval=interval, batch=batch)
    finally:
        uninstall_webhook_sender(previous_sender)
        database.dispose()
    emit({"WorkerId": runner.worker_id, **stats.as_json()})


@outbox_app.command("list")
def outbox_list(
    status: Annotated[str | None, typer.Option(help="pending, in_flight, delivered or failed.")] = None,
    account: Annotated[int | None, typer.Option(help="Only this account id.")] = None,
    limit: Annotated[int, typer.Option(help="How many rows (newest first).")] = 100,
) -> None:
    """Outbox rows with their delivery state and last error."""
    from alephee.marketplaces import outbox

    with session_scope() as session:
        emit(
            [
                outbox.message_json(r)
                for r in outbox.list_messages(session, status=status, account_id=account, limit=limit)
            ]
        )


@outbox_app.command("retry")
def outbox_retry(
    message_id: Annotated[int | None, typer.Argument(help="Outbox row id (from outbox list).")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Every failed row.")] = False,
    account: Annotated[int | None, typer.Option(help="With --failed: only this account's rows.")] = None,
) -> None:
    """Put failed rows back to pending (due now, attempts reset)."""
    from alephee.marketplaces import outbox

    if (message_id is None) == (not failed):
        fail("give either an outbox id or --failed")
    with session_scope() as session:
        ids = outbox.retry(session, message_id, account_id=account)
        emit({"Retried": ids, "Count": len(ids)})


@sandbox_app.command("advance")
def sandbox_advance(hours: Annotated[float, typer.Option(help="Hours to move the simulated clock forward.")]) -> None:
    """Move the sandbox marketplace's simulated clock forward; what falls due happens (payments settle,
    shipments move, scheduled cancellations) and reaches the hub with the worker's next pull."""
    from alephee.marketplaces import buyers, sandbox

    if hours < 0:
        fail("--hours must not be negative")
    if hours > 24 * 365:
        fail("--hours must be at most 8760 (a year)")
    with session_scope() as session:
        sandbox.advance(session, hours)
        progress = buyers.progress(session)
        emit({**sandbox.summary(session), **progress.as_json()})


@sandbox_app.command("sell")
def sandbox_sell(
    account: Annotated[int, typer.Option(help="Seller account id whose sandbox listings buyers purchase.")],
    orders: Annotated[int, typer.Option(help="How many orders (carts count one per order).")] = 10,
    seed: Annotated[int | None, typer.Option(help="Seed of the buyers (default: derived from the feed).")] = None,
    marketplace: Annotated[int | None, typer.Option(help="Only this sandbox marketplace id.")] = None,
) -> None:
    """Simulated buyers purchase active sandbox listings now (the worker pulls the orders into the hub)."""
    from alephee.marketplaces import buyers

    if not 1 <= orders <= buyers.MAX_ORDERS_PER_SELL:
        fail(buyers.ERR_ORDERS)
    with session_scope() as session:
        report = buyers.sell(session, account, orders=orders, seed=seed, marketplace_id=marketplace)
        emit(report.as_json())


@sandbox_app.command("status")
def sandbox_status() -> None:
    """The simulated clock, the seed, and how many listings, orders and received events the sandbox holds."""
    from alephee.marketplaces import sandbox

    with session_scope() as session:
        emit(sandbox.summary(session))


@sandbox_app.command("listings")
def sandbox_listings(
    account: Annotated[int | None, typer.Option(help="Only this account id.")] = None,
    marketplace: Annotated[int | None, typer.Option(help="Only this sandbox marketplace id.")] = None,
    limit: Annotated[int, typer.Option(help="How many listings (newest first).")] = 100,
) -> None:
    """The listings as the sandbox marketplace shows them to buyers."""
    from alephee.marketplaces import sandbox

    with session_scope() as session:
        rows = sandbox.list_listings(session, account_id=account, marketplace_id=marketplace, limit=limit)
        emit([sandbox.listing_json(r) for r in rows])


# --- catalog (products/, listings/) ---------------------------------------------------------------------------

catalog_app = typer.Typer(help="Catalog: import products, publish them on marketplaces.", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")


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

webhook_app = typer.Typer(help="Webhooks: events POSTed to an account's URLs.", no_args_is_help=True)
notifications_app = typer.Typer(help="The per-account event feed.", no_args_is_help=True)
app.add_typer(webhook_app, name="webhook")
app.add_typer(notifications_app, name="notifications")


def _webhook_json(row: Any) -> dict[str, Any]:
    return {
        "Id": row.id,
        "AccountId": row.account_id,
        "Url": row.url,
        "EventTypes": list(row.event_types or []),
        "Active": row.active,
        "Description": row.description,
        "DateCreated": row.created_at.isoformat(),
    }


@webhook_app.command("add")
def webhook_add(
    account: Annotated[int, typer.Option(help="Account id.")],
    url: Annotated[str, typer.Option(help="http(s) URL receiving the events.")],
    event: Annotated[list[str], typer.Option(help="Event type (repeatable), or * for all.")],
    secret: Annotated[str | None, typer.Option(help="Signing secret (16-200 chars); generated when omitted.")] = None,
    description: Annotated[str | None, typer.Option(help="A note.")] = None,
    inactive: Annotated[bool, typer.Option("--inactive", help="Create it switched off.")] = False,
) -> None:
    """Add a webhook; prints it with its secret (shown only now)."""
    from alephee.webhooks import service as webhooks

    settings = Settings()
    with session_scope(settings) as session:
        row, signing_secret = webhooks.create_subscription(
            session,
            settings,
            account,
            url=url,
            event_types=event,
            secret=secret,
            active=not inactive,
            description=description,
        )
        emit({**_webhook_json(row), "Secret": signing_secret})


@webhook_app.command("list")
def webhook_list(account: Annotated[int, typer.Option(help="Account id.")]) -> None:
    """Webhooks of an account (never their secrets)."""
    from alephee.webhooks import service as webhooks

    with session_scope() as session:
        accounts.require_account_row(session, account)
        emit([_webhook_json(row) for row in webhooks.list_subscriptions(session, account)[1]])


@webhook_app.command("remove")
def webhook_remove(
    webhook_id: Annotated[int, typer.Argument(help="Webhook id (from webhook list).")],
    account: Annotated[int | None, typer.Option(help="Only if it belongs to this account.")] = None,
) -> None:
    """Remove a webhook (queued deliveries to it fail; their events stay in the feed)."""
    from alephee.webhooks import service as webhooks

    with session_scope() as session:
        row = webhooks.delete_subscription(session, webhook_id, account)
        emit({"Removed": row.id, "AccountId": row.account_id, "Url": row.url})


@webhook_app.command("test")
def webhook_test(webhook_id: Annotated[int, typer.Argument(help="Webhook id (from webhook list).")]) -> None:
    """POST a signed webhook.test event now; prints the receiver's HTTP status (exit 1 unless 2xx)."""
    from alephee.webhooks import service as webhooks
    from alephee.webhooks.sender import send_test

    settings = Settings()
    with session_scope(settings) as session:
        row = webhooks.get_subscription(session, webhook_id)
    outcome = send_test(row, settings)
    emit(outcome)
    if not outcome["Delivered"]:
        raise typer.Exit(1)


@webhook_app.command("rekey")
def webhook_rekey() -> None:
    """Re-encrypt every webhook signing secret with the first key of ALEPHEE_SECRET_KEY (run after putting a new
    key first; also encrypts secrets still stored in clear). Exit 1 if a secret no configured key decrypts."""
    from alephee.webhooks import service as webhooks
    from alephee.webhooks.crypto import SecretKeyError

    settings = Settings()
    try:
        with session_scope(settings) as session:
            report = webhooks.rekey_secrets(session, settings)
    except SecretKeyError as exc:
        fail(str(exc), 500)
    emit(report.as_json())
    if report.failed:
        raise typer.Exit(1)


@notifications_app.command("purge")
def notifications_purge() -> None:
    """Delete feed events older than ALEPHEE_NOTIFICATIONS_RETENTION_DAYS (the worker also does it hourly)."""
    from alephee.webhooks import service as webhooks
    from alephee.webhooks.sender import ensure_purge_scheduled

    settings = Settings()
    with session_scope(settings) as session:
        purged = webhooks.purge(session, settings)
        ensure_purge_scheduled(session)
        emit({"Purged": purged, "RetentionDays": settings.notifications_retention_days})


def main() -> None:
    """Entry point of the ``alephee`` script."""
    try:
        app()
    except DomainError as exc:  # pragma: no cover - session_scope handles most
        print(json.dumps({"Status": 400, "Message": exc.message}), file=sys.stderr)
        sys.exit(1)
