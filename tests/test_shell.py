"""``manage.py shell`` on a migrated database, run as a user runs them."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pexpect
import psycopg2
import pytest

from tests.cli import ROOT, SECRET, manage, with_password


@pytest.fixture
def url(database_url: str) -> str:
    """The database migrated from scratch (and a password in PostgreSQL URLs)."""
    if database_url.startswith("postgresql"):
        with psycopg2.connect(database_url) as connection, connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS example_item, alembic_version")
    url = with_password(database_url)
    migrated = manage("migrate", database_url=url)
    assert migrated.returncode == 0, migrated.stderr
    assert "default: applied" in migrated.stdout
    return url


def test_c_runs_code_with_top_level_await(url: str) -> None:
    code = (
        "forty = await asession.scalar(text('select 40'))\n"
        "print(forty + session.scalar(text('select 2')))\n"
        "print(sorted(name for name in dir() if not name.startswith('_')))"
    )
    result = manage("shell", "-c", code, database_url=url)
    assert result.returncode == 0, result.stderr
    answer, names = result.stdout.splitlines()
    assert answer == "42"
    for name in ("settings", "app", "db", "session", "asession", "select", "text", "Item"):
        assert repr(name) in names
    assert SECRET not in result.stdout + result.stderr


def test_stdin_script_commits_what_it_commits_and_nothing_else(url: str) -> None:
    kept, dropped = (f"{word}-{uuid.uuid4().hex[:8]}" for word in ("kept", "dropped"))
    script = (
        f"asession.add(Item(name={kept!r}, quantity=3))\n"
        "await asession.commit()\n"
        f"asession.add(Item(name={dropped!r}))\n"
        "await asession.flush()  # never committed: rolled back when the shell exits\n"
    )
    written = manage("shell", database_url=url, input=script)
    assert written.returncode == 0, written.stderr

    query = "print([session.scalar(select(Item.quantity).where(Item.name == n)) for n in {names}])"
    read = manage("shell", database_url=url, input=query.format(names=[kept, dropped]))
    assert read.returncode == 0, read.stderr
    assert read.stdout.strip() == "[3, None]"


def test_one_session_can_write_while_the_other_has_read(url: str) -> None:
    """On SQLite the shell's sessions begin DEFERRED: a read does not lock out the other."""
    name = f"both-{uuid.uuid4().hex[:8]}"
    code = (
        "before = await asession.scalar(select(Item.id).limit(1))\n"
        f"session.add(Item(name={name!r}, quantity=1)); session.commit()\n"
        "await asession.commit()  # ends its read transaction: the next read sees the write\n"
        f"print(await asession.scalar(select(Item.quantity).where(Item.name == {name!r})))"
    )
    result = manage("shell", "-c", code, database_url=url, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"


def test_script_exception_exits_1_with_a_short_traceback(database_url: str) -> None:
    script = "x = 1\nawait asession.execute(text('select * from no_such_table_here'))\n"
    result = manage("shell", database_url=with_password(database_url), input=script)
    assert result.returncode == 1
    assert result.stderr.startswith("Traceback (most recent call last):")
    assert 'File "<stdin>", line 2, in <module>' in result.stderr
    assert "no_such_table_here" in result.stderr
    assert "project/management" not in result.stderr
    assert SECRET not in result.stdout + result.stderr


def test_sys_exit_code_is_kept() -> None:
    assert manage("shell", "-c", "raise SystemExit(3)", "--no-imports").returncode == 3


def test_no_imports_gives_a_bare_namespace() -> None:
    result = manage("shell", "--no-imports", "-c", "print(sorted(n for n in dir() if n[0] != '_'))")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['asyncio']"


def test_migrate_twice_has_nothing_left_to_do(url: str) -> None:
    again = manage("migrate", database_url=url)
    assert again.returncode == 0, again.stderr
    assert "default: no migrations to apply" in again.stdout
    assert SECRET not in again.stdout + again.stderr


# --- interactive, through a pseudo-terminal ------------------------------------------------


def _spawn(interface: str, url: str, tmp_path: Path) -> pexpect.spawn:
    env = {
        **os.environ,
        "SETTINGS_MODULE": "settings.test",
        "DATABASE_URL": url,
        "IPYTHONDIR": str(tmp_path / "ipython"),
        "IPY_TEST_SIMPLE_PROMPT": "1",  # IPython's plain prompt: same cells, no redraws
        "TERM": "dumb",
    }
    return pexpect.spawn(
        sys.executable,
        ["manage.py", "shell", "-i", interface],
        cwd=str(ROOT),
        env=env,
        encoding="utf-8",
        timeout=30,
    )


@pytest.mark.parametrize("interface", ["python", "ipython"])
def test_interactive_console_awaits_on_the_apps_loop(
    interface: str, database_url: str, tmp_path: Path
) -> None:
    child = _spawn(interface, with_password(database_url), tmp_path)
    child.expect("Top-level await works")
    child.expect(r"Databases:\s+default\s+(\S+)")
    banner_url = child.match.group(1)
    prompt = ">>> " if interface == "python" else r"In \[\d+\]: "
    child.expect(prompt)
    child.sendline("answer = await asession.scalar(text('select 40 + 2')); print('got', answer)")
    child.expect("got 42")
    child.expect(prompt)
    # The app's lifespan task runs on the loop that runs the console's code.
    tasks = "asyncio.all_tasks()"
    child.sendline(
        f"await asyncio.sleep(0); print('same loop:', any('_hold' in repr(t) for t in {tasks}))"
    )
    child.expect(r"same loop: (\w+)")
    assert child.match.group(1) == "True"
    child.expect(prompt)
    child.sendline("1/0")
    child.expect("ZeroDivisionError")
    child.expect(prompt)
    child.sendline("exit()")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert SECRET not in banner_url
    assert SECRET not in (child.before or "")
