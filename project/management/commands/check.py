"""``manage.py check``: validate the settings and print every problem found."""

from __future__ import annotations

import importlib.util
import os

import click

from project.errors import SettingsError


def _missing_modules(names: list[str], setting: str) -> list[str]:
    """Dotted paths whose module cannot be found, checked without importing them."""
    problems = []
    for dotted in names:
        module = dotted
        while module:
            try:
                if importlib.util.find_spec(module) is not None:
                    break
            except (ImportError, ValueError):
                pass
            module = module.rpartition(".")[0]
        if not module:
            problems.append(f"{setting} names {dotted!r}, but no module of that path exists.")
    return problems


@click.command()
def command() -> None:
    """Validate the settings; exit 1 when there is an error."""
    from project.conf import ENVIRONMENT_VARIABLE
    from project.loader import load

    module = os.environ.get(ENVIRONMENT_VARIABLE, "")
    try:
        loaded = load(module)
    except SettingsError as exc:
        errors, warnings = exc.problems, []
    else:
        errors, warnings = loaded.problems, loaded.warnings
        for setting in ("PLUGINS", "ROUTE_HANDLERS", "MODEL_MODULES"):
            errors += _missing_modules(list(loaded.values.get(setting, [])), setting)
    for problem in errors:
        click.echo(f"ERROR: {problem}", err=True)
    for problem in warnings:
        click.echo(f"WARNING: {problem}", err=True)
    count = len(errors) + len(warnings)
    click.echo(f"Checked settings {module!r}: {count or 'no'} problem{'s' * (count != 1)} found.")
    if errors:
        raise SystemExit(1)
