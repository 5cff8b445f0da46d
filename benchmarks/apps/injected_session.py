"""The floor of any plugin that injects sessions: Litestar's DI, no plugin code.

The minimal session app's engine, but the handlers are ``apps/orm.py``'s (a
``db_session`` parameter): a ``Provide`` makes the session and a bare ASGI
middleware closes it after the response, as a hand-written plugin would. What
separates this app from ``minimal_session`` is Litestar's dependency
injection and a session held until the response is out; what separates
``ours`` from it is our plugin.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.types import Scope
from sqlalchemy.ext.asyncio import AsyncSession

from benchmarks.apps.injected import CloseOpened, opened
from benchmarks.apps.minimal_session import lifespan, sessions
from benchmarks.apps.orm import route_handlers


def provide_session(scope: Scope) -> AsyncSession:
    session = sessions()
    opened(scope).append(session)
    return session


app = Litestar(
    route_handlers=route_handlers,
    lifespan=[lifespan],
    dependencies={"db_session": Provide(provide_session, sync_to_thread=False)},
    middleware=[DefineMiddleware(CloseOpened)],
)
