"""What an app written for advanced-alchemy's ``SQLAlchemyPlugin`` expects from its plugin.

``DatabasePlugin`` calls ``install(app_config, ...)`` once: advanced-alchemy's
``RepositoryError`` mapping (``NotFoundError`` -> 404, integrity errors ->
409), its serialization plugin (SQLAlchemy models as request and response
bodies) and the names it adds to the signature namespace. The pieces are
advanced-alchemy's own; this module only decides when to add them.

Exception handlers the plugin adds never take precedence over the app's: a
type is skipped when the app already handles it or one of its bases, and at
request time a handler of a router, controller or route for a base class of
the error is called instead of ours.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from inspect import getmro
from typing import Any

from advanced_alchemy.exceptions import RepositoryError
from advanced_alchemy.extensions.litestar.exception_handler import exception_to_http_response
from advanced_alchemy.extensions.litestar.plugins.init.plugin import signature_namespace_values
from advanced_alchemy.extensions.litestar.plugins.serialization import (
    SQLAlchemySerializationPlugin,
)
from litestar import Request, Response
from litestar.config.app import AppConfig
from litestar.exceptions import HTTPException
from sqlalchemy import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

__all__ = ["SIGNATURE_NAMESPACE", "add_exception_handlers", "install"]

Handler = Callable[[Request[Any, Any, Any], Any], Response[Any]]

# advanced-alchemy's ~30 filter, service and session names, the engine and session
# types its sync and async configs add, and the connection types we inject.
SIGNATURE_NAMESPACE: dict[str, Any] = {
    **signature_namespace_values,
    "AsyncEngine": AsyncEngine,
    "AsyncSession": AsyncSession,
    "AsyncConnection": AsyncConnection,
    "Engine": Engine,
    "Session": Session,
    "Connection": Connection,
}
with contextlib.suppress(ImportError):
    from asyncpg.pgproto import pgproto

    SIGNATURE_NAMESPACE["pgproto.UUID"] = pgproto.UUID


def install(app_config: AppConfig, handlers: Mapping[type[Exception], Handler]) -> None:
    """Add ``handlers`` (see ``add_exception_handlers``), the serialization plugin and the names."""
    add_exception_handlers(app_config, handlers)
    if not any(isinstance(p, SQLAlchemySerializationPlugin) for p in app_config.plugins):
        # Litestar runs plugins appended during on_app_init, as advanced-alchemy relies on.
        app_config.plugins.append(SQLAlchemySerializationPlugin())
    for name, value in SIGNATURE_NAMESPACE.items():
        app_config.signature_namespace.setdefault(name, value)


def add_exception_handlers(
    app_config: AppConfig, handlers: Mapping[type[Exception], Handler]
) -> None:
    """Register each handler unless the app handles its type or a base of it."""
    registered = [key for key in app_config.exception_handlers if isinstance(key, type)]
    for exc_type, handler in handlers.items():
        if not any(issubclass(exc_type, key) for key in registered):
            app_config.exception_handlers[exc_type] = _deferring(handler)


def _deferring(handler: Handler) -> Handler:
    """``handler``, unless the route's own layers handle a base class of the error."""

    def handle(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        layered = request.route_handler.resolve_exception_handlers()
        for cls in getmro(type(exc)):
            app_handler = layered.get(cls)
            if app_handler is not None and not hasattr(app_handler, _FALLBACK):
                return app_handler(request, exc)
        return handler(request, exc)

    setattr(handle, _FALLBACK, handler)
    return handle


_FALLBACK = "project_fallback_for"  # marks the handlers this module registered


def repository_error_response(
    request: Request[Any, Any, Any], exc: RepositoryError
) -> Response[Any]:
    """advanced-alchemy's answer (404, 409, else 500, its body); the app's status handlers win.

    A handler the app registered for the resulting status code (a 404 page)
    renders it, where advanced-alchemy's plugin would register nothing at all.
    """
    response: Response[Any] = exception_to_http_response(request, exc)
    status = response.status_code or 500
    status_handler = request.route_handler.resolve_exception_handlers().get(status)
    if status_handler is None:
        return response
    return status_handler(request, HTTPException(status_code=status, detail=str(exc.detail)))
