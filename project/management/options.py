"""Options that several commands share."""

from __future__ import annotations

import click


def database_option(action: str) -> click.Option:
    """``--database ALIAS``, repeatable; ``action`` says what happens to the alias."""
    return click.Option(
        ["--database", "aliases"],
        multiple=True,
        metavar="ALIAS",
        help=f"{action} this alias only (repeatable; default: every alias).",
    )
