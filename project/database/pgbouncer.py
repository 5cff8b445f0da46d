"""Behind PgBouncer in transaction pooling: keep nothing that outlives a transaction.

PgBouncer lends a server connection for one transaction only. A statement
prepared on one server connection is unknown on the next (and its name may be
taken there), so with ``PGBOUNCER = True`` neither asyncpg nor SQLAlchemy
keeps prepared statements: asyncpg then prepares each statement unnamed,
inside the transaction that runs it. A statement outside any transaction
(AUTOCOMMIT) would be prepared and executed in two round trips that PgBouncer
may send to two server connections, so there each statement gets a short
transaction of its own instead. Session state (``SET``, ``LISTEN``, session
advisory locks, ``WITH HOLD`` cursors, startup parameters such as ``jit``)
does not survive either; ``problems()`` names the settings that ask for it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import ExceptionContext

from project.schema import DatabaseSettings

# Startup parameters PgBouncer tracks per client; any other one makes it refuse the login.
TRACKED_PARAMETERS = frozenset(
    {"application_name", "client_encoding", "datestyle", "timezone", "standard_conforming_strings"}
)


def driver_options(args: dict[str, Any], side: str) -> None:
    """Turn off every prepared-statement cache of the ``side`` driver (in place)."""
    if side == "async":
        args["statement_cache_size"] = 0  # asyncpg: unnamed statements, none kept
        args["prepared_statement_cache_size"] = 0  # SQLAlchemy's asyncpg adapter


def commit_each_statement(engine: Engine) -> None:
    """AUTOCOMMIT that PgBouncer can carry: each statement runs in its own transaction.

    The asyncpg adapter begins a transaction before a statement's prepare, so
    prepare and execute reach the same server connection; committing right
    after the statement gives the outcome AUTOCOMMIT would.
    """

    @event.listens_for(engine, "after_cursor_execute")
    def _commit(connection: Any, cursor: Any, *args: Any) -> None:
        connection.connection.dbapi_connection.commit()

    @event.listens_for(engine, "handle_error")
    def _roll_back(context: ExceptionContext) -> None:
        # As under AUTOCOMMIT, a failed statement leaves no aborted transaction behind.
        connection = context.connection
        if connection is None or context.is_disconnect or connection.invalidated:
            return
        try:
            connection.connection.dbapi_connection.rollback()  # type: ignore[union-attr]
        except Exception:  # the error being handled is the one that matters
            return


def problems(alias: str, config: DatabaseSettings) -> list[str]:
    """Settings of a ``PGBOUNCER`` entry that will not survive transaction pooling."""
    from project.database.engines import _driver_options  # engines imports this module

    options = {side: _driver_options(config.OPTIONS, side) for side in ("sync", "async")}
    where = f"DATABASES[{alias!r}]"
    if not config.URL.lower().startswith("postgres"):
        return [f"{where} sets PGBOUNCER, which only applies to PostgreSQL URLs; remove it."]
    found = []
    settings = options["async"].get("server_settings") or {}
    untracked = sorted(name for name in settings if name.lower() not in TRACKED_PARAMETERS)
    if untracked:
        found.append(
            f"{where}['OPTIONS'] sends the startup parameter(s) {', '.join(untracked)} in "
            'server_settings, which PgBouncer refuses ("unsupported startup parameter"). Set '
            f"them on the server instead (ALTER ROLE ... SET {untracked[0]} = ...) or list them "
            "in PgBouncer's ignore_startup_parameters."
        )
    if options["sync"].get("options"):
        found.append(
            f"{where}['OPTIONS'] passes libpq 'options' (-c settings) to psycopg2, a startup "
            "parameter PgBouncer refuses. Set those on the server (ALTER ROLE ... SET ...)."
        )
    cached = options["async"].get("statement_cache_size") or options["async"].get(
        "prepared_statement_cache_size"
    )
    if cached:
        found.append(
            f"{where}['OPTIONS'] turns a prepared statement cache on; PGBOUNCER turns it off "
            "again, since PgBouncer's server connections do not share prepared statements. "
            "Remove the option."
        )
    return found
