"""The original ``DatabaseSessionManager`` API still works: init with a URL, then use it."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from project.database import DatabaseSessionManager
from project.errors import SettingsError


async def test_code_written_for_the_original_manager_runs_unchanged(database_url: str) -> None:
    sessionmanager = DatabaseSessionManager()
    sessionmanager.init(database_url, pool_size=2, max_overflow=1)

    async with sessionmanager.connect() as connection:
        await connection.execute(text("CREATE TABLE seed_api (n INTEGER)"))
    try:
        async with sessionmanager.session() as session:
            await session.execute(text("INSERT INTO seed_api VALUES (1)"))
        with sessionmanager.sync_engine.connect() as connection:
            assert connection.execute(text("SELECT n FROM seed_api")).scalar_one() == 1
        assert sessionmanager.sync_engine.pool.size() == 2  # type: ignore[attr-defined]
    finally:
        async with sessionmanager.connect() as connection:
            await connection.execute(text("DROP TABLE seed_api"))
        await sessionmanager.close()

    sessionmanager.init(database_url)  # a closed manager opens again, as before
    async with sessionmanager.session() as session:
        assert await session.scalar(text("SELECT 1")) == 1
    await sessionmanager.close()


def test_a_wrong_keyword_says_which_ones_exist() -> None:
    with pytest.raises(SettingsError, match="unknown keyword 'pool_sise'; did you mean pool_size"):
        DatabaseSessionManager().init("sqlite://", pool_sise=3)
    with pytest.raises(SettingsError, match=r"got `str` - at `\$.POOL_SIZE`"):
        DatabaseSessionManager().init("sqlite://", pool_size="many")
