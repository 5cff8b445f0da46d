"""One SQLAlchemy listener that sees every statement of every engine during tests.

It enforces two rules and serves one tool:

- database access is explicit: a test that did not ask for a database fixture
  (or ``@pytest.mark.db``) may not send statements;
- while a test runs inside a rolled-back transaction, a statement on another
  connection to that database is an error, not a silent miss of its rows;
- ``assert_num_queries`` collects the statements the code under test sends.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection, Engine, event

from project.database.binding import binding_for

__all__ = ["DatabaseAccessError", "SecondConnectionError", "install", "state"]

FIXTURES = "db_session, db_sync_session, client, app or transactional_db"
# A fixture's own transaction bookkeeping: never counted as the code's queries.
_BOOKKEEPING = re.compile(r"^\s*(SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT)\b", re.I)


class DatabaseAccessError(RuntimeError):
    """A test sent a statement without asking for database access."""


class SecondConnectionError(RuntimeError):
    """A statement on a second connection to a database bound to a test's transaction."""


class _State:
    """What the listener enforces for the test that is running now."""

    def __init__(self) -> None:
        self.guarded = False  # True while a test that may not touch the database runs
        self.test = ""
        self.recorders: list[list[str]] = []
        # Second-connection errors, kept so the test fails even if the code swallowed them.
        self.violations: list[str] = []


state = _State()


def _before_cursor_execute(
    connection: Connection,
    cursor: Any,
    statement: str,
    parameters: Any,
    context: Any,
    executemany: bool,
) -> None:
    if state.guarded:
        raise DatabaseAccessError(_not_allowed(f"sent {_short(statement)!r}"))
    binding = binding_for(connection.engine.url)
    if binding is not None and connection is not binding.connection:
        message = _second_connection(connection, binding.side, statement)
        state.violations.append(message)
        raise SecondConnectionError(message)
    if state.recorders and not _BOOKKEEPING.match(statement):
        for recorder in state.recorders:
            recorder.append(statement)


def _before_connect(dialect: Any, record: Any, cargs: Any, cparams: Any) -> None:
    if state.guarded:
        raise DatabaseAccessError(_not_allowed(f"opened a {dialect.name} connection"))


def _not_allowed(what: str) -> str:
    return (
        f"Database access not allowed in {state.test}: it {what} without asking for the "
        f"database. Request one of the fixtures {FIXTURES}, or mark the test with "
        "@pytest.mark.db."
    )


def _second_connection(connection: Connection, bound_side: str, statement: str) -> str:
    driver = connection.engine.dialect.driver
    fixtures = "db_session or client" if bound_side == "async" else "db_sync_session"
    return (
        f"{_short(statement)!r} ran on a second connection (driver {driver}) to a database "
        f"this test holds in one rolled-back transaction on the {bound_side} driver ("
        f"{fixtures}). That connection cannot see the transaction's uncommitted rows: the "
        "sync (psycopg2) and async (asyncpg) drivers, or engine.connect() next to a session, "
        "are separate connections. Use the transactional_db fixture for tests that need "
        "both drivers or several connections; it commits for real and truncates afterwards."
    )


def _short(statement: str) -> str:
    flat = " ".join(statement.split())
    return flat if len(flat) <= 80 else flat[:77] + "..."


def install() -> None:
    """Listen on every engine, present and future (idempotent)."""
    if not event.contains(Engine, "before_cursor_execute", _before_cursor_execute):
        event.listen(Engine, "before_cursor_execute", _before_cursor_execute)
        event.listen(Engine, "do_connect", _before_connect)
