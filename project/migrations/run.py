"""Run migrations: one transaction per alias, under a lock, with a readable failure.

On PostgreSQL ``migrate`` first takes ``pg_advisory_xact_lock``: a lock
that ends with the transaction, so it also works behind PgBouncer's
transaction pooling. A second ``migrate`` waits for it (at most
``lock_timeout`` seconds), then reads the version table and finds nothing
left to do. SQLite gets the same effect from ``BEGIN IMMEDIATE``. Every
statement runs in that one transaction, so a failing revision leaves the
schema exactly as it was.
"""

from __future__ import annotations

import io
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from project.migrations.errors import MigrationError
from project.migrations.history import Plan, current_heads, describe, in_order
from project.migrations.targets import MigrationTarget
from project.redact import redact_text

if TYPE_CHECKING:
    from alembic.script import Script, ScriptDirectory
    from sqlalchemy import Connection, Engine

DEFAULT_LOCK_TIMEOUT = 60.0


def _lock(target: MigrationTarget, connection: Connection, seconds: float) -> None:
    """Wait at most ``seconds`` for the alias's migration lock, held until commit."""
    from sqlalchemy import exc as sa_exc
    from sqlalchemy import text

    if target.family != "postgresql":
        return
    connection.execute(text(f"SET LOCAL lock_timeout = '{int(seconds * 1000)}ms'"))
    try:
        connection.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
            {"key": f"project.migrations:{target.version_table}"},
        )
    except sa_exc.OperationalError as exc:
        if getattr(exc.orig, "pgcode", None) != "55P03":  # lock_not_available
            raise
        raise MigrationError(
            f"{target.label}: another migrate has held the migration lock for over "
            f"{seconds:g}s, so nothing was run. Wait for it to finish and run migrate again, "
            "or give more time with --lock-timeout."
        ) from None
    connection.execute(text("SET LOCAL lock_timeout = DEFAULT"))


def run_in_transaction(
    target: MigrationTarget,
    plan: Plan,
    *,
    fake: bool = False,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    engine: Engine | None = None,
) -> list[str]:
    """Run ``plan`` on the alias (or on ``engine``); returns the revisions actually run."""
    from alembic import command

    done: list[str] = []

    def record(*, step: Any, **_: Any) -> None:
        done.append(step.up_revision_id)

    before: tuple[str, ...] = ()
    with target.connect(engine) as connection:
        try:
            with connection.begin():
                _lock(target, connection, lock_timeout)
                before = current_heads(target, connection)
                config = target.config(
                    connection=connection,
                    context_options=target.context_options(on_version_apply=[record]),
                )
                if fake:
                    command.stamp(config, plan.revision)
                elif plan.direction == "up":
                    command.upgrade(config, plan.revision)
                else:
                    command.downgrade(config, plan.revision)
        except MigrationError:
            raise
        except Exception as exc:
            raise MigrationError(_failure(target, exc, plan, done, before)) from None
    return done


def _failure(
    target: MigrationTarget,
    exc: Exception,
    plan: Plan,
    done: list[str],
    before: tuple[str, ...],
) -> str:
    """One paragraph: which revision, which statement, the database's error, the state left."""
    from sqlalchemy import exc as sa_exc

    scripts = target.scripts()
    script, line = _failing_revision(scripts, exc)
    if script is None and len(done) < len(plan.steps):
        script = plan.steps[len(done)]
    which = f"revision {describe(script)}" if script else "the migration run"
    if script is not None and script.path:
        which += f" in {script.path}" + (f", line {line}" if line else "")
    if isinstance(exc, sa_exc.DBAPIError):
        error = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else ""
        error = f"{type(exc.orig).__name__}: {error}"
        statement = f" The statement was: {' '.join(str(exc.statement).split())}."
    else:
        error = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}"
        statement = ""
    state = ", ".join(before) or "no revision (empty)"
    return redact_text(
        f"Migration failed on {target.label}: {which} raised {error}.{statement} The "
        f"transaction was rolled back: the database is still at {state}, as before this run, "
        "and nothing from this run was kept. Fix the revision (or the data it trips over) "
        "and run migrate again."
    )


def _failing_revision(scripts: ScriptDirectory, exc: BaseException) -> tuple[Script | None, int]:
    """The revision file in ``exc``'s traceback (innermost frame), and its line."""
    by_path = {Path(s.path).resolve(): s for s in in_order(scripts) if s.path}
    found: tuple[Script | None, int] = (None, 0)
    for frame in traceback.extract_tb(exc.__traceback__):
        script = by_path.get(Path(frame.filename).resolve())
        if script is not None:
            found = (script, frame.lineno or 0)
    return found


def offline_sql(target: MigrationTarget, revision_range: str, *, backwards: bool = False) -> str:
    """The SQL of ``revision_range`` (``from:to``) without a database (Alembic offline mode)."""
    from alembic import command

    buffer = io.StringIO()
    config = target.config(
        dialect_name=target.family,
        context_options=target.context_options(output_buffer=buffer),
    )
    if backwards:
        command.downgrade(config, revision_range, sql=True)
    else:
        command.upgrade(config, revision_range, sql=True)
    return buffer.getvalue()


def recorded_sql(target: MigrationTarget, start: str, revision: str, *, backwards: bool) -> str:
    """The SQL of one step as a real run on a throwaway database at ``start`` sends it.

    For what Alembic cannot render offline: SQLite's batch mode rebuilds a
    table from its live definition. Reflection queries are left out.
    """
    from alembic import command
    from sqlalchemy import event

    from project.migrations.throwaway import throwaway_database

    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(("PRAGMA", "SELECT")):
            statements.append(statement.strip() + ";")

    with throwaway_database(target, upto=start) as engine, target.connect(engine) as connection:
        event.listen(connection, "before_cursor_execute", record)
        config = target.config(connection=connection, context_options=target.context_options())
        with connection.begin():
            if backwards:
                command.downgrade(config, revision)
            else:
                command.upgrade(config, revision)
    return "\n\n".join(statements) + "\n"


def sql_of(target: MigrationTarget, start: str, end: str, *, backwards: bool = False) -> str:
    """The SQL from revision ``start`` ("" for none) to ``end``: offline, else recorded."""
    from alembic.util import CommandError

    span = f"{start}:{end}" if start else end
    try:
        return offline_sql(target, span, backwards=backwards)
    except CommandError as exc:
        if "live database connection" not in str(exc):
            raise MigrationError(f"{target.label}: cannot print {span!r} as SQL: {exc}") from None
    return recorded_sql(target, start or "zero", end, backwards=backwards)
