"""``MIGRATIONS_STARTUP_CHECK``: refuse to serve (or warn) when migrations are unapplied."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Literal

from project.errors import SettingsError
from project.migrations.errors import MigrationError
from project.migrations.history import describe, read_status
from project.migrations.targets import Database, get_targets

logger = logging.getLogger("project.migrations")


class UnappliedMigrationsError(SettingsError):
    """A database is behind its migrations and MIGRATIONS_STARTUP_CHECK is "fail"."""


def check_migrations(
    databases: Mapping[str, Database], mode: Literal["fail", "warn", "off"]
) -> None:
    """Compare each database with its revision files; blocking, so run it in a thread.

    A database that cannot be reached is only warned about here: whether that
    stops startup is DATABASE_STARTUP_CHECK's decision.
    """
    if mode == "off":
        return
    behind: list[str] = []
    for target in get_targets(databases=databases):
        try:
            with target.connect() as connection:
                status = read_status(target, connection)
        except MigrationError as exc:
            logger.warning("Migrations not checked: %s", exc)
            continue
        if status.pending:
            unapplied = ", ".join(describe(script) for script in status.pending)
            behind.append(f"Database {target.alias!r} has unapplied migrations: {unapplied}")
    if not behind:
        return
    message = "; ".join(behind) + ". Run: python manage.py migrate"
    if mode == "fail":
        raise UnappliedMigrationsError(
            f"{message} (or set MIGRATIONS_STARTUP_CHECK = 'warn' to start anyway)."
        )
    logger.warning(message)
