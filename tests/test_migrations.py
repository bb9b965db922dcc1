"""The migrations build exactly the tables the models declare, on every backend."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from alephee.db import SQLITE_VIEW
from alephee.http.context import AppContext
from alephee.registry import metadata


def _built_here(dialect: str) -> Callable[..., bool]:
    """Alembic's ``include_object``: leaves out what the models declare for the other database only (an index's
    ``ddl_if``, a table that is a view on SQLite)."""

    def include(obj: Any, _name: str | None, type_: str, reflected: bool, _compare_to: Any) -> bool:
        if reflected:
            return True
        if type_ == "table" and dialect == "sqlite" and obj.info.get(SQLITE_VIEW):
            return False
        condition = getattr(obj, "_ddl_if", None)
        if type_ == "index" and condition is not None and condition.dialect is not None:
            dialects = (condition.dialect,) if isinstance(condition.dialect, str) else condition.dialect
            return dialect in dialects
        return True

    return include


def test_migrations_match_models(ctx: AppContext) -> None:
    engine = create_engine(ctx.settings.database_url)
    try:
        with engine.connect() as conn:
            mc = MigrationContext.configure(
                conn, opts={"compare_type": False, "include_object": _built_here(ctx.db.dialect)}
            )
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


def test_product_dates_is_in_place(ctx: AppContext) -> None:
    # PostgreSQL: the triggers that alone write the copies (migration 0033p_product_dates). SQLite: the view (a
    # migration that recreates ``products`` there must recreate it).
    product_dates = import_module("alephee.migrations.versions.0033p_product_dates")
    with ctx.db.read_engine.connect() as connection:
        if ctx.db.dialect == "sqlite":
            kind = "SELECT type FROM sqlite_master WHERE name = 'product_dates'"
            assert connection.exec_driver_sql(kind).scalar() == "view"
            return
        query = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgrelid = 'products'::regclass"
        assert set(product_dates.TRIGGERS.values()) <= set(connection.exec_driver_sql(query).scalars())


def test_marketplace_catalogue_loaded(ctx: AppContext) -> None:
    from sqlalchemy import select

    from alephee.marketplaces.models import Marketplace

    with ctx.db.reading() as session:
        ids = set(session.scalars(select(Marketplace.id)))
    assert {1, 2, 3, 20, 30, 100} <= ids
