"""``from project.conf import settings``: lazy, cached, and able to say where a value came from."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from project.conf import SettingsError, settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def use_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Point the lazy settings at settings.development with a controlled environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SETTINGS_MODULE", "settings.development")
    monkeypatch.setenv("APP_DATABASES__DEFAULT__POOL_SIZE", "20")
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    settings.reset()
    yield
    settings.reset()


def test_importing_conf_loads_nothing_and_first_access_loads() -> None:
    script = textwrap.dedent(
        """
        import sys
        from project.conf import settings
        assert not settings.configured
        assert "settings.development" not in sys.modules
        print(repr(settings))
        print(settings.DEBUG)
        assert settings.configured
        assert "settings.development" in sys.modules
        print(repr(settings))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={"SETTINGS_MODULE": "settings.development", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.splitlines() == [
        "<LazySettings [not loaded]>",
        "True",
        "<LazySettings 'settings.development'>",
    ]


@pytest.mark.usefixtures("use_settings")
def test_settings_are_read_once_and_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings.DEBUG is True
    monkeypatch.setenv("APP_DEBUG", "false")
    assert settings.DEBUG is True  # cached
    settings.reset()
    assert settings.DEBUG is False


@pytest.mark.usefixtures("use_settings")
def test_nested_settings_are_typed() -> None:
    default = settings.DATABASES["default"]
    assert default.POOL_SIZE == 20
    assert default.URL == "sqlite://"


@pytest.mark.usefixtures("use_settings")
def test_source_of_names_the_layer_of_a_setting_and_of_a_nested_key() -> None:
    debug = settings.source_of("DEBUG")
    assert debug is not None
    assert debug.layer == "settings module"
    assert debug.where.endswith("settings/development.py:5")

    assert str(settings.source_of("DATABASES.default.POOL_SIZE")) == (
        "environment variable APP_DATABASES__DEFAULT__POOL_SIZE"
    )
    assert str(settings.source_of(("DATABASES", "default", "URL"))) == (
        "environment variable DATABASE_URL"
    )
    assert settings.source_of("MIGRATIONS_ENVIRONMENT").layer == "default"  # type: ignore[union-attr]


@pytest.mark.usefixtures("use_settings")
def test_an_unknown_setting_is_an_attribute_error_with_a_suggestion() -> None:
    with pytest.raises(AttributeError, match="Did you mean DATABASES"):
        settings.DATABSES  # noqa: B018
    with pytest.raises(AttributeError):
        settings.not_a_setting  # noqa: B018


@pytest.mark.usefixtures("use_settings")
def test_user_settings_are_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_GREETING", "hello")
    settings.reset()
    assert settings.GREETING == "hello"
    assert settings.as_dict()["GREETING"] == "hello"


def test_bad_settings_raise_settings_error_on_first_access(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SETTINGS_MODULE", "settings.development")
    monkeypatch.setenv("APP_DEBUG", "maybe")
    settings.reset()
    try:
        with pytest.raises(SettingsError, match="Setting DEBUG must be bool"):
            settings.DEBUG  # noqa: B018
    finally:
        settings.reset()


def test_unconfigured_settings_say_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SETTINGS_MODULE")
    settings.reset()
    try:
        with pytest.raises(SettingsError, match="Set the environment variable SETTINGS_MODULE"):
            settings.DEBUG  # noqa: B018
    finally:
        settings.reset()
