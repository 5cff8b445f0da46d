"""The manage.py command framework.

One module per command under ``project.management.commands`` (and under each
package in ``COMMAND_PACKAGES``, and each ``project.commands`` entry point),
each defining a click ``command``. Commands are found without importing them,
so ``manage.py --help`` stays fast and works when the settings are broken.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

import click

from project.errors import SettingsError
from project.management.discovery import (
    DEFAULT_ATTRIBUTE,
    ENTRY_POINT_GROUP,
    find_commands,
    help_text,
)
from project.startup_errors import ONE_PARAGRAPH, paragraph

BUILTIN_PACKAGE = "project.management.commands"

__all__ = ["ENTRY_POINT_GROUP", "call_command", "cli", "execute_from_command_line", "get_commands"]


def _command_packages() -> tuple[str, ...]:
    """Built-in commands first, then the project's own; broken settings add none."""
    from project.conf import settings

    try:
        extra = list(settings.COMMAND_PACKAGES)
    except (SettingsError, AttributeError):
        extra = []
    return (BUILTIN_PACKAGE, *extra)


def get_commands() -> dict[str, str]:
    """Command name -> "module" or "module:attribute", found once per COMMAND_PACKAGES."""
    return find_commands(_command_packages())


def _load_command(target: str) -> click.Command:
    module_name, _, attribute = target.partition(":")
    name = attribute or DEFAULT_ATTRIBUTE
    command = getattr(importlib.import_module(module_name), name, None)
    if not isinstance(command, click.Command):
        raise click.ClickException(
            f"{module_name} does not define a click command named {name!r}: "
            f"decorate a function called {name} with @click.command()."
        )
    return command


class ManagementGroup(click.Group):
    """A click group whose commands are modules found by convention, imported when run."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(get_commands())

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = get_commands().get(cmd_name)
        return _load_command(target) if target else None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list with each one-line help, read from source: nothing is imported."""
        commands = get_commands()
        if not commands:
            return
        limit = formatter.width - 6 - max(len(name) for name in commands)
        # A stand-in command with the help read from source, so click shortens it as usual.
        rows = [
            (name, click.Command(name, help=help_text(commands[name])).get_short_help_str(limit))
            for name in sorted(commands)
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0]
        if name not in get_commands() and not name.startswith("-"):
            from project.text import did_you_mean

            guess = did_you_mean(name, self.list_commands(ctx))
            hint = f" Did you mean {guess!r}?" if guess else ""
            ctx.fail(f"Unknown command {name!r}.{hint} Run 'manage.py --help' to list commands.")
        return super().resolve_command(ctx, args)


def _use_settings(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value:
        from project.conf import ENVIRONMENT_VARIABLE, settings

        os.environ[ENVIRONMENT_VARIABLE] = value
        settings.reset()


@click.group(cls=ManagementGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--settings",
    metavar="MODULE",
    expose_value=False,
    is_eager=True,
    callback=_use_settings,
    help="Settings module to use, e.g. settings.production (default: $SETTINGS_MODULE).",
)
def cli() -> None:
    """Manage the project: settings, database, shell and server."""


def execute_from_command_line(argv: Sequence[str] | None = None) -> None:
    """Run manage.py; a settings problem is one readable paragraph, not a traceback."""
    try:
        cli.main(args=list(sys.argv[1:] if argv is None else argv), prog_name="manage.py")
    except ONE_PARAGRAPH as exc:
        click.echo(paragraph(exc), err=True)
        sys.exit(1)


def call_command(name: str, *args: str) -> Any:
    """Run a command from code, as ``manage.py name args`` would, and return its result."""
    command = cli.get_command(click.Context(cli), name)
    if command is None:
        raise click.UsageError(f"Unknown command {name!r}.")
    return command.main(args=list(args), prog_name=f"manage.py {name}", standalone_mode=False)
