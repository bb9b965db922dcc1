"""The queue tables' vacuuming on PostgreSQL: their autovacuum settings (migration 0034v), the warning at start
when the server's autovacuum is off, and their live and dead rows on ``/metrics``."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from importlib import import_module
from types import ModuleType

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Connection, create_engine

from alephee import db as database
from alephee.app import QUEUE_TABLES
from alephee.bootstrap import prepare_database
from alephee.db import alembic_config
from alephee.http.context import AppContext

REVISION = "0034v_queue_autovacuum"


def _migration() -> ModuleType:
    return import_module(f"alephee.migrations.versions.{REVISION}")


def _run(ctx: AppContext, step: str) -> None:
    """Run the revision's ``upgrade`` or ``downgrade`` on the test database, as Alembic would."""
    engine = create_engine(ctx.settings.database_url)
    try:
        with engine.begin() as connection, Operations.context(MigrationContext.configure(connection)):
            getattr(_migration(), step)()
    finally:
        engine.dispose()


def _options(ctx: AppContext, tables: Iterable[str]) -> dict[str, dict[str, str]]:
    """The storage parameters of ``tables``, by table."""
    query = (
        "SELECT relname, reloptions FROM pg_class"
        " WHERE oid IN (SELECT to_regclass(t) FROM unnest(CAST(%(t)s AS text[])) AS t)"
    )
    with ctx.db.write_engine.connect() as connection:
        rows = connection.exec_driver_sql(query, {"t": list(tables)}).all()
    return {name: dict(option.split("=", 1) for option in options or ()) for name, options in rows}


# --- the migration ------------------------------------------------------------------------------------------


def test_the_revision_follows_product_dates() -> None:
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert scripts.get_revision(REVISION).down_revision == "0033p_product_dates"
    heads = set(scripts.get_heads())
    assert "0033p_product_dates" not in heads


def test_every_queue_table_on_metrics_is_vacuumed_as_a_queue(ctx: AppContext) -> None:
    assert set(_migration().QUEUE_TABLES) <= set(QUEUE_TABLES)
    if ctx.db.dialect == "sqlite":
        return
    expected = _migration().AUTOVACUUM
    options = _options(ctx, QUEUE_TABLES)
    assert set(options) == set(QUEUE_TABLES)
    for table in QUEUE_TABLES:
        assert {name: options[table].get(name) for name in expected} == expected, table


def test_the_queue_tables_autovacuum_settings_are_set_by_upgrade_and_reset_by_downgrade(ctx: AppContext) -> None:
    expected = _migration().AUTOVACUUM
    if ctx.db.dialect == "sqlite":
        # Nothing to set there: both steps run and change nothing.
        _run(ctx, "downgrade")
        _run(ctx, "upgrade")
        return
    tables = _migration().QUEUE_TABLES
    before = _options(ctx, tables)
    assert set(before) == set(tables)
    for table, options in before.items():
        assert {name: options.get(name) for name in expected} == expected, table
    try:
        _run(ctx, "downgrade")
        after = _options(ctx, tables)
        assert set(after) == set(tables)
        for table, options in after.items():
            assert not set(options) & set(expected), table
    finally:
        _run(ctx, "upgrade")
    assert _options(ctx, tables) == before


# --- the warning at start -----------------------------------------------------------------------------------


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def warnings(self) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno == logging.WARNING]


@pytest.fixture
def records() -> Iterator[_Records]:
    """What ``alephee.db`` logs during the test (whatever the logging configuration propagates)."""
    handler = _Records()
    logger = logging.getLogger("alephee.db")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.setLevel(level)
        logger.removeHandler(handler)


def _reads(monkeypatch: pytest.MonkeyPatch, answer: str | Exception) -> list[str]:
    """Make the server's setting read ``answer`` (or raise it); returns the answers given."""
    given: list[str] = []

    def read(_connection: Connection) -> str:
        if isinstance(answer, Exception):
            raise answer
        given.append(answer)
        return answer

    monkeypatch.setattr(database, "autovacuum_setting", read)
    return given


def test_a_start_on_postgresql_with_autovacuum_off_logs_one_warning(
    ctx: AppContext, records: _Records, monkeypatch: pytest.MonkeyPatch
) -> None:
    given = _reads(monkeypatch, "off")
    prepare_database(ctx.settings, ctx.db, service=True)
    if ctx.db.dialect == "sqlite":
        assert given == [] and records.warnings() == []
        return
    assert given == ["off"]
    (warning,) = records.warnings()
    assert "autovacuum = off" in warning and "outbox" in warning and "docs/operations.md" in warning


def test_no_warning_with_autovacuum_on(ctx: AppContext, records: _Records, monkeypatch: pytest.MonkeyPatch) -> None:
    _reads(monkeypatch, "on")
    assert database.warn_if_autovacuum_off(ctx.db) is False
    assert records.warnings() == []


def test_a_setting_that_cannot_be_read_never_stops_the_start(
    ctx: AppContext, records: _Records, monkeypatch: pytest.MonkeyPatch
) -> None:
    _reads(monkeypatch, RuntimeError("permission denied"))
    prepare_database(ctx.settings, ctx.db, service=True)
    assert records.warnings() == []
    if ctx.db.dialect == "postgresql":
        assert [r.levelno for r in records.records] == [logging.DEBUG]


def test_the_setting_is_read_from_the_server(ctx: AppContext) -> None:
    if ctx.db.dialect == "sqlite":
        pytest.skip("PostgreSQL only")
    with ctx.db.write_engine.connect() as connection:
        assert database.autovacuum_setting(connection) in {"on", "off"}


# --- /metrics -----------------------------------------------------------------------------------------------


def _table_rows(client: TestClient) -> dict[tuple[str, str], float]:
    """``alephee_table_rows`` as a scrape shows it, by (table, state)."""
    response = client.get("/metrics")
    assert response.status_code == 200
    (family,) = (f for f in text_string_to_metric_families(response.text) if f.name == "alephee_table_rows")
    return {(s.labels["table"], s.labels["state"]): s.value for s in family.samples}


def test_the_queue_tables_rows_are_on_metrics_on_postgresql_only(ctx: AppContext, client: TestClient) -> None:
    rows = _table_rows(client)
    if ctx.db.dialect == "sqlite":
        assert rows == {}
        return
    assert set(rows) == {(table, state) for table in QUEUE_TABLES for state in ("live", "dead")}
    assert all(value >= 0 and value == int(value) for value in rows.values()), rows


def test_the_rows_are_read_for_the_tables_that_exist(ctx: AppContext) -> None:
    rows = ctx.db.table_rows(["outbox", "no_such_table"])
    if ctx.db.dialect == "sqlite":
        assert rows == {}
        return
    assert set(rows) == {"outbox"}
    live, dead = rows["outbox"]
    assert isinstance(live, int) and isinstance(dead, int) and live >= 0 and dead >= 0
