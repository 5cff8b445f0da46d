"""Bring a fresh test database to the project's schema, and name that schema's version.

``TEST_DATABASE_CREATE`` chooses how: the migrations (``manage.py migrate``,
to head) or ``create_all`` of the ``MODEL_MODULES`` models; ``"auto"``
migrates an alias whose versions folder holds revisions. The version
("head") is stored with each test database so ``--reuse-db`` notices when it
must rebuild: the head revisions plus a hash of the revision files (an edited
migration counts as a change), or a hash of the tables' DDL for ``create_all``.
"""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Dialect, MetaData, create_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.schema import CreateIndex, CreateTable

from project.errors import SettingsError

__all__ = ["Method", "build_schema", "method", "schema_head"]

Method = Literal["migrate", "create_all"]


def method(alias: str) -> Method:
    """How to build the test database of ``alias``, from ``TEST_DATABASE_CREATE``."""
    from project.conf import settings

    chosen = settings.TEST_DATABASE_CREATE
    if chosen == "create_all":
        return "create_all"
    folder = _migrations_folder(alias)
    has_revisions = folder is not None and any(folder.glob("*.py"))
    if chosen == "auto":
        return "migrate" if has_revisions else "create_all"
    if not has_revisions:
        where = f" in {folder}" if folder else ""
        raise SettingsError(
            f"TEST_DATABASE_CREATE = 'migrate', but database {alias!r} has no migrations"
            f"{where}. Create them (manage.py makemigrations) or set TEST_DATABASE_CREATE = "
            "'create_all' to create the MODEL_MODULES tables directly."
        )
    return "migrate"


def _migrations() -> Any:
    """``project.migrations.targets``, or None in a version without migrations."""
    try:
        return importlib.import_module("project.migrations.targets")
    except ImportError:
        return None


def _migrations_folder(alias: str) -> Path | None:
    targets = _migrations()
    if targets is None:
        return None
    folder: Path = targets.get_targets((alias,))[0].folder
    return folder


def _metadata() -> list[MetaData]:
    from project.conf import settings
    from project.management.models import metadata_of, model_classes

    models = model_classes(settings.MODEL_MODULES)
    if not models:
        raise SettingsError(
            "The test database has no tables to create: MODEL_MODULES lists no module with "
            "SQLAlchemy models. Add your models' modules to MODEL_MODULES in your settings, "
            "or create migrations (manage.py makemigrations)."
        )
    return metadata_of(models.values())


def schema_head(how: Method, aliases: list[str], dialect: Dialect) -> str:
    """The version a database built now would have; equal heads mean equal schemas."""
    digest = hashlib.sha256()
    if how == "migrate":
        heads: list[str] = []
        for target in _migrations().get_targets(tuple(aliases)):
            heads += sorted(target.scripts().get_heads())
            for path in sorted(target.folder.glob("*.py")):
                digest.update(path.name.encode() + path.read_bytes())
        return f"migrate:{'+'.join(heads)}:{digest.hexdigest()[:12]}"
    for metadata in _metadata():
        for table in metadata.sorted_tables:
            digest.update(str(CreateTable(table).compile(dialect=dialect)).encode())
            for index in sorted(table.indexes, key=lambda i: str(i.name)):
                digest.update(str(CreateIndex(index).compile(dialect=dialect)).encode())
    return f"create_all:{digest.hexdigest()[:16]}"


def build_schema(how: Method, aliases: list[str], url: str, sync_url: str) -> None:
    """Create the schema in the empty database at ``url`` (as DATABASES spells it)."""
    if how == "create_all":
        engine = create_engine(sync_url, poolclass=NullPool)
        try:
            with engine.begin() as connection:
                for metadata in _metadata():
                    metadata.create_all(connection)
        finally:
            engine.dispose()
        return
    from project.conf import override_settings
    from project.management import call_command

    # manage.py migrate on the test database: the code path production uses.
    for alias in aliases:
        with override_settings(DATABASES={alias: {"URL": url}}):
            call_command("migrate", "--database", alias)
