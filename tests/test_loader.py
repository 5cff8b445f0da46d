"""The settings layers: defaults, the settings module, .env, then the environment."""

from __future__ import annotations

import itertools
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
import pytest

from project.conf import SettingsError
from project.loader import load
from project.schema import KNOWN_SETTINGS, NESTED_SETTINGS, NestedSetting

WriteSettings = Callable[..., str]
_packages = itertools.count()


@pytest.fixture
def write_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WriteSettings]:
    """Write settings modules into a fresh package on sys.path; returns the module name."""
    package = f"tmpsettings{next(_packages)}"
    folder = tmp_path / package
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(source: str, name: str = "local") -> str:
        (folder / f"{name}.py").write_text(textwrap.dedent(source))
        return f"{package}.{name}"

    yield write
    for module in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        del sys.modules[module]


@pytest.fixture(autouse=True)
def no_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from an empty folder so a developer's own .env cannot leak in."""
    monkeypatch.chdir(tmp_path)


def problems_of(module: str, **environ: str) -> str:
    return "\n".join(load(module, environ=environ).problems)


# --- layering -------------------------------------------------------------


def test_only_uppercase_names_are_settings(write_settings: WriteSettings) -> None:
    module = write_settings(
        """
        DEBUG = True
        helper = "not a setting"
        MyValue = 1
        TIMEOUT = 3
        """
    )
    values = load(module, environ={}).values
    assert values["DEBUG"] is True
    assert values["TIMEOUT"] == 3
    assert "helper" not in values
    assert "MyValue" not in values


def test_layers_global_then_module_then_dotenv_then_environment(
    write_settings: WriteSettings, tmp_path: Path
) -> None:
    write_settings("SECRET_KEY = 'from-base'\nMIGRATIONS_ENVIRONMENT = 'base.ini'\n", name="base")
    module = write_settings(
        """
        from .base import *

        MIGRATIONS_ENVIRONMENT = 'module.ini'
        """
    )
    (tmp_path / ".env").write_text("APP_MIGRATIONS_ENVIRONMENT=dotenv.ini\nAPP_DEBUG=true\n")

    loaded = load(module, environ={"APP_DEBUG": "false", "DATABASE_URL": "sqlite://"})

    assert loaded.values["DATABASE_STARTUP_CHECK"] == "warn"  # global default
    assert loaded.values["SECRET_KEY"] == "from-base"  # inherited with import *
    assert loaded.values["MIGRATIONS_ENVIRONMENT"] == "dotenv.ini"  # .env over the module
    assert loaded.values["DEBUG"] is False  # a real variable over .env
    assert str(loaded.source_of(("MIGRATIONS_ENVIRONMENT",))).startswith(".env file")
    assert loaded.source_of(("DEBUG",)).where == "APP_DEBUG"  # type: ignore[union-attr]
    assert loaded.source_of(("SECRET_KEY",)).where.endswith("base.py:1")  # type: ignore[union-attr]


def test_dotenv_never_overrides_a_real_environment_variable(
    write_settings: WriteSettings, tmp_path: Path
) -> None:
    module = write_settings("DATABASES = {'default': {'URL': 'sqlite://'}}")
    (tmp_path / ".env").write_text("APP_DATABASES__DEFAULT__POOL_SIZE=7\nAPP_SECRET_KEY=dotenv\n")

    loaded = load(module, environ={"APP_DATABASES__DEFAULT__POOL_SIZE": "9"})

    assert loaded.values["DATABASES"]["default"].POOL_SIZE == 9
    assert loaded.values["SECRET_KEY"] == "dotenv"


def test_nested_databases_merge_key_by_key(write_settings: WriteSettings, tmp_path: Path) -> None:
    module = write_settings(
        """
        DATABASES = {
            'default': {'URL': 'sqlite://', 'POOL_SIZE': 3, 'ECHO': True},
            'replica': {'URL': 'sqlite://'},
        }
        """
    )
    (tmp_path / ".env").write_text("APP_DATABASES__DEFAULT__MAX_OVERFLOW=0\n")

    loaded = load(module, environ={"APP_DATABASES__DEFAULT__POOL_SIZE": "20"})

    default = loaded.values["DATABASES"]["default"]
    assert (default.URL, default.POOL_SIZE, default.MAX_OVERFLOW, default.ECHO) == (
        "sqlite://",
        20,
        0,
        True,
    )
    assert set(loaded.values["DATABASES"]) == {"default", "replica"}
    assert loaded.source_of(("DATABASES", "default", "ECHO")).layer == "settings module"  # type: ignore[union-attr]
    assert loaded.source_of(("DATABASES", "default", "MAX_OVERFLOW")).layer == ".env file"  # type: ignore[union-attr]


def test_loading_never_changes_the_settings_module(write_settings: WriteSettings) -> None:
    module = write_settings("DATABASES = {'default': {'URL': 'sqlite://'}}")

    first = load(module, environ={"APP_DATABASES__DEFAULT__URL": "sqlite:///other.db"})
    second = load(module, environ={})

    assert first.values["DATABASES"]["default"].URL == "sqlite:///other.db"
    assert second.values["DATABASES"]["default"].URL == "sqlite://"
    assert sys.modules[module].DATABASES == {"default": {"URL": "sqlite://"}}


# --- environment variables ------------------------------------------------


def test_environment_strings_become_the_schema_type() -> None:
    loaded = load(
        "settings.development",
        environ={
            "APP_DEBUG": "false",
            "APP_DATABASES__DEFAULT__POOL_SIZE": "20",
            "APP_DATABASES__DEFAULT__POOL_TIMEOUT": "2.5",
            "APP_DATABASES__DEFAULT__PRE_PING": "true",
            "APP_DATABASES__DEFAULT__OPTIONS": '{"sync": {"application_name": "web"}}',
            "APP_PLUGINS": "plugins.a.A, plugins.b.B",
            "APP_ROUTE_HANDLERS": '["app.routes.router"]',
            "APP_GREETING": "hello",
            "DATABASE_URL": "postgresql://app@db.internal:5432/app",
        },
    )
    assert loaded.problems == []
    values = loaded.values
    default = values["DATABASES"]["default"]
    assert values["DEBUG"] is False
    assert default.POOL_SIZE == 20
    assert default.POOL_TIMEOUT == 2.5
    assert default.PRE_PING is True
    assert default.OPTIONS == {"sync": {"application_name": "web"}}
    assert default.URL == "postgresql://app@db.internal:5432/app"
    assert values["PLUGINS"] == ["plugins.a.A", "plugins.b.B"]
    assert values["ROUTE_HANDLERS"] == ["app.routes.router"]
    assert values["GREETING"] == "hello"  # unknown user settings are allowed, as text


def test_environment_names_a_new_database_alias() -> None:
    loaded = load(
        "settings.development",
        environ={"APP_DATABASES__REPLICA__URL": "sqlite://", "APP_DATABASES__REPLICA__ECHO": "1"},
    )
    assert loaded.problems == []
    assert loaded.values["DATABASES"]["replica"].ECHO is True


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("APP_DEBUG", "maybe", "Setting DEBUG must be bool, but got 'maybe'"),
        ("APP_DATABASES__DEFAULT__POOL_SIZE", "many", "['POOL_SIZE'] must be an integer ≥ 0"),
        ("APP_PLUGINS", "[not json", "Setting PLUGINS must be list[str]"),
        ("APP_ENVIRONMENT", "staging", "one of 'development', 'test', 'production'"),
    ],
)
def test_a_bad_environment_value_names_setting_type_value_and_variable(
    variable: str, value: str, expected: str
) -> None:
    message = problems_of("settings.development", **{variable: value})
    assert expected in message
    assert f"environment variable {variable}" in message


def test_misspelt_setting_in_the_environment_gets_did_you_mean() -> None:
    message = problems_of("settings.development", APP_DATABSES='{"default": {}}')
    assert "DATABSES" in message
    assert "did you mean DATABASES?" in message
    assert "APP_DATABSES" in message


def test_unknown_database_key_in_the_environment_gets_did_you_mean() -> None:
    message = problems_of("settings.development", APP_DATABASES__DEFAULT__POOL_SZE="3")
    assert "APP_DATABASES__DEFAULT__POOL_SZE" in message
    assert "did you mean POOL_SIZE?" in message


# --- errors from the settings module --------------------------------------


def test_a_bad_module_value_names_its_file_and_line(write_settings: WriteSettings) -> None:
    module = write_settings(
        """
        DATABASES = {
            'default': {
                'URL': 'sqlite://',
                'POOL_SIZE': 'five',
            },
        }
        DEBUG = 'yes'
        """
    )
    message = problems_of(module)
    assert "Setting DEBUG must be bool, but got 'yes'" in message
    assert "local.py:8" in message
    assert "Setting DATABASES['default']['POOL_SIZE'] must be an integer ≥ 0" in message
    assert "local.py:2" in message


def test_misspelt_setting_in_the_module_gets_did_you_mean(write_settings: WriteSettings) -> None:
    module = write_settings(
        """
        DATABASES = {'default': {'URL': 'sqlite://'}}
        DATABSES = {'replica': {'URL': 'sqlite://'}}
        """
    )
    message = problems_of(module)
    assert "Unknown setting DATABSES" in message
    assert "local.py:3" in message
    assert "did you mean DATABASES?" in message


def test_unknown_key_in_a_database_entry_gets_did_you_mean(write_settings: WriteSettings) -> None:
    module = write_settings("DATABASES = {'default': {'URL': 'sqlite://', 'POOL_SZE': 5}}")
    message = problems_of(module)
    assert "no key POOL_SZE; did you mean POOL_SIZE?" in message
    assert "local.py:1" in message


def test_settings_must_define_a_default_database(write_settings: WriteSettings) -> None:
    module = write_settings("DATABASES = {'main': {'URL': 'sqlite://'}}")
    assert "DATABASES has no 'default' entry" in problems_of(module)


def test_a_database_entry_needs_a_url() -> None:
    message = problems_of("settings.development", APP_DATABASES__REPLICA__POOL_SIZE="2")
    assert "DATABASES['replica']" in message
    assert "(environment variable APP_DATABASES__REPLICA__POOL_SIZE) has no URL" in message
    assert "APP_DATABASES__REPLICA__URL" in message


def test_a_missing_settings_module_is_one_clear_paragraph() -> None:
    with pytest.raises(SettingsError) as caught:
        load("settings.nope", environ={})
    message = str(caught.value)
    assert "Settings module 'settings.nope' could not be found" in message
    assert "settings.development" in message  # lists what exists
    assert "\n" not in message
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("DEBUG = True\nDATABASES = {\n", "SyntaxError"),
        ("DEBUG = True\nraise RuntimeError('no config today')\n", "no config today"),
        ("import not_a_real_package_xyz\n", "not_a_real_package_xyz"),
    ],
)
def test_a_broken_settings_module_is_one_clear_paragraph(
    write_settings: WriteSettings, source: str, expected: str
) -> None:
    module = write_settings(source)
    with pytest.raises(SettingsError) as caught:
        load(module, environ={})
    message = str(caught.value)
    assert f"Settings module {module!r} failed to import at " in message
    assert "local.py:" in message
    assert expected in message
    assert "Traceback" not in message
    assert caught.value.__suppress_context__


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://app@localhost/app", "unsupported scheme 'mysql'"),
        ("postgresql+pg8000://app@localhost/app", "unknown driver 'pg8000'"),
        ("postgresql://app:pa#ss@localhost/app", "Percent-encode '#' as %23"),
        ("postgresql://app@localhost/app?sslmode", "stray '?'"),
        ("localhost:5432/app", "is not a URL"),
        ("postgresql://app@localhost:port/app", "could not be parsed"),
        ("postgresql://app@localhost:5432", "names no database"),
    ],
)
def test_a_malformed_database_url_is_an_error_never_a_guess(url: str, expected: str) -> None:
    message = problems_of("settings.development", DATABASE_URL=url)
    assert expected in message
    assert "environment variable DATABASE_URL" in message


# --- production -------------------------------------------------------------

PRODUCTION_OK = {
    "DATABASE_URL": "postgresql://app@db/app",
    "APP_SECRET_KEY": "a-long-random-string",
}


def test_production_starts_with_a_url_and_a_secret_key() -> None:
    loaded = load("settings.production", environ=PRODUCTION_OK)
    assert loaded.problems == []
    assert loaded.values["DEBUG"] is False


def test_production_refuses_debug() -> None:
    message = problems_of("settings.production", **PRODUCTION_OK, APP_DEBUG="true")
    assert "DEBUG is on in production (from environment variable APP_DEBUG)" in message


def test_production_refuses_an_empty_secret_key() -> None:
    message = problems_of("settings.production", DATABASE_URL="postgresql://app@db/app")
    assert "SECRET_KEY is empty in production" in message


def test_production_requires_database_url() -> None:
    message = problems_of("settings.production", APP_SECRET_KEY="a-long-random-string")
    assert "DATABASES['default']['URL'] is empty. Set DATABASE_URL" in message


def test_an_empty_secret_key_is_only_a_warning_in_development() -> None:
    loaded = load("settings.development", environ={})
    assert loaded.problems == []
    assert any("SECRET_KEY is empty" in warning for warning in loaded.warnings)


# --- nested settings ---------------------------------------------------------


class CacheSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    LOCATION: str
    TIMEOUT: int = 300


def test_a_new_nested_setting_needs_only_its_declaration(
    write_settings: WriteSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What DATABASES has (merge by name, a shortcut variable, a required name) comes from
    its declaration next to the schema, so another such setting works the same way."""
    caches = NestedSetting(
        CacheSettings,
        noun="a cache",
        required_names=("default",),
        required_keys=("LOCATION",),
        shortcuts={"CACHE_URL": ("default", "LOCATION")},
    )
    monkeypatch.setitem(KNOWN_SETTINGS, "CACHES", dict[str, CacheSettings])
    monkeypatch.setitem(NESTED_SETTINGS, "CACHES", caches)
    database = "DATABASES = {'default': {'URL': 'sqlite://'}}\n"
    module = write_settings(database + "CACHES = {'default': {'LOCATION': 'mem://', 'TIMEOUT': 5}}")

    loaded = load(module, environ={"CACHE_URL": "redis://cache", "APP_CACHES__SIDE__LOCATION": "x"})
    assert loaded.problems == []
    assert loaded.values["CACHES"] == {
        "default": CacheSettings("redis://cache", 5),
        "side": CacheSettings("x"),
    }
    assert (
        str(loaded.source_of(("CACHES", "default", "LOCATION"))) == "environment variable CACHE_URL"
    )

    message = problems_of(module, APP_CACHES__SIDE__TIMEOUT="1", APP_CACHES__DEFAULT__TIMEOUT="x")
    assert (
        "CACHES['side'] (environment variable APP_CACHES__SIDE__TIMEOUT) has no LOCATION" in message
    )
    assert "set APP_CACHES__SIDE__LOCATION" in message
    assert "Setting CACHES['default']['TIMEOUT'] must be int" in message
    assert "has no 'default' entry" in problems_of(
        write_settings(database + "CACHES = {}", "empty")
    )
