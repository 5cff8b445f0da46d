"""``DatabaseSessionManager`` on a real SQLite file and a real PostgreSQL server."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from project.conf import SettingsError
from project.database import DatabaseNotReadyError, DatabaseSessionManager, PoolExhaustedError
from project.schema import DatabaseSettings

ROOT = Path(__file__).resolve().parent.parent

MakeManager = Callable[..., DatabaseSessionManager]


class Boom(Exception):
    """An error raised by user code inside a transaction."""


@pytest.fixture
def app_name() -> str:
    """A PostgreSQL application_name of our own, to find our backends in pg_stat_activity."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def make_manager(app_name: str) -> AsyncIterator[MakeManager]:
    """Managers for a URL and pool settings; all closed when the test ends."""
    managers: list[DatabaseSessionManager] = []

    def make(url: str, **entry: Any) -> DatabaseSessionManager:
        if url.startswith("postgresql"):
            entry.setdefault(
                "OPTIONS",
                {
                    "sync": {"application_name": app_name},
                    "async": {"server_settings": {"application_name": app_name}},
                },
            )
        manager = DatabaseSessionManager("default", DatabaseSettings(URL=url, **entry))
        managers.append(manager)
        return manager

    yield make
    for manager in managers:
        await manager.close()


@pytest.fixture
def table(database_url: str, make_manager: MakeManager) -> Iterator[str]:
    """A table of our own (the PostgreSQL database is shared); dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    manager = make_manager(database_url)
    with manager.sync_connect() as connection:
        connection.execute(text(f"CREATE TABLE {name} (name VARCHAR(50))"))
    yield name
    with manager.sync_connect() as connection:
        connection.execute(text(f"DROP TABLE {name}"))


def count_rows(manager: DatabaseSessionManager, table: str) -> int:
    with manager.sync_connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def backends(manager: DatabaseSessionManager, app_name: str, state: str | None = None) -> int:
    """Our application's PostgreSQL backends (in one state), seen from another connection."""
    query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = :app"
    if state:
        query += " AND state = :state"
    with manager.sync_connect() as connection:
        found = connection.execute(text(query), {"app": app_name, "state": state}).scalar_one()
    return int(found)


async def idle_in_transaction(
    observer: DatabaseSessionManager, app_name: str, *, settle: bool = False
) -> int:
    """Our backends idle in a transaction; with ``settle``, give closed ones a moment to go."""
    for _ in range(40 if settle else 1):
        found = backends(observer, app_name, "idle in transaction")
        if not found:
            break
        await asyncio.sleep(0.05)
    return found


# --- engines ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "sync_driver", "async_driver"),
    [
        ("postgresql://app@db/app", "psycopg2", "asyncpg"),
        ("postgresql+asyncpg://app@db/app", "psycopg2", "asyncpg"),
        ("postgresql+psycopg2://app@db/app", "psycopg2", "asyncpg"),
        ("sqlite:///app.sqlite3", "pysqlite", "aiosqlite"),
        ("sqlite+aiosqlite://", "pysqlite", "aiosqlite"),
    ],
)
def test_each_side_gets_the_driver_of_its_family(
    make_manager: MakeManager, url: str, sync_driver: str, async_driver: str
) -> None:
    manager = make_manager(url)
    assert manager.sync_engine.dialect.driver == sync_driver
    assert manager.async_engine.dialect.driver == async_driver


def test_an_unsupported_scheme_lists_the_supported_ones() -> None:
    with pytest.raises(SettingsError, match="unsupported scheme 'mysql'") as caught:
        DatabaseSessionManager("default", DatabaseSettings(URL="mysql://app@db/app"))
    assert "postgresql+asyncpg, postgresql+psycopg2, sqlite+aiosqlite" in str(caught.value)


def test_pool_settings_come_from_the_entry(make_manager: MakeManager) -> None:
    manager = make_manager("postgresql://app@db/app", POOL_SIZE=7, POOL_TIMEOUT=4.0)
    for pool in (manager.sync_engine.pool, manager.async_engine.pool):
        assert pool.size() == 7  # type: ignore[attr-defined]
        assert pool.timeout() == 4.0  # type: ignore[attr-defined]


def test_a_sqlite_file_uses_wal_and_waits_for_the_lock(
    tmp_path: Path, make_manager: MakeManager
) -> None:
    manager = make_manager(f"sqlite:///{tmp_path / 'app.sqlite3'}", CONNECT_TIMEOUT=7)
    with manager.sync_connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 7000


async def test_engines_are_created_on_first_use(
    database_url: str, make_manager: MakeManager
) -> None:
    manager = make_manager(database_url)
    async with manager.session() as session:
        assert (await session.execute(text("SELECT 1"))).scalar_one() == 1
    assert "sync" not in manager.opened_engines  # an async-only app never opens a sync pool


def test_importing_project_database_opens_nothing(postgres_url: str) -> None:
    script = textwrap.dedent(
        """
        import asyncio, os, sys
        from sqlalchemy import text
        from project.conf import settings
        from project.database import DatabaseSessionManager, databases
        from project.schema import DatabaseSettings

        assert not settings.configured
        assert repr(databases) == "<DatabaseRegistry [not loaded]>"
        assert databases["default"].alias == "default"  # reads the settings, opens nothing
        assert settings.configured

        async def main():
            manager = DatabaseSessionManager("default", DatabaseSettings(URL=os.environ["URL"]))
            async with manager.session() as session:
                await session.execute(text("SELECT 1"))
            await manager.close()

        asyncio.run(main())
        print(sorted(m for m in ("asyncpg", "psycopg2") if m in sys.modules))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={
            "PATH": os.environ["PATH"],
            "SETTINGS_MODULE": "settings.development",
            "URL": postgres_url,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['asyncpg']"  # no psycopg2 for an async-only app


# --- transactions -----------------------------------------------------------------

SIDES = ["session", "connect", "sync_session", "sync_connect"]


async def insert(manager: DatabaseSessionManager, side: str, table: str, fail: bool) -> None:
    """Insert one row through one of the four APIs, raising inside the block when ``fail``."""
    insert_row = text(f"INSERT INTO {table} (name) VALUES ('row')")
    if side == "session":
        async with manager.session() as session:
            await session.execute(insert_row)
            if fail:
                raise Boom
    elif side == "connect":
        async with manager.connect() as connection:
            await connection.execute(insert_row)
            if fail:
                raise Boom
    elif side == "sync_session":
        with manager.sync_session() as sync_session:
            sync_session.execute(insert_row)
            if fail:
                raise Boom
    else:
        with manager.sync_connect() as sync_connection:
            sync_connection.execute(insert_row)
            if fail:
                raise Boom


@pytest.mark.parametrize("side", SIDES)
async def test_commit_on_success_rollback_on_exception(
    database_url: str, make_manager: MakeManager, table: str, side: str
) -> None:
    manager = make_manager(database_url)

    await insert(manager, side, table, fail=False)
    with pytest.raises(Boom):
        await insert(manager, side, table, fail=True)

    assert count_rows(manager, table) == 1
    assert manager.async_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert manager.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_a_cancelled_session_leaks_no_connection(
    database_url: str, make_manager: MakeManager, table: str, app_name: str
) -> None:
    postgres = database_url.startswith("postgresql")
    manager = make_manager(database_url)
    observer = make_manager(database_url, OPTIONS={})
    inside = asyncio.Event()

    async def user() -> None:
        async with manager.session() as session:
            await session.execute(text(f"INSERT INTO {table} (name) VALUES ('row')"))
            inside.set()
            await asyncio.sleep(60)

    task = asyncio.create_task(user())
    await inside.wait()
    if postgres:
        assert await idle_in_transaction(observer, app_name) == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert manager.async_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert count_rows(observer, table) == 0
    if postgres:
        assert await idle_in_transaction(observer, app_name, settle=True) == 0
    async with manager.session() as session:  # the pool still works
        assert (await session.execute(text("SELECT 1"))).scalar_one() == 1


@pytest.mark.parametrize("opens", ["session", "connect"])
async def test_a_commit_under_way_completes_when_its_task_is_cancelled(
    postgres_url: str, make_manager: MakeManager, slow_commit_table: str, opens: str
) -> None:
    """Cut off half-way, a COMMIT's outcome would be unknown: it finishes, then the task
    ends, and the connection, clean after its COMMIT, goes back to the pool to be reused
    (``manager.connect()`` used to drop it, costing the next user a reconnect)."""
    manager = make_manager(postgres_url, POOL_SIZE=1, MAX_OVERFLOW=0)
    committing = asyncio.Event()
    backends: list[int] = []
    pid = text("SELECT pg_backend_pid()")

    async def user() -> None:
        async with getattr(manager, opens)() as work:
            await work.execute(text(f"INSERT INTO {slow_commit_table} VALUES (1, 'kept')"))
            backends.append((await work.execute(pid)).scalar_one())
            committing.set()

    task = asyncio.create_task(user())
    await committing.wait()
    await asyncio.sleep(0.1)  # the COMMIT is on the server, its trigger asleep
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert count_rows(manager, slow_commit_table) == 1
    assert manager.async_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    async with getattr(manager, opens)() as work:
        assert (await work.execute(pid)).scalar_one() == backends[0], "the connection was dropped"


@pytest.mark.parametrize("side", ["sync", "async"])
async def test_a_connection_idle_too_long_is_pinged_and_replaced_when_dead(
    postgres_url: str, make_manager: MakeManager, side: str
) -> None:
    """PING_IDLE_AFTER: a pooled connection whose server backend died while it sat idle
    is pinged on checkout and replaced, so the user sees no error; so does the pool
    that ``dispose()`` puts in its place."""
    manager = make_manager(postgres_url, PING_IDLE_AFTER=0.05, POOL_SIZE=1, MAX_OVERFLOW=0)
    observer = make_manager(postgres_url)
    pid = text("SELECT pg_backend_pid()")

    def sync_backend() -> int:
        with manager.sync_connect() as connection:
            return int(connection.execute(pid).scalar_one())

    async def backend() -> int:
        if side == "sync":
            return await asyncio.to_thread(sync_backend)
        async with manager.connect() as connection:
            return int((await connection.execute(pid)).scalar_one())

    for _ in range(2):  # the second time on the pool that dispose() made
        first = await backend()
        with observer.sync_connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        await asyncio.sleep(0.2)
        assert await backend() != first
        if side == "sync":
            manager.sync_engine.dispose()
        else:
            await manager.async_engine.dispose()


@pytest.mark.parametrize("side", ["sync", "async"])
async def test_only_a_connection_idle_in_the_pool_past_the_limit_is_pinged(
    tmp_path: Path, make_manager: MakeManager, monkeypatch: pytest.MonkeyPatch, side: str
) -> None:
    """Idle time counts from the connection's return, not its last checkout; and the pool
    pings, not a checkout listener (which would slow every checkout)."""
    manager = make_manager(f"sqlite:///{tmp_path / 'idle.sqlite3'}", PING_IDLE_AFTER=0.5)
    engine = manager.sync_engine if side == "sync" else manager.async_engine.sync_engine
    assert not engine.pool.dispatch.checkout
    pings: list[Any] = []
    real_ping = engine.dialect.do_ping

    def counted_ping(dbapi_connection: Any) -> bool:
        pings.append(dbapi_connection)
        return real_ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted_ping)

    async def use(hold: float = 0.0) -> None:
        if side == "sync":
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
                await asyncio.sleep(hold)
        else:
            async with manager.async_engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
                await asyncio.sleep(hold)

    await use(hold=0.6)  # out of the pool for longer than the limit
    await use()  # back a moment ago: no ping
    assert pings == []
    await asyncio.sleep(0.6)
    await use()  # idle in the pool past the limit
    assert len(pings) == 1


async def test_a_session_cancelled_mid_query_leaks_no_connection(
    postgres_url: str, make_manager: MakeManager, app_name: str
) -> None:
    manager = make_manager(postgres_url)
    observer = make_manager(postgres_url, OPTIONS={})

    async def user() -> None:
        async with manager.session() as session:
            await session.execute(text("SELECT pg_sleep(2)"))

    task = asyncio.create_task(user())
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert manager.async_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert await idle_in_transaction(observer, app_name, settle=True) == 0


async def test_200_concurrent_sessions_share_a_pool_of_5(
    database_url: str, make_manager: MakeManager, app_name: str
) -> None:
    manager = make_manager(database_url, POOL_SIZE=5, MAX_OVERFLOW=0, POOL_TIMEOUT=30)
    pool = manager.async_engine.pool
    busiest = 0

    async def user(number: int) -> int:
        nonlocal busiest
        async with manager.session() as session:
            value = (
                await session.execute(text("SELECT CAST(:n AS INTEGER)"), {"n": number})
            ).scalar_one()
            busiest = max(busiest, pool.checkedout())  # type: ignore[attr-defined]
            await asyncio.sleep(0)
            return int(value)

    assert await asyncio.gather(*(user(n) for n in range(200))) == list(range(200))
    assert busiest == 5
    assert pool.checkedout() == 0  # type: ignore[attr-defined]
    if database_url.startswith("postgresql"):
        observer = make_manager(database_url, OPTIONS={})
        assert backends(observer, app_name) <= 5


async def test_an_exhausted_pool_says_how_to_size_it(
    database_url: str, make_manager: MakeManager
) -> None:
    manager = make_manager(database_url, POOL_SIZE=1, MAX_OVERFLOW=0, POOL_TIMEOUT=0.2)

    async with manager.session() as holder:
        await holder.execute(text("SELECT 1"))
        with pytest.raises(PoolExhaustedError) as caught:
            async with manager.session() as session:
                await session.execute(text("SELECT 1"))
        with pytest.raises(PoolExhaustedError):
            async with manager.connect():
                pass

    message = str(caught.value)
    assert "the connection pool is exhausted" in message
    assert "POOL_TIMEOUT=0.2s" in message
    assert "Raise POOL_SIZE or MAX_OVERFLOW" in message
    assert manager.async_engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_an_exhausted_sync_pool_says_how_to_size_it(
    database_url: str, make_manager: MakeManager
) -> None:
    manager = make_manager(database_url, POOL_SIZE=1, MAX_OVERFLOW=0, POOL_TIMEOUT=0.2)

    with manager.sync_session() as holder:
        holder.execute(text("SELECT 1"))
        with (
            pytest.raises(PoolExhaustedError, match="pool is exhausted"),
            manager.sync_session() as session,
        ):
            session.execute(text("SELECT 1"))
        with pytest.raises(PoolExhaustedError, match="pool is exhausted"), manager.sync_connect():
            pass

    assert manager.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]


# --- lifecycle ------------------------------------------------------------------


async def test_close_twice_is_harmless_and_use_after_close_is_a_clear_error(
    database_url: str, make_manager: MakeManager
) -> None:
    manager = make_manager(database_url)
    async with manager.session() as session:
        await session.execute(text("SELECT 1"))

    await manager.close()
    await manager.close()

    assert "(closed)" in repr(manager)
    with pytest.raises(
        DatabaseNotReadyError, match=r"'default' is closed .* Call manager.init\(\)"
    ):
        async with manager.session():
            pass
    with pytest.raises(DatabaseNotReadyError, match="is closed"), manager.sync_session():
        pass

    manager.init()
    async with manager.session() as session:
        assert (await session.execute(text("SELECT 1"))).scalar_one() == 1


async def test_a_manager_without_settings_says_what_to_call() -> None:
    manager = DatabaseSessionManager("reports")
    with pytest.raises(DatabaseNotReadyError) as caught:
        async with manager.session():
            pass
    message = str(caught.value)
    assert "Database 'reports' is not initialised" in message
    assert "manager.init(config)" in message
    assert "databases['reports']" in message
    assert "plugins.database.DatabasePlugin" in message
    with pytest.raises(DatabaseNotReadyError, match="not initialised"):
        manager.sync_engine  # noqa: B018
    await manager.close()  # harmless too


# --- health checks ------------------------------------------------------------


async def test_check_reports_the_server_version_and_a_redacted_url(
    database_url: str, make_manager: MakeManager
) -> None:
    manager = make_manager(database_url)
    for result in (manager.check(), await manager.acheck()):
        assert result.ok, result.error
        assert result.error == ""
        assert result.latency_ms > 0
        if database_url.startswith("postgresql"):
            assert result.server_version[:2].isdigit()
            assert result.url.startswith(
                f"postgresql+{'psycopg2' if result.side == 'sync' else 'asyncpg'}"
            )
        else:
            assert result.server_version.startswith("SQLite 3.")
            assert result.url.startswith(
                f"sqlite+{'pysqlite' if result.side == 'sync' else 'aiosqlite'}"
            )


async def test_check_hides_the_password(postgres_url: str, make_manager: MakeManager) -> None:
    url = postgres_url.replace("postgres@", "postgres:pw-in-url@", 1)
    manager = make_manager(url)
    results = [manager.check(), await manager.acheck()]
    assert all(result.ok for result in results)
    assert all("pw-in-url" not in repr(result) for result in results)
    assert all(":********@" in result.url for result in results)


@pytest.mark.parametrize(
    ("url", "cause"),
    [
        ("postgresql://app:pw@127.0.0.1:1/app", "connection refused"),
        ("sqlite:////no/such/folder/app.sqlite3", "cannot open the SQLite file"),
    ],
)
async def test_a_failed_check_gives_a_short_cause(
    make_manager: MakeManager, url: str, cause: str
) -> None:
    manager = make_manager(url, CONNECT_TIMEOUT=2)
    for result in (manager.check(), await manager.acheck()):
        assert not result.ok
        assert result.error.startswith(cause)
        assert len(result.error) < 200
        assert result.server_version == ""
    # aiosqlite's worker thread outlives a failed connect (omnilib/aiosqlite#241):
    # let it finish while this test's loop is still open.
    for thread in threading.enumerate():
        if "_connection_worker_thread" in thread.name:
            thread.join(timeout=5)


async def test_a_check_of_a_missing_database_says_so(
    postgres_url: str, make_manager: MakeManager
) -> None:
    url = postgres_url.rsplit("/", 1)[0] + "/no_such_database_here"
    manager = make_manager(url)
    for result in (manager.check(), await manager.acheck()):
        assert not result.ok
        assert result.error.startswith("the database 'no_such_database_here' does not exist.")


# --- SQLite in memory -----------------------------------------------------------


async def test_memory_sqlite_is_shared_by_the_sync_and_async_sides(
    make_manager: MakeManager,
) -> None:
    manager = make_manager("sqlite://")
    with manager.sync_connect() as connection:
        connection.execute(text("CREATE TABLE notes (body TEXT)"))
        connection.execute(text("INSERT INTO notes VALUES ('from sync')"))

    async with manager.session() as session:
        assert (await session.execute(text("SELECT body FROM notes"))).scalar_one() == "from sync"
        await session.execute(text("INSERT INTO notes VALUES ('from async')"))

    with manager.sync_session() as sync_session:
        assert sync_session.execute(text("SELECT count(*) FROM notes")).scalar_one() == 2


async def test_two_memory_databases_are_separate(make_manager: MakeManager) -> None:
    first, second = make_manager("sqlite://"), make_manager("sqlite://")
    async with first.connect() as connection:
        await connection.execute(text("CREATE TABLE only_here (x INTEGER)"))
    async with second.connect() as connection:
        tables = await connection.execute(text("SELECT name FROM sqlite_master"))
        assert tables.all() == []
