"""``app`` and ``client``: the project's app, lifespan running, on the test's own event loop.

``client`` is an ``httpx.AsyncClient`` over ``httpx.ASGITransport``, which
calls the app in the test's task. Litestar's ``AsyncTestClient`` runs the app
through a portal on another thread and loop, where it could not share the
test's connection; here a handler's session joins the test's transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import httpx
import pytest_asyncio
from litestar import Litestar

from project.testing.transactions import Bindings

__all__ = ["app", "client"]


@pytest_asyncio.fixture
async def app(
    _async_transaction: Bindings | None, _sync_transaction: Bindings | None
) -> AsyncIterator[Litestar]:
    """``create_app()`` with its lifespan running; its sessions join the test's transaction.

    The app is built once and reused while the settings stay the same; its
    lifespan (startup and shutdown) runs for every test.
    """
    from project.conf import override_settings

    # The test database was checked (and migrated) when it was built; a startup check
    # would open a second connection beside the test's transaction.
    with override_settings(DATABASE_STARTUP_CHECK="off", MIGRATIONS_STARTUP_CHECK="off"):
        application = _built_app()
        async with _lifespan(application):
            yield application


_cache: dict[bytes, Litestar] = {}


def _built_app() -> Litestar:
    """``create_app()``, built again only when the settings changed since the last test.

    Building a Litestar app costs tens of milliseconds, more than a test; a test
    that changed a setting first (``settings.DEBUG = True``) gets an app of its own.
    """
    import msgspec

    from project.app import create_app
    from project.conf import override_scope, settings

    # An app's DatabasePlugin serves the registry of the DATABASES block it was built in.
    scope = id(override_scope("DATABASES")).to_bytes(8, "little")
    key = scope + msgspec.json.encode(settings.as_dict(), enc_hook=repr, order="deterministic")
    if key not in _cache:
        _cache.clear()
        _cache[key] = create_app()
    return _cache[key]


@asynccontextmanager
async def _lifespan(application: Litestar) -> AsyncIterator[None]:
    """Run the lifespan in a task of its own: it is entered and exited in one task.

    pytest-asyncio sets a fixture up and tears it down in different tasks, and
    Litestar's lifespan holds an anyio task group that must close where it opened.
    """
    started, stop = asyncio.Event(), asyncio.Event()

    async def run() -> None:
        async with application.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(run())
    ready = asyncio.create_task(started.wait())
    try:
        await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
        if not started.is_set():
            ready.cancel()
            await task  # raises the startup error
        yield
    finally:
        stop.set()
        if not task.done():
            await task
        # Shutdown closed the app's databases; reopen them (engines open lazily) for
        # the next test, which may use project.database.databases without an app.
        from plugins.database import registry_of

        registry_of(application).open()


@pytest_asyncio.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """``await client.get("/items/")``: requests to ``app`` on the test's event loop."""
    transport = httpx.ASGITransport(app=cast("Any", app))  # an ASGI app; types differ
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
