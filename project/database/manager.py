"""``DatabaseSessionManager``: the engines and sessions of one database alias."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from functools import cached_property
from typing import Any, Literal

import msgspec
from sqlalchemy import Connection, Engine, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, sessionmaker

from project.database import faults, listeners
from project.database.binding import bound_async_sessionmaker, bound_sync_sessionmaker
from project.database.diagnose import diagnose
from project.database.engines import SharedMemoryDatabase, create_engines
from project.database.faults import PoolExhaustedError
from project.database.replicas import ReplicaSet
from project.database.unit_of_work import transaction
from project.errors import ProjectError
from project.redact import redact_text
from project.schema import DatabaseSettings, settings_from_url
from project.urls import DatabaseURL

__all__ = ["CheckResult", "DatabaseNotReadyError", "DatabaseSessionManager", "PoolExhaustedError"]


class DatabaseNotReadyError(ProjectError, RuntimeError):
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


class _Engines:
    """Everything one opening of a manager makes, each made on first need.

    Closing the manager closes this and drops it whole, so nothing made for
    one opening outlives it. Each engine is disposed exactly once.
    """

    def __init__(self, alias: str, config: DatabaseSettings) -> None:
        self.alias = alias
        self.config = config
        self.memory = SharedMemoryDatabase() if config.url.is_memory else None

    def _watched(self, engine: Engine) -> None:
        """Failed connects of ``engine`` report this alias as unavailable (see faults)."""
        faults.watch(engine, self.alias, self.config.url.redacted)

    def _create(self, memory: SharedMemoryDatabase | None, *, autocommit: bool) -> AsyncEngine:
        engine = create_engines(
            self.config, self.config.url, memory, sync=False, autocommit=autocommit
        )
        assert isinstance(engine, AsyncEngine)
        self._watched(engine.sync_engine)
        return engine

    @cached_property
    def async_engine(self) -> AsyncEngine:
        return self._create(self.memory, autocommit=False)

    @cached_property
    def sync_engine(self) -> Engine:
        engine = create_engines(self.config, self.config.url, self.memory, sync=True)
        assert isinstance(engine, Engine)
        self._watched(engine)
        return engine

    @cached_property
    def autocommit_engine(self) -> AsyncEngine:
        # An in-memory SQLite database has one connection per side: share its pool.
        if self.memory is not None:
            return self.async_engine.execution_options(isolation_level="AUTOCOMMIT")
        return self._create(None, autocommit=True)

    # Sessionmakers carry advanced-alchemy's listeners (see project.database.listeners).
    @cached_property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return listeners.make_async_sessionmaker(self.async_engine, expire_on_commit=False)

    @cached_property
    def autocommit_sessions(self) -> async_sessionmaker[AsyncSession]:
        return listeners.make_async_sessionmaker(self.autocommit_engine, expire_on_commit=False)

    @cached_property
    def sync_sessions(self) -> sessionmaker[Session]:
        return listeners.make_sync_sessionmaker(self.sync_engine, expire_on_commit=False)

    @cached_property
    def sync_autocommit_sessions(self) -> sessionmaker[Session]:
        engine = self.sync_engine.execution_options(isolation_level="AUTOCOMMIT")
        return listeners.make_sync_sessionmaker(engine, expire_on_commit=False)

    def made(self) -> list[str]:
        """The engines made so far: "async", "sync", "autocommit"."""
        names = ("async_engine", "sync_engine", "autocommit_engine")
        return [name.removesuffix("_engine") for name in names if name in self.__dict__]

    def _async_engines(self) -> list[AsyncEngine]:
        """The async engines with a pool of their own (not option views of another)."""
        engines = [self.__dict__.get("async_engine")]
        if self.memory is None:
            engines.append(self.__dict__.get("autocommit_engine"))
        return [engine for engine in engines if engine is not None]

    async def close(self, others: list[AsyncEngine]) -> None:
        """Dispose every engine made, and ``others`` (the replicas' engines)."""
        for engine in [*self._async_engines(), *others]:
            await engine.dispose()
        self._close_sync_side()

    def close_sync(self, others: list[AsyncEngine]) -> None:
        """Async connections close on their event loop: in a task when one runs here."""
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        for engine in [*self._async_engines(), *others]:
            if loop is None:
                engine.sync_engine.pool.dispose()  # no loop to close them on: dropped
            else:
                task = loop.create_task(engine.dispose())
                _CLOSING.add(task)
                task.add_done_callback(_CLOSING.discard)
        self._close_sync_side()

    def _close_sync_side(self) -> None:
        sync_engine = self.__dict__.get("sync_engine")
        if sync_engine is not None:
            sync_engine.dispose()
        if self.memory is not None:
            self.memory.close()


class DatabaseSessionManager:
    """Owns the sync and async engines of one alias; creates them on first use.

    ``init(config)`` (or the constructor) sets it up, ``close()`` disposes
    every engine; ``init()`` again reopens a closed manager.
    """

    def __init__(self, alias: str = "default", config: DatabaseSettings | None = None) -> None:
        self.alias = alias
        self.config: DatabaseSettings | None = None
        self.url: DatabaseURL | None = None
        self._engines: _Engines | None = None  # while open
        self.replicas: ReplicaSet | None = None  # REPLICAS, see project.database.replicas
        self._closed = ""  # why it was closed; empty while open or never initialised
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
        if self._engines is not None and self._engines.made():
            raise DatabaseNotReadyError(
                f"Database {self.alias!r} is already open; await manager.close() first."
            )
        self.config = config
        self.url = config.parsed_url(f"DATABASES[{self.alias!r}]['URL']")
        self.replicas = ReplicaSet(self.alias, config, self.url) if config.REPLICAS else None
        self._engines = None
        self._closed = ""

    def _not_ready(self, why: str) -> str:
        return (
            f"Database {self.alias!r} {why}. Call manager.init(config) first, use "
            f"project.database.databases[{self.alias!r}], or add "
            "plugins.database.DatabasePlugin to your Litestar app."
        )

    def _open(self) -> _Engines:
        """What this opening has made; the one place that says the manager cannot be used."""
        engines = self._engines
        if engines is not None:
            return engines
        if self._closed:
            raise DatabaseNotReadyError(f"Database {self.alias!r} {self._closed}.")
        if self.config is None:
            raise DatabaseNotReadyError(self._not_ready("is not initialised"))
        self._engines = engines = _Engines(self.alias, self.config)
        return engines

    @property
    def is_open(self) -> bool:
        """Initialised and not closed since (engines may still be unopened)."""
        return self.config is not None and not self._closed

    @property
    def opened_engines(self) -> list[str]:
        """Which engines exist so far ("async", "sync", "autocommit"): they open on first use."""
        return self._engines.made() if self._engines is not None else []

    @property
    def redacted_url(self) -> str:
        return self.url.redacted if self.url else "<not configured>"

    @property
    def async_engine(self) -> AsyncEngine:
        return self._open().async_engine

    @property
    def sync_engine(self) -> Engine:
        return self._open().sync_engine

    @property
    def autocommit_engine(self) -> AsyncEngine:
        """An async engine in AUTOCOMMIT: no BEGIN/COMMIT round trips around reads.

        It has a pool of its own (POOL_SIZE again), so requests without a
        transaction skip the per-checkout isolation switch and never wait
        behind writers. An in-memory SQLite database keeps one connection per
        side, so there it is the async engine with an execution option.
        """
        return self._open().autocommit_engine

    def async_sessionmaker_for(
        self, transaction: bool, primary: bool = False
    ) -> async_sessionmaker[AsyncSession]:
        """Sessions in a transaction, or in AUTOCOMMIT (``transaction=False``).

        AUTOCOMMIT sessions read from the replicas, if any, unless ``primary``;
        a test fixture's connection takes over both (project.database.binding).
        """
        if not transaction and not primary and self.replicas is not None:
            return self.replicas.sessionmaker(self.autocommit_engine)
        if self.url and (bound := bound_async_sessionmaker(self.url.sync_url)):
            return bound
        engines = self._open()
        return engines.sessions if transaction else engines.autocommit_sessions

    def sync_sessionmaker_for(
        self, transaction: bool, primary: bool = False
    ) -> sessionmaker[Session]:
        """The sync counterpart of ``async_sessionmaker_for`` (always the primary)."""
        if self.url and (bound := bound_sync_sessionmaker(self.url.sync_url)):
            return bound
        engines = self._open()
        return engines.sync_sessions if transaction else engines.sync_autocommit_sessions

    # --- async side ---------------------------------------------------------

    @asynccontextmanager
    async def session(self, *, primary: bool = True) -> AsyncIterator[AsyncSession]:
        """An AsyncSession: commit on success, rollback on error, closed on cancellation.

        Everything runs on the primary; with ``primary=False`` reads before the
        session's first write come from a replica (see project.database.replicas).
        """
        if primary or self.replicas is None:
            session = self.async_sessionmaker_for(True)()
        else:
            session = self.replicas.sessionmaker(self.async_engine)()
        async with transaction(session, self):
            yield session

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        """An AsyncConnection inside a transaction that commits on success."""
        with self._explained():
            connection = await self.async_engine.connect()
        async with transaction(connection, self):
            yield connection

    # --- sync side ------------------------------------------------------------

    @contextmanager
    def sync_session(self) -> Iterator[Session]:
        """A Session: commit on success, rollback on error."""
        with self._explained(), self.sync_sessionmaker_for(True)() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def sync_connect(self) -> Iterator[Connection]:
        """A Connection inside a transaction that commits on success."""
        with self._explained(), self.sync_engine.begin() as connection:
            yield connection

    @contextmanager
    def _explained(self) -> Iterator[None]:
        try:
            yield
        except Exception as exc:
            explained = self.explain(exc)
            if explained is exc:
                raise
            raise explained from exc

    def explain(self, exc: BaseException) -> BaseException:
        """``exc`` tagged with this alias; a pool timeout says how to size the pool.

        See ``project.database.faults.explain``: the plugin maps what this returns.
        """
        config = self._open().config
        return faults.explain(exc, self.alias, config.pool.engine_arguments(), config.url.redacted)

    # --- lifecycle and health -------------------------------------------------

    async def close(self) -> None:
        """Dispose every engine. Harmless when already closed."""
        if self.replicas is not None:
            await self.replicas.stop_checking()
        if self._engines is not None:
            await self._engines.close(self._replica_engines())
        self._mark_closed()

    def close_sync(self, why: str = "") -> None:
        """Dispose every engine from sync code; ``why`` is what later use will be told.

        Async connections close on their event loop: when one runs here, in a
        task it starts at its next turn; otherwise they are dropped unclosed.
        """
        if self._engines is not None:
            self._engines.close_sync(self._replica_engines())
        self._mark_closed(why)

    def _replica_engines(self) -> list[AsyncEngine]:
        return self.replicas.engines() if self.replicas is not None else []

    def _mark_closed(self, why: str = "") -> None:
        self._engines = None
        if self.replicas is not None:
            self.replicas.forget()
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
        return _VERSION_QUERY[self._open().config.url.family]

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
