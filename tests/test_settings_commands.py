"""``python manage.py ...`` as a user types it, and secrets kept out of every output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import make_url

from project.conf import SettingsError, override_settings, settings
from project.database import CheckResult, DatabaseRegistry, DatabaseSessionManager
from project.loader import load
from project.schema import DatabaseSettings

ROOT = Path(__file__).resolve().parent.parent
SECRET_PASSWORD = "Hunter2SecretPw"
SECRET_KEY = "TopSecretKey8231"


def manage(
    *args: str, pythonpath: Path | None = None, **environ: str
) -> subprocess.CompletedProcess[str]:
    """Run manage.py from the project folder with only the variables given."""
    env = {"PATH": os.environ["PATH"], "SETTINGS_MODULE": "settings.development", **environ}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def write_settings_module(folder: Path, source: str) -> str:
    package = folder / "usersettings"
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "local.py").write_text(textwrap.dedent(source))
    return "usersettings.local"


# --- manage.py itself -----------------------------------------------------


def test_help_lists_commands_without_importing_litestar_or_sqlalchemy() -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "manage.py", "--help"],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "check" in result.stdout
    assert "diffsettings" in result.stdout
    imported = {
        line.rpartition("|")[2].strip().split(".")[0]
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "click" in imported  # the import log is what we think it is
    assert not imported & {"litestar", "sqlalchemy", "asyncpg", "psycopg2", "aiosqlite"}


def test_help_works_when_the_settings_are_broken() -> None:
    result = manage("--help", SETTINGS_MODULE="settings.nope")
    assert result.returncode == 0
    assert "diffsettings" in result.stdout


def test_an_unknown_command_gets_did_you_mean() -> None:
    result = manage("chek")
    assert result.returncode == 2
    assert "Unknown command 'chek'. Did you mean 'check'?" in result.stderr


def test_a_missing_settings_module_is_one_paragraph_not_a_traceback() -> None:
    result = manage("--settings", "settings.nope", "diffsettings")
    assert result.returncode == 1
    assert result.stderr.startswith("Settings error: Settings module 'settings.nope' could not")
    assert "settings.development" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_settings_option_wins_over_the_environment() -> None:
    result = manage("--settings", "settings.production", "check", SETTINGS_MODULE="settings.test")
    assert result.returncode == 1
    assert "Checked settings 'settings.production'" in result.stdout


# --- diffsettings -----------------------------------------------------------


def test_diffsettings_shows_changes_and_their_layer() -> None:
    result = manage("diffsettings", APP_DATABASES__DEFAULT__POOL_SIZE="20")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert (
        "DATABASES['default']['POOL_SIZE'] = 20  # environment variable "
        "APP_DATABASES__DEFAULT__POOL_SIZE" in lines
    )
    assert "DEBUG = True  # settings module settings/development.py:5" in lines
    assert not any(line.startswith("MIGRATIONS_ENVIRONMENT") for line in lines)


def test_diffsettings_all_json_lists_every_setting_for_machines() -> None:
    result = manage("diffsettings", "--all", "--json")
    assert result.returncode == 0, result.stderr
    by_name = {line["name"]: line for line in json.loads(result.stdout)}
    environment = by_name["MIGRATIONS_ENVIRONMENT"]
    assert (environment["value"], environment["changed"]) == ("", False)
    assert environment["source"].startswith("default project/global_settings.py:")
    assert by_name["DEBUG"]["changed"] is True
    assert by_name["DATABASES['default']['MAX_OVERFLOW']"]["value"] == 10


def test_diffsettings_all_names_the_layer_that_set_a_value_equal_to_the_default() -> None:
    result = manage(
        "diffsettings", "--all", APP_DEBUG="false", SETTINGS_MODULE="settings.development"
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "DEBUG = False  # environment variable APP_DEBUG  ###" in lines
    assert "ENVIRONMENT = 'development'  # settings module settings/development.py:6  ###" in lines
    # No layer sets it: the schema filled it in, not settings/base.py that gave the URL.
    assert "DATABASES['default']['POOL_SIZE'] = 5  # default  ###" in lines
    secret = next(line for line in lines if line.startswith("SECRET_KEY"))
    assert secret.startswith("SECRET_KEY = ''  # default project/global_settings.py:")
    assert secret.endswith("  ###")


def test_diffsettings_json_gives_the_true_source_of_an_unchanged_value() -> None:
    result = manage("diffsettings", "--all", "--json", APP_DEBUG="false")
    by_name = {line["name"]: line for line in json.loads(result.stdout)}
    assert by_name["DEBUG"] == {
        "name": "DEBUG",
        "value": False,
        "source": "environment variable APP_DEBUG",
        "changed": False,
    }


def test_diffsettings_from_code_names_an_override_as_the_source() -> None:
    from project.conf import override_settings
    from project.management.commands.diffsettings import setting_lines

    with override_settings(DEBUG=False):
        debug = next(line for line in setting_lines(show_all=True) if line.name == "DEBUG")
    assert (debug.source, debug.changed) == ("override override_settings()", False)


# --- check --------------------------------------------------------------------


def test_check_passes_good_settings(tmp_path: Path) -> None:
    module = write_settings_module(
        tmp_path,
        """
        DATABASES = {'default': {'URL': 'sqlite://'}}
        SECRET_KEY = 'a-long-random-string'
        PLUGINS = ['plugins.database.DatabasePlugin']
        """,
    )
    result = manage("check", SETTINGS_MODULE=module, pythonpath=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"Checked settings {module!r}: no problems found."
    assert result.stderr == ""


def test_check_prints_every_problem_and_exits_1(tmp_path: Path) -> None:
    module = write_settings_module(
        tmp_path,
        """
        DATABASES = {'default': {'URL': 'sqlite://', 'POOL_SZE': 5}}
        DEBUG = 'yes'
        ROUTE_HANDLERS = ['project.exmaple.routes.router']
        MODEL_MODULES = ['project.example.modles']
        """,
    )
    result = manage("check", SETTINGS_MODULE=module, pythonpath=tmp_path)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR: ")]
    assert len(errors) == 4
    assert "did you mean POOL_SIZE?" in errors[0] + errors[1]
    assert "Setting DEBUG must be bool, but got 'yes'" in errors[0] + errors[1]
    assert "ROUTE_HANDLERS names 'project.exmaple.routes.router'" in errors[2]
    assert "MODEL_MODULES names 'project.example.modles'" in errors[3]
    assert "WARNING: SECRET_KEY is empty" in result.stderr
    assert "5 problems found" in result.stdout


def test_check_reports_a_broken_settings_module(tmp_path: Path) -> None:
    module = write_settings_module(tmp_path, "DEBUG = (\n")
    result = manage("check", SETTINGS_MODULE=module, pythonpath=tmp_path)
    assert result.returncode == 1
    assert "failed to import at" in result.stderr
    assert "SyntaxError" in result.stderr
    assert "Traceback" not in result.stderr


# --- secrets ------------------------------------------------------------------


@pytest.fixture
def secret_url(postgres_url: str) -> str:
    return make_url(postgres_url).set(password=SECRET_PASSWORD).render_as_string(False)


async def test_no_output_ever_shows_a_secret(
    secret_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.chdir(tmp_path)
    secrets = {
        "DATABASE_URL": secret_url,
        "APP_SECRET_KEY": SECRET_KEY,
        "APP_DATABASES__DEFAULT__OPTIONS__PASSWORD": SECRET_PASSWORD,
    }
    outputs: list[str] = []

    def run(*args: str, **environ: str) -> None:
        result = manage(*args, **{**secrets, **environ})
        outputs.append(result.stdout + result.stderr)

    run("diffsettings")
    run("diffsettings", "--all")
    run("diffsettings", "--all", "--json")
    run("check")
    run("check", APP_DEBUG="maybe", APP_SECRET_KEY="")
    run("check", APP_SECRET_KEY='{"not": "a string"}')
    run("check", DATABASE_URL=f"mysql://app:{SECRET_PASSWORD}@db/app")
    run("check", DATABASE_URL=f"postgresql://app:{SECRET_PASSWORD}#@db/app")
    run("diffsettings", DATABASE_URL=f"postgresql://app:{SECRET_PASSWORD}@db/app?oops")
    run("diffsettings", APP_DATABASES__DEFAULT__POOL_SZE="1")

    bad_url = f"oracle://a:{SECRET_PASSWORD}@b/c"
    outputs += load("settings.development", {**secrets, "DATABASE_URL": bad_url}).problems
    with pytest.raises(SettingsError) as caught:
        DatabaseSessionManager("x", DatabaseSettings(URL=bad_url))
    outputs.append(str(caught.value))

    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SETTINGS_MODULE", "settings.development")
    monkeypatch.setenv("APP_DATABASES__DEFAULT__ECHO", "true")
    settings.reset()
    try:
        config = settings.DATABASES["default"]
        outputs += [repr(settings), repr(config), str(config)]
        with pytest.raises(SettingsError) as caught, override_settings(SECRET_KEY=[SECRET_KEY]):
            pass
        outputs.append(str(caught.value))
        registry = DatabaseRegistry(
            {
                "default": DatabaseSettings(URL=secret_url),
                "down": DatabaseSettings(
                    URL=f"postgresql://app:{SECRET_PASSWORD}@127.0.0.1:1/app", CONNECT_TIMEOUT=2
                ),
            }
        )
        outputs.append(repr(registry))
        for manager in registry.values():
            results: list[CheckResult] = [manager.check(), await manager.acheck()]
            outputs += [repr(manager), repr(manager.sync_engine), repr(manager.async_engine)]
            outputs += [repr(result) for result in results]
        assert [result.ok for result in results] == [False, False]  # "down" failed, as meant
        outputs.append(repr(registry))
        await registry.close_all()
    finally:
        settings.reset()
    outputs.append(caplog.text)

    everything = "\n".join(outputs)
    assert "********" in everything
    assert "DEBUG must be bool" in everything  # the failing runs did report their errors
    assert SECRET_PASSWORD not in everything
    assert SECRET_KEY not in everything
