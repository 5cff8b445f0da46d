"""project.testing, as a user meets it: the sample shop project run by pytest in a subprocess.

The shop (examples/shop) has a model, handlers and ten tests and no conftest;
these tests run it plainly, under pytest-xdist, with --reuse-db across a
schema change, and with the mistakes the plugin must explain.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

SHOP = Path(__file__).resolve().parent.parent / "examples" / "shop"


@pytest.fixture
def shop(tmp_path: Path, postgres_url: str) -> Iterator[tuple[Path, str]]:
    """A copy of the shop and the name its test database gets; dropped afterwards."""
    copy = tmp_path / "shop"
    shutil.copytree(SHOP, copy, ignore=shutil.ignore_patterns("__pycache__"))
    configured = f"{make_url(postgres_url).database}_shop"
    yield copy, f"test_{configured}"
    for name in _databases(postgres_url, f"test_{configured}"):
        _admin(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _run(shop: tuple[Path, str], postgres_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    folder, name = shop
    url = make_url(postgres_url).set(database=name.removeprefix("test_"))
    return _pytest(folder, url.render_as_string(hide_password=False), *args)


def _pytest(folder: Path, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SETTINGS_MODULE": "shop.settings",
        "SHOP_DATABASE_URL": database_url,
        # The shop first; the caller's path after it (it may name the project under test).
        "PYTHONPATH": os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")])),
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def _admin(postgres_url: str, statement: str) -> list[tuple[str, str]]:
    engine = create_engine(
        make_url(postgres_url).set(drivername="postgresql+psycopg2", database="postgres"),
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
    )
    with engine.connect() as connection:
        result = connection.execute(text(statement))
        rows = [tuple(row) for row in result] if result.returns_rows else []
    engine.dispose()
    return rows  # type: ignore[return-value]


def _databases(postgres_url: str, prefix: str) -> dict[str, str]:
    """The test databases named ``prefix...`` and their stamps."""
    rows = _admin(
        postgres_url,
        "SELECT datname, coalesce(shobj_description(oid, 'pg_database'), '') "
        f"FROM pg_database WHERE datname LIKE '{prefix}%'",
    )
    return dict(rows)


def _passed(result: subprocess.CompletedProcess[str], count: int) -> None:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert f"{count} passed" in result.stdout


@pytest.mark.postgres
def test_the_shop_passes_and_its_test_database_is_dropped(
    shop: tuple[Path, str], postgres_url: str
) -> None:
    _passed(_run(shop, postgres_url), 10)
    assert _databases(postgres_url, shop[1]) == {}


def test_the_shop_passes_on_a_sqlite_file_and_leaves_nothing_behind(tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    shutil.copytree(SHOP, folder, ignore=shutil.ignore_patterns("__pycache__"))
    data = tmp_path / "data"
    data.mkdir()
    _passed(_pytest(folder, f"sqlite:///{data / 'shop.sqlite3'}"), 10)
    assert list(data.iterdir()) == []


@pytest.mark.postgres
def test_under_xdist_each_worker_tests_on_its_own_clone(
    shop: tuple[Path, str], postgres_url: str
) -> None:
    # test_marked_tests_use_the_test_database checks the worker's database name.
    _passed(_run(shop, postgres_url, "-p", "xdist", "-n", "2"), 10)
    assert _databases(postgres_url, shop[1]) == {}, "the template and clones are dropped"


@pytest.mark.postgres
def test_reuse_db_keeps_the_database_until_the_schema_changes(
    shop: tuple[Path, str], postgres_url: str
) -> None:
    name = shop[1]
    _passed(_run(shop, postgres_url, "--reuse-db"), 10)
    first = _databases(postgres_url, name)[name]
    _passed(_run(shop, postgres_url, "--reuse-db"), 10)
    assert _databases(postgres_url, name)[name] == first, "reused, not rebuilt"

    # A migration change: a new revision, and the model column it adds (create_all sees that).
    models = shop[0] / "shop" / "models.py"
    models.write_text(models.read_text() + "    note: Mapped[str | None]\n")
    (shop[0] / "migrations" / "default" / "0002_note.py").write_text(NOTE_REVISION)
    _passed(_run(shop, postgres_url, "--reuse-db"), 10)
    changed = _databases(postgres_url, name)[name]
    assert changed.split()[0] != first.split()[0], "a new schema head: rebuilt"

    _passed(_run(shop, postgres_url, "--reuse-db", "--create-db"), 10)
    forced = _databases(postgres_url, name)[name]
    assert forced.split()[0] == changed.split()[0]
    assert forced.split()[1] != changed.split()[1], "--create-db rebuilt it anyway"


NOTE_REVISION = '''
"""add shop_product.note"""

import sqlalchemy as sa
from alembic import op

revision = "0002_note"
down_revision = "0001_shop_product"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("shop_product", sa.Column("note", sa.String(), nullable=True))


def downgrade() -> None:
    op.drop_column("shop_product", "note")
'''

MISTAKES = """
from sqlalchemy import text

from project.database import databases


def test_touches_the_database_unasked():
    with databases["default"].sync_engine.connect() as connection:
        connection.execute(text("SELECT 1"))


async def test_asks_for_both_drivers(db_session, db_sync_session):
    pass


async def test_a_handler_uses_the_other_driver(client):
    await client.get("/products/count")  # a sync session: psycopg2 beside asyncpg


async def test_counts_wrong(client, assert_num_queries):
    with assert_num_queries(0):
        await client.get("/products")
"""


@pytest.mark.postgres
def test_mistakes_fail_with_a_sentence_that_names_the_fix(
    shop: tuple[Path, str], postgres_url: str
) -> None:
    (shop[0] / "tests" / "test_mistakes.py").write_text(textwrap.dedent(MISTAKES))
    result = _run(shop, postgres_url, "tests/test_mistakes.py", "-p", "no:warnings")
    out = " ".join(result.stdout.split())
    # The handler's test passes its call, then fails at teardown: the error was caught
    # by the app (a 500), yet the test must not pass.
    assert "2 failed, 1 passed, 2 errors" in out, result.stdout
    assert (
        "Database access not allowed in tests/test_mistakes.py::test_touches_the_database_unasked"
        in out
    )
    assert "Request one of the fixtures db_session, db_sync_session, client" in out
    assert "asks for both db_session (asyncpg/aiosqlite) and db_sync_session" in out
    assert "ran on a second connection (driver psycopg2)" in out
    assert "Use the transactional_db fixture" in out
    assert "it opened a postgresql connection without asking" in out
    assert "Expected 0 queries, 1 were sent: 1. SELECT shop_product.id" in out
