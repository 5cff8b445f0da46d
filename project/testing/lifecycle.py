"""The test databases of one pytest session: built on first use, dropped at its end.

Each configured database (aliases with the same URL share one) gets
``test_<name>`` next to it, built to the schema's head. Under pytest-xdist
that database is a template, built once by whichever worker comes first (the
others wait on a lock), and each worker clones its own ``test_<name>_gw0``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, create_engine, inspect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from project.database.binding import database_key
from project.database.engines import create_engines
from project.schema import DatabaseSettings
from project.testing import schema
from project.testing.databases import Server, Stamp, server_for
from project.testing.pointing import Pointing
from project.urls import parse_database_url

__all__ = ["TestDatabase", "TestDatabases"]


@dataclass
class TestDatabase:
    """One configured database and the test database standing in for it."""

    aliases: list[str]
    server: Server
    name: str  # the test database this process uses
    template: str  # == name without xdist
    head: str = ""
    setting_url: str = ""  # the URL as DATABASES gets it
    _engines: tuple[Engine, AsyncEngine] | None = None
    _tables: list[str] | None = None

    @property
    def url(self) -> str:
        """The test database's sync SQLAlchemy URL."""
        return self.server.url_of(self.name).render_as_string(hide_password=False)

    def engines(self) -> tuple[Engine, AsyncEngine]:
        """The fixtures' own sync and async engines, built like the app's."""
        if self._engines is None:
            config = DatabaseSettings(URL=self.setting_url, POOL_SIZE=2, PING_IDLE_AFTER=0)
            url = parse_database_url(self.setting_url)
            sync = create_engines(config, url, None, sync=True)
            asynchronous = create_engines(config, url, None, sync=False)
            assert isinstance(sync, Engine)
            assert isinstance(asynchronous, AsyncEngine)
            self._engines = (sync, asynchronous)
        return self._engines

    def truncate(self) -> None:
        """Empty every table (not the migrations' own), restarting identities."""
        engine = self.engines()[0]
        with engine.begin() as connection:
            if self._tables is None:
                names = inspect(connection).get_table_names()
                # Not the migrations' version tables (alembic_version, alembic_version_<alias>).
                self._tables = [n for n in names if not n.startswith("alembic_version")]
            if not self._tables:
                return
            quote = engine.dialect.identifier_preparer.quote
            if engine.dialect.name == "postgresql":
                connection.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
                tables = ", ".join(quote(name) for name in self._tables)
                connection.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
                return
            for name in self._tables:
                connection.exec_driver_sql(f"DELETE FROM {quote(name)}")
            if inspect(connection).has_table("sqlite_sequence"):
                connection.exec_driver_sql("DELETE FROM sqlite_sequence")

    def dispose(self) -> None:
        if self._engines is not None:
            self._engines[0].dispose()
            self._engines[1].sync_engine.dispose()
            self._engines = None


@dataclass
class TestDatabases:
    """Build (or reuse) every test database, and drop what this process owns."""

    reuse: bool = False
    recreate: bool = False
    worker: str | None = None  # "gw0" under pytest-xdist
    run_id: str = ""
    scratch: Path = field(default_factory=Path)
    databases: list[TestDatabase] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)  # alias -> test database URL
    pointing: Pointing | None = None  # the DATABASES override, put in force per test

    __test__ = False  # not a test class, whatever its name

    def setup(self) -> dict[str, str]:
        """Build the databases; returns each alias's test database URL (for DATABASES)."""
        from project.conf import settings

        groups: dict[object, list[str]] = {}
        configs = settings.DATABASES
        for alias, config in configs.items():
            groups.setdefault(database_key(parse_database_url(config.URL).sync_url), []).append(
                alias
            )
        urls: dict[str, str] = {}
        for aliases in groups.values():
            configured = parse_database_url(configs[aliases[0]].URL)
            server, name = server_for(configured.sync_url, self.scratch)
            template = f"test_{name}"
            database = TestDatabase(
                aliases,
                server,
                f"{template}_{self.worker}" if self.worker else template,
                template,
            )
            # Keep the configured scheme and options; only the database changes.
            test_url = server.url_of(database.name).render_as_string(hide_password=False)
            database.setting_url = _with_scheme(test_url, configs[aliases[0]].URL)
            self._build(database, schema.method(aliases[0]))
            self.databases.append(database)
            for alias in aliases:
                urls[alias] = database.setting_url
        self.urls = urls
        return urls

    def for_alias(self, alias: str) -> TestDatabase:
        return next(d for d in self.databases if alias in d.aliases)

    def _build(self, database: TestDatabase, how: schema.Method) -> None:
        server, template = database.server, database.template
        force = self.recreate or not self.reuse
        with server.lock(template):
            template_url = server.url_of(template)
            dialect = create_engine(template_url, poolclass=NullPool).dialect
            database.head = schema.schema_head(how, database.aliases, dialect)
            wanted = Stamp(database.head, self.run_id)
            if self._stale(server.stamp_of(template), wanted, force):
                server.create(template)
                url = template_url.render_as_string(hide_password=False)
                setting_url = _with_scheme(url, database.setting_url)
                schema.build_schema(how, database.aliases, setting_url, url)
                server.set_stamp(template, wanted)
            if database.name != template and self._stale(
                server.stamp_of(database.name), wanted, force
            ):
                server.create(database.name, template=template)
                server.set_stamp(database.name, wanted)

    @staticmethod
    def _stale(stamp: Stamp | None, wanted: Stamp, force: bool) -> bool:
        """Rebuild unless the stamp is current; forced rebuilds happen once per run."""
        if stamp is None or stamp.head != wanted.head:
            return True
        return force and stamp.run != wanted.run

    def teardown(self) -> None:
        """Drop what this process used, unless --reuse-db keeps it."""
        for database in self.databases:
            database.dispose()
            if not self.reuse:
                database.server.drop(database.name)

    def templates(self) -> list[str]:
        """The template URLs the xdist controller drops once every worker is done."""
        return [
            d.server.url_of(d.template).render_as_string(hide_password=False)
            for d in self.databases
            if d.template != d.name
        ]


def _with_scheme(url: str, configured: str) -> str:
    """``url`` written with the scheme the configured URL used (its driver choice)."""
    scheme = configured.partition("://")[0]
    return f"{scheme}://{url.partition('://')[2]}"
