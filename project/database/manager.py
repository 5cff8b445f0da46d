"""``DatabaseSessionManager``: the engines and sessions of one database alias."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, Literal, NoReturn

import msgspec
from sqlalchemy import Connection, Engine, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.ext.asyncio import async_sessionmaker as make_async_sessionmaker
from sqlalchemy.orm import Session, sessionmaker

from project.database import faults, listeners
from project.database.binding import bound_async_sessionmaker, bound_sync_sessionmaker
from project.database.diagnose import diagnose
from project.database.engines import (
    SharedMemoryDatabase,
    create_engines,
    is_memory_sqlite,
    pool_arguments,
)
from project.database.replicas import ReplicaSet
from project.redact import redact_text
from project.schema import DatabaseSettings, settings_from_url
from project.urls import DatabaseURL, parse_database_url


class DatabaseNotReadyError(RuntimeError):
    """The manager was never given settings, or was closed."""


class CheckResult(msgspec.Struct, frozen=True):
    """The outcome of one trivial query on one side (sync or async) of a database."""

    alias: str
    side: Literal["sync", "async"]
    ok: bool
    latency_ms: float
    url: str
    server_version: str = ""
    error: str = ""


_VERSION_QUERY = {
    "postgresql": "SELECT current_setting('server_version')",
    "sqlite": "SELECT 'SQLite ' || sqlite_version()",
}


_CLOSING: set[asyncio.Task[None]] = set()  # engines being disposed in the background
_CLOSED = "is closed (manager.close() or app shutdown ran). Call manager.init() to open it again"


class DatabaseSessionManager:
    """Owns the sync and async engines of one alias; creates them on first use.

    ``init(config)`` (or the constructor) sets it up, ``close()`` disposes
    every engine; ``init()`` again reopens a closed manager.
    """

    def __init__(self, alias: str = "default", config: DatabaseSettings | None = None) -> None:
        self.alias = alias
        self.config: DatabaseSettings | None = None
        self.url: DatabaseURL | None = None
        self._closed = ""  # why it was closed; empty while open or never initialised
        self._memory: SharedMemoryDatabase | None = None
        self._async_engine: AsyncEngine | None = None
        self._sync_engine: Engine | None = None
        self.replicas: ReplicaSet | None = None
        self._reset_factories()
        if config is not None:
            self.init(config)

    def init(self, config: DatabaseSettings | str | None = None, **pool: Any) -> None:
        """Use ``config`` (or the previous one); engines open lazily on first use.

        ``config`` is a ``DATABASES`` entry or, as in the original manager, a URL
        with optional pool settings: ``init("postgresql://...", pool_size=10)``.
        """
        if isinstance(config, str):
            config = settings_from_url(config, pool, f"DATABASES[{self.alias!r}]")
        elif pool:
            raise TypeError("Pool settings go in the settings entry, not beside it.")
        config = config or self.config
        if config is None:
            raise DatabaseNotReadyError(self._not_ready("has no settings"))
        if self._async_engine or self._sync_engine:
            raise DatabaseNotReadyError(
                f"Database {self.alias!r} is already open; await manager.close() first."
            )
        self.config = config
        self.url = parse_database_url(config.URL, f"DATABASES[{self.alias!r}]['URL']")
        self.replicas = ReplicaSet(self.alias, config, self.url) if config.REPLICAS else None
        self._closed = ""

    def _not_ready(self, why: str) -> str:
        return (
            f"Database {self.alias!r} {why}. Call manager.init(config) first, use "
            f"project.database.databases[{self.alias!r}], or add "
            "plugins.database.DatabasePlugin to your Litestar app."
        )

    def _ready(self) -> tuple[DatabaseSettings, DatabaseURL]:
        if self._closed:
            raise DatabaseNotReadyError(f"Database {self.alias!r} {self._closed}.")
        if self.config is None or self.url is None:
            raise DatabaseNotReadyError(self._not_ready("is not initialised"))
        if self._memory is None and is_memory_sqlite(self.url):
            self._memory = SharedMemoryDatabase()
        return self.config, self.url

    @property
    def is_open(self) -> bool:
        """Initialised and not closed since (engines may still be unopened)."""
        return self.config is not None and not self._closed

    @property
    def redacted_url(self) -> str:
        return self.url.redacted if self.url else "<not configured>"

    @property
    def async_engine(self) -> AsyncEngine:
        if self._async_engine is None:
            config, url = self._ready()
            engine = self._create(config, url, self._memory, sync=False)
            assert isinstance(engine, AsyncEngine)
            self._async_engine = engine
        return self._async_engine

    @property
    def sync_engine(self) -> Engine:
        if self._sync_engine is None:
            config, url = self._ready()
            engine = self._create(config, url, self._memory, sync=True)
            assert isinstance(engine, Engine)
            self._sync_engine = engine
        return self._sync_engine

    def _create(
        self,
        config: DatabaseSettings,
        url: DatabaseURL,
        memory: SharedMemoryDatabase | None,
        *,
        sync: bool,
        autocommit: bool = False,
    ) -> Engine | AsyncEngine:
        """``create_engines``, with failed connects reported as this alias being unavailable."""
        engine = create_engines(config, url, memory, sync=sync, autocommit=autocommit)
        sync_engine = engine if isinstance(engine, Engine) else engine.sync_engine
        faults.watch(sync_engine, self.alias, url.redacted)
        return engine

    def _reset_factories(self) -> None:
        self._async_sessions: make_async_sessionmaker[AsyncSession] | None = None
        self._async_autocommit_sessions: make_async_sessionmaker[AsyncSession] | None = None
        self._sync_sessions: sessionmaker[Session] | None = None
        self._sync_autocommit_sessions: sessionmaker[Session] | None = None
        self._autocommit_engine: AsyncEngine | None = None

    @property
    def autocommit_engine(self) -> AsyncEngine:
        """An async engine in AUTOCOMMIT: no BEGIN/COMMIT round trips around reads.

        It has a pool of its own (POOL_SIZE again), so requests without a
        transaction skip the per-checkout isolation switch and never wait
        behind writers. An in-memory SQLite database keeps one connection per
        side, so there it is the async engine with an execution option.
        """
        if self._autocommit_engine is None:
            config, url = self._ready()
            engine: Engine | AsyncEngine
            if self._memory is not None:
                engine = self.async_engine.execution_options(isolation_level="AUTOCOMMIT")
            else:
                engine = self._create(config, url, None, sync=False, autocommit=True)
            assert isinstance(engine, AsyncEngine)
            self._autocommit_engine = engine
        return self._autocommit_engine

    def _owned_engines(self) -> list[AsyncEngine]:
        """The async engines this manager created (an option engine shares its parent's pool)."""
        engines = [self._async_engine, self._autocommit_engine]
        engines += self.replicas.engines() if self.replicas else []
        unique = {id(e.sync_engine.pool): e for e in engines if e is not None}
        return list(unique.values())

    @property
    def async_sessionmaker(self) -> make_async_sessionmaker[AsyncSession]:
        if self.url and (bound := bound_async_sessionmaker(self.url.sync_url)):
            return bound  # a test fixture's connection (project.database.binding)
        if self._async_sessions is None:
            self._async_sessions = listeners.make_async_sessionmaker(
                self.async_engine, expire_on_commit=False
            )
        return self._async_sessions

    @property
    def autocommit_sessionmaker(self) -> make_async_sessionmaker[AsyncSession]:
        """Sessions whose statements each commit on their own (no request transaction)."""
        if self.url and (bound := bound_async_sessionmaker(self.url.sync_url)):
            return bound  # a test fixture's connection (project.database.binding)
        if self._async_autocommit_sessions is None:
            self._async_autocommit_sessions = listeners.make_async_sessionmaker(
                self.autocommit_engine, expire_on_commit=False
            )
        return self._async_autocommit_sessions

    def async_sessionmaker_for(
        self, transaction: bool, primary: bool = False
    ) -> make_async_sessionmaker[AsyncSession]:
        """Sessions in a transaction, or in AUTOCOMMIT (``transaction=False``).

        AUTOCOMMIT sessions read from the replicas, if any, unless ``primary``.
        """
        if not transaction and not primary and self.replicas is not None:
            return self.replicas.sessionmaker(self.autocommit_engine)
        return self.async_sessionmaker if transaction else self.autocommit_sessionmaker

    def sync_sessionmaker_for(
        self, transaction: bool, primary: bool = False
    ) -> sessionmaker[Session]:
        """The sync counterpart of ``async_sessionmaker_for`` (always the primary)."""
        return self.sync_sessionmaker if transaction else self.sync_autocommit_sessionmaker

    @property
    def sync_sessionmaker(self) -> sessionmaker[Session]:
        if self.url and (bound := bound_sync_sessionmaker(self.url.sync_url)):
            return bound  # a test fixture's connection (project.database.binding)
        if self._sync_sessions is None:
            self._sync_sessions = listeners.make_sync_sessionmaker(
                self.sync_engine, expire_on_commit=False
            )
        return self._sync_sessions

    @property
    def sync_autocommit_sessionmaker(self) -> sessionmaker[Session]:
        if self.url and (bound := bound_sync_sessionmaker(self.url.sync_url)):
            return bound  # a test fixture's connection (project.database.binding)
        if self._sync_autocommit_sessions is None:
            engine = self.sync_engine.execution_options(isolation_level="AUTOCOMMIT")
            self._sync_autocommit_sessions = listeners.make_sync_sessionmaker(
                engine, expire_on_commit=False
            )
        return self._sync_autocommit_sessions

    # --- async side ---------------------------------------------------------

    @asynccontextmanager
    async def session(self, *, primary: bool = True) -> AsyncIterator[AsyncSession]:
        """An AsyncSession: commit on success, rollback on error, closed on cancellation.

        Everything runs on the primary; with ``primary=False`` reads before the
        session's first write come from a replica (see project.database.replicas).
        """
        if primary or self.replicas is None:
            session = self.async_sessionmaker()
        else:
            session = self.replicas.sessionmaker(self.async_engine)()
        try:
            yield session
            await session.commit()
            await listeners.settle(session)
        except asyncio.CancelledError:
            # The connection may be mid-query: drop it rather than reuse it.
            await asyncio.shield(session.invalidate())
            raise
        except BaseException as exc:
            await asyncio.shield(session.rollback())
            self._raise_explained(exc)
        finally:
            await asyncio.shield(session.close())

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        """An AsyncConnection inside a transaction that commits on success."""
        try:
            async with self.async_engine.connect() as connection:
                try:
                    async with connection.begin():
                        yield connection
                except asyncio.CancelledError:
                    await asyncio.shield(connection.invalidate())
                    raise
        except Exception as exc:
            self._raise_explained(exc)

    # --- sync side ------------------------------------------------------------

    @contextmanager
    def sync_session(self) -> Iterator[Session]:
        """A Session: commit on success, rollback on error."""
        with self.sync_sessionmaker() as session:
            try:
                yield session
                session.commit()
            except BaseException as exc:
                session.rollback()
                self._raise_explained(exc)

    @contextmanager
    def sync_connect(self) -> Iterator[Connection]:
        """A Connection inside a transaction that commits on success."""
        try:
            with self.sync_engine.begin() as connection:
                yield connection
        except Exception as exc:
            self._raise_explained(exc)

    def _raise_explained(self, exc: BaseException) -> NoReturn:
        """Re-raise ``exc`` tagged with this alias; a pool timeout says how to size the pool."""
        raise self.explain(exc)

    def explain(self, exc: BaseException) -> BaseException:
        """``exc`` as the plugin should see it (see ``project.database.faults.explain``)."""
        config, url = self._ready()
        return faults.explain(exc, self.alias, pool_arguments(config, url), url.redacted)

    # --- lifecycle and health -------------------------------------------------

    async def close(self) -> None:
        """Dispose every engine. Harmless when already closed."""
        for engine in self._owned_engines():
            await engine.dispose()
        self._forget()

    def close_sync(self, why: str = "") -> None:
        """Dispose every engine from sync code; ``why`` is what later use will be told.

        Async connections close on their event loop: when one runs here, in a
        task it starts at its next turn; otherwise they are dropped unclosed.
        """
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        for engine in self._owned_engines():
            if loop is None:
                engine.sync_engine.pool.dispose()
            else:
                task = loop.create_task(engine.dispose())
                _CLOSING.add(task)
                task.add_done_callback(_CLOSING.discard)
        self._forget(why)

    def _forget(self, why: str = "") -> None:
        """Dispose the sync engine and drop every engine and factory."""
        if self._sync_engine is not None:
            self._sync_engine.dispose()
        if self._memory is not None:
            self._memory.close()
        self._async_engine = self._sync_engine = None
        if self.replicas is not None:
            self.replicas.forget()
        self._reset_factories()
        self._memory = None
        if self.config is not None:
            self._closed = why or self._closed or _CLOSED

    def check(self) -> CheckResult:
        """Run a trivial query through the sync driver."""
        started = time.perf_counter()
        try:
            with self.sync_engine.connect() as connection:
                version = connection.execute(text(self._version_query())).scalar_one()
        except Exception as exc:
            return self._result("sync", started, error=str(diagnose(exc)))
        return self._result("sync", started, version=str(version))

    async def acheck(self) -> CheckResult:
        """Run a trivial query through the async driver."""
        started = time.perf_counter()
        try:
            async with self.async_engine.connect() as connection:
                version = (await connection.execute(text(self._version_query()))).scalar_one()
        except Exception as exc:
            return self._result("async", started, error=str(diagnose(exc)))
        return self._result("async", started, version=str(version))

    def _version_query(self) -> str:
        _, url = self._ready()
        return _VERSION_QUERY[url.family]

    def _result(
        self, side: Literal["sync", "async"], started: float, version: str = "", error: str = ""
    ) -> CheckResult:
        return CheckResult(
            alias=self.alias,
            side=side,
            ok=not error,
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
            url=redact_text(self.url.sync_url if side == "sync" else self.url.async_url)
            if self.url
            else self.redacted_url,
            server_version=version,
            error=error,
        )

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open" if self.config else "not initialised"
        return f"<DatabaseSessionManager {self.alias!r} {self.redacted_url} ({state})>"
