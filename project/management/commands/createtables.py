"""``manage.py createtables``: create the tables of the ``MODEL_MODULES`` models.

For trying the project out (e.g. the example app on SQLite); projects with
migrations use Alembic instead. Existing tables are left alone.
"""

from __future__ import annotations

from collections.abc import Iterable

import click

from project.management.options import database_option


@click.command(params=[database_option("Create the tables on")])
def command(aliases: tuple[str, ...]) -> None:
    """Create the missing tables of the MODEL_MODULES models.

    Runs on every database alias, or on each --database given.
    """
    from sqlalchemy import inspect as sa_inspect

    from project.conf import settings
    from project.database import DatabaseRegistry
    from project.management.models import metadata_of, model_classes

    models = model_classes(settings.MODEL_MODULES)
    if not models:
        raise click.ClickException("No models found: list their modules in MODEL_MODULES.")
    registry = DatabaseRegistry()
    for alias in aliases or list(registry):
        manager = registry[alias]
        try:
            with manager.sync_engine.begin() as connection:
                existing = set(sa_inspect(connection).get_table_names())
                created = []
                for metadata in metadata_of(_models_on(alias, models.values())):
                    created += [t.name for t in metadata.sorted_tables if t.name not in existing]
                    metadata.create_all(connection)
        finally:
            manager.close_sync()
        made = ", ".join(created) or "nothing (every table exists)"
        click.echo(f"{alias}: created {made}  [{manager.redacted_url}]")


def _models_on(alias: str, models: Iterable[type]) -> list[type]:
    """The models whose tables belong on ``alias``.

    Once any model names its alias with ``__bind_key__``, every model lives on
    its own alias (unbound ones on "default"), as ``project.database.binds``
    routes them; without bind keys every alias gets every table, as before.
    """
    from project.database.binds import alias_of

    models = list(models)
    if all(getattr(model, "__bind_key__", None) is None for model in models):
        return models
    return [model for model in models if alias_of(model) == alias]
