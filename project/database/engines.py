"""Engine construction: one URL and one settings entry give a sync and an async engine.

Each database family gets the pool and connection options that fit it:
PostgreSQL a queue pool with connect timeouts; a SQLite file a busy timeout,
WAL and ``BEGIN IMMEDIATE`` so concurrent writers wait instead of failing; an
in-memory SQLite database one shared-cache database for every session of the
process, kept alive by the manager.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
import weakref
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from project.database import pgbouncer, sqlite_guard
from project.database.pool import FairAsyncQueuePool, IdlePingPool, IdlePingQueuePool
from project.schema import DatabaseSettings
from project.urls import DatabaseURL

# Execution option: how a SQLite transaction begins. "IMMEDIATE" (the default)
# takes the write lock at once; long-lived interactive sessions use "DEFERRED".
SQLITE_BEGIN = "sqlite_begin"


# Every engine of the process, so a forked child can drop the pools it inherited.
_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()


def _forget_inherited_pools() -> None:
    """In a forked child: new, empty pools; the parent's connections stay the parent's.

    Two processes talking over one socket corrupt each other's sessions, so a
    child never uses (nor closes) a connection it inherited.
    """
    for engine in list(_ENGINES):
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_inherited_pools)


def _driver_options(options: dict[str, Any], side: str) -> dict[str, Any]:
    """OPTIONS go to both drivers; OPTIONS['sync'] / OPTIONS['async'] to one side only."""
    shared = {key: value for key, value in options.items() if key not in ("sync", "async")}
    return {**shared, **options.get(side, {})}


def is_memory_sqlite(url: DatabaseURL) -> bool:
    path = url.sync_url.partition("://")[2]
    return url.family == "sqlite" and path in ("", "/", "/:memory:")


class SharedMemoryDatabase:
    """One in-memory SQLite database that the sync and async engines both see.

    SQLite drops a shared-cache memory database when its last connection
    closes, so this object holds one connection open until ``close()``.
    """

    def __init__(self) -> None:
        self.uri = f"file:project-{uuid.uuid4().hex}?mode=memory&cache=shared"
        self._keeper: sqlite3.Connection | None = sqlite3.connect(self.uri, uri=True)

    def url(self, driver: str) -> str:
        return f"sqlite+{driver}:///{self.uri}&uri=true"

    def close(self) -> None:
        if self._keeper is not None:
            self._keeper.close()
            self._keeper = None


def _connect_args(config: DatabaseSettings, url: DatabaseURL, side: str) -> dict[str, Any]:
    args = _driver_options(config.OPTIONS, side)
    if url.family == "postgresql":
        if side == "async":
            args.setdefault("timeout", config.CONNECT_TIMEOUT)
        else:
            args.setdefault("connect_timeout", max(1, round(config.CONNECT_TIMEOUT)))
        if config.PGBOUNCER:
            pgbouncer.driver_options(args, side)
    else:
        # sqlite3's "timeout" is its busy timeout: how long a writer waits for the lock.
        args.setdefault("timeout", config.CONNECT_TIMEOUT)
        args.setdefault("check_same_thread", False)
        args["isolation_level"] = None  # SQLAlchemy emits BEGIN itself, see _sqlite_events
    return args


def create_engines(
    config: DatabaseSettings,
    url: DatabaseURL,
    memory: SharedMemoryDatabase | None,
    *,
    sync: bool,
    autocommit: bool = False,
) -> Engine | AsyncEngine:
    """The sync (``sync=True``) or async engine for one database entry.

    ``autocommit=True`` makes every connection of the engine AUTOCOMMIT, so
    checkouts skip the isolation-level switch an execution option would cost.
    """
    side = "sync" if sync else "async"
    if memory is not None:
        target = memory.url("pysqlite" if sync else "aiosqlite")
    else:
        target = url.sync_url if sync else url.async_url
    arguments: dict[str, Any] = {
        "echo": config.ECHO,
        "pool_pre_ping": config.PRE_PING,
        "connect_args": _connect_args(config, url, side),
        **config.pool.engine_arguments(),
    }
    # Sync: SQLAlchemy's own choice for these URLs (a memory database's single
    # connection pool aside) is a QueuePool too.
    arguments["poolclass"] = IdlePingQueuePool if sync else FairAsyncQueuePool
    bounced = autocommit and config.PGBOUNCER and url.family == "postgresql"
    if autocommit and not bounced:
        arguments["isolation_level"] = "AUTOCOMMIT"
    if sync:
        engine = create_engine(target, **arguments)
        sync_engine = engine
    else:
        async_engine = create_async_engine(target, **arguments)
        sync_engine = async_engine.sync_engine
    _ENGINES.add(sync_engine)
    if bounced:
        pgbouncer.commit_each_statement(sync_engine)
    if url.family == "sqlite":
        _sqlite_events(sync_engine, wal=memory is None, immediate=not autocommit)
    if not config.PRE_PING:
        assert isinstance(sync_engine.pool, IdlePingPool)
        sync_engine.pool.ping_idle_after = config.PING_IDLE_AFTER
    return engine if sync else async_engine


def _sqlite_events(engine: Engine, *, wal: bool, immediate: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if wal:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    if not immediate:
        return
    if wal:
        sqlite_guard.install(engine)
    engine.update_execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Take the write lock up front: a deferred transaction that later
        # writes fails at once with "database is locked" instead of waiting.
        options = connection.get_execution_options()
        if options.get("isolation_level") != "AUTOCOMMIT":
            connection.exec_driver_sql(f"BEGIN {options[SQLITE_BEGIN]}")
