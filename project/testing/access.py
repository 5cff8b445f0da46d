"""Database access is explicit: a test without a database fixture or marker is blocked."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from project.testing.guard import state

__all__ = ["_database_access"]

DATABASE_FIXTURES = frozenset(
    {"db_session", "db_sync_session", "app", "client", "transactional_db", "_db_settings"}
)


@pytest.fixture(autouse=True)
def _database_access(request: pytest.FixtureRequest) -> Iterator[None]:
    """Point a ``@pytest.mark.db`` test at the test database; block tests that asked for none.

    The ``database_access`` ini option turns the block off ("any"), for test
    suites that build their own engines.
    """
    marked = request.node.get_closest_marker("db") is not None
    if marked:
        request.getfixturevalue("_db_settings")
    if marked or DATABASE_FIXTURES.intersection(request.fixturenames):
        yield
        return
    if request.config.getini("database_access") != "explicit":
        yield
        return
    state.guarded, state.test = True, request.node.nodeid
    try:
        yield
    finally:
        state.guarded = False
