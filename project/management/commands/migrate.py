"""Apply migrations, or go back to TARGET.

Imports no Litestar and no models: with nothing to do it reads the version
table and the revision files, and exits.
"""

from __future__ import annotations

import click

from project.management.options import database_option


@click.command(params=[database_option("Migrate")])
@click.argument("target", required=False, metavar="[TARGET]")
@click.option("--plan", is_flag=True, help="List what would run; change nothing.")
@click.option("--fake", is_flag=True, help="Record the migrations as run without running them.")
@click.option("--sql", is_flag=True, help="Print the SQL instead of running it.")
@click.option("--check", is_flag=True, help="Exit 1 when a migration is unapplied; change nothing.")
@click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="PostgreSQL: how long to wait for another migrate to finish.",
)
def command(
    aliases: tuple[str, ...],
    target: str | None,
    plan: bool,
    fake: bool,
    sql: bool,
    check: bool,
    lock_timeout: float,
) -> None:
    """Apply migrations, or go back to TARGET.

    TARGET is a revision (older ones are unapplied), "head" or "zero"
    (unapply everything). Each alias runs in one transaction: a failing
    revision leaves its schema as it was.
    """
    from project.migrations.errors import reported
    from project.migrations.history import describe, make_plan, read_status
    from project.migrations.run import run_in_transaction, sql_of
    from project.migrations.targets import get_targets

    behind = False
    with reported():
        for migration in get_targets(aliases):
            with migration.connect() as connection:
                status = read_status(migration, connection)
            steps = make_plan(status, target)
            alias = migration.alias
            if sql:
                start = ",".join(status.current)
                backwards = steps.direction == "down"
                click.echo(
                    sql_of(migration, start, steps.revision, backwards=backwards)
                    if steps.steps
                    else f"-- {alias}: nothing to do"
                )
                continue
            verb = "apply" if steps.direction == "up" else "unapply"
            if plan or check:
                if not steps.steps:
                    click.echo(f"{alias}: nothing to {verb}")
                    continue
                behind = behind or steps.direction == "up"
                click.echo(f"{alias}: would {verb} {len(steps.steps)}:")
                for script in steps.steps:
                    click.echo(f"  {describe(script)}")
                continue
            if not steps.steps:
                click.echo(f"{alias}: no migrations to {verb}  [{migration.redacted_url}]")
                continue
            done = run_in_transaction(migration, steps, fake=fake, lock_timeout=lock_timeout)
            past = {"apply": "applied", "unapply": "unapplied"}[verb]
            if fake:
                past = f"recorded as {past} (--fake, nothing run)"
            scripts = {script.revision: script for script in steps.steps}
            shown = ", ".join(describe(scripts[rev]) if rev in scripts else rev for rev in done)
            shown = shown or "nothing (another migrate had done it)"
            click.echo(f"{alias}: {past} {shown}  [{migration.redacted_url}]")
    if check and behind:
        raise SystemExit(1)
