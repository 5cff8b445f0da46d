"""The models of each alias: ``__bind_key__`` picks the alias, "default" when unset."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from project.migrations.errors import MigrationError

if TYPE_CHECKING:
    from sqlalchemy import MetaData

IncludeObject = Callable[[Any, str | None, str, bool, Any], bool]


def alias_of(model: type) -> str:
    return getattr(model, "__bind_key__", None) or "default"


def models_for(alias: str, aliases: list[str]) -> tuple[list[MetaData], IncludeObject]:
    """The MetaData collections of ``alias``'s models, and a filter that hides other aliases'.

    A MetaData may hold tables of several aliases (one declarative base with
    ``__bind_key__`` on some models): the filter keeps autogenerate to the
    tables of this alias, plus tables of no model (association tables).
    """
    from sqlalchemy.orm import Mapper

    from project.conf import settings
    from project.management.models import metadata_of, model_classes

    models = list(model_classes(settings.MODEL_MODULES).values())
    if not models:
        raise MigrationError(
            "No models found: list the modules that define your SQLAlchemy models in "
            "MODEL_MODULES (e.g. MODEL_MODULES = ['myapp.models'])."
        )
    for model in models:
        if alias_of(model) not in aliases:
            raise MigrationError(
                f"Model {model.__module__}.{model.__qualname__} has __bind_key__ = "
                f"{alias_of(model)!r}, but DATABASES defines {', '.join(map(repr, aliases))}. "
                "Set __bind_key__ to one of them, or add that alias to DATABASES."
            )
    mine = [model for model in models if alias_of(model) == alias]

    def tables(of: list[type]) -> set[str]:
        names: set[str] = set()
        for model in of:
            mapper: Mapper[Any] = model.__mapper__  # type: ignore[attr-defined]
            names.update(getattr(table, "name", "") for table in mapper.tables)
        return names

    foreign = tables([model for model in models if alias_of(model) != alias]) - tables(mine)

    def include_object(obj: Any, name: str | None, type_: str, reflected: bool, _: Any) -> bool:
        if type_ != "table":
            return True
        if reflected and (name or "").startswith("alembic_version"):
            return False
        return name not in foreign

    return metadata_of(mine), include_object
