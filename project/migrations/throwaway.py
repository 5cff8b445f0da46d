"""A throwaway database built from the migrations, for ``makemigrations``.

Comparing the models with it (not with a live database) shows exactly
what no migration covers yet, and works in CI without production access:
a temporary database on the configured PostgreSQL server, or a temporary
SQLite file; removed afterwards.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from project.migrations.errors import MigrationError
from project.migrations.history import make_plan, read_status
from project.migrations.run import run_in_transaction
from project.migrations.targets import MigrationTarget

if TYPE_CHECKING:
    from sqlalchemy import Engine


@contextmanager
def throwaway_database(target: MigrationTarget, upto: str | None = None) -> Iterator[Engine]:
    """An engine on an empty database of the alias's kind, migrated to head (or ``upto``)."""
    maker = _postgresql if target.family == "postgresql" else _sqlite
    with maker(target) as engine:
        with target.connect(engine) as connection:
            status = read_status(target, connection)
        plan = make_plan(status, upto)
        if plan.steps:
            run_in_transaction(target, plan, engine=engine)
        yield engine


@contextmanager
def _sqlite(target: MigrationTarget) -> Iterator[Engine]:
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    folder = Path(tempfile.mkdtemp(prefix="makemigrations-"))
    engine = create_engine(f"sqlite:///{folder / 'throwaway.sqlite3'}", poolclass=NullPool)
    try:
        yield engine
    finally:
        engine.dispose()
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def _postgresql(target: MigrationTarget) -> Iterator[Engine]:
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    name = f"makemigrations_{uuid.uuid4().hex[:16]}"
    server = target.database.sync_engine
    _autocommit(target, f'CREATE DATABASE "{name}"', "create")
    # The URL object goes to create_engine as is: the password is never re-parsed.
    engine = create_engine(server.url.set(database=name), poolclass=NullPool)
    try:
        yield engine
    finally:
        engine.dispose()
        # FORCE (PostgreSQL 13+): a PgBouncer in front keeps its server connections to the
        # throwaway database open after ours close, and a plain DROP refuses while they exist.
        _autocommit(target, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', "drop")


_INSUFFICIENT_PRIVILEGE = "42501"  # SQLSTATE: the role may not create databases


def _autocommit(target: MigrationTarget, statement: str, verb: str) -> None:
    from sqlalchemy import exc as sa_exc

    engine = target.database.sync_engine.execution_options(isolation_level="AUTOCOMMIT")
    with target.connect(engine) as connection:
        try:
            connection.exec_driver_sql(statement)
        except sa_exc.DBAPIError as exc:
            reason = (str(exc.orig).strip().splitlines() or [""])[0]
            denied = getattr(exc.orig, "pgcode", None) == _INSUFFICIENT_PRIVILEGE
            fix = (
                "Give the role CREATEDB (ALTER ROLE name CREATEDB), or run makemigrations "
                "with settings whose DATABASES point at a server where it may create databases."
                if denied
                else "Fix what the server said, then run makemigrations again."
            )
            raise MigrationError(
                f"makemigrations compares the models with a throwaway database built from the "
                f"migrations, but could not {verb} one on {target.label}: {reason}. {fix}"
            ) from None
