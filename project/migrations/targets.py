"""Where each alias keeps its revisions, and the Alembic ``Config`` built for it in code.

One ``MigrationTarget`` per database alias: its versions folder
(``MIGRATIONS_FOLDERS``, default ``migrations/<alias>`` in the project root),
its version table and the Alembic environment to run. Paths go into the
``Config`` with ``%`` escaped; connections and options go in as objects
(``config.attributes``), never through configparser.
"""

from __future__ import annotations

import argparse
import importlib.util
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from project.migrations.errors import MigrationError

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy import Connection, Engine

    from project.urls import DatabaseURL

BUILTIN_ENVIRONMENT = Path(__file__).resolve().with_name("environment")
VERSION_TABLE = "alembic_version"


class Database(Protocol):
    """What a target needs of a database manager (``project.database.databases[alias]``)."""

    @property
    def sync_engine(self) -> Engine: ...

    @property
    def url(self) -> DatabaseURL | None: ...


@dataclass(frozen=True)
class MigrationTarget:
    """The migrations of one database alias."""

    alias: str
    database: Database
    folder: Path
    environment: Path

    @property
    def family(self) -> str:
        return self.database.url.family if self.database.url else "sqlite"

    @property
    def redacted_url(self) -> str:
        return self.database.url.redacted if self.database.url else "<not configured>"

    @property
    def version_table(self) -> str:
        """``alembic_version`` for the default alias, so an existing Alembic project fits."""
        return VERSION_TABLE if self.alias == "default" else f"{VERSION_TABLE}_{self.alias}"

    @property
    def label(self) -> str:
        return f"Database {self.alias!r} ({self.redacted_url})"

    def config(self, **attributes: Any) -> Config:
        """A fresh Alembic ``Config`` for this alias; ``attributes`` reach env.py as objects."""
        from alembic.config import Config

        config = Config(cmd_opts=argparse.Namespace(quiet=True))
        config.set_main_option("script_location", _escaped(self.environment))
        config.set_main_option("version_locations", _escaped(self.folder))
        config.set_main_option("path_separator", "os")  # Alembic >= 1.16
        config.set_main_option("version_path_separator", "os")  # older Alembic
        config.attributes.update(attributes)
        return config

    def scripts(self) -> ScriptDirectory:
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(self.config())

    def context_options(self, **extra: Any) -> dict[str, Any]:
        """The keyword arguments env.py passes to ``context.configure``."""
        return {
            "version_table": self.version_table,
            "render_as_batch": self.family == "sqlite",
            "compare_type": True,
            "compare_server_default": True,
            **extra,
        }

    @contextmanager
    def connect(self, engine: Engine | None = None) -> Iterator[Connection]:
        """A connection to the alias's sync engine; failing to connect is one paragraph."""
        try:
            connection = (engine or self.database.sync_engine).connect()
        except Exception as exc:
            from project.database import diagnose

            raise MigrationError(f"{self.label} cannot be reached: {diagnose(exc)}") from None
        with connection:
            yield connection


def _escaped(path: Path) -> str:
    """A path as a configparser value: ``%`` is its interpolation character."""
    return str(path).replace("%", "%%")


def project_root() -> Path:
    """The folder holding the settings package: relative migration folders start there."""
    from project.conf import settings

    top = settings.loaded.module.partition(".")[0]
    spec = importlib.util.find_spec(top)
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations))).resolve().parent
    if spec is not None and spec.origin:
        return Path(spec.origin).resolve().parent
    return Path.cwd()


def _environment(root: Path) -> Path:
    from project.conf import settings

    setting: str = settings.MIGRATIONS_ENVIRONMENT
    if not setting:
        return BUILTIN_ENVIRONMENT
    folder = root / setting
    if not (folder / "env.py").is_file():
        raise MigrationError(
            f"MIGRATIONS_ENVIRONMENT = {setting!r} names {folder}, which has no env.py. Point it "
            "at a folder holding an Alembic env.py (and script.py.mako), or set it to '' to use "
            "the built-in environment."
        )
    return folder


def get_targets(
    aliases: Sequence[str] = (), databases: Mapping[str, Database] | None = None
) -> list[MigrationTarget]:
    """The targets of ``aliases`` (default: every alias, in settings order)."""
    from project.conf import settings
    from project.text import did_you_mean

    if databases is None:
        from project.database import databases as registry

        databases = registry
    known = list(databases)
    folders: dict[str, str] = dict(settings.MIGRATIONS_FOLDERS)
    for alias in [*aliases, *folders]:
        if alias not in known:
            guess = did_you_mean(alias, known)
            hint = f" Did you mean {guess!r}?" if guess else ""
            where = "MIGRATIONS_FOLDERS names" if alias in folders else "Unknown --database"
            raise MigrationError(
                f"{where} alias {alias!r}; DATABASES defines "
                f"{', '.join(repr(name) for name in known)}.{hint}"
            )
    root = project_root()
    environment = _environment(root)
    return [
        MigrationTarget(
            alias=alias,
            database=databases[alias],
            folder=(root / folders.get(alias, f"migrations/{alias}")).resolve(),
            environment=environment,
        )
        for alias in (aliases or known)
    ]
