"""A throwaway project (settings module, models, migrations folders) for ``manage.py`` tests.

Shared by the migration tests and the PgBouncer tests, which run the same
commands on the same project through different URLs.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2

from tests.cli import ROOT, manage
from tests.postgres import created

SETTINGS = """
from pathlib import Path

DATABASES = {
    "default": {"URL": "sqlite://"},
    "other": {"URL": f"sqlite:///{Path(__file__).parent / 'other.sqlite3'}"},
}
MODEL_MODULES = ["shop_models"]
"""

MODELS = """
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Product(Base):
    __tablename__ = "shop_product"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    {extra}


class Note(Base):
    __tablename__ = "shop_note"
    __bind_key__ = "other"

    id: Mapped[int] = mapped_column(primary_key=True)
"""


class Project:
    """A project folder on ``PYTHONPATH``; every command's output is kept for the secret check.

    ``settings`` is appended to the settings module, to change an entry of ``DATABASES``.
    """

    def __init__(self, folder: Path, url: str, settings: str = "") -> None:
        self.folder = folder
        self.url = url
        self.outputs: list[str] = []
        (folder / "shop_settings.py").write_text(SETTINGS + settings)
        self.models("")

    def models(self, extra: str) -> None:
        (self.folder / "shop_models.py").write_text(MODELS.format(extra=extra))

    @property
    def env(self) -> dict[str, str]:
        path = os.pathsep.join(filter(None, [str(self.folder), os.environ.get("PYTHONPATH")]))
        return {"SETTINGS_MODULE": "shop_settings", "PYTHONPATH": path}

    def manage(self, *args: str, code: int = 0, **env: str) -> str:
        result = manage(*args, database_url=self.url, **self.env, **env)
        output = result.stdout + result.stderr
        self.outputs.append(output)
        assert result.returncode == code, output
        assert "Traceback" not in output
        return output

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**os.environ, **self.env, "DATABASE_URL": self.url},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def race(self, *args: str, racers: int = 2) -> list[subprocess.Popen[str]]:
        """``manage.py ARGS`` in ``racers`` processes started together; waits for them all."""
        started = [self.start(*args) for _ in range(racers)]
        self.outputs += [racer.communicate(timeout=60)[0] for racer in started]
        return started

    def revisions(self, alias: str = "default") -> list[Path]:
        return sorted((self.folder / "migrations" / alias).glob("*.py"))

    def slow_down(self, revision: Path, seconds: float) -> None:
        """Make ``revision``'s upgrade sleep, so that two migrate processes overlap."""
        revision.write_text(
            revision.read_text().replace(
                "def upgrade() -> None:\n",
                f"def upgrade() -> None:\n    __import__('time').sleep({seconds})\n",
            )
        )


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server of ``server_url``; yields its name."""
    name = f"test_migrations_flow_{uuid.uuid4().hex[:8]}"
    drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    with created(server_url, f'CREATE DATABASE "{name}"', drop):
        yield name


def on_database(url: str, name: str) -> str:
    """``url`` with its database name replaced by ``name``."""
    return url.rsplit("/", 1)[0] + f"/{name}"


def query(url: str, sql: str) -> list[tuple[object, ...]]:
    """The rows of ``sql`` on ``url`` (PostgreSQL, or a SQLite file)."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
            return list(connection.execute(sql))
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute(sql)
        return list(cursor.fetchall())


def revision_id(path: Path) -> str:
    match = re.search(r"^revision: str = '(\w+)'", path.read_text(), re.MULTILINE)
    assert match, path.read_text()
    return match[1]
