"""A bad day on purpose: unreachable, stopping, restarting and exhausted databases.

Every way the database can be unavailable answers 503 with ``Retry-After``
from every path a handler has to it, is logged once with the alias and the
redacted URL, and never shows the password, with DEBUG and SQL echo on.
Tests that stop or restart PostgreSQL do it to a throwaway cluster of their own.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import struct
import subprocess
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import psycopg2
import pytest
from litestar import Litestar, get, post
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session

from plugins.database import DatabasePlugin, DatabasePluginConfig
from project.database import DatabaseRegistry, DatabaseSessionManager
from project.redact import redact_text
from project.schema import DatabaseSettings
from tests.postgres import ThrowawayCluster, free_port
from tests.serve import Outcome, load, logs_fixture, request, serve  # noqa: F401 - logs_fixture is the logs fixture

SECRET = "Sw0rdf1sh-s3cret"
APP_NAME = "project-fault-tests"


def _settings(url: str, **options: Any) -> DatabaseSettings:
    options.setdefault(
        "OPTIONS",
        {
            "async": {"server_settings": {"application_name": APP_NAME}},
            "sync": {"application_name": APP_NAME},
        },
    )
    return DatabaseSettings(URL=url, **options)


@get("/session")
async def via_session(db_session: AsyncSession) -> int:
    return int(await db_session.scalar(text("SELECT 1")) or 0)


@post("/write")
async def via_transaction(db_session: AsyncSession) -> int:
    return int(await db_session.scalar(text("SELECT 1")) or 0)


@get("/connection")
async def via_connection(db_connection: AsyncConnection) -> int:
    return int((await db_connection.execute(text("SELECT 1"))).scalar_one())


@get("/sync", sync_to_thread=True)
def via_sync_session(db_sync_session: Session) -> int:
    return int(db_sync_session.execute(text("SELECT 1")).scalar_one())


@get("/manager")
async def via_manager(db: DatabaseRegistry) -> int:
    async with db["default"].session() as session:
        return int(await session.scalar(text("SELECT 1")) or 0)


@get("/sleep/{seconds:float}")
async def sleep(db_session: AsyncSession, seconds: float) -> float:
    await db_session.execute(text("SELECT pg_sleep(:s)"), {"s": seconds})
    return seconds


@post("/sleep/{seconds:float}")
async def sleep_in_transaction(db_session: AsyncSession, seconds: float) -> float:
    await db_session.execute(text("SELECT pg_sleep(:s)"), {"s": seconds})
    return seconds


@get("/sync-sleep/{seconds:float}", sync_to_thread=True)
def sync_sleep(db_sync_session: Session, seconds: float) -> float:
    db_sync_session.execute(text("SELECT pg_sleep(:s)"), {"s": seconds})
    return seconds


@post("/insert/{table:str}/{row_id:int}")
async def insert(db_session: AsyncSession, table: str, row_id: int) -> int:
    await db_session.execute(text(f"INSERT INTO {table} (id) VALUES (:id)"), {"id": row_id})
    return row_id


@get("/health")
async def health() -> str:
    return "ok"


ROUTES = [
    via_session,
    via_transaction,
    via_connection,
    via_sync_session,
    via_manager,
    sleep,
    sleep_in_transaction,
    sync_sleep,
    insert,
    health,
]
PATHS = [("GET", "/session"), ("POST", "/write"), ("GET", "/connection"), ("GET", "/sync"),
         ("GET", "/manager")]  # fmt: skip


def _app(url: str, **settings: Any) -> tuple[Litestar, DatabasePlugin]:
    """The fault app with DEBUG and SQL echo on: the worst case for leaking secrets."""
    settings.setdefault("ECHO", True)
    databases = {"default": _settings(url, **settings)}
    plugin = DatabasePlugin(DatabasePluginConfig(databases=databases, startup_check="off"))
    return Litestar(route_handlers=ROUTES, plugins=[plugin], debug=True), plugin


def _errors(logs: list[logging.LogRecord]) -> list[logging.LogRecord]:
    return [r for r in logs if r.name == "project.database" and r.levelno >= logging.ERROR]


def _assert_unavailable(status: int, headers: Any, body: str) -> None:
    assert status == 503, body
    assert headers["retry-after"] == "1"
    assert '"status_code":503' in body


def _assert_no_secret(logs: list[logging.LogRecord], capfd: pytest.CaptureFixture[str],
                      bodies: list[str]) -> None:  # fmt: skip
    time.sleep(0.1)  # Litestar logs through a queue: let it reach stderr
    captured = capfd.readouterr()
    formatter = logging.Formatter()
    logged = "\n".join(formatter.format(record) for record in logs)
    for where, content in [("logs", logged), ("stdout", captured.out),
                           ("stderr", captured.err), ("bodies", "\n".join(bodies))]:  # fmt: skip
        assert SECRET not in content, f"the password leaked into {where}"


def _checked_out(manager: DatabaseSessionManager) -> int:
    engines = [manager.async_engine.sync_engine, manager.autocommit_engine.sync_engine]
    if manager._sync_engine is not None:
        engines.append(manager._sync_engine)
    return sum(int(engine.pool.checkedout()) for engine in engines)  # type: ignore[attr-defined]


# --- unreachable servers ----------------------------------------------------


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word: a connect timeout."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield int(sock.getsockname()[1])


@pytest.fixture
def resetting_port() -> Iterator[int]:
    """A port that accepts each TCP connection and resets it at once."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)

    def reset_all() -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return  # the fixture closed the server
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.close()

    thread = threading.Thread(target=reset_all, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    server.shutdown(socket.SHUT_RDWR)
    server.close()
    thread.join(timeout=5)


@pytest.fixture(params=["refused", "reset", "unknown host", "connect timeout"])
def unreachable_url(request: pytest.FixtureRequest) -> str:
    if request.param == "refused":
        return f"postgresql://app:{SECRET}@127.0.0.1:{free_port()}/app"
    if request.param == "unknown host":
        return f"postgresql://app:{SECRET}@db.invalid/app"
    fixture = "resetting_port" if request.param == "reset" else "silent_port"
    port = request.getfixturevalue(fixture)
    return f"postgresql://app:{SECRET}@127.0.0.1:{port}/app"


@pytest.mark.parametrize(("method", "path"), PATHS)
async def test_an_unreachable_database_is_a_logged_503_from_every_path(
    unreachable_url: str,
    method: str,
    path: str,
    logs: list[logging.LogRecord],
    capfd: pytest.CaptureFixture[str],
) -> None:
    app, _ = _app(unreachable_url, CONNECT_TIMEOUT=0.5)
    async with AsyncTestClient(app) as client:
        started = time.monotonic()
        response = await client.request(method, path)
        shown = redact_text(unreachable_url)
        figure = _figure(f"{shown} {method} {path}: {response.status_code} in", started)
    _assert_unavailable(response.status_code, response.headers, response.text)
    [logged] = _errors(logs)
    message = logged.getMessage()
    assert "answered 503" in message
    assert "database 'default' at postgresql" in message
    assert "://app:********@" in message
    _assert_no_secret(logs, capfd, [response.text])
    _show(capfd, figure)


# --- a server of our own, stopped and restarted -----------------------------


@pytest.fixture(scope="module")
def cluster(postgres_url: str) -> Iterator[ThrowawayCluster]:
    try:
        cluster = ThrowawayCluster()
    except (subprocess.CalledProcessError, OSError) as exc:
        pytest.skip(f"cannot start a throwaway PostgreSQL cluster: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()


def _secret_url(cluster: ThrowawayCluster) -> str:
    """The cluster trusts every TCP client, so any password works: ours must never show."""
    return cluster.url.replace("postgres@", f"postgres:{SECRET}@")


def _psql_value(url: str, sql: str) -> Any:
    with psycopg2.connect(url, connect_timeout=5) as connection, connection.cursor() as cursor:
        cursor.execute(sql)
        row = cursor.fetchone()
    connection.close()
    return row[0] if row else None


def _idle_in_transaction(url: str) -> int:
    return int(
        _psql_value(
            url,
            "SELECT count(*) FROM pg_stat_activity "
            f"WHERE state LIKE 'idle in transaction%' AND application_name = '{APP_NAME}' "
            "AND datname = current_database()",
        )
    )


@pytest.mark.parametrize(("method", "path"), PATHS)
async def test_a_server_shutting_down_is_a_503(
    cluster: ThrowawayCluster,
    method: str,
    path: str,
    logs: list[logging.LogRecord],
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A smart shutdown waits for its last client; meanwhile new connections are refused (57P03)."""
    holder = psycopg2.connect(cluster.url)
    try:
        await asyncio.to_thread(cluster.shutdown, "smart", False)
        app, _ = _app(_secret_url(cluster))
        async with AsyncTestClient(app) as client:
            started = time.monotonic()
            response = await client.request(method, path)
            figure = _figure(f"shutting down {method} {path}: {response.status_code} in", started)
    finally:
        holder.close()
        await asyncio.to_thread(_wait_stopped_then_start, cluster)
    _assert_unavailable(response.status_code, response.headers, response.text)
    [logged] = _errors(logs)
    assert "shutting down" in logged.getMessage()
    _assert_no_secret(logs, capfd, [response.text])
    _show(capfd, figure)


def _wait_stopped_then_start(cluster: ThrowawayCluster) -> None:
    for _ in range(100):
        if not (cluster.folder / "data" / "postmaster.pid").exists():
            break
        time.sleep(0.05)
    cluster.start()


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/sleep/10"), ("POST", "/sleep/10"), ("GET", "/sync-sleep/10")],
)
async def test_a_connection_killed_mid_query_is_a_503_and_is_dropped(
    cluster: ThrowawayCluster,
    method: str,
    path: str,
    logs: list[logging.LogRecord],
    capfd: pytest.CaptureFixture[str],
) -> None:
    """pg_terminate_backend is what an admin shutdown does to each session (57P01)."""
    app, plugin = _app(_secret_url(cluster))
    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
        pending = asyncio.create_task(client.request(method, path))
        kill = (
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE query LIKE 'SELECT pg_sleep%' AND state = 'active' AND pid <> pg_backend_pid()"
        )
        for _ in range(200):
            await asyncio.sleep(0.02)
            if await asyncio.to_thread(_psql_value, cluster.url, kill):
                break
        response = await pending
        assert _checked_out(plugin.registry["default"]) == 0
        started = time.monotonic()
        assert (await client.get("/session")).status_code == 200  # recovered, no restart
        figure = _figure(
            f"killed mid-query {method} {path}: {response.status_code}; next 200 in", started
        )
        assert (await client.get("/sync")).status_code == 200
    _assert_unavailable(response.status_code, response.headers, response.text)
    assert len(_errors(logs)) == 1
    _assert_no_secret(logs, capfd, [response.text])
    _show(capfd, figure)


# --- pool exhaustion ----------------------------------------------------------


async def test_an_exhausted_pool_answers_503_after_pool_timeout_and_stays_whole(
    postgres_url: str, logs: list[logging.LogRecord], capfd: pytest.CaptureFixture[str]
) -> None:
    """Ten times more slow requests than connections: each completes or gets the 503."""
    pool_timeout = 1.0
    url = postgres_url.replace("postgres@", f"postgres:{SECRET}@")  # the server trusts us
    app, plugin = _app(url, POOL_SIZE=2, MAX_OVERFLOW=0, POOL_TIMEOUT=pool_timeout)
    slow = (
        [("GET", "/sleep/0.5")] * 8
        + [("POST", "/sleep/0.5")] * 8
        + [("GET", "/sync-sleep/0.5")] * 4
    )
    done = False
    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:

        async def poll_health() -> list[Outcome]:
            polls = []
            while not done:
                polls.append(await request(client, "GET", "/health"))
                await asyncio.sleep(0.05)
            return polls

        health = asyncio.create_task(poll_health())
        outcomes = await asyncio.gather(*(request(client, m, p) for m, p in slow))
        done = True
        polls = await health
        manager = plugin.registry["default"]
        assert _checked_out(manager) == 0
        after = await asyncio.gather(*(request(client, "GET", "/sleep/0.1") for _ in range(2)))
    statuses = sorted(o.status for o in outcomes)
    assert set(statuses) <= {200, 201, 503}, statuses
    assert 503 in statuses
    assert {200, 201} & set(statuses)
    unavailable = [o for o in outcomes if o.status == 503]
    for outcome in unavailable:
        _assert_unavailable(outcome.status, outcome.headers, outcome.body)
        assert outcome.seconds >= pool_timeout * 0.9  # it waited for a connection first
    assert polls
    assert all(p.status == 200 for p in polls)
    assert [o.status for o in after] == [200, 200]
    logged = _errors(logs)
    assert len(logged) == len(unavailable)
    assert all("pool is exhausted" in r.getMessage() for r in logged)
    _assert_no_secret(logs, capfd, [o.body for o in outcomes])
    waits = sorted(o.seconds for o in unavailable)
    _show(
        capfd,
        f"pool: {len(outcomes)} requests of 0.5 s on 2 connections: {statuses.count(200)} x 200, "
        f"{statuses.count(201)} x 201, {len(unavailable)} x 503 after {waits[0]:.2f}-"
        f"{waits[-1]:.2f} s; /health {len(polls)} x 200, slowest "
        f"{max(p.seconds for p in polls) * 1000:.0f} ms",
    )


# --- a restart under load -------------------------------------------------------


@pytest.fixture
async def restart_table(cluster: ThrowawayCluster) -> AsyncIterator[str]:
    name = f"r_{uuid.uuid4().hex[:12]}"
    await asyncio.to_thread(_execute, cluster.url, f"CREATE TABLE {name} (id int PRIMARY KEY)")
    yield name
    await asyncio.to_thread(_execute, cluster.url, f"DROP TABLE {name}")


def _execute(url: str, sql: str) -> None:
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute(sql)
    connection.close()


async def test_a_restart_under_load_is_only_503s_and_recovers(
    cluster: ThrowawayCluster,
    restart_table: str,
    logs: list[logging.LogRecord],
    capfd: pytest.CaptureFixture[str],
) -> None:
    pool_timeout, connect_timeout = 2.0, 2.0
    app, plugin = _app(
        _secret_url(cluster),
        POOL_SIZE=4,
        MAX_OVERFLOW=0,
        POOL_TIMEOUT=pool_timeout,
        CONNECT_TIMEOUT=connect_timeout,
    )
    ids = iter(range(1, 10**9))
    marks: dict[str, float] = {}
    stop_at = [float("inf")]

    def pick(worker: int, count: int) -> tuple[str, str]:
        if (worker + count) % 2:
            return "POST", f"/insert/{restart_table}/{next(ids)}"
        return "GET", "/session"

    async def outage() -> None:
        await asyncio.sleep(1.0)
        marks["down"] = time.monotonic()
        await asyncio.to_thread(cluster.shutdown, "fast")
        await asyncio.sleep(1.0)
        await asyncio.to_thread(cluster.start)
        marks["up"] = time.monotonic()
        stop_at[0] = marks["up"] + 3.0

    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:

        async def send(method: str, path: str) -> Outcome:
            return await request(client, method, path)

        outage_task = asyncio.create_task(outage())
        outcomes = await load(8, lambda: time.monotonic() > stop_at[0], pick, send)
        await outage_task
        assert _checked_out(plugin.registry["default"]) == 0
    assert await asyncio.to_thread(_idle_in_transaction, cluster.url) == 0

    statuses = {o.status for o in outcomes}
    assert statuses <= {200, 201, 503}, statuses
    failed = [o for o in outcomes if o.status == 503]
    assert failed, "the outage was not seen"
    for outcome in failed:
        _assert_unavailable(outcome.status, outcome.headers, outcome.body)
    late = [o for o in outcomes if o.started >= marks["up"] + 2.0]
    assert late
    assert all(o.status in (200, 201) for o in late)
    assert max(o.seconds for o in outcomes) <= pool_timeout + connect_timeout
    assert len(_errors(logs)) == len(failed)  # each 503 logged once

    written = {int(o.path.rsplit("/", 1)[1]) for o in outcomes if o.status == 201}
    stored = await asyncio.to_thread(_stored_ids, cluster.url, restart_table)
    assert written <= stored  # a 2xx means stored
    _assert_no_secret(logs, capfd, [o.body for o in outcomes])
    ok_after = [o.started + o.seconds for o in outcomes if o.status in (200, 201)
                and o.started + o.seconds > marks["up"]]  # fmt: skip
    _show(capfd, _report(outcomes, marks, min(ok_after) - marks["up"], len(stored - written)))


def _figure(what: str, started: float) -> str:
    """A figure for the README's Reliability table."""
    return f"{what} {(time.monotonic() - started) * 1000:.0f} ms"


def _show(capfd: pytest.CaptureFixture[str], figure: str) -> None:
    """Print a figure past the capture when FAULTS_FIGURES is set."""
    if os.environ.get("FAULTS_FIGURES"):
        with capfd.disabled():
            print(f"\n{figure}")


def _stored_ids(url: str, table: str) -> set[int]:
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {table}")
        rows = {int(row[0]) for row in cursor.fetchall()}
    connection.close()
    return rows


def _report(outcomes: list[Outcome], marks: dict[str, float], recover: float, extra: int) -> str:
    """Figures for the README's Reliability table."""
    during = [o for o in outcomes if o.started >= marks["down"] - 0.5]
    counts: dict[int, int] = {}
    for outcome in during:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    return (
        f"restart: {len(outcomes)} requests, statuses {dict(sorted(counts.items()))} "
        f"from 0.5 s before the stop; down for {marks['up'] - marks['down']:.2f} s; "
        f"first success {recover * 1000:.0f} ms after the server accepted connections; "
        f"slowest request {max(o.seconds for o in outcomes):.2f} s; "
        f"stored but answered 503: {extra}"
    )


async def test_an_advanced_alchemy_service_on_an_unreachable_database_is_a_503(
    logs: list[logging.LogRecord],
) -> None:
    """The repository wraps the failure in its own RepositoryError; the chain still says 503."""
    from project.example.routes import router

    url = f"postgresql://app:{SECRET}@127.0.0.1:{free_port()}/app"
    databases = {"default": _settings(url)}
    plugin = DatabasePlugin(DatabasePluginConfig(databases=databases, startup_check="off"))
    async with AsyncTestClient(Litestar(route_handlers=[router], plugins=[plugin])) as client:
        response = await client.get("/items")
    _assert_unavailable(response.status_code, response.headers, response.text)
    assert len(_errors(logs)) == 1
