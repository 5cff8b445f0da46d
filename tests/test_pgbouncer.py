"""``PGBOUNCER = True`` against a real PgBouncer in transaction pooling mode.

32 concurrent clients run 2,000 parameterised reads and writes, half through
the plugin and half through ``manager.session()``. With the setting nothing
fails and every write is stored; without it the same run hits the errors
users meet behind PgBouncer (prepared statements that do not exist or already
exist on the server connection PgBouncer picked), which proves it matters.
``manage.py migrate`` takes its transaction-scoped advisory lock through it too.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import shutil
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg2
import pytest
from litestar import Litestar, get, post
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from plugins.database import DatabasePlugin, DatabasePluginConfig
from project.database import DatabaseSessionManager, pgbouncer
from project.database.budget import budgets
from project.schema import DatabaseSettings
from tests.cli import manage
from tests.pgbouncer import MISSING, PgBouncer
from tests.throwaway_project import Project, fresh_database, on_database, query, revision_id

CLIENTS = 32
OPERATIONS = 2000


@pytest.fixture(scope="module")
def bouncer(postgres_url: str) -> Iterator[PgBouncer]:
    if shutil.which("pgbouncer") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(MISSING)
        pytest.skip(MISSING)
    running = PgBouncer(postgres_url, pool_size=8)
    yield running
    running.stop()


@pytest.fixture
def table(postgres_url: str) -> Iterator[str]:
    name = f"bouncer_{uuid.uuid4().hex[:10]}"
    _server(postgres_url, f"CREATE TABLE {name} (id bigserial PRIMARY KEY, client int, n int)")
    yield name
    _server(postgres_url, f"DROP TABLE {name}")


def _server(url: str, sql: str) -> Any:
    """Run ``sql`` on the server itself, not through PgBouncer."""
    connection = psycopg2.connect(url)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchone() if cursor.description else None
    finally:
        connection.close()


@dataclass
class Outcome:
    errors: Counter[str] = field(default_factory=Counter)
    writes: int = 0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def _plugin(config: DatabaseSettings) -> DatabasePlugin:
    return DatabasePlugin(DatabasePluginConfig(databases={"default": config}, startup_check="off"))


def _kind(exc: BaseException) -> str:
    message = str(exc)
    for known in ("does not exist", "already exists", "bind message", "prepared statement"):
        if known in message:
            return f"prepared statement {known}"
    return f"{type(exc).__name__}: {message.splitlines()[0][:80]}"


async def _run(url: str, table: str, *, pgbouncer_setting: bool) -> Outcome:
    """The workload: 32 clients, 2,000 operations, half through the plugin."""
    outcome = Outcome()

    def record(exc: BaseException) -> None:
        outcome.errors[_kind(exc)] += 1

    @get("/rows/{client:int}")
    async def read(client: int, db_session: AsyncSession) -> int:
        try:
            query = text(f"SELECT count(*) FROM {table} WHERE client = :c")
            return int(await db_session.scalar(query, {"c": client}) or 0)
        except Exception as exc:
            record(exc)
            raise

    @post("/rows/{client:int}/{n:int}")
    async def write(client: int, n: int, db_session: AsyncSession) -> None:
        try:
            insert = text(f"INSERT INTO {table} (client, n) VALUES (:c, :n)")
            await db_session.execute(insert, {"c": client, "n": n})
        except Exception as exc:
            record(exc)
            raise

    config = DatabaseSettings(URL=url, PGBOUNCER=pgbouncer_setting, POOL_SIZE=8, MAX_OVERFLOW=8)
    plugin = _plugin(config)
    app = Litestar([read, write], plugins=[plugin])
    numbers = itertools.count()

    async def client(number: int, http: httpx.AsyncClient) -> None:
        manager = plugin.registry["default"]
        while (n := next(numbers)) < OPERATIONS:
            writing, via_plugin = n % 2 == 0, n % 4 < 2
            try:
                if via_plugin and writing:
                    response = await http.post(f"/rows/{number}/{n}")
                    ok = response.status_code == 201
                elif via_plugin:
                    ok = (await http.get(f"/rows/{number}")).status_code == 200
                else:
                    async with manager.session() as session:
                        if writing:
                            insert = text(f"INSERT INTO {table} (client, n) VALUES (:c, :n)")
                            await session.execute(insert, {"c": number, "n": n})
                        else:
                            query = text(f"SELECT count(*) FROM {table} WHERE n > :n")
                            await session.scalar(query, {"n": n})
                    ok = True
            except Exception as exc:
                record(exc)
                ok = False
            outcome.writes += ok and writing

    # In this event loop (the test client would run the app in a thread of its own):
    # the plugin and manager.session() share one pool, as in a served app.
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            await asyncio.gather(*(client(number, http) for number in range(CLIENTS)))
    finally:
        await plugin.registry.close_all()
    return outcome


async def test_every_read_and_write_succeeds_behind_pgbouncer(
    bouncer: PgBouncer, postgres_url: str, table: str
) -> None:
    outcome = await _run(bouncer.url, table, pgbouncer_setting=True)
    stored = _server(postgres_url, f"SELECT count(*) FROM {table}")[0]
    print(f"\nPGBOUNCER=True: {outcome.error_count} errors, {stored} of 1000 writes stored")
    assert outcome.errors == Counter()
    assert outcome.writes == stored == OPERATIONS // 2


async def test_without_the_setting_prepared_statements_break(
    bouncer: PgBouncer, postgres_url: str, table: str
) -> None:
    outcome = await _run(bouncer.url, table, pgbouncer_setting=False)
    stored = _server(postgres_url, f"SELECT count(*) FROM {table}")[0]
    print(
        f"\nPGBOUNCER=False: {outcome.error_count} errors {dict(outcome.errors)}, "
        f"{stored} of 1000 writes stored"
    )
    assert any(kind.startswith("prepared statement") for kind in outcome.errors)


async def test_a_get_that_writes_commits_each_statement_as_autocommit_does(
    bouncer: PgBouncer, postgres_url: str, table: str
) -> None:
    @get("/write-then-fail/{n:int}")
    async def write_then_fail(n: int, db_session: AsyncSession) -> str:
        await db_session.execute(text(f"INSERT INTO {table} (client, n) VALUES (0, :n)"), {"n": n})
        try:
            await db_session.execute(text("SELECT 1/0"))
        except Exception:
            await db_session.rollback()
        return str(await db_session.scalar(text(f"SELECT count(*) FROM {table}")))

    config = DatabaseSettings(URL=bouncer.url, PGBOUNCER=True)
    plugin = _plugin(config)
    async with AsyncTestClient(Litestar([write_then_fail], plugins=[plugin])) as http:
        response = await http.get("/write-then-fail/7")
    assert (response.status_code, response.text) == (200, "1")
    assert _server(postgres_url, f"SELECT count(*) FROM {table}")[0] == 1


def test_check_names_settings_that_pgbouncer_refuses() -> None:
    config = DatabaseSettings(
        URL="postgresql://app@bouncer/app",
        PGBOUNCER=True,
        OPTIONS={
            "async": {"server_settings": {"jit": "off", "application_name": "x"}},
            "sync": {"options": "-c jit=off"},
        },
    )
    found = pgbouncer.problems("default", config)
    assert len(found) == 2
    assert "jit" in found[0]
    assert "application_name" not in found[0]
    assert "ALTER ROLE" in found[1]


def test_manage_check_warns_about_them() -> None:
    result = manage(
        "check",
        database_url="postgresql://app@bouncer:6432/app",
        APP_DATABASES__DEFAULT__PGBOUNCER="true",
        APP_DATABASES__DEFAULT__OPTIONS='{"async": {"server_settings": {"jit": "off"}}}',
    )
    assert result.returncode == 0, result.stderr
    assert "WARNING: DATABASES['default']['OPTIONS'] sends the startup parameter(s) jit" in (
        result.stderr
    )


def test_the_budget_behind_pgbouncer_is_its_max_client_conn(bouncer: PgBouncer) -> None:
    manager = DatabaseSessionManager("default", DatabaseSettings(URL=bouncer.url, PGBOUNCER=True))
    (found,) = budgets(manager, workers=40)
    assert (found.needed, found.limit, found.over) == (40 * 3 * 15, 500, True)
    assert "PgBouncer's max_client_conn" in found.limit_source
    assert "default_pool_size 8" in found.limit_source


def test_two_migrates_through_pgbouncer_apply_the_revision_once(
    bouncer: PgBouncer, postgres_url: str, tmp_path: Path
) -> None:
    with fresh_database(postgres_url) as name:
        through = on_database(bouncer.url, name)
        project = Project(tmp_path, through, settings='DATABASES["default"]["PGBOUNCER"] = True\n')
        project.manage("makemigrations", "-m", "initial")
        (initial,) = project.revisions()
        revision = revision_id(initial)
        project.slow_down(initial, 1.5)

        racers = project.race("migrate", "--database", "default")
        outputs = project.outputs[-2:]
        assert [racer.returncode for racer in racers] == [0, 0], outputs
        assert not any("Traceback" in output for output in outputs), outputs
        assert sum(f"applied {revision}" in output for output in outputs) == 1, outputs
        server = on_database(postgres_url, name)
        assert query(server, "SELECT to_regclass('shop_product') IS NOT NULL") == [(True,)]
        assert query(server, "SELECT version_num FROM alembic_version") == [(revision,)]

        shown = project.manage("showmigrations", "--database", "default")
        assert re.search(rf"\[X\] {revision} \(initial\)", shown), shown
        again = project.manage("migrate", "--database", "default")
        assert "default: no migrations to apply" in again, again
