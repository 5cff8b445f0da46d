"""``manage.py check``: validate the settings and print every problem found."""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import click

from project.errors import SettingsError


def _missing_modules(names: list[str], setting: str, *, objects: bool) -> list[str]:
    """Dotted paths whose module cannot be found, checked without importing that module.

    With ``objects`` the last part names an attribute (``plugins.database.DatabasePlugin``)
    and only its module is looked up.
    """
    return [
        f"{setting} names {dotted!r}, but no module of that path exists."
        for dotted in names
        if not _module_exists(dotted.rpartition(".")[0] if objects else dotted)
    ]


def _module_exists(module: str) -> bool:
    try:
        return bool(module) and importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _pgbouncer_problems(databases: dict[str, Any]) -> list[str]:
    """What each ``PGBOUNCER`` entry asks for that transaction pooling cannot carry."""
    from project.database import pgbouncer

    return [
        problem
        for alias, config in databases.items()
        if config.PGBOUNCER
        for problem in pgbouncer.problems(alias, config)
    ]


@click.command()
@click.option(
    "--deploy",
    is_flag=True,
    help="Add the production checks: DEBUG, SECRET_KEY, startup checks, connection budget.",
)
@click.option(
    "--workers",
    type=click.IntRange(1),
    default=None,
    help="Worker processes for the connection budget (default: the WORKERS setting).",
)
def command(deploy: bool, workers: int | None) -> None:
    """Validate the settings; exit 1 when there is an error."""
    from project.conf import ENVIRONMENT_VARIABLE, NOT_CONFIGURED
    from project.loader import load

    module = os.environ.get(ENVIRONMENT_VARIABLE, "")
    try:
        if not module:
            raise SettingsError(NOT_CONFIGURED)
        loaded = load(module)
    except SettingsError as exc:
        errors, warnings = exc.problems, []
    else:
        errors, warnings = loaded.problems, loaded.warnings
        for setting in ("PLUGINS", "ROUTE_HANDLERS", "MODEL_MODULES"):
            names = list(loaded.values.get(setting, []))
            errors += _missing_modules(names, setting, objects=setting != "MODEL_MODULES")
        warnings += _pgbouncer_problems(loaded.values.get("DATABASES", {}))
        if deploy and not errors:
            from project.management.deploy import deploy_report

            report = deploy_report(loaded.values, workers)
            warnings += report.warnings
            for note in report.notes:
                click.echo(note)
    for problem in errors:
        click.echo(f"ERROR: {problem}", err=True)
    for problem in warnings:
        click.echo(f"WARNING: {problem}", err=True)
    count = len(errors) + len(warnings)
    click.echo(f"Checked settings {module!r}: {count or 'no'} problem{'s' * (count != 1)} found.")
    if errors:
        raise SystemExit(1)
