"""The floor of any plugin that injects connections: Litestar's DI, no plugin code.

``injected_session``'s counterpart for Core: the minimal Core app's engine,
the handlers of ``apps/core.py`` (a ``db_connection`` parameter), a
``Provide`` that opens the connection and a bare ASGI middleware that closes
it after the response. What separates this app from ``minimal_core`` is
Litestar's dependency injection and a middleware; what separates
``ours-connection`` from it is our plugin.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.types import Scope
from sqlalchemy.ext.asyncio import AsyncConnection

from benchmarks.apps.core import route_handlers
from benchmarks.apps.injected import CloseOpened, opened
from benchmarks.apps.minimal_core import engine, lifespan


async def provide_connection(scope: Scope) -> AsyncConnection:
    connection = await engine.connect()
    opened(scope).append(connection)
    return connection


app = Litestar(
    route_handlers=route_handlers,
    lifespan=[lifespan],
    dependencies={"db_connection": Provide(provide_connection)},
    middleware=[DefineMiddleware(CloseOpened)],
)
