"""The one error type of the migration commands: a paragraph for the user."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class MigrationError(Exception):
    """Something the user must fix; the message says what and how, secrets masked."""


@contextmanager
def reported() -> Iterator[None]:
    """Turn a ``MigrationError`` into click's one-paragraph error (exit 1), not a traceback."""
    import click

    try:
        yield
    except MigrationError as exc:
        raise click.ClickException(str(exc)) from None
