"""Find the SQLAlchemy model classes of the modules listed in ``MODEL_MODULES``.

Shared by ``shell`` (which puts them in its namespace) and ``makemigrations``
(which compares them with the migrations).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

from sqlalchemy import MetaData, Table
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Mapper


def model_classes(modules: Iterable[str]) -> dict[str, type]:
    """Every mapped class found in ``modules``, by class name; abstract bases are skipped."""
    found: dict[str, type] = {}
    for dotted in modules:
        module = importlib.import_module(dotted)
        for name, value in vars(module).items():
            if (
                isinstance(value, type)
                and not name.startswith("_")
                and isinstance(sa_inspect(value, raiseerr=False), Mapper)
            ):
                found[name] = value
    return found


def metadata_of(models: Iterable[type]) -> list[MetaData]:
    """The distinct MetaData collections the models' tables belong to."""
    collections: dict[int, MetaData] = {}
    for model in models:
        mapper: Mapper[Any] = sa_inspect(model)
        for table in mapper.tables:
            if isinstance(table, Table):
                collections.setdefault(id(table.metadata), table.metadata)
    return list(collections.values())
