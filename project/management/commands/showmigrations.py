"""List migrations, [X] when applied.

Imports no Litestar and no models.
"""

from __future__ import annotations

import click

from project.management.options import database_option


@click.command(params=[database_option("Show")])
def command(aliases: tuple[str, ...]) -> None:
    """List migrations, [X] when applied.

    Marks the head (latest revision) and the database's current revision.
    """
    from project.migrations.errors import reported
    from project.migrations.history import describe, in_order, read_status
    from project.migrations.targets import get_targets

    with reported():
        for migration in get_targets(aliases):
            with migration.connect() as connection:
                status = read_status(migration, connection)
            click.echo(
                f"{migration.alias}  [{migration.redacted_url}, {migration.folder}, "
                f"table {migration.version_table}]"
            )
            scripts = in_order(status.scripts)
            if not scripts:
                click.echo(" (no migrations)")
            for script in scripts:
                mark = "X" if script.revision in status.applied else " "
                tags = [
                    tag
                    for tag, on in (
                        ("head", script.revision in status.heads),
                        ("current", script.revision in status.current),
                    )
                    if on
                ]
                suffix = f"  ({', '.join(tags)})" if tags else ""
                click.echo(f" [{mark}] {describe(script)}{suffix}")
