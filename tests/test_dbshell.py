"""``manage.py dbshell``: the database's own client, with the password kept off its command line."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli import SECRET, manage, password_cluster, with_password

ROLE = "dbshell_user"


@pytest.fixture(scope="module")
def password_port() -> Iterator[int]:
    with password_cluster(ROLE, SECRET) as port:
        yield port


def test_psql_runs_a_query(postgres_url: str) -> None:
    result = manage(
        "dbshell", "--", "-tAc", "select 40 + 2", database_url=with_password(postgres_url)
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "42"


def test_password_reaches_psql_through_the_environment(password_port: int) -> None:
    url = f"postgresql://{ROLE}:{SECRET}@127.0.0.1:{password_port}/postgres"
    result = manage("dbshell", "--", "-tAc", "select current_user", database_url=url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ROLE


def test_password_is_never_on_the_command_line(tmp_path: Path, postgres_url: str) -> None:
    fake = tmp_path / "psql"
    fake.write_text('#!/bin/sh\necho "argv: $*"\necho "env: $PGPASSWORD"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    url = with_password(postgres_url) + "?sslmode=disable"
    path = f"{tmp_path}{os.pathsep}{os.environ['PATH']}"
    result = manage("dbshell", "--", "-c", "select 1", database_url=url, PATH=path)
    assert result.returncode == 0, result.stderr
    argv, env = result.stdout.splitlines()
    assert SECRET not in argv
    assert "--dbname=postgresql://postgres@127.0.0.1:" in argv
    assert argv.endswith("?sslmode=disable -c select 1")
    assert env == f"env: {SECRET}"


def test_client_exit_code_is_passed_on(postgres_url: str) -> None:
    result = manage("dbshell", "--", "-c", "select no_such_column", database_url=postgres_url)
    assert result.returncode != 0
    assert "no_such_column" in result.stderr


def test_sqlite3_opens_the_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.sqlite3'}"
    result = manage("dbshell", "--", "select 6 * 7", database_url=url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "42"


def test_missing_client_is_a_clear_error(tmp_path: Path, postgres_url: str) -> None:
    result = manage("dbshell", database_url=with_password(postgres_url), PATH=str(tmp_path))
    assert result.returncode == 1
    assert "dbshell needs the 'psql' client, which is not on PATH" in result.stderr
    assert SECRET not in result.stdout + result.stderr


def test_in_memory_sqlite_has_no_client() -> None:
    result = manage("dbshell", database_url="sqlite://")
    assert result.returncode == 1
    assert "in-memory SQLite database" in result.stderr
