"""Print the SQL of one migration.

Imports no Litestar and no models.
"""

from __future__ import annotations

import click

from project.management.options import database_option


@click.command(params=[database_option("Use the migrations of")])
@click.argument("revision")
@click.option("--backwards", is_flag=True, help="The SQL that unapplies it instead.")
def command(aliases: tuple[str, ...], revision: str, backwards: bool) -> None:
    """Print the SQL of one migration.

    Uses the first alias, or the one given with --database.
    """
    from alembic.util import CommandError

    from project.migrations.errors import MigrationError, reported
    from project.migrations.run import sql_of
    from project.migrations.targets import get_targets

    with reported():
        migration = get_targets(aliases)[0]
        try:
            script = migration.scripts().get_revision(revision)
        except CommandError as exc:
            script = None
            why = str(exc)
        else:
            why = "no such revision"
        if script is None:
            raise MigrationError(
                f"Unknown migration {revision!r} for database alias {migration.alias!r} "
                f"({why}). Run: python manage.py showmigrations"
            )
        down = script.down_revision
        if isinstance(down, tuple | list):
            down = down[0]
        if backwards:
            sql = sql_of(migration, script.revision, down or "base", backwards=True)
        else:
            sql = sql_of(migration, down or "", script.revision)
        click.echo(sql, nl=False)
