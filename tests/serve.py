"""Serve an ASGI app with uvicorn inside the test's event loop, and drive it with httpx.

In-process, so a test can look at the app's pools while real HTTP requests
(real sockets, real disconnects) go through uvicorn.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn

from tests.postgres import free_port


@asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """Run ``app`` under uvicorn on a free port; yields its base URL."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=free_port(), log_config=None, access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn stopped before it started")
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        await task


@dataclass
class Outcome:
    """One request as the client saw it."""

    path: str
    started: float
    seconds: float
    status: int  # 0: no answer (the client gave up or the connection broke)
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""


async def request(client: httpx.AsyncClient, method: str, path: str) -> Outcome:
    started = time.monotonic()
    try:
        response = await client.request(method, path)
    except httpx.HTTPError:
        return Outcome(path, started, time.monotonic() - started, 0)
    return Outcome(
        path,
        started,
        time.monotonic() - started,
        response.status_code,
        dict(response.headers),
        response.text,
    )


async def load(
    workers: int,
    until: Callable[[], bool],
    pick: Callable[[int, int], tuple[str, str]],
    send: Callable[[str, str], Awaitable[Outcome]],
) -> list[Outcome]:
    """``workers`` clients, each sending ``pick(worker, n)`` back to back until ``until()``."""
    outcomes: list[Outcome] = []

    async def worker(number: int) -> None:
        count = 0
        while not until():
            method, path = pick(number, count)
            outcomes.append(await send(method, path))
            count += 1

    await asyncio.gather(*(worker(n) for n in range(workers)))
    return outcomes


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(name="logs")
def logs_fixture() -> Iterator[list[logging.LogRecord]]:
    """Every record of our loggers, SQLAlchemy's and uvicorn's.

    Not ``caplog``: a Litestar app in debug mode reconfigures the root logger.
    Litestar's own lines go to stderr, which ``capfd`` sees.
    """
    handler = _Records()
    loggers = [logging.getLogger(name) for name in ("project", "sqlalchemy", "uvicorn", "plugins")]
    for logger in loggers:
        logger.addHandler(handler)
    # With a handler in place, ECHO adds no stdout handler that outlives this test's capture.
    echo, quiet = logging.getLogger("sqlalchemy.engine.Engine"), logging.NullHandler()
    echo.addHandler(quiet)
    yield handler.records
    echo.removeHandler(quiet)
    for logger in loggers:
        logger.removeHandler(handler)
