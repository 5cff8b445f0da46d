"""DatabasePlugin end to end, through Litestar's test client, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio.to_thread
import psycopg2
import pytest
from litestar import Litestar, Request, Response, get, post
from litestar.response import Stream
from litestar.testing import AsyncTestClient
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session

from plugins.database import (
    DatabasePlugin,
    DatabasePluginConfig,
    DatabaseStartupError,
    registry_of,
    request_session,
)
from project.database import DatabaseRegistry
from project.schema import DatabaseSettings

APP_NAME = "project-plugin-tests"


def _config(url: str, **options: Any) -> DatabaseSettings:
    if url.startswith("postgresql"):
        options.setdefault(
            "OPTIONS",
            {
                "async": {"server_settings": {"application_name": APP_NAME}},
                "sync": {"application_name": APP_NAME},
            },
        )
    return DatabaseSettings(URL=url, **options)


def _fresh_table(url: str) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    registry = DatabaseRegistry({"default": _config(url)})
    with registry["default"].sync_connect() as connection:
        connection.execute(text(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, name TEXT)"))
    yield name
    with registry["default"].sync_connect() as connection:
        connection.execute(text(f"DROP TABLE {name}"))
    registry.reset()


@pytest.fixture
def table(database_url: str) -> Iterator[str]:
    """A fresh table ``(id int primary key, name text)`` for this test only."""
    yield from _fresh_table(database_url)


@pytest.fixture
def pg_table(postgres_url: str) -> Iterator[str]:
    """The same, on PostgreSQL only."""
    yield from _fresh_table(postgres_url)


def _count(url: str, table: str) -> int:
    registry = DatabaseRegistry({"default": _config(url)})
    with registry["default"].sync_connect() as connection:
        count = connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
    registry.reset()
    return int(count)


def _app(url: str, handlers: list[Any], **config: Any) -> tuple[Litestar, DatabasePlugin]:
    databases = config.pop("databases", None) or {"default": _config(url)}
    plugin = DatabasePlugin(DatabasePluginConfig(databases=databases, **config))
    return Litestar(route_handlers=handlers, plugins=[plugin]), plugin


def _insert(table: str, row_id: int) -> Any:
    return text(f"INSERT INTO {table} (id, name) VALUES ({row_id}, 'x')")


async def test_sessions_connections_and_registry_are_injected(database_url: str) -> None:
    @get("/all")
    async def everything(
        db_session: AsyncSession, db_connection: AsyncConnection, db: DatabaseRegistry
    ) -> dict[str, Any]:
        one = await db_session.scalar(text("SELECT 1"))
        two = (await db_connection.execute(text("SELECT 2"))).scalar_one()
        return {"one": one, "two": two, "aliases": list(db)}

    @get("/sync", sync_to_thread=True)
    def sync_handler(db_sync_session: Session) -> int:
        return int(db_sync_session.execute(text("SELECT 3")).scalar_one())

    app, _ = _app(database_url, [everything, sync_handler])
    async with AsyncTestClient(app) as client:
        assert (await client.get("/all")).json() == {"one": 1, "two": 2, "aliases": ["default"]}
        assert (await client.get("/sync")).json() == 3


async def test_another_alias_is_injected_under_its_own_key(
    database_url: str, tmp_path: Any
) -> None:
    @get("/replica")
    async def replica(db_session_replica: AsyncSession, db_session: AsyncSession) -> list[str]:
        bind = [str(s.bind.url.database) for s in (db_session, db_session_replica)]
        return bind

    other = f"sqlite:///{tmp_path / 'replica.sqlite3'}"
    databases = {"default": _config(database_url), "replica": _config(other)}
    app, _ = _app(database_url, [replica], databases=databases)
    async with AsyncTestClient(app) as client:
        names = (await client.get("/replica")).json()
    assert names[1].endswith("replica.sqlite3")
    assert names[0] != names[1]


async def test_atomic_commits_below_400_and_rolls_back_otherwise(
    database_url: str, table: str
) -> None:
    @post("/ok/{row_id:int}")
    async def ok(db_session: AsyncSession, row_id: int) -> None:
        await db_session.execute(_insert(table, row_id))

    @post("/refused/{row_id:int}")
    async def refused(db_session: AsyncSession, row_id: int) -> Response[str]:
        await db_session.execute(_insert(table, row_id))
        return Response("no", status_code=422)

    @post("/boom/{row_id:int}")
    async def boom(db_session: AsyncSession, row_id: int) -> None:
        await db_session.execute(_insert(table, row_id))
        raise RuntimeError("handler failed")

    app, _ = _app(database_url, [ok, refused, boom])
    async with AsyncTestClient(app) as client:
        assert (await client.post("/ok/1")).status_code == 201
        assert (await client.post("/refused/2")).status_code == 422
        assert (await client.post("/boom/3")).status_code == 500
    assert _count(database_url, table) == 1


async def test_auto_mode_reads_without_a_request_transaction(database_url: str, table: str) -> None:
    """GET runs in autocommit: a write inside it stays even when the response is 4xx.

    The route opt ``transaction="atomic"`` turns the request transaction back on.
    """

    @get("/autocommit/{row_id:int}")
    async def autocommit(db_session: AsyncSession, row_id: int) -> Response[str]:
        await db_session.execute(_insert(table, row_id))
        return Response("kept", status_code=400)

    @get("/atomic/{row_id:int}", opt={"transaction": "atomic"})
    async def atomic(db_session: AsyncSession, row_id: int) -> Response[str]:
        await db_session.execute(_insert(table, row_id))
        return Response("dropped", status_code=400)

    app, _ = _app(database_url, [autocommit, atomic])
    async with AsyncTestClient(app) as client:
        await client.get("/autocommit/1")
        await client.get("/atomic/2")
    assert _count(database_url, table) == 1


async def test_transaction_setting_autocommit_leaves_commits_to_the_handler(
    database_url: str, table: str
) -> None:
    @post("/{row_id:int}")
    async def insert(db_session: AsyncSession, row_id: int) -> Response[str]:
        await db_session.execute(_insert(table, row_id))
        return Response("kept", status_code=400)

    databases = {"default": _config(database_url, TRANSACTION="autocommit")}
    app, _ = _app(database_url, [insert], databases=databases)
    async with AsyncTestClient(app) as client:
        assert (await client.post("/7")).status_code == 400
    assert _count(database_url, table) == 1


def _pg_execute(url: str, *statements: str) -> None:
    """Run statements on PostgreSQL outside the app, in one committed transaction."""
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


@pytest.fixture
def deferred_table(postgres_url: str) -> Iterator[str]:
    """A table whose unique constraint is checked only at COMMIT."""
    name = f"d_{uuid.uuid4().hex[:12]}"
    _pg_execute(
        postgres_url,
        f"CREATE TABLE {name} (id int, name text, "
        f"CONSTRAINT {name}_u UNIQUE (id) DEFERRABLE INITIALLY DEFERRED)",
    )
    yield name
    _pg_execute(postgres_url, f"DROP TABLE {name}")


async def test_a_commit_that_fails_is_a_409_not_a_2xx(
    postgres_url: str, deferred_table: str
) -> None:
    @post("/twice")
    async def twice(db_session: AsyncSession) -> dict[str, str]:
        await db_session.execute(_insert(deferred_table, 1))
        await db_session.execute(_insert(deferred_table, 1))  # violation found at COMMIT
        return {"status": "looks fine to the handler"}

    app, _ = _app(postgres_url, [twice])
    async with AsyncTestClient(app) as client:
        response = await client.post("/twice")
    assert response.status_code == 409
    assert "constraint" in response.json()["detail"]
    assert _count(postgres_url, deferred_table) == 0


@pytest.fixture
def serialization_failing_table(postgres_url: str) -> Iterator[str]:
    """A table whose every transaction fails at COMMIT with a serialization failure."""
    name = f"s_{uuid.uuid4().hex[:12]}"
    _pg_execute(
        postgres_url,
        f"CREATE TABLE {name} (id int, name text)",
        f"CREATE FUNCTION {name}_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION 'could not serialize access' USING ERRCODE = '40001'; END $$",
        f"CREATE CONSTRAINT TRIGGER {name}_at_commit AFTER INSERT ON {name} "
        f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {name}_fail()",
    )
    yield name
    _pg_execute(postgres_url, f"DROP TABLE {name}", f"DROP FUNCTION {name}_fail()")


async def test_a_serialization_failure_at_commit_is_a_500(
    postgres_url: str, serialization_failing_table: str
) -> None:
    @post("/insert")
    async def insert(db_session: AsyncSession) -> dict[str, str]:
        await db_session.execute(_insert(serialization_failing_table, 1))
        return {"status": "looks fine to the handler"}

    app, _ = _app(postgres_url, [insert])
    async with AsyncTestClient(app) as client:
        response = await client.post("/insert")
    assert response.status_code == 500
    assert _count(postgres_url, serialization_failing_table) == 0


async def test_a_connection_lost_before_commit_is_a_503(postgres_url: str, pg_table: str) -> None:
    table = pg_table

    @post("/lost")
    async def lost(db_session: AsyncSession) -> None:
        await db_session.execute(_insert(table, 1))
        pid = await db_session.scalar(text("SELECT pg_backend_pid()"))
        _pg_execute(postgres_url, f"SELECT pg_terminate_backend({int(pid or 0)})")
        await asyncio.sleep(0.05)

    @get("/after")
    async def after(db_session: AsyncSession) -> int:
        return int(await db_session.scalar(text("SELECT 1")) or 0)

    app, _ = _app(postgres_url, [lost, after])
    async with AsyncTestClient(app) as client:
        assert (await client.post("/lost")).status_code == 503
        # The app recovers without a restart: the dead connection was dropped.
        assert (await client.get("/after")).json() == 1
    assert _count(postgres_url, table) == 0


async def test_a_streaming_body_may_use_the_session_and_returns_its_connection(
    database_url: str,
) -> None:
    @get("/stream")
    async def stream(db_session: AsyncSession) -> Stream:
        async def body() -> AsyncIterator[bytes]:
            for number in range(3):
                value = await db_session.scalar(text(f"SELECT {number}"))
                yield f"{value}\n".encode()

        return Stream(body())

    app, plugin = _app(database_url, [stream])
    async with AsyncTestClient(app) as client:
        response = await client.get("/stream")
        assert response.text == "0\n1\n2\n"
        assert plugin.registry["default"].async_engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def _scope(method: str, path: str) -> dict[str, Any]:
    """An HTTP scope as a server hands it to the app, for calling the app directly."""
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
        "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
        "query_string": b"", "root_path": "", "headers": [(b"host", b"test")],
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {},
    }  # fmt: skip


def _start_post(app: Litestar, path: str, sent: list[Any]) -> asyncio.Task[None]:
    """``POST path`` called directly on this loop (the test client would run the app on
    another one, out of reach of ``cancel()``); what the app sends goes to ``sent``."""
    scope = _scope("POST", path)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    return asyncio.create_task(app(scope, receive, send))  # type: ignore[arg-type]


async def test_a_request_cancelled_mid_handler_returns_its_connection(
    database_url: str, table: str
) -> None:
    """A client that disconnects cancels the request task; nothing stays checked out."""
    started = asyncio.Event()

    @post("/slow")
    async def slow(db_session: AsyncSession) -> None:
        await db_session.execute(_insert(table, 1))
        started.set()
        await asyncio.sleep(30)

    app, plugin = _app(database_url, [slow], startup_check="off")
    request = _start_post(app, "/slow", [])
    await started.wait()
    pool = plugin.registry["default"].async_engine.pool
    assert pool.checkedout() == 1  # type: ignore[attr-defined]
    request.cancel()
    with pytest.raises(asyncio.CancelledError):
        await request
    await asyncio.sleep(0.05)
    assert pool.checkedout() == 0  # type: ignore[attr-defined]
    await plugin.registry.close_all()
    assert _count(database_url, table) == 0


async def test_a_commit_under_way_completes_when_the_request_is_cancelled(
    postgres_url: str, slow_commit_table: str
) -> None:
    """A server that cancels the request (client gone, timeout) during the COMMIT
    gets its cancellation after the COMMIT ends: the row is stored, nothing leaks."""
    returned = asyncio.Event()

    @post("/kept")
    async def kept(db_session: AsyncSession) -> None:
        await db_session.execute(text(f"INSERT INTO {slow_commit_table} VALUES (1, 'kept')"))
        returned.set()

    app, plugin = _app(postgres_url, [kept], startup_check="off")
    sent: list[Any] = []
    request = _start_post(app, "/kept", sent)
    await returned.wait()
    await asyncio.sleep(0.1)  # the COMMIT is on the server, its trigger asleep
    request.cancel()
    with pytest.raises(asyncio.CancelledError):
        await request
    assert sent == []  # cancelled before the response started
    assert _count(postgres_url, slow_commit_table) == 1
    assert plugin.registry["default"].async_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    await plugin.registry.close_all()


async def test_a_handler_without_a_session_costs_no_database_work(database_url: str) -> None:
    @get("/plain")
    async def plain() -> str:
        return "no database"

    app, plugin = _app(database_url, [plain], startup_check="off")
    async with AsyncTestClient(app) as client:
        assert (await client.get("/plain")).text == "no database"
        manager = plugin.registry["default"]
        assert manager.opened_engines == []


async def test_async_handlers_make_no_thread_hops(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    hops: list[object] = []
    real_run_sync = anyio.to_thread.run_sync

    async def counting_run_sync(func: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(func)
        return await real_run_sync(func, *args, **kwargs)

    @post("/write")
    async def write(db_session: AsyncSession) -> int:
        return int(await db_session.scalar(text("SELECT 1")) or 0)

    @post("/sync-write", sync_to_thread=True)
    def sync_write(db_sync_session: Session) -> int:
        return int(db_sync_session.execute(text("SELECT 1")).scalar_one())

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting_run_sync)
    app, _ = _app(database_url, [write, sync_write])
    async with AsyncTestClient(app) as client:
        await client.post("/write")
        assert hops == []
        await client.post("/sync-write")
        assert hops  # the sync session is committed and closed off the event loop


def _our_connections(url: str) -> int:
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE application_name = %s AND datname = current_database()",
            (APP_NAME,),
        )
        return int(cursor.fetchone()[0])  # type: ignore[index]


async def test_shutdown_disposes_every_engine_of_every_alias_and_app(postgres_url: str) -> None:
    @get("/both")
    async def both(primary: AsyncSession, primary_secondary: AsyncSession, other: Session) -> str:
        await primary.scalar(text("SELECT 1"))
        await primary_secondary.scalar(text("SELECT 1"))
        return "ok"

    @get("/sync", sync_to_thread=True)
    def sync_both(other: Session, other_secondary: Session) -> str:
        other.execute(text("SELECT 1"))
        other_secondary.execute(text("SELECT 1"))
        return "ok"

    for _ in range(10):
        databases = {"default": _config(postgres_url), "secondary": _config(postgres_url)}
        app, _ = _app(
            postgres_url,
            [both, sync_both],
            databases=databases,
            session_key="primary",
            sync_session_key="other",
        )
        async with AsyncTestClient(app) as client:
            assert (await client.get("/both")).status_code == 200
            assert (await client.get("/sync")).status_code == 200
            assert _our_connections(postgres_url) >= 2
    for _ in range(50):  # a closed connection's backend leaves pg_stat_activity soon after
        if _our_connections(postgres_url) == 0:
            break
        await asyncio.sleep(0.1)
    assert _our_connections(postgres_url) == 0


async def test_idle_connections_are_pinged_and_replaced_when_dead(postgres_url: str) -> None:
    @get("/pid")
    async def pid(db_session: AsyncSession) -> int:
        return int(await db_session.scalar(text("SELECT pg_backend_pid()")) or 0)

    databases = {"default": _config(postgres_url, PING_IDLE_AFTER=0.05, POOL_SIZE=1)}
    app, _ = _app(postgres_url, [pid], databases=databases)
    async with AsyncTestClient(app) as client:
        first = (await client.get("/pid")).json()
        _pg_execute(postgres_url, f"SELECT pg_terminate_backend({int(first)})")
        await asyncio.sleep(0.1)
        response = await client.get("/pid")
        assert response.status_code == 200
        assert response.json() != first


async def test_startup_check_fail_stops_the_app_with_a_clear_message() -> None:
    url = "postgresql://app:hunter2@127.0.0.1:1/nothing"
    app, _ = _app(url, [], startup_check="fail", databases={"default": DatabaseSettings(URL=url)})
    with pytest.raises(BaseException) as caught:  # noqa: PT011 - the server wraps it in a group
        async with AsyncTestClient(app):
            pass
    error = caught.value
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    assert isinstance(error, DatabaseStartupError)
    message = str(error)
    assert "connection refused" in message
    assert "hunter2" not in message


async def test_startup_check_warn_logs_and_starts(capfd: pytest.CaptureFixture[str]) -> None:
    @get("/up")
    async def up() -> str:
        return "up"

    url = "postgresql://app:hunter2@127.0.0.1:1/nothing"
    app, _ = _app(url, [up], startup_check="warn", databases={"default": DatabaseSettings(URL=url)})
    async with AsyncTestClient(app) as client:
        assert (await client.get("/up")).text == "up"
    logged = capfd.readouterr().err
    assert "Database unreachable at startup" in logged
    assert "hunter2" not in logged


def test_connection_is_not_used_by_sync_fixture_helpers(database_url: str) -> None:
    """The helpers above open their own registries; they leave nothing open."""
    registry = DatabaseRegistry({"default": _config(database_url)})
    with registry["default"].sync_connect() as connection:
        assert isinstance(connection, Connection)
    registry.reset()
    assert registry._managers is None


# --- one registry -----------------------------------------------------------------


async def test_the_plugin_from_settings_serves_project_databases_and_closes_it(
    database_url: str,
) -> None:
    from project.conf import override_settings
    from project.database import databases

    @get("/same")
    async def same(db_session: AsyncSession, db: DatabaseRegistry) -> bool:
        # Code outside the handler's signature (a service, a task) reaches the same pools.
        async with databases["default"].session() as session:
            await session.execute(text("SELECT 1"))
        return db is databases.current() and db_session.bind.url == session.bind.url

    async with override_settings(DATABASES={"default": {"URL": database_url}}):
        plugin = DatabasePlugin()
        app = Litestar(route_handlers=[same], plugins=[plugin])
        assert plugin.registry is databases.current()
        assert registry_of(app) is plugin.registry
        async with AsyncTestClient(app) as client:
            assert (await client.get("/same")).json() is True
            assert databases["default"].is_open
        assert not databases["default"].is_open  # the app's shutdown closed the shared pools


def test_outside_any_override_the_plugin_uses_the_settings_registry_itself() -> None:
    from project.database import databases

    plugin = DatabasePlugin()
    app = Litestar(plugins=[plugin])
    assert plugin.registry is databases
    assert registry_of(app) is databases


async def test_a_plugin_given_databases_owns_its_registry_under_a_custom_key(
    database_url: str,
) -> None:
    from project.database import databases
    from project.health import health_router

    @get("/aliases")
    async def aliases(registry: DatabaseRegistry) -> list[str]:
        return list(registry)

    app, plugin = _app(database_url, [aliases, health_router], registry_key="registry")
    assert plugin.registry is not databases
    assert registry_of(app) is plugin.registry
    async with AsyncTestClient(app) as client:
        assert (await client.get("/aliases")).json() == ["default"]
        health = (await client.get("/health/db")).json()
    assert [check["alias"] for check in health["databases"]] == ["default"]
    assert health["status"] == "ok"


class _ServerCycle:
    """What uvicorn hands an app: a ``send`` bound to an object that holds the scope."""

    def __init__(self, scope: dict[str, Any]) -> None:
        self.scope = scope
        self.messages: list[dict[str, Any]] = []

    async def send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    async def receive(self) -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}


class _Marker:
    pass


async def test_a_request_leaves_no_reference_cycle_for_the_garbage_collector(
    database_url: str,
) -> None:
    """Everything a request made is freed by reference counting: under load, cycles
    through the server's ``send`` made the collector a tenth of the CPU time."""
    import gc
    import weakref

    @get("/one")
    async def one(db_session: AsyncSession, db_connection: AsyncConnection) -> int:
        return int(await db_session.scalar(text("SELECT 1")) or 0)

    app, _ = _app(database_url, [one])
    async with AsyncTestClient(app):  # runs the lifespan
        scope = {**_scope("GET", "/one"), "marker": _Marker()}
        marker = weakref.ref(scope["marker"])
        cycle = _ServerCycle(scope)
        gc.collect()
        gc.disable()
        try:
            await app(scope, cycle.receive, cycle.send)  # type: ignore[arg-type]
            assert cycle.messages[0]["status"] == 200
            del scope, cycle
            assert marker() is None, "the request's scope is kept alive by a reference cycle"
        finally:
            gc.enable()


async def test_a_task_a_request_started_cannot_open_its_session_once_the_request_ended(
    database_url: str,
) -> None:
    """A task copies the request's context; after the request, request_session() in it
    says so instead of opening a session that nothing would commit or close."""
    go_on = asyncio.Event()
    started: list[asyncio.Task[AsyncSession]] = []

    @get("/spawn")
    async def spawn(request: Request[Any, Any, Any]) -> int:
        async def later() -> AsyncSession:
            await go_on.wait()
            return await request_session(request)

        started.append(asyncio.create_task(later()))
        return 1

    app, _ = _app(database_url, [spawn])
    async with AsyncTestClient(app):  # runs the lifespan
        scope = _scope("GET", "/spawn")
        cycle = _ServerCycle(scope)
        await app(scope, cycle.receive, cycle.send)  # type: ignore[arg-type]
        assert cycle.messages[0]["status"] == 200
        go_on.set()
        with pytest.raises(RuntimeError, match="only while that request runs"):
            await started[0]
