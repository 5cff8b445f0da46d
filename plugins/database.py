"""``DatabasePlugin``: engines for the app's lifetime and sessions for its handlers.

Transactions end *before* the response starts: a small ASGI middleware holds
the ``http.response.start`` message, commits (or rolls back), and only then
lets the response out. A commit that fails becomes an error response (the
mapping of ``project.database.faults``: 409, 503 or 500) instead of a 2xx with
nothing stored. A streaming response (no Content-Length) keeps its transaction
open until its body ends and commits before the last part, so a failed commit
cuts the body short; what a background task writes is committed after it
runs. Requests that ask for no session pay nothing but a few checks per ASGI
message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from collections.abc import Set as AbstractSet
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, TypeVar, cast

import anyio.to_thread
from advanced_alchemy.exceptions import RepositoryError
from litestar import Litestar, Request, Response
from litestar.config.app import AppConfig
from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.enums import ScopeType
from litestar.exceptions.responses import create_exception_response
from litestar.middleware import DefineMiddleware
from litestar.plugins import InitPluginProtocol
from litestar.types import ASGIApp, HTTPResponseStartEvent, Message, Receive, Scope, Send
from sqlalchemy import Engine
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

from plugins import compat
from project.database import (
    DatabaseRegistry,
    DatabaseSessionManager,
    databases,
    faults,
    listeners,
    sqlite_guard,
)
from project.database.binding import binding_for
from project.database.unit_of_work import UnitOfWork, uninterrupted
from project.errors import DatabaseStartupError, SettingsError
from project.schema import DatabaseSettings, TransactionMode
from project.startup_errors import install as one_paragraph_errors
from project.startup_errors import startup_lifespan

__all__ = [
    "DatabasePlugin",
    "DatabasePluginConfig",
    "DatabaseStartupError",
    "registry_of",
    "request_session",
]

logger = logging.getLogger("project.database")

PRIMARY_OPT = "primary"  # the default route opt that keeps a request's reads on the primary
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SessionT = TypeVar("SessionT", AsyncSession, Session)


@dataclass
class DatabasePluginConfig:
    """How the plugin finds its databases and names its dependencies.

    Without ``databases`` the plugin serves ``project.database.databases``
    (``settings.DATABASES``), so code outside the app shares its pools; with
    it, the plugin owns a registry of its own. Another alias's session is
    injected as ``f"{session_key}_{alias}"`` (``db_session_replica``); the
    registry as ``registry_key``.
    """

    databases: Mapping[str, DatabaseSettings] | None = None
    session_key: str = "db_session"
    connection_key: str = "db_connection"
    sync_session_key: str = "db_sync_session"
    engine_key: str = "db_engine"  # AsyncEngine, as advanced-alchemy's async config injects
    sync_engine_key: str = "db_sync_engine"
    registry_key: str = "db"
    startup_check: Literal["fail", "warn", "off"] | None = None  # None: DATABASE_STARTUP_CHECK
    transaction_opt_key: str = "transaction"  # route opt that overrides TRANSACTION
    migrations_check: Literal["fail", "warn", "off"] | None = None  # None: MIGRATIONS_STARTUP_CHECK
    primary_opt_key: str = PRIMARY_OPT  # route opt: True keeps every read on the primary
    # A request's transaction commits when its status is below 400 or in
    # extra_commit_statuses, and not in extra_rollback_statuses (advanced-alchemy's
    # autocommit handler: 2xx only, with the same two extra sets).
    extra_commit_statuses: AbstractSet[int] = frozenset()
    extra_rollback_statuses: AbstractSet[int] = frozenset()

    def __post_init__(self) -> None:
        self.extra_commit_statuses = frozenset(self.extra_commit_statuses)
        self.extra_rollback_statuses = frozenset(self.extra_rollback_statuses)
        if both := sorted(self.extra_commit_statuses & self.extra_rollback_statuses):
            raise SettingsError(
                f"DatabasePluginConfig: status codes {both} are in both extra_commit_statuses "
                "and extra_rollback_statuses; a status either commits or rolls back, so keep "
                "each code in one of the two sets."
            )

    def commits(self, status: int) -> bool:
        """Whether a response with ``status`` commits the request's transaction."""
        if status in self.extra_rollback_statuses:
            return False
        return status < 400 or status in self.extra_commit_statuses


def _streams(message: HTTPResponseStartEvent) -> bool:
    """A response whose body comes in parts (``Stream``): no Content-Length, not bodiless."""
    if message["status"] in (204, 304):
        return False
    return all(name.lower() != b"content-length" for name, _ in message.get("headers", ()))


async def _finish(opened: list[UnitOfWork], success: bool) -> None:
    """End every transaction of the request; a failure is tagged with the alias that raised it.

    Shielded: a COMMIT cut off by a request cancelled meanwhile (a server that
    cancels when the client leaves, a timeout) would leave its outcome unknown.
    """
    if any(item.holds_transaction() for item in opened):
        await uninterrupted(_finish_each(opened, success))
    else:  # autocommit, or already ended: no COMMIT to protect, no task to pay for
        await _finish_each(opened, success)


async def _finish_each(opened: list[UnitOfWork], success: bool) -> None:
    for item in opened:
        try:
            await item.finish(success)
        except Exception as exc:
            raise item.manager.explain(exc) from None


def _fallback(opened: list[UnitOfWork]) -> faults.Source | None:
    """The database to name in the log when the exception does not say which it was."""
    if not opened:
        return None
    manager = opened[0].manager
    return faults.Source(manager.alias, manager.redacted_url)


class _TransactionMiddleware:
    """Ends each request's transactions before its response starts (see module doc)."""

    def __init__(self, app: ASGIApp, commits: Callable[[int], bool], sqlite: bool) -> None:
        self.app = app
        self.commits = commits
        self.sqlite = sqlite  # whether to watch for a request deadlocking itself

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        exchange = _Exchange(scope, send, self.commits)
        # A context variable rather than a scope key: the providers then take no
        # arguments, which spares Litestar validating a `scope` parameter per request.
        # It holds a list emptied at the end: whatever copied the context (a task,
        # a timer) then sees no request and keeps none of its objects alive.
        current = [exchange]
        token = _EXCHANGE.set(current)
        try:
            if self.sqlite:
                with sqlite_guard.request_scope():
                    await self.app(scope, receive, exchange.send)
            else:
                await self.app(scope, receive, exchange.send)
            if exchange.sent and exchange.unfinished() and self.commits(exchange.status):
                # Background tasks ran after the body: keep what they wrote, or say it was lost.
                await exchange.end("Commit after a background task failed; its writes are lost")
        finally:
            _EXCHANGE.reset(token)
            current.clear()
            # Closing returns each connection to its pool, which rolls back whatever
            # was not committed; while the request is being cancelled (a client
            # disconnect) the close is shielded so that it still completes.
            for item in exchange.opened:
                await item.close()


class _Exchange:
    """One request's database work and response on its way out, and the points
    where its transactions end."""

    __slots__ = ("atomic", "commits", "downstream", "opened", "replaced", "scope", "sent",
                 "shared", "status", "streaming")  # fmt: skip

    def __init__(self, scope: Scope, downstream: Send, commits: Callable[[int], bool]) -> None:
        self.scope = scope
        self.opened: list[UnitOfWork] = []  # in the order they end
        self.atomic = False  # whether any of them is atomic
        self.shared: dict[tuple[str, str], Any] = {}  # sessions, connections by (kind, alias)
        self.downstream = downstream
        self.commits = commits  # whether a status commits
        self.status = 0  # 0 until the response starts
        self.streaming = False
        self.replaced = False  # an error response went out instead
        self.sent = False  # the whole response went out (a client that left cuts a stream)

    async def send(self, message: Message) -> None:
        if self.replaced:
            return
        if message["type"] == "http.response.start":
            self.status = message["status"]
            if self.may_need_ending():
                self.streaming = _streams(message)
                if not self.streaming and self.unfinished():
                    try:
                        await _finish(self.opened, success=self.commits(self.status))
                    except Exception as exc:
                        self.replaced = True
                        await _send_error(self.downstream, exc, self.opened)
                        return
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            if self.streaming:
                self.streaming = False
                # Raising after the response started makes the server drop the
                # connection: the client sees an incomplete body, never a whole 2xx.
                await self.end("Commit after a stream failed; its body is cut short", reraise=True)
            await self.downstream(message)
            self.sent = True
            return
        await self.downstream(message)

    def add(self, work: UnitOfWork, index: int | None = None) -> None:
        """Open ``work`` for this request, to be ended at ``index`` (default: last)."""
        self.opened.insert(len(self.opened) if index is None else index, work)
        self.atomic = self.atomic or work.atomic

    def may_need_ending(self) -> bool:
        """The hot path's cheap test: only an atomic unit may hold a transaction, and
        only while some session's file work runs may one have file work to await."""
        return self.atomic or listeners.file_work_running()

    def unfinished(self) -> bool:
        """Whether ending the request's work has anything to do."""
        return self.may_need_ending() and any(item.unfinished() for item in self.opened)

    async def end(self, failure: str, reraise: bool = False) -> None:
        """Commit (or roll back) what was written after the response started."""
        try:
            await _finish(self.opened, success=self.commits(self.status))
        except Exception as exc:
            faults.log(exc, failure, _fallback(self.opened))
            if reraise:
                raise


_EXCHANGE: ContextVar[list[_Exchange]] = ContextVar("project.database.exchange")


async def _send_error(send: Send, exc: Exception, opened: list[UnitOfWork]) -> None:
    status = faults.status_for(exc) or faults.ERROR
    faults.log(exc, "Commit failed", _fallback(opened), status)
    body = faults.body(status)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in faults.headers(status).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _is_atomic(scope: Scope, manager: DatabaseSessionManager, opt_key: str) -> bool:
    """Whether this request gets one transaction (see TRANSACTION in the settings reference)."""
    mode: TransactionMode = scope["route_handler"].opt.get(opt_key) or (
        manager.config.TRANSACTION if manager.config else "auto"
    )
    if mode == "auto":
        return scope["method"] not in SAFE_METHODS  # type: ignore[typeddict-item]
    return mode == "atomic"


def _current() -> _Exchange:
    """The request being served: what DatabasePlugin's middleware set for this context."""
    current = _EXCHANGE.get(())
    if not current:
        raise RuntimeError(
            "Database dependencies need DatabasePlugin's middleware and a request under way; "
            "add the plugin to the app instead of registering its dependencies by hand, and "
            "use a request's session only while that request runs."
        )
    return current[0]


def _shares_connection(manager: DatabaseSessionManager) -> bool:
    """SQLite has one writer: a request's session and connection must be one connection.

    A database that a test fixture bound to its own connection already is one.
    """
    url = manager.url
    return url is not None and url.family == "sqlite" and binding_for(url.sync_url) is None


def _session_provider(
    manager: DatabaseSessionManager,
    opt_key: str,
    kind: Literal["sync", "async"],
    factory: Callable[[bool, bool], Callable[[], SessionT]],
    primary_key: str,
) -> Callable[[], SessionT]:
    """The request's session from ``factory(atomic, primary)``: a plain function, called
    inline; ``primary`` is the route's ``primary_opt_key`` opt (no replica reads)."""
    key = (kind, manager.alias)

    def provide_session() -> SessionT:
        work = _current()
        session: SessionT | None = work.shared.get(key)
        if session is None:
            atomic = _is_atomic(work.scope, manager, opt_key)
            primary = bool(work.scope["route_handler"].opt.get(primary_key))
            session = factory(atomic, primary)()
            work.add(UnitOfWork(session, atomic, manager))
            work.shared[key] = session
        return session

    return provide_session


async def _request_connection(
    work: _Exchange, manager: DatabaseSessionManager, opt_key: str
) -> AsyncConnection:
    """The request's one AsyncConnection to a SQLite database, opened on first use.

    db_session and db_connection, resolved at once, share it: one opens it.
    """
    key = ("connection", manager.alias)
    connection: AsyncConnection | None = work.shared.get(key)
    if connection is not None:
        return connection
    async with work.shared.setdefault(("lock", manager.alias), asyncio.Lock()):
        connection = work.shared.get(key)
        if connection is None:
            connection = await _open_connection(work, manager, opt_key, key)
    return connection


async def _open_connection(
    work: _Exchange, manager: DatabaseSessionManager, opt_key: str, key: tuple[str, str]
) -> AsyncConnection:
    atomic = _is_atomic(work.scope, manager, opt_key)
    engine = manager.async_engine if atomic else manager.autocommit_engine
    try:
        connection = await engine.connect()
    except Exception as exc:
        raise manager.explain(exc) from None
    work.add(UnitOfWork(connection, atomic, manager))
    work.shared[key] = connection
    return connection


async def _request_session(
    work: _Exchange, manager: DatabaseSessionManager, opt_key: str
) -> AsyncSession:
    """The request's AsyncSession; in a SQLite transaction, on the request's one connection."""
    key = ("async", manager.alias)
    session: AsyncSession | None = work.shared.get(key)
    if session is not None:
        return session
    if not (_shares_connection(manager) and _is_atomic(work.scope, manager, opt_key)):
        provider = _session_provider(
            manager, opt_key, "async", manager.async_sessionmaker_for, PRIMARY_OPT
        )
        return provider()
    connection = await _request_connection(work, manager, opt_key)
    session = work.shared.get(key)
    if session is None:
        # "control_fully": the session's commit commits the connection's transaction,
        # exactly as a session with its own connection would.
        factory = manager.async_sessionmaker_for(True)
        session = factory(bind=connection, join_transaction_mode="control_fully")
        # Ended before the connection, so the commit runs the session's listeners.
        first = next(i for i, item in enumerate(work.opened) if item.resource is connection)
        work.add(UnitOfWork(session, True, manager), first)
        work.shared[key] = session
    return session


def _async_session_dependency(
    manager: DatabaseSessionManager, opt_key: str, primary_key: str
) -> Provide:
    if not _shares_connection(manager):
        provider = _session_provider(
            manager, opt_key, "async", manager.async_sessionmaker_for, primary_key
        )
        return Provide(provider, sync_to_thread=False)

    async def provide_session() -> AsyncSession:
        return await _request_session(_current(), manager, opt_key)

    return Provide(provide_session)


def _connection_dependency(manager: DatabaseSessionManager, opt_key: str) -> Provide:
    if _shares_connection(manager):

        async def provide_shared_connection() -> AsyncConnection:
            return await _request_connection(_current(), manager, opt_key)

        return Provide(provide_shared_connection)
    key = ("connection", manager.alias)

    async def provide_connection() -> AsyncConnection:
        # Litestar resolves a dependency once per request: nothing else opens this one.
        return await _open_connection(_current(), manager, opt_key, key)

    return Provide(provide_connection)


def _engine_dependency(manager: DatabaseSessionManager, *, sync: bool) -> Provide:
    def provide_engine() -> AsyncEngine | Engine:
        return manager.sync_engine if sync else manager.async_engine

    return Provide(provide_engine, sync_to_thread=False)


async def request_session(
    connection: ASGIConnection[Any, Any, Any, Any] | Scope, alias: str = "default"
) -> AsyncSession:
    """The request's own ``db_session`` (same session, same transaction) outside injection.

    For guards, middleware, authentication backends and work done while the
    request runs; like advanced-alchemy's ``provide_session(state, scope)``.
    Call it from inside ``DatabasePlugin``'s middleware (any route handler,
    guard or route middleware qualifies); the plugin commits and closes it.
    """
    scope = connection.scope if isinstance(connection, ASGIConnection) else connection
    try:
        plugin = scope["app"].plugins.get(DatabasePlugin)
    except KeyError:
        raise RuntimeError(
            "request_session() needs DatabasePlugin on the app; add plugins=[DatabasePlugin()]."
        ) from None
    manager = plugin.registry[alias]
    return await _request_session(_current(), manager, plugin.config.transaction_opt_key)


class DatabasePlugin(InitPluginProtocol):
    """Starts the engines on app startup, disposes them on shutdown, injects sessions."""

    def __init__(self, config: DatabasePluginConfig | None = None) -> None:
        one_paragraph_errors()  # a settings error while the app is built prints short
        self.config = config or DatabasePluginConfig()
        own = self.config.databases
        self.registry = databases if own is None else DatabaseRegistry(own)

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        config = self.config
        # Inside override_settings(DATABASES=...) the settings' registry serves that block.
        self.registry = registry = self.registry.current()
        key = config.transaction_opt_key
        dependencies: dict[str, Provide] = {
            config.registry_key: Provide(lambda: registry, use_cache=True, sync_to_thread=False)
        }
        for alias, manager in registry.items():
            suffix = "" if alias == "default" else f"_{alias}"
            dependencies.update(
                {
                    config.session_key + suffix: _async_session_dependency(
                        manager, key, config.primary_opt_key
                    ),
                    config.connection_key + suffix: _connection_dependency(manager, key),
                    config.sync_session_key + suffix: Provide(
                        _session_provider(
                            manager,
                            key,
                            "sync",
                            manager.sync_sessionmaker_for,
                            config.primary_opt_key,
                        ),
                        sync_to_thread=False,
                    ),
                    config.engine_key + suffix: _engine_dependency(manager, sync=False),
                    config.sync_engine_key + suffix: _engine_dependency(manager, sync=True),
                }
            )
        app_config.dependencies.update(dependencies)
        sqlite = any(_shares_connection(manager) for manager in registry.values())
        middleware = DefineMiddleware(_TransactionMiddleware, commits=config.commits, sqlite=sqlite)
        app_config.middleware.insert(0, middleware)
        # The lifespan opens and closes the very managers the providers hold.
        managers = list(registry.values())
        checks = (self._startup_check_mode(), self._migrations_check_mode())
        app_config.lifespan.append(partial(_lifespan, managers, *checks))
        app_config.lifespan.insert(0, startup_lifespan)  # our startup errors print short
        app_config.signature_namespace["DatabaseRegistry"] = DatabaseRegistry
        compat.install(
            app_config,
            {
                sa_exc.SQLAlchemyError: _database_error_response,
                RepositoryError: _repository_error_response,
            },
        )
        return app_config

    def _startup_check_mode(self) -> Literal["fail", "warn", "off"]:
        mode = self.config.startup_check
        if mode is None and self.config.databases is None:
            from project.conf import settings

            mode = settings.DATABASE_STARTUP_CHECK
        return mode or "warn"

    def _migrations_check_mode(self) -> Literal["fail", "warn", "off"]:
        """MIGRATIONS_STARTUP_CHECK for a plugin built from settings; off with explicit config."""
        mode = self.config.migrations_check
        if mode is None and self.config.databases is None:
            from project.conf import settings

            mode = settings.MIGRATIONS_STARTUP_CHECK
        return mode or "off"


@asynccontextmanager
async def _lifespan(
    managers: list[DatabaseSessionManager],
    check: Literal["fail", "warn", "off"],
    migrations: Literal["fail", "warn", "off"],
    app: Litestar,
) -> AsyncIterator[None]:
    """Open the app's managers, check them per DATABASE_STARTUP_CHECK and
    MIGRATIONS_STARTUP_CHECK; close them at the end."""
    for manager in managers:
        if not manager.is_open:
            manager.init()
    try:
        if check != "off":
            await _startup_check(managers, check)
        if migrations != "off":
            from project.migrations.startup import check_migrations

            by_alias = {manager.alias: manager for manager in managers}
            await anyio.to_thread.run_sync(check_migrations, by_alias, migrations)
        yield
    finally:
        for manager in managers:
            await manager.close()


async def _startup_check(
    managers: list[DatabaseSessionManager], mode: Literal["fail", "warn"]
) -> None:
    results = await asyncio.gather(*(manager.acheck() for manager in managers))
    failed = [f"database {r.alias!r} at {r.url}: {r.error}" for r in results if not r.ok]
    if not failed:
        return
    message = "Database unreachable at startup: " + "; ".join(failed)
    if mode == "fail":
        raise DatabaseStartupError(
            message + " Fix the URL or start the server; set DATABASE_STARTUP_CHECK = 'warn' "
            "to start anyway."
        )
    logger.warning(message)


def registry_of(app: Litestar) -> DatabaseRegistry:
    """The registry the app's ``DatabasePlugin`` serves, else the settings' own."""
    try:
        return app.plugins.get(DatabasePlugin).registry
    except KeyError:
        return databases.current()


def _database_error_response(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The one error mapping (``project.database.faults``) as a response, logged once when 5xx."""
    current = _EXCHANGE.get(())
    opened = current[0].opened if current else []
    if isinstance(exc, sa_exc.TimeoutError) and opened:
        exc = cast("Exception", opened[0].manager.explain(exc))
    status = faults.status_for(exc)
    if status is None:
        return create_exception_response(request, exc)
    where = f"{request.method} {request.url.path}"
    faults.log(exc, where, _fallback(opened), status)
    return Response(
        faults.body(status),
        status_code=status,
        media_type="application/json",
        headers=faults.headers(status),
    )


def _repository_error_response(
    request: Request[Any, Any, Any], exc: RepositoryError
) -> Response[Any]:
    """advanced-alchemy's answers and bodies (404, 409); a database that failed: the one mapping."""
    if faults.status_for(exc) in (faults.UNAVAILABLE, faults.ERROR):
        return _database_error_response(request, exc)
    return compat.repository_error_response(request, exc)
