"""The migrations build exactly the tables the models declare, on every backend."""

from __future__ import annotations

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


def test_marketplace_catalogue_loaded(ctx: AppContext) -> None:
    from sqlalchemy import select

    from alephee.marketplaces.models import Marketplace

    with ctx.db.reading() as session:
        ids = set(session.scalars(select(Marketplace.id)))
    assert {1, 2, 3, 20, 30, 100} <= ids
