"""``manage.py dbcheck``, run as a user runs it, against servers that work and ones that do not."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from tests.cli import ROOT, SECRET, manage, password_cluster, with_password
from tests.postgres import ThrowawayCluster

ROLE = "dbcheck_user"


@pytest.fixture(scope="module")
def password_port() -> Iterator[int]:
    """A server that checks passwords; ROLE's real password is not SECRET."""
    with password_cluster(ROLE, "the-right-password") as port:
        yield port


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert SECRET not in result.stdout + result.stderr
    return result.stdout.splitlines()


def test_healthy_database_passes_on_both_sides(database_url: str) -> None:
    result = manage("dbcheck", database_url=with_password(database_url))
    assert result.returncode == 0, result.stdout + result.stderr
    sync, async_, migrations = _lines(result)
    assert sync.split()[:3] == ["default", "sync", "OK"]
    assert async_.split()[:3] == ["default", "async", "OK"]
    assert migrations.split()[:2] == ["default", "migrations:"]
    version = "SQLite" if database_url.startswith("sqlite") else "15."
    assert version in sync
    assert "+asyncpg://" in async_ or "+aiosqlite://" in async_
    assert "pool " in sync
    assert "timeout=30s" in sync


def test_json_report(database_url: str) -> None:
    result = manage("dbcheck", "--json", database_url=with_password(database_url))
    assert result.returncode == 0, result.stderr
    report = msgspec.json.decode(result.stdout)
    assert report["ok"] is True
    (database,) = report["databases"]
    assert database["alias"] == "default"
    assert database["pool"]["size"] in (1, 5)  # an in-memory SQLite pool holds one
    assert [check["side"] for check in database["checks"]] == ["sync", "async"]
    assert all(check["ok"] and check["server_version"] for check in database["checks"])
    assert SECRET not in result.stdout


def test_closed_port_is_connection_refused(closed_port: int) -> None:
    url = f"postgresql://someone:{SECRET}@127.0.0.1:{closed_port}/app"
    result = manage("dbcheck", database_url=url)
    assert result.returncode == 1
    lines = _lines(result)
    assert lines[0].split()[:3] == ["default", "sync", "FAIL"]
    assert "postgresql+psycopg2://someone:********@127.0.0.1" in lines[0]
    assert sum("connection refused. Is the server running" in line for line in lines) == 2
    assert "Traceback" not in result.stderr


def test_wrong_password_is_authentication_failed(password_port: int) -> None:
    url = f"postgresql://{ROLE}:{SECRET}@127.0.0.1:{password_port}/postgres"
    result = manage("dbcheck", database_url=url)
    assert result.returncode == 1
    lines = _lines(result)
    assert sum("authentication failed. Check the user and password" in line for line in lines) == 2


def test_right_password_passes(password_port: int) -> None:
    url = f"postgresql://{ROLE}:the-right-password@127.0.0.1:{password_port}/postgres"
    result = manage("dbcheck", database_url=url)
    assert result.returncode == 0, result.stdout
    assert "the-right-password" not in result.stdout + result.stderr


def test_missing_database(postgres_url: str) -> None:
    url = with_password(postgres_url.rsplit("/", 1)[0] + "/no_such_database_here")
    result = manage("dbcheck", database_url=url)
    assert result.returncode == 1
    lines = _lines(result)
    cause = "the database 'no_such_database_here' does not exist. Create it (createdb"
    assert sum(cause in line for line in lines) == 2


def test_missing_role_is_not_a_missing_database(postgres_url: str) -> None:
    """A server that trusts 127.0.0.1 names the missing role (a password server would not)."""
    host_and_database = postgres_url.split("@", 1)[1]
    url = f"postgresql://no_such_role_here:{SECRET}@{host_and_database}"
    result = manage("dbcheck", database_url=url)
    assert result.returncode == 1
    lines = _lines(result)
    cause = "the role 'no_such_role_here' does not exist. Create it (createuser no_such_role_here)"
    assert sum(cause in line for line in lines) == 2
    assert not any("createdb" in line for line in lines)


def test_a_database_closed_to_connections(postgres_url: str) -> None:
    url = with_password(postgres_url.rsplit("/", 1)[0] + "/template0")
    result = manage("dbcheck", database_url=url)
    assert result.returncode == 1
    cause = "the database 'template0' does not accept connections"
    assert sum(cause in line for line in _lines(result)) == 2


@pytest.fixture(scope="module")
def strict_cluster() -> Iterator[ThrowawayCluster]:
    """A server of our own: roles that cannot connect, and pg_hba.conf serving two databases."""
    if not (shutil.which("initdb") and shutil.which("pg_ctl")):
        pytest.skip("a server of our own needs initdb and pg_ctl")
    cluster = ThrowawayCluster()
    try:
        cluster.psql("CREATE ROLE cannot_login NOLOGIN")
        cluster.psql("CREATE ROLE no_slots LOGIN CONNECTION LIMIT 0")
        hba = cluster.folder / "data" / "pg_hba.conf"
        hba.write_text(
            "local all all trust\nhost postgres,test all 127.0.0.1/32 trust\n", encoding="utf-8"
        )
        cluster.psql("SELECT pg_reload_conf()")
        yield cluster
    finally:
        cluster.stop()


def _strict_url(cluster: ThrowawayCluster, user: str, database: str = "test") -> str:
    return f"postgresql://{user}:{SECRET}@127.0.0.1:{cluster.port}/{database}"


def test_a_role_without_login(strict_cluster: ThrowawayCluster) -> None:
    result = manage("dbcheck", database_url=_strict_url(strict_cluster, "cannot_login"))
    assert result.returncode == 1
    cause = "the role 'cannot_login' may not log in. Give it the LOGIN attribute"
    assert sum(cause in line for line in _lines(result)) == 2


def test_no_connection_left_for_the_role(strict_cluster: ThrowawayCluster) -> None:
    result = manage("dbcheck", database_url=_strict_url(strict_cluster, "no_slots"))
    assert result.returncode == 1
    cause = "the server has no connection left for this user. Lower POOL_SIZE"
    assert sum(cause in line for line in _lines(result)) == 2


def test_a_client_pg_hba_conf_does_not_allow(strict_cluster: ThrowawayCluster) -> None:
    url = _strict_url(strict_cluster, "postgres", database="elsewhere")
    result = manage("dbcheck", database_url=url)
    assert result.returncode == 1
    cause = "the server refused this client (pg_hba.conf)"
    assert sum(cause in line for line in _lines(result)) == 2


def test_a_sqlite_file_in_a_missing_folder(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'folder' / 'app.sqlite3'}"
    result = manage("dbcheck", database_url=url)
    assert result.returncode == 1
    cause = "cannot open the SQLite file. Check that the folder exists"
    assert sum(cause in line for line in _lines(result)) == 2


def test_a_driver_that_is_not_installed(postgres_url: str) -> None:
    """Python's own import error for a package that is missing, here asyncpg."""
    hide_asyncpg = (
        "import sys, runpy; sys.modules['asyncpg'] = None; "
        "sys.argv = ['manage.py', 'dbcheck']; runpy.run_path('manage.py', run_name='__main__')"
    )
    env = {**os.environ, "SETTINGS_MODULE": "settings.test"}
    env["DATABASE_URL"] = with_password(postgres_url)
    result = subprocess.run(
        [sys.executable, "-c", hide_asyncpg],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    lines = _lines(result)
    assert lines[0].split()[:3] == ["default", "sync", "OK"]
    assert lines[1].split()[:3] == ["default", "async", "FAIL"]
    assert "driver not installed. Install the project's dependencies" in lines[2]


def test_unknown_host(closed_port: int) -> None:
    url = f"postgresql://someone:{SECRET}@no-such-host.invalid:{closed_port}/app"
    result = manage("dbcheck", database_url=url)
    assert result.returncode == 1
    assert sum("unknown host. Check the host name" in line for line in _lines(result)) == 2


def test_one_sslmode_in_the_url_serves_both_drivers(postgres_url: str) -> None:
    """libpq's sslmode reaches psycopg2 as sslmode and asyncpg as ssl."""
    result = manage("dbcheck", database_url=with_password(postgres_url) + "?sslmode=disable")
    assert result.returncode == 0, result.stdout
    lines = _lines(result)
    assert "postgresql+psycopg2://" in lines[0]
    assert "?sslmode=disable" in lines[0]
    assert "postgresql+asyncpg://" in lines[1]
    assert "?ssl=disable" in lines[1]


def test_ssl_required_by_the_url_but_not_offered_by_the_server(postgres_url: str) -> None:
    result = manage("dbcheck", database_url=with_password(postgres_url) + "?sslmode=require")
    assert result.returncode == 1
    cause = "the server does not support SSL, but the URL requires it"
    assert sum(cause in line for line in _lines(result)) == 2


def test_a_url_option_a_driver_does_not_know_is_named(postgres_url: str) -> None:
    result = manage("dbcheck", database_url=with_password(postgres_url) + "?frobnicate=1")
    assert result.returncode == 1
    cause = "has an option 'frobnicate' that one of the drivers does not understand"
    assert sum(cause in line for line in _lines(result)) == 2


def test_silent_server_times_out() -> None:
    with socket.socket() as silent:  # accepts connections and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        url = f"postgresql://someone:{SECRET}@127.0.0.1:{port}/app"
        result = manage("dbcheck", "--timeout", "1", database_url=url)
    assert result.returncode == 1
    assert sum("timed out" in line for line in _lines(result)) == 2


def test_wait_retries_until_time_runs_out(closed_port: int) -> None:
    url = f"postgresql://someone:{SECRET}@127.0.0.1:{closed_port}/app"
    result = manage("dbcheck", "--wait", "1.5", "--json", database_url=url)
    assert result.returncode == 1
    report = msgspec.json.decode(result.stdout)
    assert report["attempts"] >= 2
    assert SECRET not in result.stdout + result.stderr


def test_wait_succeeds_once_a_late_server_comes_up(closed_port: int) -> None:
    """A container starting before its database: dbcheck --wait passes once it answers."""
    if not (shutil.which("initdb") and shutil.which("pg_ctl")):
        pytest.skip("starting a late server needs initdb and pg_ctl")
    url = f"postgresql://postgres:{SECRET}@127.0.0.1:{closed_port}/test"
    env = {**os.environ, "SETTINGS_MODULE": "settings.test", "DATABASE_URL": url}
    waiting = subprocess.Popen(
        [sys.executable, "manage.py", "dbcheck", "--wait", "60", "--timeout", "2"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert waiting.stderr is not None
        assert "Waiting" in waiting.stderr.readline()  # the first attempt failed
        cluster = ThrowawayCluster(port=closed_port)
    except BaseException:
        waiting.kill()
        raise
    try:
        stdout, stderr = waiting.communicate(timeout=60)
    finally:
        cluster.stop()
    assert waiting.returncode == 0, stderr
    statuses = [line.split()[:3] for line in stdout.splitlines() if " OK " in line]
    assert statuses == [["default", "sync", "OK"], ["default", "async", "OK"]]
    assert SECRET not in stdout + stderr


def test_each_alias_is_reported_and_database_narrows(postgres_url: str, closed_port: int) -> None:
    replica = f"postgresql://x:{SECRET}@127.0.0.1:{closed_port}/r"
    everything = manage("dbcheck", database_url=postgres_url, APP_DATABASES__REPLICA__URL=replica)
    assert everything.returncode == 1
    statuses = {tuple(line.split()[:3]) for line in _lines(everything) if "FAIL" in line}
    assert statuses == {("replica", "sync", "FAIL"), ("replica", "async", "FAIL")}

    narrowed = manage(
        "dbcheck",
        "--database",
        "default",
        database_url=postgres_url,
        APP_DATABASES__REPLICA__URL=replica,
    )
    assert narrowed.returncode == 0
    assert all(line.startswith("default") for line in _lines(narrowed))


def test_unknown_alias_suggests_the_right_one() -> None:
    result = manage("dbcheck", "--database", "defualt")
    assert result.returncode == 2
    assert "Did you mean 'default'?" in result.stderr


def test_reports_whether_each_database_is_at_head(tmp_path: Path) -> None:
    """The example's first migration ships in migrations/default: a new database is behind."""
    url = f"sqlite:///{tmp_path / 'app.sqlite3'}"

    behind = manage("dbcheck", database_url=url)
    assert behind.returncode == 0, behind.stdout
    assert "NOT at the latest revision (database: none; latest: " in behind.stdout
    assert "Run: python manage.py migrate" in behind.stdout

    assert manage("migrate", database_url=url).returncode == 0
    current = manage("dbcheck", database_url=url)
    assert "migrations: at the latest revision (" in current.stdout

    broken = manage("dbcheck", database_url=url, APP_MIGRATIONS_ENVIRONMENT="nope")
    assert broken.returncode == 1
    assert "MIGRATIONS_ENVIRONMENT = 'nope'" in broken.stdout
    assert "has no env.py" in broken.stdout


def test_dbcheck_and_help_do_not_import_litestar() -> None:
    probe = textwrap.dedent(
        """
        import sys
        from project.management import call_command, cli
        cli.main(["--help"], standalone_mode=False)
        after_help = sorted(m for m in ("litestar", "sqlalchemy") if m in sys.modules)
        call_command("dbcheck")
        print(after_help, "litestar" in sys.modules)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[] False"
