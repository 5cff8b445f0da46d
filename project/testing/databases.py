"""Create, stamp, clone and drop test databases: PostgreSQL on its server, SQLite as files.

Every test database carries a stamp, ``head=<schema version> run=<run id>``,
kept outside its tables (a comment on the PostgreSQL database, a file next to
the SQLite one), so ``--reuse-db`` can tell whether it is still current
without connecting to it.
"""

from __future__ import annotations

import fcntl
import shutil
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy import URL, Connection, create_engine, make_url, text
from sqlalchemy.pool import NullPool

__all__ = ["Server", "Stamp", "server_for"]


@dataclass(frozen=True)
class Stamp:
    """The schema version a test database was built at, and the run that built it."""

    head: str
    run: str

    def __str__(self) -> str:
        return f"head={self.head} run={self.run}"

    @classmethod
    def parse(cls, value: str | None) -> Stamp | None:
        fields = dict(part.partition("=")[::2] for part in (value or "").split())
        if "head" not in fields:
            return None
        return cls(fields["head"], fields.get("run", ""))


class Server(Protocol):
    """Where test databases live, for one family of databases."""

    def url_of(self, name: str) -> URL:
        """The sync SQLAlchemy URL of the database ``name``."""

    def lock(self, name: str) -> AbstractContextManager[None]:
        """Hold a lock (across processes) while ``name`` is built or cloned."""

    def stamp_of(self, name: str) -> Stamp | None:
        """The stamp of ``name``; None when it does not exist or was never stamped."""

    def create(self, name: str, template: str | None = None) -> None:
        """Create ``name`` empty, or as a copy of ``template``; drops it first."""

    def set_stamp(self, name: str, stamp: Stamp) -> None: ...

    def drop(self, name: str) -> None: ...


class PostgresServer:
    """Test databases on the PostgreSQL server of the configured database."""

    def __init__(self, url: URL) -> None:
        self.base = url
        self.engine = create_engine(
            url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
        )

    def url_of(self, name: str) -> URL:
        return self.base.set(database=name)

    def _quote(self, name: str) -> str:
        return self.engine.dialect.identifier_preparer.quote(name)

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        with self.engine.connect() as connection:
            yield connection

    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        with self._connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(hashtext(:n))"), {"n": name})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(hashtext(:n))"), {"n": name})

    def stamp_of(self, name: str) -> Stamp | None:
        query = text(
            "SELECT coalesce(shobj_description(oid, 'pg_database'), '') "
            "FROM pg_database WHERE datname = :n"
        )
        with self._connect() as connection:
            return Stamp.parse(connection.execute(query, {"n": name}).scalar())

    def create(self, name: str, template: str | None = None) -> None:
        self.drop(name)
        copy = f" TEMPLATE {self._quote(template)}" if template else ""
        with self._connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {self._quote(name)}{copy}")

    def set_stamp(self, name: str, stamp: Stamp) -> None:
        literal = str(stamp).replace("'", "''")
        with self._connect() as connection:
            connection.exec_driver_sql(f"COMMENT ON DATABASE {self._quote(name)} IS '{literal}'")

    def drop(self, name: str) -> None:
        # WITH (FORCE) (PostgreSQL 13+) ends connections a test leaked.
        with self._connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {self._quote(name)} WITH (FORCE)")


class SqliteFiles:
    """Test databases as SQLite files in one folder."""

    def __init__(self, url: URL, folder: Path) -> None:
        self.base = url
        self.folder = folder

    def _path(self, name: str) -> Path:
        return self.folder / name

    def url_of(self, name: str) -> URL:
        return self.base.set(database=str(self._path(name)))

    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        with open(self._path(name + ".lock"), "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def stamp_of(self, name: str) -> Stamp | None:
        stamp = self._path(name + ".stamp")
        if not self._path(name).exists() or not stamp.exists():
            return None
        return Stamp.parse(stamp.read_text())

    def create(self, name: str, template: str | None = None) -> None:
        self.drop(name)
        if template is not None:
            for suffix in ("", "-wal"):
                source = self._path(template + suffix)
                if source.exists():
                    shutil.copyfile(source, self._path(name + suffix))

    def set_stamp(self, name: str, stamp: Stamp) -> None:
        self._path(name + ".stamp").write_text(str(stamp))

    def drop(self, name: str) -> None:
        for suffix in ("", "-wal", "-shm", "-journal", ".stamp", ".lock"):
            self._path(name + suffix).unlink(missing_ok=True)


def server_for(sync_url: str, scratch: Path) -> tuple[Server, str]:
    """The server of a configured database and its name; SQLite in memory goes to ``scratch``."""
    url = make_url(sync_url)
    if url.get_backend_name() == "postgresql":
        return PostgresServer(url), url.database or "postgres"
    path = url.database or ""
    if path in ("", ":memory:") or path.startswith("file:"):
        return SqliteFiles(url, scratch), "memory.sqlite3"
    resolved = Path(path).resolve()
    return SqliteFiles(url, resolved.parent), resolved.name
