"""The production checks of ``manage.py check --deploy``, Django style."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

MIN_SECRET_LENGTH = 32


class DeployReport(msgspec.Struct):
    warnings: list[str]
    notes: list[str]


def deploy_report(values: Mapping[str, Any], workers: int | None) -> DeployReport:
    """Warnings for settings unfit for production, and one budget note per database."""
    warnings = []
    if values.get("DEBUG"):
        warnings.append("DEBUG is on: responses show tracebacks. Set DEBUG = False in production.")
    if len(values.get("SECRET_KEY") or "") < MIN_SECRET_LENGTH:
        warnings.append(
            f"SECRET_KEY is empty or shorter than {MIN_SECRET_LENGTH} characters. Set "
            'APP_SECRET_KEY to a long random value, e.g. python -c "import secrets; '
            'print(secrets.token_urlsafe(48))".'
        )
    if values.get("DATABASE_STARTUP_CHECK") == "off":
        warnings.append(
            "DATABASE_STARTUP_CHECK is 'off': a worker starts without its database and "
            "fails requests instead. Set it to 'fail' (or 'warn')."
        )
    count = workers or int(values.get("WORKERS") or 1)
    notes = []
    for alias, config in (values.get("DATABASES") or {}).items():
        for note, warning in _budgets(alias, config, count):
            notes.append(note)
            warnings += [warning] if warning else []
    return DeployReport(warnings, notes)


def _budgets(alias: str, config: Any, workers: int) -> list[tuple[str, str]]:
    """(note, warning or "") for the primary and each replica of one alias."""
    from project.database.budget import budgets
    from project.database.manager import DatabaseSessionManager

    manager = DatabaseSessionManager(alias, config)
    if manager.url is None or manager.url.family != "postgresql":
        return [(f"DATABASES[{alias!r}]: not a server database, no connection budget", "")]
    fix = (
        "Lower WORKERS, POOL_SIZE or MAX_OVERFLOW, or raise PgBouncer's max_client_conn."
        if config.PGBOUNCER
        else "Lower WORKERS, POOL_SIZE or MAX_OVERFLOW, raise the server's max_connections, "
        "or put PgBouncer in front (PGBOUNCER = True)."
    )
    found = []
    for budget in budgets(manager, workers):
        warning = ""
        if budget.over:
            warning = f"Connection budget exceeded: {budget.describe()}. {fix}"
        elif budget.limit is None:
            warning = f"Connection budget not checked: {budget.describe()}."
        found.append((f"Connection budget: {budget.describe()}", warning))
    return found
