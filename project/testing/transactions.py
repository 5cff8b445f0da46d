"""Per-test isolation: one rolled-back transaction, or real commits and truncation.

By default a test that asks for ``db_session``, ``db_sync_session``, ``app``
or ``client`` runs inside one transaction per database, on one driver side
(async, or sync when the test asks for ``db_sync_session`` only), rolled back
when it ends. Every session the code under test opens joins it in a
SAVEPOINT (``project.database.binding``). A test that also asks for
``transactional_db`` gets plain sessions that commit for real, and every
table is truncated afterwards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Literal, cast

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session

from project.database.binding import Binding, bind, unbind
from project.testing.guard import state
from project.testing.lifecycle import TestDatabases

__all__ = [
    "_async_transaction",
    "_db_settings",
    "_kept_connections",
    "_sync_transaction",
    "db_session",
    "db_sync_session",
    "transactional_db",
]

Bindings = dict[str, Binding]
_ScopeName = Literal["session", "package", "module", "class", "function"]


@pytest.fixture
def _db_settings(db_setup: TestDatabases) -> Iterator[dict[str, str]]:
    """Every alias points at its test database for the length of the test."""
    assert db_setup.pointing is not None
    with db_setup.pointing.in_force():
        yield db_setup.urls


@pytest.fixture
def transactional_db(_db_settings: dict[str, str], db_setup: TestDatabases) -> Iterator[None]:
    """Real commits for this test (several connections, both drivers); tables truncated after."""
    yield
    for database in db_setup.databases:
        database.truncate()


def _side(request: pytest.FixtureRequest) -> Literal["sync", "async", "none"]:
    """Which driver holds this test's transaction; "none" under transactional_db."""
    names = request.fixturenames
    if "transactional_db" in names:
        request.getfixturevalue("transactional_db")  # set up first, so it truncates last
        return "none"
    if "db_session" in names and "db_sync_session" in names:
        pytest.fail(
            "This test asks for both db_session (asyncpg/aiosqlite) and db_sync_session "
            "(psycopg2/sqlite3). They are two connections and cannot share one uncommitted "
            "transaction, so the rollback fixtures cannot isolate it. Add the "
            "transactional_db fixture: sessions then commit for real and the tables are "
            "truncated after the test.",
            pytrace=False,
        )
    return "sync" if "db_sync_session" in names and "db_session" not in names else "async"


def _loop_scope(fixture_name: str, config: pytest.Config) -> _ScopeName:
    """The scope of pytest-asyncio's fixture event loop (``asyncio_default_fixture_loop_scope``)."""
    return cast("_ScopeName", config.getini("asyncio_default_fixture_loop_scope") or "function")


@pytest_asyncio.fixture(scope=_loop_scope)
async def _kept_connections() -> AsyncIterator[dict[str, AsyncConnection]]:
    """Async connections kept between tests that share one event loop, closed with it.

    An asyncpg connection belongs to the loop that opened it. Under the default
    function-scoped loops every test connects anew; with a longer loop scope the
    next test reuses the connection (rolled back, so clean).
    """
    kept: dict[str, AsyncConnection] = {}
    yield kept
    for connection in kept.values():
        await connection.invalidate()
        await connection.close()


@pytest_asyncio.fixture
async def _async_transaction(
    request: pytest.FixtureRequest,
    _db_settings: dict[str, str],
    db_setup: TestDatabases,
    _kept_connections: dict[str, AsyncConnection],
) -> AsyncIterator[Bindings | None]:
    """The outer transaction on the async driver, or None when the test uses another mode."""
    if _side(request) != "async":
        yield None
        if "transactional_db" in request.fixturenames:
            from project.database import databases

            # Close on this loop (its connections belong to it) before truncation.
            await databases.close_all()
            databases.open()
        return
    keep = _loop_scope("", request.config) != "function"
    bindings: Bindings = {}
    opened = []
    state.violations.clear()
    try:
        for database in db_setup.databases:
            connection = _kept_connections.pop(database.url, None)
            if connection is None:
                connection = await database.engines()[1].connect()
            opened.append((database, connection))
            await connection.begin()
            binding = bind(database.url, connection)
            bindings.update(dict.fromkeys(database.aliases, binding))
        yield bindings
    finally:
        for database, connection in reversed(opened):
            unbind(database.url)
            await connection.rollback()
            if keep:
                _kept_connections[database.url] = connection
            else:  # closed for real: the event loop it belongs to ends with the test
                await connection.invalidate()
                await connection.close()
    _fail_on_violations()


@pytest.fixture
def _sync_transaction(
    request: pytest.FixtureRequest, _db_settings: dict[str, str], db_setup: TestDatabases
) -> Iterator[Bindings | None]:
    """The outer transaction on the sync driver, or None when the test uses another mode."""
    if _side(request) != "sync":
        yield None
        return
    bindings: Bindings = {}
    opened = []
    state.violations.clear()
    try:
        for database in db_setup.databases:
            connection = database.engines()[0].connect()
            opened.append((database, connection))
            connection.begin()
            binding = bind(database.url, connection)
            bindings.update(dict.fromkeys(database.aliases, binding))
        yield bindings
    finally:
        for database, connection in reversed(opened):
            unbind(database.url)
            connection.rollback()
            connection.close()
    _fail_on_violations()


def _fail_on_violations() -> None:
    """Fail the test that used a second connection, even if its code caught the error."""
    if state.violations:
        message = state.violations[0]
        state.violations.clear()
        pytest.fail(message, pytrace=False)


@pytest_asyncio.fixture
async def db_session(_async_transaction: Bindings | None) -> AsyncIterator[AsyncSession]:
    """An AsyncSession on the default database, rolled back after the test.

    It may ``commit()`` and ``rollback()`` freely (each is a SAVEPOINT); under
    ``transactional_db`` it is an ordinary session whose commits are real.
    """
    from project.database import databases

    factory = databases["default"].async_sessionmaker  # bound to the test's connection
    async with factory() as session:
        yield session


@pytest.fixture
def db_sync_session(_sync_transaction: Bindings | None) -> Iterator[Session]:
    """The sync counterpart of ``db_session`` (a ``Session``)."""
    from project.database import databases

    with databases["default"].sync_sessionmaker() as session:
        yield session
