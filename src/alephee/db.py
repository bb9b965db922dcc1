"""Database: engines, sessions, the declarative ``Base``, shared column types and migrations; the read caches'
change counters (``read_serials``, ``read_states``, ``StateCache``).

SQLite is the embedded default; PostgreSQL is the production store. Two engines are built: the *write*
engine (on SQLite every transaction starts with ``BEGIN IMMEDIATE`` so concurrent writers queue on the
busy timeout instead of failing on a lock upgrade) and the *read* engine (autocommit, read-only; on
PostgreSQL it may point to a replica through ``ALEPHEE_DATABASE_READ_URL``).

On PostgreSQL the hub also says how the server keeps its queue tables clean: ``warn_if_autovacuum_off`` (once at
start) and ``Database.table_rows`` (their live and dead rows, for ``/metrics``).
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Hashable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    DateTime,
    Engine,
    MetaData,
    Numeric,
    SmallInteger,
    any_,
    bindparam,
    create_engine,
    event,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import QueuePool
from sqlalchemy.types import TypeDecorator

from alephee.config import Settings

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)

log = logging.getLogger("alephee.db")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# ``Table.info`` key of a table that is a view on SQLite (created by its migration, never written from code).
SQLITE_VIEW = "sqlite_view"


class Base(DeclarativeBase):
    """Declarative base of every table."""

    metadata = MetaData(naming_convention=NAMING)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that is always UTC-aware in Python, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        # SQLite keeps text; store naive UTC so lexical order is time order.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


SCALE = 10_000


class Money(TypeDecorator[Decimal]):
    """An exact decimal with 4 places: NUMERIC(18,4) on PostgreSQL, scaled BIGINT on SQLite.

    SQLite has no decimal type (NUMERIC there is a float), so it keeps ten-thousandths as an integer.
    """

    impl = Numeric(18, 4)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(18, 4, asdecimal=True))

    def process_bind_param(self, value: Decimal | int | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = Decimal(value).quantize(Decimal("0.0001"))
        return int(value * SCALE) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(int(value)) / SCALE).quantize(Decimal("0.0001"))
        return Decimal(value).quantize(Decimal("0.0001"))


# Told how long a checkout took to get a connection: (engine role "write" or "read", seconds).
PoolWaitObserver = Callable[[str, float], None]


class TimedQueuePool(QueuePool):
    """A ``QueuePool`` that reports how long each checkout took to get a connection: an idle one at once, a new
    one after connecting, or, with every connection out, after waiting for one to come back (the wait that makes
    a request slow without any database work). ``observer`` and ``role`` survive ``dispose()``."""

    observer: PoolWaitObserver | None = None
    role = ""
    # SQLAlchemy names a pool's logger after its class, which would put this one under the hub's ``alephee``
    # logger (its INFO lines, "Pool recreating", in the hub's log and the CLI's stderr): keep SQLAlchemy's name.
    _sqla_logger_namespace = "sqlalchemy.pool.impl.QueuePool"

    def _do_get(self) -> Any:
        began = time.perf_counter()
        try:
            return super()._do_get()
        finally:
            if self.observer is not None:
                self.observer(self.role, time.perf_counter() - began)

    def recreate(self) -> QueuePool:
        pool = super().recreate()
        pool.observer, pool.role = self.observer, self.role  # type: ignore[attr-defined]
        return pool


def _sqlite_connect_args(settings: Settings) -> dict[str, Any]:
    return {"check_same_thread": False, "timeout": settings.sqlite_busy_timeout_ms / 1000}


def _configure_sqlite(engine: Engine, settings: Settings, *, immediate: bool, read_only: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's implicit BEGIN is deferred).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(settings.sqlite_busy_timeout_ms)}")
        cur.close()

    if read_only:

        @event.listens_for(engine, "connect")
        def _read_only(dbapi_conn: Any, _record: Any) -> None:
            # A read connection never writes: writes go through write sessions, in transactions.
            dbapi_conn.execute("PRAGMA query_only=ON")

        # Like the PostgreSQL read engine: every statement is its own (WAL snapshot) transaction, so a read
        # costs no BEGIN/ROLLBACK and never holds a snapshot that would keep the WAL from being checkpointed.
        return
    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)


def make_engine(url: str, settings: Settings, *, immediate: bool, read_only: bool = False) -> Engine:
    """Build an engine for ``url`` tuned for this hub (pool sizes, SQLite pragmas).

    ``read_only``: autocommit. On PostgreSQL, under READ COMMITTED every statement takes its own snapshot even
    inside a transaction, so BEGIN/ROLLBACK would only add two round trips to every read request; SQLite reads
    behave the same way, so code on the read engine never relies on a multi-statement snapshot.
    """
    if url.startswith("sqlite"):
        from sqlalchemy.engine import make_url
        from sqlalchemy.pool import StaticPool

        in_memory = make_url(url).database in (None, "", ":memory:")
        pool: dict[str, Any] = (
            {"poolclass": StaticPool}
            if in_memory
            # Read connections are reused last-in-first-out: the next request gets the connection whose
            # page cache is the freshest.
            else {
                "poolclass": TimedQueuePool,
                "pool_size": settings.db_pool_size,
                "max_overflow": settings.db_max_overflow,
                "pool_use_lifo": read_only,
            }
        )
        engine = create_engine(url, connect_args=_sqlite_connect_args(settings), **pool)
        _configure_sqlite(engine, settings, immediate=immediate, read_only=read_only)
        return engine
    pool = {"poolclass": TimedQueuePool, "pool_size": settings.db_pool_size, "max_overflow": settings.db_max_overflow}
    if not read_only:
        return create_engine(url, pool_pre_ping=True, **pool)
    engine = create_engine(
        url,
        isolation_level="AUTOCOMMIT",
        connect_args={"options": "-c default_transaction_read_only=on"},
        **pool,
    )

    @event.listens_for(engine, "checkout")
    def _ping_with_serials(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        # The pool's liveness check (what pool_pre_ping would send), answering something useful in the same
        # round trip when the connection is taken for a poll: the counters ``read_states`` then uses.
        account = _PING_ACCOUNT.get()
        record.info.pop("checkout_serials", None)  # an answer is only ever used on its own checkout
        try:
            if account is None:
                dbapi_conn.execute("SELECT 1").fetchone()
                return
            record.info["checkout_serials"] = (account, _serials(dbapi_conn, account))
        except Exception as error:  # a trivial statement failed: the pool replaces the connection
            raise DisconnectionError(str(error)) from error

    return engine


def among(column: Any, values: Collection[Any], dialect: str) -> ColumnElement[bool]:
    """``column IN values`` written for the database: one array parameter on PostgreSQL (``= ANY(...)``; a
    list of hundreds of values as separate parameters costs the server milliseconds to plan), an expanding
    ``IN`` elsewhere."""
    if dialect == "postgresql":
        return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))
    return column.in_(values)  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class BulkStatement:
    """One write shape run over many rows: ``per_row`` for SQLite (one ``?`` per value of a row, run with
    executemany: in-process and cheap), ``over_arrays`` for PostgreSQL (one ``%s`` array per column in the row's
    order, e.g. ``UPDATE ... FROM unnest(...)``: one statement instead of a server round of parsing, planning
    and executing per row)."""

    per_row: str
    over_arrays: str


# A numeric array goes as one text literal (``numeric_array``): psycopg's binary form of a Decimal costs
# ≈ 1.8 µs of Python per element, its text form 1.3 µs, ``str`` and one ``join`` 0.2 µs (PRD-30).
NUMERIC_ARRAY = "%s::numeric[]"
_ARRAY_PARAMETER = re.compile(r"%[bs]::(\w+)\[\]")


def arrays(*types: str) -> str:
    """The array parameters of a ``BulkStatement.over_arrays``, one per column type: ``%b::integer[], ...``.

    ``%b`` sends each array in binary: psycopg's text format quotes and escapes every element in Python (a
    regular expression per string), which cost a 50-row batch more CPU than the rest of its writes. Numeric
    arrays are the exception (``NUMERIC_ARRAY``): ``RowWriter`` sends them as a literal it builds itself."""
    return ", ".join(NUMERIC_ARRAY if t == "numeric" else f"%b::{t}[]" for t in types)


def numeric_array(values: Iterable[Decimal | None]) -> str:
    """The ``numeric[]`` literal of ``values`` (``{1.5000,NULL}``): a Decimal's ``str`` is valid numeric input."""
    return "{" + ",".join("NULL" if v is None else str(v) for v in values) + "}"


@functools.lru_cache(maxsize=256)
def _numeric_columns(sql: str) -> frozenset[int]:
    """Positions of the numeric arrays among a statement's array parameters."""
    return frozenset(i for i, t in enumerate(_ARRAY_PARAMETER.findall(sql)) if t == "numeric")


class RowWriter:
    """Runs ``BulkStatement``s on one connection, with the bind processors of the column types that need one
    (``money``, ``stamp``), so what is stored is exactly what the ORM would store."""

    def __init__(self, conn: Connection) -> None:
        dialect = conn.dialect
        self.conn = conn
        money = Money().dialect_impl(dialect).bind_processor(dialect)
        stamp = UtcDateTime().dialect_impl(dialect).bind_processor(dialect)
        self.money: Any = money or (lambda v: v)
        self.stamp: Any = stamp or (lambda v: v)
        self.arrays = dialect.name == "postgresql"

    def executemany(self, statement: BulkStatement, rows: list[tuple[Any, ...]]) -> None:
        """Write ``rows``: one statement over column arrays on PostgreSQL, one per row elsewhere."""
        if not rows:
            return
        if self.arrays:
            numeric = _numeric_columns(statement.over_arrays)
            columns = zip(*rows, strict=True)
            self.conn.exec_driver_sql(
                statement.over_arrays,
                tuple(numeric_array(c) if i in numeric else list(c) for i, c in enumerate(columns)),
            )
        else:
            self.conn.exec_driver_sql(statement.per_row, rows)


class ReadSerial(Base):
    """A counter of committed changes, moved by database triggers (migration ``0030r_read_serials``). Per
    account: ``SCOPE_ALL`` for its orders and order options, ``SCOPE_BACKLOG`` for the same restricted to
    orders not integrated (before or after the write); ``KEY_SERIAL`` for what the API key lookup reads (keys,
    their accounts, an account's type and time zone). Rows are never deleted: a counter only ever grows, so a
    value seen once never comes back."""

    __tablename__ = "read_serials"

    account_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    scope: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    serial: Mapped[int] = mapped_column(BigInteger)


# The ``read_serials`` account of the key lookup (account ids start at 1), and an account's two scopes.
KEY_SERIAL = 0
SCOPE_ALL, SCOPE_BACKLOG = 0, 1


@dataclass(frozen=True, slots=True)
class ReadState:
    """The counter a cached value depends on, as read: two equal states mean that nothing the value was
    computed from committed a change in between, so the value is still exact. ``scope`` names the counter
    (the key lookup, or an account's scope) and ``version`` is its value."""

    scope: Hashable
    version: Hashable


@dataclass(frozen=True, slots=True)
class ReadStates:
    """The states of one request: the key lookup's and, when the request names an account, the account's
    (every order) and its backlog's (orders not integrated)."""

    keys: ReadState
    account: ReadState | None
    backlog: ReadState | None


# Every poll of GET /v2/orders runs it first, on the driver directly (``%s``: psycopg's placeholder).
_READ_SERIALS = "SELECT account_id, scope, serial FROM read_serials WHERE account_id IN (%s, %s)"
_READ_SERIALS_SQLITE = _READ_SERIALS.replace("%s", "?")

# The account whose counters the checkout ping of the next PostgreSQL read connection reads (``polling``).
_PING_ACCOUNT: ContextVar[int | None] = ContextVar("ping_account", default=None)


def _counted(account_id: int | None) -> int | None:
    # Only an id an account can have has counters (a bigger number would not even bind as a parameter).
    return account_id if account_id is not None and 0 < account_id < 2**63 else None


def _serials(dbapi_conn: Any, account: int, sql: str = _READ_SERIALS) -> dict[tuple[int, int], int]:
    return {(row[0], row[1]): row[2] for row in dbapi_conn.execute(sql, (KEY_SERIAL, account)).fetchall()}


def read_states(connection: Connection, account_id: int | None) -> ReadStates:
    """The states of the key lookup and of ``account_id``'s data, in one tiny statement on a read connection
    (on PostgreSQL, the checkout ping's answer when ``Database.polling`` asked it for this account).

    Take them *before* reading what will be cached under them: a commit in between then only makes the next
    state differ, never lets a stale value pass. A counter without a row (nothing written yet) reads 0.
    """
    account_id = _counted(account_id)
    account = KEY_SERIAL if account_id is None else account_id
    fairy = connection.connection
    pinged = fairy.info.pop("checkout_serials", None)
    if pinged is not None and pinged[0] == account:
        found = pinged[1]
    elif connection.dialect.name == "sqlite":
        found = _serials(fairy.dbapi_connection, account, _READ_SERIALS_SQLITE)
    else:
        found = _serials(fairy.dbapi_connection, account)
    keys = ReadState(KEY_SERIAL, found.get((KEY_SERIAL, SCOPE_ALL), 0))
    if account_id is None:
        return ReadStates(keys, None, None)
    every, backlog = ((account_id, scope) for scope in (SCOPE_ALL, SCOPE_BACKLOG))
    return ReadStates(keys, ReadState(every, found.get(every, 0)), ReadState(backlog, found.get(backlog, 0)))


class StateCache(Generic[K, T]):
    """Values derived from the database, each valid only while the ``ReadState`` it was computed under is
    current: never stale, no invalidation to forget (the triggers move the counters). A bounded, thread-safe
    LRU (per process)."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[tuple[Hashable, K], tuple[Hashable, T]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, state: ReadState, key: K) -> T | None:
        """The value stored for ``key`` under this very state, or None."""
        slot = (state.scope, key)
        with self._lock:
            entry = self._entries.get(slot)
            if entry is None or entry[0] != state.version:
                self.misses += 1
                return None
            self._entries.move_to_end(slot)
            self.hits += 1
            return entry[1]

    def put(self, state: ReadState, key: K, value: T) -> None:
        """Remember ``value`` as computed under ``state`` (replacing what an older state left)."""
        if self.max_entries <= 0:
            return
        slot = (state.scope, key)
        with self._lock:
            self._entries[slot] = (state.version, value)
            self._entries.move_to_end(slot)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)


_STATE_CACHE = "state:"  # process-cache names of the StateCaches


class Database:
    """The engines and session factories of one running hub."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.write_engine = make_engine(settings.database_url, settings, immediate=True)
        read_url = settings.database_read_url or settings.database_url
        self.read_engine = make_engine(read_url, settings, immediate=False, read_only=True)
        # Sessions know their Database (``session.info["database"]``) so services can reach its process caches.
        self._write = sessionmaker(self.write_engine, expire_on_commit=False, info={"database": self})
        self._read = sessionmaker(self.read_engine, expire_on_commit=False, info={"database": self})
        self._caches: dict[str, Any] = {}
        self._caches_lock = threading.Lock()

    def process_cache(self, name: str, factory: Callable[[], T]) -> T:
        """The process-local cache called ``name`` for this database, created by ``factory`` on first use.

        Caches belong to a Database, not to a module, so two hubs (or two test databases) in one process
        never see each other's entries."""
        cache = self._caches.get(name)
        if cache is None:
            with self._caches_lock:
                cache = self._caches.setdefault(name, factory())
        return cast(T, cache)

    def state_cache(self, name: str) -> StateCache[Any, Any]:
        """The process-local ``StateCache`` called ``name`` (``ALEPHEE_READ_CACHE_ENTRIES`` entries at most)."""
        return self.process_cache(_STATE_CACHE + name, lambda: StateCache(self.settings.read_cache_entries))

    def state_caches(self) -> dict[str, StateCache[Any, Any]]:
        """Every ``StateCache`` created so far, by name (for /metrics)."""
        with self._caches_lock:
            items = list(self._caches.items())
        return {key[len(_STATE_CACHE) :]: cache for key, cache in items if key.startswith(_STATE_CACHE)}

    def clear_process_caches(self) -> None:
        """Forget every process cache (after rows were removed behind the application's back, as tests do)."""
        with self._caches_lock:
            self._caches.clear()

    def observe_pool_waits(self, observer: PoolWaitObserver) -> None:
        """Tell ``observer`` how long every checkout of either engine took to get a connection (pooled engines
        only: an in-memory SQLite database has one static connection)."""
        for role, engine in (("write", self.write_engine), ("read", self.read_engine)):
            if isinstance(engine.pool, TimedQueuePool):
                engine.pool.observer, engine.pool.role = observer, role

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.write_engine.dialect.name

    def write_session(self) -> Session:
        """A session whose transactions may write (serialised on SQLite)."""
        return self._write()

    def read_session(self) -> Session:
        """A session for reads only."""
        return self._read()

    @contextmanager
    def session_on(self, connection: Connection) -> Iterator[Session]:
        """A read session that runs on ``connection`` (already checked out), closed at the end."""
        session = self._read(bind=connection)
        try:
            yield session
        finally:
            session.close()

    @contextmanager
    def polling(self, account_id: int | None) -> Iterator[tuple[Connection, ReadStates]]:
        """A read connection and the ``read_states`` for ``account_id``, read before anything else (on
        PostgreSQL by the checkout ping itself: one round trip for a poll served from the caches)."""
        counted = _counted(account_id)
        token = _PING_ACCOUNT.set(KEY_SERIAL if counted is None else counted)
        try:
            connection = self.read_engine.connect()
        finally:
            _PING_ACCOUNT.reset(token)
        with connection:
            yield connection, read_states(connection, account_id)

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A write session committed on success, rolled back on error."""
        session = self._write()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read session, closed at the end."""
        session = self._read()
        try:
            yield session
        finally:
            session.close()

    def table_rows(self, tables: Collection[str]) -> dict[str, tuple[int, int]]:
        """``(live, dead)`` row versions of each of ``tables`` as PostgreSQL's statistics count them
        (``pg_stat_user_tables``, one statement); empty on SQLite, which keeps no such count. Read on the write
        engine: a replica's statistics count only what ran on the replica, never the primary's dead rows."""
        if self.dialect != "postgresql":
            return {}
        with self.write_engine.connect() as connection:
            rows = connection.execute(_TABLE_ROWS, {"tables": list(tables)}).all()
        return {name: (int(live), int(dead)) for name, live, dead in rows}

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.write_engine.dispose()
        self.read_engine.dispose()


# Tables named as the application names them (resolved through the search path); a missing one is left out.
_TABLE_ROWS = text(
    "SELECT relname, n_live_tup, n_dead_tup FROM pg_stat_user_tables"
    " WHERE relid IN (SELECT to_regclass(t) FROM unnest(CAST(:tables AS text[])) AS t)"
)

# Logged once at start when PostgreSQL's autovacuum is off (docs/operations.md, "PostgreSQL settings"). The
# figures: the Mercado Libre bench at full size, the same run with the setting off and on.
AUTOVACUUM_OFF = (
    "PostgreSQL runs with autovacuum = off: nothing removes the dead rows that the queue tables (outbox, "
    "channel_notifications, webhook_events) leave behind, and every claim of the worker and of the inbox walks "
    "them (after a 60 s phase of stock changes: 10,453 dead outbox rows against 5,924 live, never vacuumed; "
    "with autovacuum on the same run did 126 orders/s instead of 110, stock p99 0.31 s instead of 0.42 s). Set "
    "autovacuum = on (and track_counts = on) in postgresql.conf and reload the server; see docs/operations.md, "
    '"PostgreSQL settings" (/metrics: alephee_table_rows)'
)


def autovacuum_setting(connection: Connection) -> str:
    """The server's ``autovacuum`` setting as ``SHOW autovacuum`` answers it (``on`` or ``off``); PostgreSQL
    only."""
    return str(connection.exec_driver_sql("SHOW autovacuum").scalar())


def warn_if_autovacuum_off(db: Database) -> bool:
    """Log one warning if ``db`` is a PostgreSQL server with autovacuum off; returns whether it did. Never
    raises: start-up must not depend on it, so a setting that cannot be read is logged at debug level only."""
    if db.dialect != "postgresql":
        return False
    try:
        with db.write_engine.connect() as connection:
            setting = autovacuum_setting(connection)
    except Exception:
        log.debug("could not read PostgreSQL's autovacuum setting", exc_info=True)
        return False
    if setting.strip().lower() != "off":
        return False
    log.warning(AUTOVACUUM_OFF)
    return True


def alembic_config(url: str) -> Any:
    """An Alembic ``Config`` pointing at the packaged migrations and ``url``."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("alephee") / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    return cfg


def upgrade(settings: Settings) -> None:
    """Apply every pending migration (all branch heads)."""
    from alembic import command

    if settings.is_sqlite:
        _ensure_sqlite_dir(settings.database_url)
    command.upgrade(alembic_config(settings.database_url), "heads")


def _ensure_sqlite_dir(url: str) -> None:
    from pathlib import Path

    from sqlalchemy.engine import make_url

    path = make_url(url).database
    if path and path != ":memory:":
        Path(path).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)


def utc(dt: datetime) -> datetime:
    """Coerce a datetime to aware UTC (naive values are taken as UTC)."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
