"""``DatabasePlugin``: engines for the app's lifetime and sessions for its handlers.

Transactions end *before* the response starts: a small ASGI middleware holds
the ``http.response.start`` message, commits (or rolls back), and only then
lets the response out. A commit that fails becomes an error response (409 for
an integrity error, 503 for a lost connection, 500 otherwise) instead of a
2xx with nothing stored. Sessions close after the whole body is sent, so a
streaming body may use them. Requests that ask for no session pay nothing
but one list lookup per ASGI message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast

import anyio.to_thread
import msgspec
from advanced_alchemy.exceptions import IntegrityError as RepositoryIntegrityError
from litestar import Litestar, Request, Response
from litestar.config.app import AppConfig
from litestar.di import Provide
from litestar.enums import ScopeType
from litestar.plugins import InitPluginProtocol
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session

from project.database import (
    DatabaseRegistry,
    DatabaseSessionManager,
    PoolExhaustedError,
    databases,
)
from project.errors import SettingsError
from project.schema import DatabaseSettings, TransactionMode
from project.startup_errors import install as one_paragraph_errors
from project.startup_errors import startup_lifespan

__all__ = ["DatabasePlugin", "DatabasePluginConfig", "DatabaseStartupError", "registry_of"]

logger = logging.getLogger("project.database")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_OPEN = "project.database.open"  # scope key: what this request opened
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
    registry_key: str = "db"
    startup_check: Literal["fail", "warn", "off"] | None = None  # None: DATABASE_STARTUP_CHECK
    transaction_opt_key: str = "transaction"  # route opt that overrides TRANSACTION
    migrations_check: Literal["fail", "warn", "off"] | None = None  # None: MIGRATIONS_STARTUP_CHECK


class DatabaseStartupError(SettingsError):
    """A database was unreachable at startup and DATABASE_STARTUP_CHECK is "fail"."""


@dataclass(slots=True)
class _Opened:
    """One session or connection a request opened, and how to end it."""

    resource: AsyncSession | AsyncConnection | Session
    atomic: bool
    finished: bool = False

    async def finish(self, success: bool) -> None:
        """Commit (when atomic and successful) or roll back, exactly once."""
        if self.finished:
            return
        self.finished = True
        if not self.atomic:
            return  # autocommit: nothing to end; close() hands the connection back
        resource = self.resource
        if isinstance(resource, Session):
            if resource.in_transaction():
                await anyio.to_thread.run_sync(resource.commit if success else resource.rollback)
            return
        if resource.in_transaction():
            await (resource.commit() if success else resource.rollback())

    async def close(self) -> None:
        resource = self.resource
        if isinstance(resource, Session):
            await anyio.to_thread.run_sync(resource.close)  # not cancellable by default
        elif _being_cancelled():
            await asyncio.shield(resource.close())
        else:
            await resource.close()


def _being_cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _error_status(exc: BaseException) -> int:
    if isinstance(exc, sa_exc.IntegrityError | RepositoryIntegrityError):
        return 409
    if isinstance(exc, PoolExhaustedError) or (
        isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated
    ):
        return 503
    return 500


_REASONS = {
    409: "Conflict: the change violates a database constraint.",
    503: "Service Unavailable: the database connection was lost; retry.",
    500: "Internal Server Error: a database error occurred.",
}


class _TransactionMiddleware:
    """Ends each request's transactions before its response starts (see module doc)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        opened: list[_Opened] = []
        scope[_OPEN] = opened  # type: ignore[literal-required]
        replaced = False

        async def send_after_commit(message: Message) -> None:
            nonlocal replaced
            if replaced:
                return
            if message["type"] == "http.response.start" and opened:
                try:
                    for item in opened:
                        await item.finish(success=message["status"] < 400)
                except Exception as exc:
                    replaced = True
                    await _send_error(send, exc)
                    return
            await send(message)

        try:
            await self.app(scope, receive, send_after_commit)
        finally:
            # Closing returns each connection to its pool, which rolls back whatever
            # was not committed; while the request is being cancelled (a client
            # disconnect) the close is shielded so that it still completes.
            for item in opened:
                await item.close()


async def _send_error(send: Send, exc: Exception) -> None:
    status = _error_status(exc)
    logger.error("Commit failed; answering %s instead: %s", status, exc, exc_info=exc)
    body = msgspec.json.encode({"status_code": status, "detail": _REASONS[status]})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _is_atomic(scope: Scope, manager: DatabaseSessionManager, opt_key: str) -> bool:
    """Whether this request gets one transaction (see TRANSACTION in the settings reference)."""
    mode: TransactionMode = scope["route_handler"].opt.get(opt_key) or (
        manager.config.TRANSACTION if manager.config else "auto"
    )
    if mode == "auto":
        return cast("HTTPScope", scope)["method"] not in SAFE_METHODS
    return mode == "atomic"


def _opened(scope: Scope) -> list[_Opened]:
    try:
        return scope[_OPEN]  # type: ignore[literal-required,no-any-return]
    except KeyError:
        raise RuntimeError(
            "Database dependencies need DatabasePlugin's middleware; add the plugin to the app "
            "instead of registering its dependencies by hand."
        ) from None


def _session_provider(
    manager: DatabaseSessionManager,
    opt_key: str,
    factory: Callable[[bool], Callable[[], SessionT]],
) -> Callable[[Scope], SessionT]:
    """A provider of ``factory(atomic)()``: a plain function, so Litestar calls it inline."""

    def provide_session(scope: Scope) -> SessionT:
        atomic = _is_atomic(scope, manager, opt_key)
        session = factory(atomic)()
        _opened(scope).append(_Opened(session, atomic))
        return session

    return provide_session


def _connection_provider(
    manager: DatabaseSessionManager, opt_key: str
) -> Callable[[Scope], Awaitable[AsyncConnection]]:
    async def provide_connection(scope: Scope) -> AsyncConnection:
        atomic = _is_atomic(scope, manager, opt_key)
        engine = manager.async_engine if atomic else manager.autocommit_engine
        connection = await engine.connect()
        _opened(scope).append(_Opened(connection, atomic))
        return connection

    return provide_connection


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
            dependencies[config.session_key + suffix] = Provide(
                _session_provider(manager, key, manager.async_sessionmaker_for),
                sync_to_thread=False,
            )
            dependencies[config.connection_key + suffix] = Provide(
                _connection_provider(manager, key)
            )
            dependencies[config.sync_session_key + suffix] = Provide(
                _session_provider(manager, key, manager.sync_sessionmaker_for),
                sync_to_thread=False,
            )
        app_config.dependencies.update(dependencies)
        app_config.middleware.insert(0, _TransactionMiddleware)
        app_config.lifespan.append(self._lifespan)
        app_config.lifespan.insert(0, startup_lifespan)  # our startup errors print short
        app_config.signature_namespace.update(
            {
                "AsyncSession": AsyncSession,
                "AsyncConnection": AsyncConnection,
                "Session": Session,
                "DatabaseRegistry": DatabaseRegistry,
            }
        )
        for exc_type in (
            sa_exc.IntegrityError,
            sa_exc.DBAPIError,
            PoolExhaustedError,
            RepositoryIntegrityError,
        ):
            app_config.exception_handlers.setdefault(exc_type, _database_error_response)
        return app_config

    @asynccontextmanager
    async def _lifespan(self, app: Litestar) -> AsyncIterator[None]:
        self.registry.open()
        try:
            await self._startup_check()
            await self._migrations_check()
            yield
        finally:
            await self.registry.close_all()

    async def _startup_check(self) -> None:
        mode = self.config.startup_check
        if mode is None:
            from project.conf import settings

            mode = settings.DATABASE_STARTUP_CHECK if self.config.databases is None else "warn"
        if mode == "off":
            return
        results = await asyncio.gather(*(m.acheck() for m in self.registry.values()))
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

    async def _migrations_check(self) -> None:
        """Unapplied migrations stop startup or warn (project.migrations.startup)."""
        mode = self.config.migrations_check
        if mode is None:
            from project.conf import settings

            mode = settings.MIGRATIONS_STARTUP_CHECK if self.config.databases is None else "off"
        if mode != "off":
            from project.migrations.startup import check_migrations

            await anyio.to_thread.run_sync(check_migrations, self.registry, mode)


def registry_of(app: Litestar) -> DatabaseRegistry:
    """The registry the app's ``DatabasePlugin`` serves, else the settings' own."""
    try:
        return app.plugins.get(DatabasePlugin).registry
    except KeyError:
        return databases.current()


def _database_error_response(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    status = _error_status(exc)
    if status == 500:
        logger.error("Database error in %s %s", request.method, request.url.path, exc_info=exc)
    return Response({"status_code": status, "detail": _REASONS[status]}, status_code=status)
