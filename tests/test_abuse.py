"""Mixed abuse through uvicorn: nothing lost, nothing failed-but-stored, nothing leaked.

Reads, writes, streamed writes, sync writes, handler exceptions, 4xx answers,
integrity conflicts and clients that leave mid-request, shuffled. The rows
stored must be exactly the writes whose response went out as a complete 2xx
(a client that left after the commit still had its 2xx sent). CI runs
``FAULTS_ABUSE_REQUESTS`` (default 400); run 10,000 by hand::

    FAULTS_ABUSE_REQUESTS=10000 pytest tests/test_abuse.py -s
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg2
import pytest
from litestar import Litestar, Response, get, post
from litestar.response import Stream
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from plugins.database import DatabasePlugin, DatabasePluginConfig
from project.database import DatabaseSessionManager
from project.schema import DatabaseSettings
from tests.serve import serve

APP_NAME = "project-abuse-tests"
REQUESTS = int(os.environ.get("FAULTS_ABUSE_REQUESTS", "400"))
# kind: (method, weight, writes, client timeout in seconds or None)
KINDS: dict[str, tuple[str, int, bool, float | None]] = {
    "read": ("GET", 20, False, None),
    "write": ("POST", 20, True, None),
    "sync-write": ("POST", 5, True, None),
    "stream": ("POST", 10, True, None),
    "boom": ("POST", 10, True, None),
    "refuse": ("POST", 10, True, None),
    "conflict": ("POST", 10, True, None),
    "leave": ("POST", 10, True, 0.01),  # the client gives up while the handler sleeps
    "leave-stream": ("POST", 5, True, 0.02),  # ... or while the body streams
}


@dataclass
class Recorder:
    """What the server sent for each request id: its status, and whether the body completed."""

    app: ASGIApp
    status: dict[int, int] = field(default_factory=dict)
    complete: set[int] = field(default_factory=set)
    running: int = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        row_id = int(scope["path"].rsplit("/", 1)[1])

        async def record(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.status[row_id] = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                self.complete.add(row_id)
            await send(message)

        self.running += 1
        try:
            await self.app(scope, receive, record)
        finally:
            self.running -= 1


def _leftovers(manager: DatabaseSessionManager, url: str) -> tuple[list[int], list[Any]]:
    """Connections still checked out of each pool, and our backends idle in a transaction."""
    engines = [manager.async_engine.sync_engine, manager.autocommit_engine.sync_engine]
    engines.append(manager.sync_engine)
    checked_out = [int(e.pool.checkedout()) for e in engines]  # type: ignore[attr-defined]
    idle = _execute(
        url,
        "SELECT state, query, now() - state_change FROM pg_stat_activity "
        f"WHERE state LIKE 'idle in transaction%' AND application_name = '{APP_NAME}' "
        "AND datname = current_database()",
    )
    return checked_out, idle


def _execute(url: str, sql: str) -> list[Any]:
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute(sql)
        rows = cursor.fetchall() if cursor.description else []
    connection.close()
    return rows


@pytest.fixture
def table(postgres_url: str) -> Iterator[str]:
    name = f"a_{uuid.uuid4().hex[:12]}"
    _execute(postgres_url, f"CREATE TABLE {name} (id int PRIMARY KEY)")
    yield name
    _execute(postgres_url, f"DROP TABLE {name}")


def _app(url: str, table: str) -> tuple[Litestar, DatabasePlugin]:
    def insert(row_id: int) -> Any:
        return text(f"INSERT INTO {table} (id) VALUES ({row_id})")

    @get("/read/{row_id:int}")
    async def read(db_session: AsyncSession, row_id: int) -> int:
        return int(await db_session.scalar(text(f"SELECT count(*) FROM {table}")) or 0)

    @post("/write/{row_id:int}")
    async def write(db_session: AsyncSession, row_id: int) -> int:
        await db_session.execute(insert(row_id))
        return row_id

    @post("/sync-write/{row_id:int}", sync_to_thread=True)
    def sync_write(db_sync_session: Session, row_id: int) -> int:
        db_sync_session.execute(insert(row_id))
        return row_id

    @post("/stream/{row_id:int}")
    async def stream(db_session: AsyncSession, row_id: int) -> Stream:
        async def body() -> AsyncIterator[bytes]:
            yield b"start\n"
            await db_session.execute(insert(row_id))
            yield b"written\n"

        return Stream(body())

    @post("/boom/{row_id:int}")
    async def boom(db_session: AsyncSession, row_id: int) -> int:
        await db_session.execute(insert(row_id))
        raise RuntimeError("the handler failed after writing")

    @post("/refuse/{row_id:int}")
    async def refuse(db_session: AsyncSession, row_id: int) -> Response[str]:
        await db_session.execute(insert(row_id))
        return Response("refused after writing", status_code=422)

    @post("/conflict/{row_id:int}")
    async def conflict(db_session: AsyncSession, row_id: int) -> int:
        await db_session.execute(insert(row_id))
        await db_session.execute(insert(row_id))  # IntegrityError: 409
        return row_id

    @post("/leave/{row_id:int}")
    async def leave(db_session: AsyncSession, row_id: int) -> int:
        await db_session.execute(insert(row_id))
        await asyncio.sleep(random.uniform(0, 0.03))
        return row_id

    @post("/leave-stream/{row_id:int}")
    async def leave_stream(db_session: AsyncSession, row_id: int) -> Stream:
        async def body() -> AsyncIterator[bytes]:
            for part in range(3):
                if part == 1:
                    await db_session.execute(insert(row_id))
                await asyncio.sleep(0.015)
                yield b"part\n"

        return Stream(body())

    options = {
        "async": {"server_settings": {"application_name": APP_NAME}},
        "sync": {"application_name": APP_NAME},
    }
    databases = {"default": DatabaseSettings(URL=url, POOL_SIZE=5, OPTIONS=options)}
    plugin = DatabasePlugin(DatabasePluginConfig(databases=databases, startup_check="off"))
    handlers = [read, write, sync_write, stream, boom, refuse, conflict, leave, leave_stream]
    return Litestar(route_handlers=handlers, plugins=[plugin]), plugin


async def test_mixed_abuse_loses_nothing_and_leaks_nothing(postgres_url: str, table: str) -> None:
    app, plugin = _app(postgres_url, table)
    recorder = Recorder(app)
    chooser = random.Random(8)
    names = list(KINDS)
    plan = chooser.choices(names, weights=[KINDS[n][1] for n in names], k=REQUESTS)
    gate = asyncio.Semaphore(16)
    seen: dict[str, int] = {}
    started = time.monotonic()

    async def one(client: httpx.AsyncClient, row_id: int, kind: str) -> None:
        method, _, _, timeout = KINDS[kind]
        async with gate:
            try:
                response = await client.request(
                    method, f"/{kind}/{row_id}", timeout=timeout or 30.0
                )
                outcome = str(response.status_code)
            except httpx.TimeoutException:
                outcome = "left"
        seen[f"{kind} {outcome}"] = seen.get(f"{kind} {outcome}", 0) + 1

    async with serve(recorder) as base, httpx.AsyncClient(base_url=base) as client:
        await asyncio.gather(*(one(client, row_id, kind) for row_id, kind in enumerate(plan)))
        quiet = 0
        for _ in range(1000):  # handlers of clients that left may still run, or start late
            quiet = quiet + 1 if recorder.running == 0 else 0
            if quiet == 30:
                break
            await asyncio.sleep(0.01)
        manager = plugin.registry["default"]
        # A connection dropped mid-transaction (a stream cut by a client that left)
        # shows "idle in transaction" until its backend sees the socket close.
        settling = time.monotonic()
        for _ in range(60):
            checked_out, idle = await asyncio.to_thread(_leftovers, manager, postgres_url)
            if checked_out == [0, 0, 0] and not idle:
                break
            await asyncio.sleep(0.05)
        settled = time.monotonic() - settling
    # Leaving serve() waited for every request uvicorn had accepted: the record is final.
    elapsed = time.monotonic() - started

    writes = {row_id for row_id, kind in enumerate(plan) if KINDS[kind][2]}
    answered_2xx = {
        row_id
        for row_id, status in recorder.status.items()
        if 200 <= status < 300 and row_id in recorder.complete
    }
    stored = {int(row[0]) for row in _execute(postgres_url, f"SELECT id FROM {table}")}
    failed_but_stored = {
        row_id: (plan[row_id], recorder.status.get(row_id), row_id in recorder.complete)
        for row_id in stored - answered_2xx
    }
    assert failed_but_stored == {}, "failed but stored: id: (kind, status sent, body complete)"
    assert (answered_2xx & writes) - stored == set(), "answered 2xx but lost"
    assert checked_out == [0, 0, 0]
    assert idle == []
    assert {"write 201", "boom 500", "refuse 422", "conflict 409"} <= set(seen)
    print(  # figures for the README (pytest -s)
        f"\nabuse: {REQUESTS} requests in {elapsed:.1f} s; {len(stored)} rows stored = "
        f"{len(answered_2xx & writes)} writes answered 2xx; outcomes {dict(sorted(seen.items()))}; "
        f"no leftovers {settled * 1000:.0f} ms after the last request"
    )
