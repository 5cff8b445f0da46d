"""Two aliases on two databases: each model's statements go to the alias it is bound to."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import String, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from project.database import DatabaseRegistry, binds
from project.schema import DatabaseSettings
from tests.cli import manage


class MainBase(DeclarativeBase):
    pass


class AnalyticsBase(DeclarativeBase):
    __bind_key__ = "analytics"


class Customer(MainBase):
    __tablename__ = "binds_customer"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))


class PageView(AnalyticsBase):
    __tablename__ = "binds_page_view"
    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(String(40))


MODELS = [Customer, PageView]


@pytest.fixture
async def registry(postgres_url: str, tmp_path: Path) -> AsyncIterator[DatabaseRegistry]:
    """The "default" alias on PostgreSQL, "analytics" on a SQLite file: two separate databases."""
    registry = DatabaseRegistry(
        {
            "default": DatabaseSettings(URL=postgres_url),
            "analytics": DatabaseSettings(URL=f"sqlite:///{tmp_path / 'analytics.sqlite3'}"),
        }
    )
    for base, alias in ((MainBase, "default"), (AnalyticsBase, "analytics")):
        async with registry[alias].async_engine.begin() as connection:
            await connection.run_sync(base.metadata.create_all)
    yield registry
    async with registry["default"].async_engine.begin() as connection:
        await connection.run_sync(MainBase.metadata.drop_all)
    await registry.close_all()


async def test_each_model_is_stored_on_its_own_database(registry: DatabaseRegistry) -> None:
    assert [binds.alias_of(model) for model in MODELS] == ["default", "analytics"]
    async with binds.session(registry, MODELS) as session:
        session.add_all([Customer(id=1, name="Ada"), PageView(id=1, path="/items")])
    async with binds.session(registry, MODELS) as session:
        assert (await session.scalars(select(Customer.name))).all() == ["Ada"]
        assert (await session.scalars(select(PageView.path))).all() == ["/items"]
    async with registry["default"].connect() as connection:
        server = await connection.scalar(text("SELECT count(*) FROM binds_customer"))
        missing = await connection.scalar(text("SELECT to_regclass('binds_page_view')"))
    async with registry["analytics"].connect() as connection:
        local = await connection.scalar(text("SELECT count(*) FROM binds_page_view"))
    assert (server, missing, local) == (1, None, 1)


async def test_an_error_rolls_back_every_database(registry: DatabaseRegistry) -> None:
    async def fail_after_flush() -> None:
        async with binds.session(registry, MODELS) as session:
            session.add_all([Customer(id=2, name="Bo"), PageView(id=2, path="/")])
            await session.flush()
            raise RuntimeError("handler failed")

    with pytest.raises(RuntimeError):
        await fail_after_flush()
    async with binds.session(registry, MODELS) as session:
        assert await session.get(Customer, 2) is None
        assert await session.get(PageView, 2) is None


async def test_the_sync_session_routes_the_same_way(registry: DatabaseRegistry) -> None:
    with binds.sync_session(registry, MODELS) as session, session.begin():
        session.add_all([Customer(id=3, name="Cy"), PageView(id=3, path="/x")])
    with binds.sync_session(registry, MODELS) as session:
        assert session.get(Customer, 3) is not None
        assert session.get_bind(PageView).url.get_backend_name() == "sqlite"


def test_createtables_creates_each_bound_model_on_its_alias(tmp_path: Path) -> None:
    result = manage(
        "createtables",
        database_url=f"sqlite:///{tmp_path / 'main.sqlite3'}",
        APP_DATABASES__ANALYTICS__URL=f"sqlite:///{tmp_path / 'analytics.sqlite3'}",
        APP_MODEL_MODULES="tests.test_binds",
    )
    assert result.returncode == 0, result.stderr
    lines = sorted(line.split("  [")[0] for line in result.stdout.splitlines())
    assert lines == ["analytics: created binds_page_view", "default: created binds_customer"]
