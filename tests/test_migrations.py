"""The migrations build exactly the tables the models declare, on every backend."""

from __future__ import annotations

from importlib import import_module

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from alephee.http.context import AppContext
from alephee.registry import metadata


def test_migrations_match_models(ctx: AppContext) -> None:
    engine = create_engine(ctx.settings.database_url)
    try:
        with engine.connect() as conn:
            mc = MigrationContext.configure(conn, opts={"compare_type": False})
            diff = compare_metadata(mc, metadata)
    finally:
        engine.dispose()
    assert diff == [], diff


def test_every_read_serial_trigger_is_in_place(ctx: AppContext) -> None:
    # A SQLite migration that recreates a table (batch mode) drops its triggers: the read caches would then
    # miss that table's writes (migration 0030r_read_serials).
    read_serials = import_module("alephee.migrations.versions.0030r_read_serials")
    expected = {read_serials.trigger_name(table, e) for table, events, _ in read_serials.WATCHED for e in events}
    query = (
        "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        if ctx.db.dialect == "sqlite"
        else "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
    )
    with ctx.db.read_engine.connect() as connection:
        assert expected <= set(connection.exec_driver_sql(query).scalars())


def test_every_product_dates_trigger_is_in_place(ctx: AppContext) -> None:
    # ``product_dates`` is written only by these triggers (migration 0033p_product_dates); a SQLite migration
    # that recreates ``products`` drops them.
    product_dates = import_module("alephee.migrations.versions.0033p_product_dates")
    query = (
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'products'"
        if ctx.db.dialect == "sqlite"
        else "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgrelid = 'products'::regclass"
    )
    with ctx.db.read_engine.connect() as connection:
        assert set(product_dates.TRIGGERS.values()) <= set(connection.exec_driver_sql(query).scalars())


def test_marketplace_catalogue_loaded(ctx: AppContext) -> None:
    from sqlalchemy import select

    from alephee.marketplaces.models import Marketplace

    with ctx.db.reading() as session:
        ids = set(session.scalars(select(Marketplace.id)))
    assert {1, 2, 3, 20, 30, 100} <= ids
