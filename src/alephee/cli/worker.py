"""``alephee worker`` (the outbox delivered through the marketplace channels), ``alephee outbox`` and the
built-in sandbox marketplace (``alephee sandbox``)."""

from __future__ import annotations

from typing import Annotated

import typer

from alephee.cli.common import emit, fail, session_scope
from alephee.config import Settings
from alephee.db import Database

# --- outbox worker and sandbox marketplace (marketplaces/) ------------------------------------------------

outbox_app = typer.Typer(help="The outbox of changes waiting to reach marketplaces.", no_args_is_help=True)
sandbox_app = typer.Typer(help="The built-in sandbox marketplace.", no_args_is_help=True)


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
    from alephee.memory import cap_malloc_arenas
    from alephee.registry import build_worker

    settings = Settings()
    cap_malloc_arenas(settings.malloc_arenas)  # before the delivery pools' threads start
    logging.config.dictConfig(log_config(settings))
    if batch is not None and batch < 1:
        fail("--batch must be at least 1")
    if interval is not None and interval < 0:
        fail("--interval must not be negative")
    # A long-running worker says what it finds wrong with the database server; --once is a command like the others.
    prepare_database(settings, service=not once)
    database = Database(settings)
    # A long-running worker also keeps the feed purge queued; --once only delivers what is already due.
    runner = build_worker(database, settings, purge=not once)
    try:
        if once:
            stats = runner.drain(batch)
        else:
            stop = threading.Event()
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: stop.set())
            stats = runner.run_forever(stop, interval=interval, batch=batch)
    finally:
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
    from alephee.sandbox import buyers
    from alephee.sandbox import state as sandbox

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
    from alephee.sandbox import buyers

    if not 1 <= orders <= buyers.MAX_ORDERS_PER_SELL:
        fail(buyers.ERR_ORDERS)
    with session_scope() as session:
        report = buyers.sell(session, account, orders=orders, seed=seed, marketplace_id=marketplace)
        emit(report.as_json())


@sandbox_app.command("status")
def sandbox_status() -> None:
    """The simulated clock, the seed, and how many listings, orders and received events the sandbox holds."""
    from alephee.sandbox import state as sandbox

    with session_scope() as session:
        emit(sandbox.summary(session))


@sandbox_app.command("listings")
def sandbox_listings(
    account: Annotated[int | None, typer.Option(help="Only this account id.")] = None,
    marketplace: Annotated[int | None, typer.Option(help="Only this sandbox marketplace id.")] = None,
    limit: Annotated[int, typer.Option(help="How many listings (newest first).")] = 100,
) -> None:
    """The listings as the sandbox marketplace shows them to buyers."""
    from alephee.sandbox import state as sandbox

    with session_scope() as session:
        rows = sandbox.list_listings(session, account_id=account, marketplace_id=marketplace, limit=limit)
        emit([sandbox.listing_json(r) for r in rows])
