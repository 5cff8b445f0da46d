"""Bring a fresh test database to the project's schema, and name that schema's version.

``TEST_DATABASE_CREATE`` chooses how: the migrations (to head) or ``create_all``
of the ``MODEL_MODULES`` models. The version ("head") is stored with each test
database so ``--reuse-db`` notices when it must rebuild: the migrations' head
revisions, or a hash of the tables' DDL for ``create_all``.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from sqlalchemy import Connection, Dialect, MetaData
from sqlalchemy.schema import CreateIndex, CreateTable

from project.errors import SettingsError

__all__ = ["Method", "build_schema", "method", "schema_head"]

Method = Literal["migrate", "create_all"]


def method() -> Method:
    """The way to build test databases, from ``TEST_DATABASE_CREATE``."""
    from project.conf import settings

    chosen = settings.TEST_DATABASE_CREATE
    if chosen == "auto":
        return "migrate" if _has_migrations() else "create_all"
    if chosen == "migrate" and not _has_migrations():
        raise SettingsError(
            "TEST_DATABASE_CREATE = 'migrate', but this project has no migrations to run. "
            "Create them (manage.py makemigrations) or set TEST_DATABASE_CREATE = "
            "'create_all' to create the MODEL_MODULES tables directly."
        )
    return chosen  # type: ignore[no-any-return]


def _has_migrations() -> bool:
    return False  # rewired to project.migrations when it lands


def _metadata() -> list[MetaData]:
    from project.conf import settings
    from project.management.models import metadata_of, model_classes

    models = model_classes(settings.MODEL_MODULES)
    if not models:
        raise SettingsError(
            "The test database has no tables to create: MODEL_MODULES lists no module with "
            "SQLAlchemy models. Add your models' modules to MODEL_MODULES in your settings."
        )
    return metadata_of(models.values())


def schema_head(how: Method, alias: str, dialect: Dialect) -> str:
    """The version a database built now would have; equal heads mean equal schemas."""
    digest = hashlib.sha256()
    for metadata in _metadata():
        for table in metadata.sorted_tables:
            digest.update(str(CreateTable(table).compile(dialect=dialect)).encode())
            for index in sorted(table.indexes, key=lambda i: str(i.name)):
                digest.update(str(CreateIndex(index).compile(dialect=dialect)).encode())
    return f"create_all:{digest.hexdigest()[:16]}"


def build_schema(how: Method, alias: str, connection: Connection) -> None:
    """Create the schema in the empty database behind ``connection``."""
    for metadata in _metadata():
        metadata.create_all(connection)
