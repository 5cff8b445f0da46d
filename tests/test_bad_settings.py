"""Broken settings, each refused by ``manage.py check`` with the paragraph it gives.

Every case runs ``manage.py check`` as a user would, with environment
variables or a settings module of their own, and asserts a fragment of the
message: what is wrong, the allowed values and where the value came from.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import textwrap
from pathlib import Path

import pytest

from tests.cli import SECRET, manage

PG = "postgresql://app@db.internal:5432/app"
_packages = itertools.count()


def env(expected: str, id: str, **variables: str) -> object:
    """A case of environment variables over the test settings."""
    return pytest.param(None, variables, expected, id=id)


def module(expected: str, id: str, source: str, **variables: str) -> object:
    """A case of a settings module ``{pkg}.local``, written by the user in the folder ``{dir}``."""
    return pytest.param(textwrap.dedent(source).lstrip("\n"), variables, expected, id=id)


CASES = [
    # --- types and choices, from the environment
    env(
        "Setting DEBUG must be bool, but got 'maybe' (from environment variable APP_DEBUG)",
        "debug-not-bool",
        APP_DEBUG="maybe",
    ),
    env(
        "ENVIRONMENT must be one of 'development', 'test', 'production', but got 'staging'",
        "environment-unknown",
        APP_ENVIRONMENT="staging",
    ),
    env(
        "DATABASE_STARTUP_CHECK must be one of 'fail', 'warn', 'off'",
        "startup-check-unknown",
        APP_DATABASE_STARTUP_CHECK="sometimes",
    ),
    env("Setting PLUGINS must be list[str]", "plugins-bad-json", APP_PLUGINS="[not json"),
    env(
        "['PRE_PING'] must be bool, but got 'perhaps'",
        "pre-ping-not-bool",
        APP_DATABASES__DEFAULT__PRE_PING="perhaps",
    ),
    env(
        "['TRANSACTION'] must be one of 'auto', 'atomic', 'autocommit'",
        "transaction-unknown",
        APP_DATABASES__DEFAULT__TRANSACTION="sometimes",
    ),
    env(
        "['OPTIONS'] must be dict[str, any value]",
        "options-not-json",
        APP_DATABASES__DEFAULT__OPTIONS="timeout=3",
    ),
    # --- ranges
    env(
        "['POOL_SIZE'] must be an integer ≥ 0, but got '-1' "
        "(from environment variable APP_DATABASES__DEFAULT__POOL_SIZE)",
        "pool-size-negative",
        APP_DATABASES__DEFAULT__POOL_SIZE="-1",
    ),
    env(
        "['POOL_SIZE'] must be an integer ≥ 0, but got 'five'",
        "pool-size-text",
        APP_DATABASES__DEFAULT__POOL_SIZE="five",
    ),
    env(
        "['POOL_SIZE'] must be an integer ≥ 0, but got '2.5'",
        "pool-size-fraction",
        APP_DATABASES__DEFAULT__POOL_SIZE="2.5",
    ),
    env(
        "['MAX_OVERFLOW'] must be an integer ≥ 0, but got '-5'",
        "max-overflow-negative",
        APP_DATABASES__DEFAULT__MAX_OVERFLOW="-5",
    ),
    env(
        "['POOL_TIMEOUT'] must be a number > 0 and ≤ 86400, but got '-5'",
        "pool-timeout-negative",
        APP_DATABASES__DEFAULT__POOL_TIMEOUT="-5",
    ),
    env(
        "['POOL_TIMEOUT'] must be a number > 0 and ≤ 86400, but got '0'",
        "pool-timeout-zero",
        APP_DATABASES__DEFAULT__POOL_TIMEOUT="0",
    ),
    env(
        "['POOL_TIMEOUT'] must be a number > 0 and ≤ 86400, but got 'inf'",
        "pool-timeout-infinite",
        APP_DATABASES__DEFAULT__POOL_TIMEOUT="inf",
    ),
    env(
        "['POOL_RECYCLE'] must be an integer ≥ -1, but got '-2'",
        "pool-recycle-below-never",
        APP_DATABASES__DEFAULT__POOL_RECYCLE="-2",
    ),
    env(
        "['PING_IDLE_AFTER'] must be a number ≥ 0 and ≤ 86400, but got '-1'",
        "ping-idle-after-negative",
        APP_DATABASES__DEFAULT__PING_IDLE_AFTER="-1",
    ),
    env(
        "['CONNECT_TIMEOUT'] must be a number > 0 and ≤ 86400, but got '-1'",
        "connect-timeout-negative",
        APP_DATABASES__DEFAULT__CONNECT_TIMEOUT="-1",
    ),
    env(
        "['CONNECT_TIMEOUT'] must be a number > 0 and ≤ 86400, but got 'nan'",
        "connect-timeout-nan",
        APP_DATABASES__DEFAULT__CONNECT_TIMEOUT="nan",
    ),
    # --- unknown keys
    env(
        "a database entry has no key POOL_SIZ; did you mean POOL_SIZE?",
        "database-key-misspelt",
        APP_DATABASES__DEFAULT__POOL_SIZ="5",
    ),
    env("DEBUG has no keys to set with '__'", "nested-plain-setting", APP_DEBUG__ON="1"),
    env(
        "Unknown setting DEBGU (environment variable APP_DEBGU): did you mean DEBUG?",
        "setting-misspelt-env",
        APP_DEBGU="true",
    ),
    env(
        "Setting DATABASES['replica'] (environment variable APP_DATABASES__REPLICA__POOL_SIZE) "
        "has no URL",
        "alias-without-url",
        APP_DATABASES__REPLICA__POOL_SIZE="3",
    ),
    # --- driver options
    env(
        "['OPTIONS']['bogus_arg'] (from environment variable APP_DATABASES__DEFAULT__OPTIONS): "
        "neither psycopg2 (libpq) nor asyncpg takes an option 'bogus_arg'",
        "option-unknown",
        DATABASE_URL=PG,
        APP_DATABASES__DEFAULT__OPTIONS='{"bogus_arg": 1}',
    ),
    env(
        "Did you mean 'command_timeout'? It is asyncpg's alone: set it in OPTIONS['async']",
        "option-misspelt",
        DATABASE_URL=PG,
        APP_DATABASES__DEFAULT__OPTIONS='{"comand_timeout": 1}',
    ),
    env(
        "only asyncpg takes the option 'server_settings', but OPTIONS go to both drivers",
        "option-one-sided",
        DATABASE_URL=PG,
        APP_DATABASES__DEFAULT__OPTIONS='{"server_settings": {"jit": "off"}}',
    ),
    env(
        "asyncpg takes no option 'sslmode'; it is an option of psycopg2 (libpq): "
        "move it to OPTIONS['sync']",
        "option-wrong-side",
        DATABASE_URL=PG,
        APP_DATABASES__DEFAULT__OPTIONS='{"async": {"sslmode": "require"}}',
    ),
    env(
        "['OPTIONS']['sync'] (from environment variable APP_DATABASES__DEFAULT__OPTIONS): must "
        "be a table of options for psycopg2 (libpq) alone, not int.",
        "option-side-not-a-table",
        DATABASE_URL=PG,
        APP_DATABASES__DEFAULT__OPTIONS='{"sync": 5}',
    ),
    env(
        "neither sqlite3 nor aiosqlite takes an option 'detect_type'. Did you mean 'detect_types'?",
        "option-sqlite-misspelt",
        DATABASE_URL="sqlite://",
        APP_DATABASES__DEFAULT__OPTIONS='{"detect_type": 1}',
    ),
    # --- URLs
    env(
        "'postgresql://app:********@db/app': the password holds '@' unencoded, so the URL "
        "would name the wrong host or database. Percent-encode '@' as %40 in the password",
        "url-password-at",
        DATABASE_URL=f"postgresql://app:{SECRET}@x@db/app",
    ),
    env(
        "Percent-encode '/' as %2F in the password",
        "url-password-slash",
        DATABASE_URL=f"postgresql://app:{SECRET}/x@db/app",
    ),
    env(
        "Percent-encode '?' as %3F in the password",
        "url-password-question-mark",
        DATABASE_URL=f"postgresql://app:{SECRET}?x@db/app",
    ),
    env(
        "Percent-encode '#' as %23 in the password",
        "url-password-hash",
        DATABASE_URL=f"postgresql://app:{SECRET}#x@db/app",
    ),
    env(
        "the user name holds '@' unencoded, so the URL would name the wrong host or database. "
        "Percent-encode '@' as %40 in the user name",
        "url-user-at",
        DATABASE_URL=f"postgresql://me@corp:{SECRET}@db/app",
    ),
    env("uses the unsupported scheme 'mysql'", "url-scheme", DATABASE_URL="mysql://app@db/app"),
    env(
        "names the unknown driver 'pg8000'",
        "url-driver",
        DATABASE_URL="postgresql+pg8000://app@db/app",
    ),
    env("DATABASES['default']['URL'] is empty", "url-empty", DATABASE_URL=" "),
    env("is not a URL", "url-no-scheme", DATABASE_URL="db.internal:5432/app"),
    env(
        "the port is not a number from 0 to 65535",
        "url-port",
        DATABASE_URL="postgresql://app@db:port/app",
    ),
    env("names no database", "url-no-database", DATABASE_URL="postgresql://app@db:5432"),
    env(
        "asks for SSL mode sometimes",
        "url-sslmode",
        DATABASE_URL="postgresql://app@db/app?sslmode=sometimes",
    ),
    env("has a stray '?'", "url-stray-question-mark", DATABASE_URL="postgresql://app@db/app?"),
    # --- production
    env(
        "DEBUG is on in production (from environment variable APP_DEBUG)",
        "production-debug",
        APP_ENVIRONMENT="production",
        APP_DEBUG="true",
    ),
    env(
        "SECRET_KEY is empty in production (from environment variable APP_SECRET_KEY)",
        "production-no-secret",
        APP_ENVIRONMENT="production",
        APP_SECRET_KEY="",
    ),
    # --- settings modules
    module(
        "Settings module '{pkg}.local' failed to import at {dir}/local.py:3: "
        "RuntimeError: no settings today",
        "module-raises",
        """
        DEBUG = True

        raise RuntimeError("no settings today")
        """,
    ),
    module(
        "failed to import at {dir}/local.py:2: SyntaxError",
        "module-syntax-error",
        """
        DEBUG = True
        DATABASES = {
        """,
    ),
    module(
        "ModuleNotFoundError: No module named 'not_installed_anywhere'",
        "module-imports-missing-package",
        "import not_installed_anywhere\n",
    ),
    module(
        "most likely due to a circular import",
        "module-circular-import",
        """
        from .other import VALUE  # other.py imports this module back

        DEBUG = True
        """,
    ),
    env(
        "Settings module 'settings.nope' could not be found (from SETTINGS_MODULE or --settings)."
        " Available: settings.base, settings.development",
        "module-not-found",
        SETTINGS_MODULE="settings.nope",
    ),
    env(
        "Requested settings, but settings are not configured. Set the environment variable "
        "SETTINGS_MODULE",
        "module-not-named",
        SETTINGS_MODULE="",
    ),
    module("DATABASES has no 'default' entry", "databases-empty", "DATABASES = {}\n"),
    module(
        "DATABASES has no 'default' entry",
        "databases-no-default",
        "DATABASES = {'replica': {'URL': 'sqlite://'}}\n",
    ),
    module(
        "Setting DATABASES must be dict[str, a table of URL, POOL_SIZE",
        "databases-not-a-dict",
        "DATABASES = ['sqlite://']\n",
    ),
    module(
        "Setting DATABASES['default'] must be a table of URL",
        "database-entry-not-a-dict",
        "DATABASES = {'default': 'sqlite://'}\n",
    ),
    module(
        "Setting DATABASES['default'] (settings module {dir}/local.py:1) has no URL",
        "database-entry-without-url",
        "DATABASES = {'default': {'POOL_SIZE': 3}}\n",
    ),
    module(
        "['POOL_SIZE'] must be an integer ≥ 0, but got -1 (from settings module {dir}/local.py:2)",
        "module-pool-size-negative",
        """
        DATABASES = {'default': {'URL': 'sqlite://'}}
        DATABASES['default']['POOL_SIZE'] = -1
        """,
    ),
    module(
        "['POOL_SIZE'] must be an integer ≥ 0, but got True",
        "module-pool-size-bool",
        "DATABASES = {'default': {'URL': 'sqlite://', 'POOL_SIZE': True}}\n",
    ),
    module(
        "['URL'] must be str, but got 5",
        "module-url-not-text",
        "DATABASES = {'default': {'URL': 5}}\n",
    ),
    module(
        "Setting DEBUG must be bool, but got 'yes' (from settings module {dir}/local.py:1)",
        "module-debug-text",
        "DEBUG = 'yes'\n",
    ),
    module(
        "Unknown setting DEBGU ({dir}/local.py:1): did you mean DEBUG?",
        "module-setting-misspelt",
        "DEBGU = True\n",
    ),
    module(
        "Setting PLUGINS must be list[str], but got 'plugins.database.DatabasePlugin'",
        "module-plugins-not-a-list",
        "PLUGINS = 'plugins.database.DatabasePlugin'\n",
    ),
    module(
        "PLUGINS names 'nowhere.Plugin', but no module of that path exists.",
        "module-plugin-missing",
        "PLUGINS = ['nowhere.Plugin']\n",
    ),
    module(
        "['OPTIONS']['bogus_arg'] (from settings module {dir}/local.py:1): neither",
        "module-option-unknown",
        f"DATABASES = {{'default': {{'URL': '{PG}', 'OPTIONS': {{'bogus_arg': 1}}}}}}\n",
    ),
]


@pytest.mark.parametrize(("source", "variables", "expected"), CASES)
def test_broken_settings_are_refused_with_their_paragraph(
    source: str | None, variables: dict[str, str], expected: str, tmp_path: Path
) -> None:
    extra: dict[str, str] = {}
    if source is not None:
        package = f"badsettings{next(_packages)}"
        folder = tmp_path / package
        folder.mkdir()
        (folder / "__init__.py").write_text("")
        (folder / "local.py").write_text(source)
        (folder / "other.py").write_text(f"from {package}.local import DEBUG\n\nVALUE = 1\n")
        extra = {"PYTHONPATH": str(tmp_path), "SETTINGS_MODULE": f"{package}.local"}
        expected = expected.replace("{pkg}", package).replace("{dir}", str(folder))
    result = manage("check", **extra, **variables)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert expected in output
    assert "Traceback" not in output
    assert SECRET not in output


def test_the_table_is_at_least_forty_cases() -> None:
    assert len(CASES) >= 40


VALID_OPTIONS = {
    "postgresql": {
        "target_session_attrs": "any",  # both drivers take it
        "sync": {"application_name": "options-test", "keepalives": 1, "options": "-c jit=off"},
        "async": {
            "server_settings": {"application_name": "options-test"},
            "command_timeout": 30,
            "prepared_statement_cache_size": 0,  # SQLAlchemy's own asyncpg option
        },
    },
    "sqlite": {"detect_types": 0, "async": {"iter_chunk_size": 16}},
}


def test_options_the_drivers_take_pass_and_connect(database_url: str) -> None:
    """No false alarm: options the check accepts really open connections on both sides."""
    from project.database import DatabaseSessionManager
    from project.loader import load

    family = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    variables = {
        "DATABASE_URL": database_url,
        "APP_DATABASES__DEFAULT__OPTIONS": json.dumps(VALID_OPTIONS[family]),
    }
    loaded = load("settings.test", environ=variables)
    assert loaded.problems == []
    manager = DatabaseSessionManager("default", loaded.values["DATABASES"]["default"])
    try:
        assert manager.check().ok, manager.check().error
        assert asyncio.run(manager.acheck()).ok
    finally:
        manager.close_sync()


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"MAX_OVERFLOW": -5}, "MAX_OVERFLOW must be an integer ≥ 0"),
        ({"POOL_SIZE": True}, "POOL_SIZE must be an integer ≥ 0"),
        ({"POOL_TIMEOUT": 0}, "POOL_TIMEOUT must be a number > 0 and ≤ 86400"),
        ({"POOL_RECYCLE": -2}, "POOL_RECYCLE must be an integer ≥ -1"),
    ],
)
def test_an_entry_built_in_code_is_checked_too(entry: dict[str, object], expected: str) -> None:
    """``DatabasePluginConfig(databases=...)`` skips the loader; the entry checks itself."""
    from project.errors import SettingsError
    from project.schema import DatabaseSettings

    with pytest.raises(SettingsError, match=expected):
        DatabaseSettings(URL="sqlite://", **entry)  # type: ignore[arg-type]
