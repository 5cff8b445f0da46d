"""``override_settings``: a context manager, a decorator and a pytest fixture, scoped per task."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from project.conf import SettingsError, override_settings, settings


def test_context_manager_applies_and_undoes() -> None:
    before = settings.MIGRATIONS_ENVIRONMENT
    with override_settings(MIGRATIONS_ENVIRONMENT="migrations.ini", GREETING="hi"):
        assert settings.MIGRATIONS_ENVIRONMENT == "migrations.ini"
        assert settings.GREETING == "hi"
        assert str(settings.source_of("MIGRATIONS_ENVIRONMENT")) == "override override_settings()"
    assert before == settings.MIGRATIONS_ENVIRONMENT
    with pytest.raises(AttributeError):
        settings.GREETING  # noqa: B018


def test_overrides_nest_and_merge_into_nested_settings() -> None:
    url = settings.DATABASES["default"].URL
    with override_settings(DATABASES={"default": {"POOL_SIZE": 2}}):
        assert settings.DATABASES["default"].POOL_SIZE == 2
        assert url == settings.DATABASES["default"].URL
        with override_settings(DATABASES={"default": {"ECHO": True}}):
            assert settings.DATABASES["default"].POOL_SIZE == 2
            assert settings.DATABASES["default"].ECHO is True
        assert settings.DATABASES["default"].ECHO is False


@override_settings(DEBUG=True)
def test_sync_decorator() -> None:
    assert settings.DEBUG is True


@override_settings(DEBUG=True)
async def test_async_decorator() -> None:
    await asyncio.sleep(0)
    assert settings.DEBUG is True


def test_decorated_function_keeps_its_name_and_undoes_afterwards() -> None:
    @override_settings(MIGRATIONS_ENVIRONMENT="decorated.ini")
    def read() -> str:
        return str(settings.MIGRATIONS_ENVIRONMENT)

    assert read.__name__ == "read"
    assert read() == "decorated.ini"
    assert settings.MIGRATIONS_ENVIRONMENT != "decorated.ini"


def test_the_pytest_fixture(override_settings: Callable[..., None]) -> None:
    override_settings(DEBUG=True)
    assert settings.DEBUG is True
    override_settings(MIGRATIONS_ENVIRONMENT="fixture.ini")
    assert settings.DEBUG is True
    assert settings.MIGRATIONS_ENVIRONMENT == "fixture.ini"


def test_the_fixture_is_a_registered_plugin_and_undoes_after_the_test(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(
        textwrap.dedent(
            """
            import asyncio
            from project.conf import settings

            def test_override(override_settings):
                override_settings(MIGRATIONS_ENVIRONMENT="fixture.ini")
                assert settings.MIGRATIONS_ENVIRONMENT == "fixture.ini"

            def test_undone_afterwards():
                assert settings.MIGRATIONS_ENVIRONMENT == ""

            async def test_async_override(override_settings):
                override_settings(MIGRATIONS_ENVIRONMENT="async.ini")
                await asyncio.sleep(0)
                assert settings.MIGRATIONS_ENVIRONMENT == "async.ini"

            async def test_undone_after_the_async_test():
                assert settings.MIGRATIONS_ENVIRONMENT == ""
            """
        )
    )
    env = {**os.environ, "SETTINGS_MODULE": "settings.development"}
    options = ["-p", "no:cacheprovider", "-o", "asyncio_mode=auto"]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *options, "test_user.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout


async def test_concurrent_tasks_see_only_their_own_overrides() -> None:
    before = settings.MIGRATIONS_ENVIRONMENT
    seen: list[tuple[str, str]] = []

    async def worker(name: str) -> None:
        with override_settings(MIGRATIONS_ENVIRONMENT=f"{name}.ini"):
            for _ in range(3):
                await asyncio.sleep(0.01)
                seen.append((name, settings.MIGRATIONS_ENVIRONMENT))

    await asyncio.gather(worker("a"), worker("b"))

    assert [name for name, _ in seen[:2]] == ["a", "b"]  # the tasks interleaved
    assert all(value == f"{name}.ini" for name, value in seen)
    assert len(seen) == 6
    assert before == settings.MIGRATIONS_ENVIRONMENT


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"DEBUG": "yes"}, "Setting DEBUG must be bool, but got 'yes'"),
        ({"DATABASES": {"default": {"POOL_SIZE": "five"}}}, "['POOL_SIZE'] must be an integer ≥ 0"),
        ({"DATABASES": {"default": {"POOL_SZE": 5}}}, "did you mean POOL_SIZE?"),
        ({"DATABASES": {"default": {"URL": "mysql://x@y/z"}}}, "unsupported scheme 'mysql'"),
    ],
)
def test_an_invalid_override_raises_settings_error(
    values: dict[str, object], expected: str
) -> None:
    with pytest.raises(SettingsError) as caught, override_settings(**values):
        pass
    assert expected in str(caught.value)
    assert "override_settings()" in str(caught.value)
