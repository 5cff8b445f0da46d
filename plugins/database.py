"""``DatabasePlugin``: engines for the app's lifetime and sessions for its handlers.

Transactions end *before* the response starts: a small ASGI middleware holds
the ``http.response.start`` message, commits (or rolls back), and only then
lets the response out. A commit that fails becomes an error response (the
mapping of ``project.database.faults``: 409, 503 or 500) instead of a 2xx with
nothing stored. A streaming response (no Content-Length) keeps its transaction
open until its body ends and commits before the last part, so a failed commit
cuts the body short; what a background task writes is committed after it
runs. Requests that ask for no session pay nothing but one list lookup per
ASGI message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast

import anyio
import anyio.to_thread
from advanced_alchemy.exceptions import RepositoryError
from litestar import Litestar, Request, Response
from litestar.config.app import AppConfig
from litestar.di import Provide
from litestar.enums import ScopeType
from litestar.exceptions.responses import create_exception_response
from litestar.plugins import InitPluginProtocol
from litestar.types import ASGIApp, HTTPResponseStartEvent, HTTPScope, Message, Receive, Scope, Send
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session

from project.database import DatabaseRegistry, DatabaseSessionManager, databases, faults
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
    manager: DatabaseSessionManager

    async def finish(self, success: bool) -> None:
        """Commit (when atomic and successful) or roll back whatever transaction is open."""
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


def _streams(message: HTTPResponseStartEvent) -> bool:
    """A response whose body comes in parts (``Stream``): no Content-Length, not bodiless."""
    if message["status"] in (204, 304):
        return False
    return not any(name.lower() == b"content-length" for name, _ in message.get("headers", ()))


def _last_part(message: Message) -> bool:
    return message["type"] == "http.response.body" and not message.get("more_body", False)


async def _finish(opened: list[_Opened], success: bool) -> None:
    """End every transaction of the request; a failure is tagged with the alias that raised it.

    Shielded: a COMMIT cut off by a client that left would leave its outcome unknown.
    """
    with anyio.CancelScope(shield=True):
        for item in opened:
            try:
                await item.finish(success)
            except Exception as exc:
                raise item.manager.explain(exc) from None


def _fallback(opened: list[_Opened]) -> faults.Source | None:
    """The database to name in the log when the exception does not say which it was."""
    if not opened:
        return None
    manager = opened[0].manager
    return faults.Source(manager.alias, manager.redacted_url)


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
        exchange = _Exchange(opened, send)
        try:
            await self.app(scope, receive, exchange.send)
            if opened and exchange.sent and exchange.status < 400:
                # Background tasks ran after the body: keep what they wrote, or say it was lost.
                await exchange.end("Commit after a background task failed; its writes are lost")
        finally:
            # Closing returns each connection to its pool, which rolls back whatever
            # was not committed; while the request is being cancelled (a client
            # disconnect) the close is shielded so that it still completes.
            for item in opened:
                await item.close()


@dataclass(slots=True)
class _Exchange:
    """One response on its way out, and the points where its transactions end."""

    opened: list[_Opened]
    downstream: Send
    status: int = 0  # 0 until the response starts
    streaming: bool = False
    replaced: bool = False  # an error response went out instead
    sent: bool = False  # the whole response went out (a client that left cuts a stream)

    async def send(self, message: Message) -> None:
        if self.replaced:
            return
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.streaming = bool(self.opened) and _streams(message)
            if self.opened and not self.streaming:
                try:
                    await _finish(self.opened, success=self.status < 400)
                except Exception as exc:
                    self.replaced = True
                    await _send_error(self.downstream, exc, self.opened)
                    return
        elif self.streaming and _last_part(message):
            self.streaming = False
            # Raising after the response started makes the server drop the
            # connection: the client sees an incomplete body, never a whole 2xx.
            await self.end("Commit after a stream failed; its body is cut short", reraise=True)
        await self.downstream(message)
        self.sent = self.sent or _last_part(message)

    async def end(self, failure: str, reraise: bool = False) -> None:
        """Commit (or roll back) what was written after the response started."""
        try:
            await _finish(self.opened, success=self.status < 400)
        except Exception as exc:
            faults.log(exc, failure, _fallback(self.opened))
            if reraise:
                raise


async def _send_error(send: Send, exc: Exception, opened: list[_Opened]) -> None:
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
        _opened(scope).append(_Opened(session, atomic, manager))
        return session

    return provide_session


def _connection_provider(
    manager: DatabaseSessionManager, opt_key: str
) -> Callable[[Scope], Awaitable[AsyncConnection]]:
    async def provide_connection(scope: Scope) -> AsyncConnection:
        atomic = _is_atomic(scope, manager, opt_key)
        engine = manager.async_engine if atomic else manager.autocommit_engine
        try:
            connection = await engine.connect()
        except Exception as exc:
            raise manager.explain(exc) from None
        _opened(scope).append(_Opened(connection, atomic, manager))
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
        for exc_type in (sa_exc.SQLAlchemyError, RepositoryError):
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
    """The one error mapping (``project.database.faults``) as a response, logged once when 5xx."""
    opened: list[_Opened] = request.scope.get(_OPEN, [])  # type: ignore[assignment]
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
