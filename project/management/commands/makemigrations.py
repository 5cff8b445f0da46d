"""Write the migration for the models' changes.

Compares the models with a throwaway database built from the migrations, so
it needs no access to a deployed database.
"""

from __future__ import annotations

import click

from project.management.options import database_option


@click.command(params=[database_option("Make migrations for")])
@click.option("-m", "--message", default="", help="What the migration does (default: derived).")
@click.option("--empty", is_flag=True, help="Write an empty migration to fill in by hand.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when a migration is missing.")
@click.option("--dry-run", is_flag=True, help="Print what would be written; write nothing.")
@click.option("--merge", is_flag=True, help="Write a migration that merges several heads.")
def command(
    aliases: tuple[str, ...], message: str, empty: bool, check: bool, dry_run: bool, merge: bool
) -> None:
    """Write the migration for the models' changes.

    An alias whose models match its migrations gets nothing ("No changes
    detected"). With several heads, merge them first (--merge).
    """
    from project.migrations.autogen import find_changes, merge_heads, write_revision
    from project.migrations.errors import reported
    from project.migrations.history import refuse_branches
    from project.migrations.targets import get_targets

    missing = False
    with reported():
        targets = get_targets(aliases)
        every = [migration.alias for migration in get_targets()]
        for migration in targets:
            alias = migration.alias
            heads = migration.scripts().get_heads()
            if merge:
                if len(heads) < 2:
                    click.echo(f"{alias}: nothing to merge (one head)")
                else:
                    path = merge_heads(migration, message or "merge " + " and ".join(heads))
                    click.echo(f"{alias}: wrote {path}")
                continue
            refuse_branches(migration, heads)
            if empty:
                path = write_revision(migration, every, message or "empty", empty=True)
                click.echo(f"{alias}: wrote {path}")
                continue
            changes = find_changes(migration, every)
            if not changes:
                click.echo(f"{alias}: No changes detected")
                continue
            if check or dry_run:
                missing = True
                click.echo(f"{alias}: the models have changes that no migration covers:")
                for line in changes.summary:
                    click.echo(f"  - {line}")
                if dry_run:
                    click.echo(changes.code)
                continue
            text = message or "; ".join(changes.summary)
            path = write_revision(migration, every, text)
            click.echo(f"{alias}: wrote {path}")
            for line in changes.summary:
                click.echo(f"  - {line}")
    if check and missing:
        click.echo("Run: python manage.py makemigrations", err=True)
        raise SystemExit(1)
