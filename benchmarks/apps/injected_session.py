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
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy.ext.asyncio import AsyncSession

from benchmarks.apps.minimal_session import lifespan, sessions
from benchmarks.apps.orm import route_handlers

_OPENED = "bench.sessions"


class CloseSessions:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        opened: list[AsyncSession] = []
        scope[_OPENED] = opened  # type: ignore[literal-required]
        try:
            await self.app(scope, receive, send)
        finally:
            for session in opened:
                await session.close()


def provide_session(scope: Scope) -> AsyncSession:
    session = sessions()
    scope[_OPENED].append(session)  # type: ignore[literal-required]
    return session


app = Litestar(
    route_handlers=route_handlers,
    lifespan=[lifespan],
    dependencies={"db_session": Provide(provide_session, sync_to_thread=False)},
    middleware=[DefineMiddleware(CloseSessions)],
)
