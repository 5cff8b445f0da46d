"""``databases``: one manager per alias of ``DATABASES``, built on first use."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from project.conf import SettingsError, override_settings
from project.database import (
    DatabaseNotReadyError,
    DatabaseRegistry,
    DatabaseSessionManager,
    UnknownDatabaseError,
)
from project.schema import DatabaseSettings


@pytest.fixture
async def registry(database_url: str) -> AsyncIterator[DatabaseRegistry]:
    databases = DatabaseRegistry(
        {
            "default": DatabaseSettings(URL=database_url),
            "replica": DatabaseSettings(URL="sqlite://"),
        }
    )
    yield databases
    await databases.close_all()


async def test_each_alias_has_one_manager(registry: DatabaseRegistry) -> None:
    default = registry["default"]
    assert isinstance(default, DatabaseSessionManager)
    assert default is registry["default"]
    assert (default.alias, registry["replica"].alias) == ("default", "replica")
    assert list(registry) == ["default", "replica"]
    assert len(registry) == 2
    async with registry["default"].session() as session:
        assert (await session.execute(text("SELECT 1"))).scalar_one() == 1


def test_an_unknown_alias_lists_the_known_ones(registry: DatabaseRegistry) -> None:
    with pytest.raises(UnknownDatabaseError) as caught:
        registry["reporting"]
    message = str(caught.value)
    assert "Unknown database alias 'reporting'" in message
    assert "DATABASES defines 'default', 'replica'" in message
    assert "APP_DATABASES__REPORTING__URL" in message
    assert isinstance(caught.value, KeyError)  # so `alias in databases` and .get() work
    assert "reporting" not in registry
    assert registry.get("reporting") is None


async def test_close_all_closes_every_alias_and_is_harmless_twice(
    registry: DatabaseRegistry,
) -> None:
    for alias in registry:
        async with registry[alias].session() as session:
            await session.execute(text("SELECT 1"))

    await registry.close_all()
    await registry.close_all()

    for manager in registry.values():
        with pytest.raises(DatabaseNotReadyError, match="is closed"):
            async with manager.session():
                pass
    registry.open()
    async with registry["replica"].session() as session:
        assert (await session.execute(text("SELECT 1"))).scalar_one() == 1


async def test_built_from_the_settings_on_first_use() -> None:
    databases = DatabaseRegistry()
    assert repr(databases) == "<DatabaseRegistry [not loaded]>"
    with override_settings(DATABASES={"replica": {"URL": "sqlite://", "POOL_SIZE": 2}}):
        assert sorted(databases) == ["default", "replica"]
        assert databases["replica"].config == DatabaseSettings(URL="sqlite://", POOL_SIZE=2)
    await databases.close_all()


def test_settings_must_define_default() -> None:
    databases = DatabaseRegistry({"replica": DatabaseSettings(URL="sqlite://")})
    with pytest.raises(SettingsError, match="DATABASES has no 'default' entry"):
        databases["replica"]


def test_the_registry_repr_hides_passwords() -> None:
    databases = DatabaseRegistry({"default": DatabaseSettings(URL="postgresql://a:pw-9@db/app")})
    databases["default"]
    assert "pw-9" not in repr(databases)
    assert "postgresql+psycopg2://a:********@db/app" in repr(databases)


# --- override_settings(DATABASES=...) -----------------------------------------


def test_an_overridden_databases_gets_managers_of_its_own_until_the_block_ends(
    tmp_path: Path,
) -> None:
    databases = DatabaseRegistry()
    base = databases["default"]
    url = f"sqlite:///{tmp_path / 'override.sqlite3'}"
    with override_settings(DATABASES={"default": {"URL": url}, "extra": {"URL": "sqlite://"}}):
        inside = databases["default"]
        assert inside is not base
        assert inside is databases["default"]
        assert sorted(databases) == ["default", "extra"]
        with inside.sync_connect() as connection:
            connection.execute(text("CREATE TABLE made_inside (n INTEGER)"))
    assert (tmp_path / "override.sqlite3").exists()
    assert databases["default"] is base
    assert list(databases) == ["default"]
    assert not inside.is_open
    with pytest.raises(DatabaseNotReadyError, match=r"override_settings.*block that has ended"):
        inside.sync_engine  # noqa: B018
    databases.reset()


def test_reset_inside_an_override_does_not_let_its_url_outlive_the_block() -> None:
    databases = DatabaseRegistry()
    base_url = databases["default"].redacted_url
    with override_settings(DATABASES={"default": {"URL": "sqlite://"}}):
        databases.reset()
        assert databases["default"].redacted_url == "sqlite+pysqlite://"
    assert databases["default"].redacted_url == base_url
    databases.reset()


async def test_async_with_awaits_closing_what_the_block_opened(postgres_url: str) -> None:
    databases = DatabaseRegistry()
    async with override_settings(DATABASES={"default": {"URL": postgres_url, "POOL_SIZE": 2}}):
        manager = databases["default"]
        async with manager.session() as session:
            assert await session.scalar(text("SELECT 1")) == 1
        pool = manager.async_engine.pool
        assert pool.checkedin() == 1  # type: ignore[attr-defined]
    assert pool.checkedin() == 0  # type: ignore[attr-defined]
    assert not manager.is_open


async def test_concurrent_overrides_each_see_their_own_database() -> None:
    databases = DatabaseRegistry()

    async def one(name: str) -> str:
        async with override_settings(DATABASES={"default": {"URL": f"sqlite:///{name}.db"}}):
            await asyncio.sleep(0.01)
            return databases["default"].redacted_url

    first, second = await asyncio.gather(one("first"), one("second"))
    assert (first, second) == ("sqlite+pysqlite:///first.db", "sqlite+pysqlite:///second.db")
