"""Migrations through manage.py, run as a user runs them, on PostgreSQL and SQLite.

A throwaway project (its own settings module, models and versions folders)
goes through the day-two workflow in one long flow per database: the test
changes a model, makes the migration, applies it from two processes at once,
rolls back to zero and forward again, survives a failing revision, and never
prints the password. A second alias on SQLite has its own models and folder.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from tests.cli import ROOT, SECRET, manage, with_password
from tests.throwaway_project import Project, fresh_database, on_database, query, revision_id


@pytest.fixture
def project(database_url: str, tmp_path: Path) -> Iterator[Project]:
    """The throwaway project on a fresh database (its own PostgreSQL database, or a file)."""
    if not database_url.startswith("postgresql"):
        yield Project(tmp_path, database_url)
        return
    with fresh_database(database_url) as name:
        # A "%" in the password (percent-encoded) must not reach Alembic's configparser.
        yield Project(tmp_path, with_password(on_database(database_url, name), f"{SECRET}%25x"))


def _query(project: Project, sql: str) -> list[tuple[object, ...]]:
    return query(project.url, sql)


def _columns(project: Project, table: str) -> set[str]:
    if project.url.startswith("sqlite"):
        return {str(row[1]) for row in _query(project, f"PRAGMA table_info({table})")}
    rows = _query(
        project,
        f"SELECT column_name FROM information_schema.columns WHERE table_name = '{table}'",
    )
    return {str(row[0]) for row in rows}


def test_day_two_workflow(project: Project) -> None:
    # No migration yet: --check fails and names what is missing, per alias.
    missing = project.manage("makemigrations", "--check", code=1)
    assert "default: the models have changes" in missing
    assert "create table shop_product" in missing
    assert "other: the models have changes" in missing
    assert "create table shop_note" in missing
    assert "default: No changes" not in missing

    project.manage("makemigrations", "-m", "initial")
    (initial,) = project.revisions()
    assert len(project.revisions("other")) == 1
    assert "No changes detected" in project.manage("makemigrations", "--check")
    assert "default: applied" in project.manage("migrate")

    # The test changes a model: --check fails before makemigrations, passes after.
    project.models("colour: Mapped[str | None] = mapped_column(String(20))")
    dry = project.manage("makemigrations", "--dry-run")
    assert "add column shop_product.colour" in dry
    assert "other: No changes detected" in dry
    assert "add column shop_product.colour" in project.manage("makemigrations", "--check", code=1)
    project.manage("makemigrations")
    assert "No changes detected" in project.manage("makemigrations", "--check")
    first, second = (revision_id(path) for path in project.revisions())
    assert first == revision_id(initial)

    shown = project.manage("showmigrations")
    assert re.search(rf"\[X\] {first} \(initial\)  \(current\)", shown), shown
    assert re.search(rf"\[ \] {second} \(add column shop_product.colour\)  \(head\)", shown)
    assert "alembic_version_other" in shown
    assert "would apply 1" in project.manage("migrate", "--check", code=1)

    sql = project.manage("sqlmigrate", second[:6])
    assert re.search(r"ALTER TABLE shop_product ADD( COLUMN)? colour VARCHAR\(20\)", sql), sql
    # SQLite rebuilds the table to drop a column (batch mode): its SQL comes from a real run.
    backwards = project.manage("sqlmigrate", second, "--backwards")
    assert "DROP COLUMN colour" in backwards or "_alembic_tmp_shop_product" in backwards

    # Two migrate processes at once: the revision runs once, both succeed.
    project.slow_down(project.revisions()[1], 1.5)
    racers = project.race("migrate", "--database", "default")
    outputs = project.outputs[-2:]
    assert [racer.returncode for racer in racers] == [0, 0], outputs
    assert sum(f"applied {second}" in output for output in outputs) == 1, outputs
    assert "colour" in _columns(project, "shop_product")
    assert _query(project, "SELECT version_num FROM alembic_version") == [(second,)]

    # Back to zero and forward again.
    project.manage("migrate", "zero", "--database", "default")
    assert _columns(project, "shop_product") == set()
    assert f"[ ] {first}" in project.manage("showmigrations", "--database", "default")
    if project.url.startswith("postgresql"):
        _waits_for_the_lock_then_gives_up(project)
    project.manage("migrate", first, "--database", "default")
    assert "colour" not in _columns(project, "shop_product")
    assert f"applied {second}" in project.manage("migrate")

    # A failing revision: one paragraph, and the schema is left as it was.
    project.manage("makemigrations", "--empty", "-m", "broken")
    broken = project.revisions()[-1]
    failing = """
def upgrade() -> None:
    import sqlalchemy as sa
    from alembic import op

    op.create_table("shop_extra", sa.Column("id", sa.Integer(), primary_key=True))
    op.execute("UPDATE shop_product SET nope = 1")
"""
    broken.write_text(broken.read_text().replace("\ndef upgrade() -> None:\n    pass\n", failing))
    failed = project.manage("migrate", code=1)
    assert f"revision {revision_id(broken)} (broken)" in failed
    assert "UPDATE shop_product SET nope = 1" in failed
    assert "nope" in failed.lower()
    assert f"still at {second}" in failed
    assert len(failed.strip().splitlines()) == 1
    assert _columns(project, "shop_extra") == set()
    assert _query(project, "SELECT version_num FROM alembic_version") == [(second,)]
    broken.unlink()

    # Two branches made in parallel: refused until merged; then planned, shown as SQL, faked.
    for letter in "ab":
        (project.folder / "migrations" / "default" / f"0003_{letter * 8}_branch.py").write_text(
            f'"""branch {letter}"""\nrevision = "0003_{letter * 8}"\n'
            f'down_revision = "{second}"\n\n\ndef upgrade() -> None:\n    pass\n\n\n'
            "def downgrade() -> None:\n    pass\n"
        )
    assert "Run: python manage.py makemigrations --merge" in project.manage(
        "makemigrations", code=1
    )
    assert "several heads (0003_aaaaaaaa, 0003_bbbbbbbb)" in project.manage("migrate", code=1)
    project.manage("makemigrations", "--merge")
    merge = revision_id(project.revisions()[-1])
    assert "default: would apply 3:" in project.manage("migrate", "--plan")
    assert f"Running upgrade 0003_aaaaaaaa, 0003_bbbbbbbb -> {merge}" in project.manage(
        "migrate", "--sql", "--database", "default"
    )
    assert "recorded as applied" in project.manage("migrate", "--fake")
    assert f"[X] {merge} (merge 0003_aaaaaaaa and 0003_bbbbbbbb)  (head, current)" in (
        project.manage("showmigrations")
    )

    # The app refuses to start when the production check finds unapplied migrations.
    project.manage("migrate", first, "--database", "default")
    refused = manage(
        "shell",
        "-c",
        "print('served')",
        database_url=project.url,
        APP_MIGRATIONS_STARTUP_CHECK="fail",
        **project.env,
    )
    project.outputs.append(refused.stdout + refused.stderr)
    assert refused.returncode != 0
    assert f"Database 'default' has unapplied migrations: {second}" in refused.stderr
    assert "served" not in refused.stdout

    for output in project.outputs:
        assert SECRET not in output


def _waits_for_the_lock_then_gives_up(project: Project) -> None:
    """While another session holds the migration lock, migrate waits, then says so."""
    with psycopg2.connect(project.url) as holder, holder.cursor() as cursor:
        key = "project.migrations:alembic_version"
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [key])
        output = project.manage("migrate", "--database", "default", "--lock-timeout", "0.5", code=1)
    assert "another migrate has held the migration lock for over 0.5s" in output
    assert "nothing was run" in output
    assert _columns(project, "shop_product") == set()


def test_a_database_that_is_down_is_one_line(project: Project, tmp_path: Path) -> None:
    if project.url.startswith("postgresql"):
        project.url = f"postgresql://postgres:{SECRET}@127.0.0.1:1/nowhere"
        cause = "connection refused. Is the server running"
    else:
        project.url = f"sqlite:///{tmp_path / 'missing' / 'db.sqlite3'}"
        cause = "cannot open the SQLite file. Check that the folder exists"
    for command in ("migrate", "showmigrations"):
        output = project.manage(command, "--database", "default", code=1)
        assert cause in output
        assert "Error: Database 'default' (" in output
        assert len(output.strip().splitlines()) == 1, output
        assert SECRET not in output


async def test_commands_run_inside_a_running_event_loop(caplog: pytest.LogCaptureFixture) -> None:
    """Everything is sync on the sync engine: no asyncio.run, so a running loop is fine."""
    from project.database import databases
    from project.management import call_command
    from project.migrations.startup import check_migrations

    call_command("showmigrations")
    with caplog.at_level(logging.WARNING, logger="project.migrations"):
        check_migrations(databases, "warn")
    for record in caplog.records:
        if record.name == "project.migrations":
            assert "unapplied migrations" in record.getMessage()


def test_migrate_and_showmigrations_import_neither_litestar_nor_the_models() -> None:
    probe = (
        "import sys\n"
        "from project.management import call_command\n"
        "call_command('showmigrations')\n"
        "call_command('migrate', '--plan')\n"
        "call_command('sqlmigrate', '0001')\n"
        "heavy = ('litestar', 'advanced_alchemy', 'project.example.models')\n"
        "print([name for name in heavy if name in sys.modules])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"


def test_a_role_that_may_not_create_databases_is_told_to_get_createdb(
    postgres_url: str, tmp_path: Path
) -> None:
    """makemigrations --check needs a throwaway database; without CREATEDB it says so."""
    role = f"no_createdb_{uuid.uuid4().hex[:8]}"
    _admin(postgres_url, f"CREATE ROLE {role} LOGIN NOCREATEDB")
    try:
        with fresh_database(postgres_url) as name:
            url = on_database(postgres_url, name).replace("//postgres@", f"//{role}@", 1)
            project = Project(tmp_path, url)
            output = project.manage("makemigrations", "--check", code=1)
            assert "could not create one" in output
            assert "Give the role CREATEDB" in output
    finally:
        _admin(postgres_url, f"DROP ROLE {role}")


def _admin(url: str, sql: str) -> None:
    connection = psycopg2.connect(url)
    connection.autocommit = True
    with connection, connection.cursor() as cursor:
        cursor.execute(sql)
    connection.close()
