"""The bare middleware of the two injected apps: it closes what the request opened.

What a hand-written plugin would write: the provider records what it opens in
the scope, the middleware closes it after the response.
"""

from __future__ import annotations

from typing import Any, Protocol

from litestar.types import ASGIApp, Receive, Scope, Send

_OPENED = "bench.opened"


class Closable(Protocol):
    async def close(self) -> Any: ...


class CloseOpened:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        opened: list[Closable] = []
        scope[_OPENED] = opened  # type: ignore[literal-required]
        try:
            await self.app(scope, receive, send)
        finally:
            for resource in opened:
                await resource.close()


def opened(scope: Scope) -> list[Closable]:
    """What this request opened, for the middleware to close."""
    resources: list[Closable] = scope[_OPENED]  # type: ignore[literal-required]
    return resources
