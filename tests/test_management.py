"""Commands that projects and plugins add to manage.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli import ROOT

HELLO = '''
"""Say hello."""

import click


@click.command()
@click.argument("name")
def command(name: str) -> str:
    """Greet NAME."""
    click.echo(f"hello {name}")
    return name.upper()
'''


BYE = '''
"""Module docstring: not the help."""

import click


@click.command(help="Say goodbye to NAME.")
@click.option("--loud", is_flag=True, help="Option help: not the command's.")
@click.argument("name")
def command(name: str, loud: bool) -> None:
    click.echo(f"bye {name}")
'''

PROBE = """
import sys
from project.management import cli
cli.main(sys.argv[1:], standalone_mode=False)
prefixes = ("project.management.commands.", "extra_commands.")
commands = sorted(m for m in sys.modules if m.startswith(prefixes))
heavy = sorted(m for m in ("litestar", "sqlalchemy") if m in sys.modules)
print("imported:", commands, heavy)
"""


@pytest.fixture
def command_package(tmp_path: Path) -> Path:
    package = tmp_path / "extra_commands"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "hello.py").write_text(HELLO)
    (package / "bye.py").write_text(BYE)
    (package / "notes.py").write_text('"""Helpers, but no command."""\n')
    # An installed distribution that adds the same command under another name.
    dist = tmp_path / "extra_commands-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: extra-commands\nVersion: 1.0\n")
    entry_point = "greet = extra_commands.hello:command"
    (dist / "entry_points.txt").write_text(f"[project.commands]\n{entry_point}\n")
    return tmp_path


def _manage(path: Path, *args: str, probe: bool = False) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SETTINGS_MODULE": "settings.test",
        "APP_COMMAND_PACKAGES": "extra_commands",
        "PYTHONPATH": str(path),
    }
    program = ["-c", PROBE] if probe else ["manage.py"]
    return subprocess.run(
        [sys.executable, *program, *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_a_command_package_from_the_settings_adds_commands(command_package: Path) -> None:
    listed = _manage(command_package, "--help")
    assert listed.returncode == 0, listed.stderr
    assert "hello" in listed.stdout
    assert "Greet NAME." in listed.stdout

    ran = _manage(command_package, "hello", "world")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "hello world"

    near = _manage(command_package, "helo")
    assert "Did you mean 'hello'?" in near.stderr


def test_an_installed_package_adds_commands_through_its_entry_point(
    command_package: Path,
) -> None:
    listed = _manage(command_package, "--help")
    assert "greet" in listed.stdout
    ran = _manage(command_package, "greet", "plugin")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "hello plugin"


def test_call_command_runs_a_command_from_code(
    command_package: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from project.conf import override_settings
    from project.management import call_command

    monkeypatch.syspath_prepend(str(command_package))
    with override_settings(COMMAND_PACKAGES=["extra_commands"]):
        assert call_command("hello", "code") == "CODE"


def test_help_lists_every_command_without_importing_one(command_package: Path) -> None:
    listed = _manage(command_package, "--help", probe=True)
    assert listed.returncode == 0, listed.stderr
    for name in ("check", "dbcheck", "diffsettings", "runserver", "shell", "hello", "greet"):
        assert f"  {name} " in listed.stdout
    assert "Check that every database answers, both drivers." in listed.stdout
    assert "Say goodbye to NAME." in listed.stdout  # the decorator's help= wins
    assert "Option help" not in listed.stdout
    assert listed.stdout.splitlines()[-1] == "imported: [] []"


def test_running_a_command_imports_that_command_only(command_package: Path) -> None:
    ran = _manage(command_package, "bye", "you", probe=True)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == ["bye you", "imported: ['extra_commands.bye'] []"]


def test_an_unknown_command_imports_none_and_suggests_one(command_package: Path) -> None:
    near = _manage(command_package, "dbchek", probe=True)
    assert "Did you mean 'dbcheck'?" in near.stderr
    assert "imported:" not in near.stdout  # click stops at the usage error


def test_the_command_list_is_found_once() -> None:
    from project.management import get_commands

    assert get_commands() is get_commands()
    assert get_commands()["diffsettings"] == "project.management.commands.diffsettings"


def test_a_module_without_a_command_says_how_to_make_one(command_package: Path) -> None:
    ran = _manage(command_package, "notes")
    assert ran.returncode == 1
    assert "extra_commands.notes does not define a click command named 'command'" in ran.stderr
    assert "Traceback" not in ran.stderr
