"""Read replicas against a real streaming replica built from the local PostgreSQL binaries.

``pg_is_in_recovery()`` tells where a statement ran: true on the replica.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import httpx
import psycopg2
import pytest
from litestar import Litestar, get, post
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from plugins.database import DatabasePlugin, DatabasePluginConfig
from project.database import DatabaseSessionManager
from project.database.budget import budgets
from project.health import health_router
from project.schema import DatabaseSettings
from tests.cli import manage
from tests.replica import StreamingPair, missing_binaries

WHERE = text("SELECT pg_is_in_recovery()")  # True: the statement ran on the replica


@pytest.fixture(scope="module")
def pair() -> Iterator[StreamingPair]:
    missing = missing_binaries()
    if missing:
        reason = f"a streaming replica needs the PostgreSQL binaries {', '.join(missing)}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    running = StreamingPair()
    try:
        _primary(running, "CREATE TABLE items (id serial PRIMARY KEY, n int)")
        _primary(running, "INSERT INTO items (n) VALUES (0)")
        running.wait_replayed("SELECT count(*) FROM items", "1")
        yield running
    finally:
        running.stop()


def _primary(pair: StreamingPair, sql: str) -> None:
    connection = psycopg2.connect(pair.primary_url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(sql)
    connection.close()


def _config(pair: StreamingPair, app_name: str = "") -> DatabaseSettings:
    options = {"async": {"server_settings": {"application_name": app_name}}} if app_name else {}
    return DatabaseSettings(
        URL=pair.primary_url,
        REPLICAS=[pair.replica_url],
        REPLICA_MAX_LAG=1.0,
        REPLICA_CHECK_INTERVAL=0.2,
        OPTIONS=options,
    )


@get("/where")
async def where(db_session: AsyncSession) -> bool:
    return bool(await db_session.scalar(WHERE))


@get("/where-forced", opt={"primary": True})
async def where_forced(db_session: AsyncSession) -> bool:
    return bool(await db_session.scalar(WHERE))


@get("/where-locked")
async def where_locked(db_session: AsyncSession) -> bool:
    return bool(await db_session.scalar(text("SELECT pg_is_in_recovery() FROM items FOR UPDATE")))


@get("/read-write-read")
async def read_write_read(db_session: AsyncSession) -> list[bool]:
    before = bool(await db_session.scalar(WHERE))
    await db_session.execute(text("INSERT INTO items (n) VALUES (1)"))
    return [before, bool(await db_session.scalar(WHERE))]


@post("/write")
async def write(db_session: AsyncSession) -> bool:
    await db_session.execute(text("INSERT INTO items (n) VALUES (2)"))
    return bool(await db_session.scalar(WHERE))


class Client:
    """The app in this event loop, and its manager."""

    def __init__(self, plugin: DatabasePlugin, http: httpx.AsyncClient) -> None:
        self.plugin = plugin
        self.http = http
        self.manager: DatabaseSessionManager = plugin.registry["default"]

    async def where(self, count: int, path: str = "/where") -> Counter[str]:
        """Where ``count`` concurrent GETs ran: "replica", "primary" or the failed status."""

        async def one() -> str:
            response = await self.http.get(path)
            if response.status_code != 200:
                return str(response.status_code)
            return "replica" if response.json() else "primary"

        return Counter(await asyncio.gather(*(one() for _ in range(count))))


@pytest.fixture
async def client(pair: StreamingPair) -> AsyncIterator[Client]:
    config = DatabasePluginConfig(databases={"default": _config(pair)}, startup_check="off")
    plugin = DatabasePlugin(config)
    app = Litestar([where, where_forced, where_locked, read_write_read, write], plugins=[plugin])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield Client(plugin, http)
    await plugin.registry.close_all()


async def test_reads_go_to_the_replica_and_writes_to_the_primary(client: Client) -> None:
    reads = await client.where(200)
    forced = await client.where(20, "/where-forced")
    locked = await client.where(20, "/where-locked")
    writes = Counter(
        ["replica" if (await client.http.post("/write")).json() else "primary" for _ in range(20)]
    )
    print(f"\nGET: {dict(reads)}; opt primary: {dict(forced)}; FOR UPDATE: {dict(locked)}; "
          f"POST: {dict(writes)}")  # fmt: skip
    assert reads == Counter(replica=200)
    assert forced == locked == Counter(primary=20)
    assert writes == Counter(primary=20)
    assert (await client.http.get("/read-write-read")).json() == [True, False]


async def test_manager_sessions_read_from_the_replica_only_when_asked(client: Client) -> None:
    async with client.manager.session() as session:
        assert await session.scalar(WHERE) is False
    async with client.manager.session(primary=False) as session:
        assert await session.scalar(WHERE) is True
        await session.execute(text("INSERT INTO items (n) VALUES (3)"))
        assert await session.scalar(WHERE) is False  # read your own write


async def test_replica_connections_show_on_the_replica(pair: StreamingPair) -> None:
    app_name = f"replica-{uuid.uuid4().hex[:8]}"
    manager = DatabaseSessionManager("default", _config(pair, app_name))
    try:
        async with manager.session(primary=False) as session:
            assert await session.scalar(WHERE) is True
            count = f"SELECT count(*) FROM pg_stat_activity WHERE application_name = '{app_name}'"
            assert pair.replica_sql(count) == "1"
    finally:
        await manager.close()


async def _back_in_rotation(client: Client, within: float = 30) -> None:
    """Check until the replica has caught up (a restarted one replays what it missed first)."""
    replicas = client.manager.replicas
    assert replicas is not None
    deadline = asyncio.get_running_loop().time() + within
    while True:
        await replicas.refresh()
        if replicas.statuses()[0].in_rotation:
            return
        assert asyncio.get_running_loop().time() < deadline, replicas.statuses()
        await asyncio.sleep(0.2)


async def test_a_stopped_replica_sends_reads_to_the_primary_without_failures(
    client: Client, pair: StreamingPair, caplog: pytest.LogCaptureFixture
) -> None:
    assert await client.where(50) == Counter(replica=50)  # pooled replica connections
    caplog.set_level(logging.WARNING, "project.database")
    pair.stop_replica()
    # pg_ctl blocked this event loop; a served app's loop notices closed sockets as they close.
    await asyncio.sleep(0.2)
    try:
        stopped = await client.where(200)
        await client.manager.replicas.refresh()  # type: ignore[union-attr]
        stopped += await client.where(100)
    finally:
        pair.start_replica()
    print(f"\nreplica stopped: {dict(stopped)}")
    assert stopped == Counter(primary=300)
    out = [r for r in caplog.records if "out of rotation" in r.getMessage()]
    assert len(out) == 1, [r.getMessage() for r in caplog.records]
    await _back_in_rotation(client)
    assert await client.where(20) == Counter(replica=20)
    assert sum("back in rotation" in r.getMessage() for r in caplog.records) == 1


async def test_a_replica_lagging_beyond_the_limit_leaves_the_rotation(
    client: Client, pair: StreamingPair
) -> None:
    replicas = client.manager.replicas
    assert replicas is not None
    await replicas.refresh()
    assert await client.where(20) == Counter(replica=20)
    pair.replica_sql("SELECT pg_wal_replay_pause()")
    try:
        _primary(pair, "INSERT INTO items (n) VALUES (4)")
        await asyncio.sleep(1.5)  # beyond REPLICA_MAX_LAG=1
        await replicas.refresh()
        lagging = await client.where(100)
        status = replicas.statuses()[0]
    finally:
        pair.replica_sql("SELECT pg_wal_replay_resume()")
    print(f"\nreplay paused: {dict(lagging)}, lag {status.lag_s}s")
    assert lagging == Counter(primary=100)
    assert not status.in_rotation
    assert status.lag_s is not None
    assert status.lag_s > 1.0
    assert "REPLICA_MAX_LAG" in status.error
    pair.wait_replayed("SELECT count(*) FROM items WHERE n = 4", "1")
    await _back_in_rotation(client)
    assert await client.where(20) == Counter(replica=20)


async def test_health_dbcheck_and_the_budget_list_the_replica(pair: StreamingPair) -> None:
    config = DatabasePluginConfig(databases={"default": _config(pair)}, startup_check="off")
    plugin = DatabasePlugin(config)
    transport = httpx.ASGITransport(app=Litestar([health_router], plugins=[plugin]))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        health = (await http.get("/health/db")).json()
    await plugin.registry.close_all()
    assert health["status"] == "ok"
    assert [(r["in_rotation"], r["lag_s"] < 1.0) for r in health["replicas"]] == [(True, True)]

    checked = manage(
        "dbcheck", database_url=pair.primary_url, APP_DATABASES__DEFAULT__REPLICAS=pair.replica_url
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "replica 1  in rotation  lag 0.0 s" in checked.stdout

    manager = DatabaseSessionManager("default", _config(pair))
    primary, replica = budgets(manager, workers=2)
    assert replica.label == "DATABASES['default'] replica 1"
    assert (replica.pools, replica.needed) == (["async AUTOCOMMIT"], 2 * 15)
    assert replica.limit is not None
    assert primary.needed == 2 * 3 * 15
