"""The ORM floor: Litestar, no plugin, one ``AsyncSession`` per request by hand.

One AUTOCOMMIT engine: the GET pays no BEGIN/COMMIT, and the POST's single
INSERT commits by itself. What our plugin's ``db_session`` adds is measured
against this app.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, get, post
from litestar.exceptions import NotFoundException
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from benchmarks.apps.common import POOL_SIZE, Item, ItemIn, asyncpg_sqlalchemy_url
from benchmarks.apps.orm import BenchItem

engine = create_async_engine(
    asyncpg_sqlalchemy_url(), isolation_level="AUTOCOMMIT", pool_size=POOL_SIZE, max_overflow=0
)
sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


@asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    try:
        yield
    finally:
        await engine.dispose()


@get("/items/{item_id:int}")
async def get_item(item_id: int) -> Item:
    async with sessions() as session:
        row = await session.get(BenchItem, item_id)
        if row is None:
            raise NotFoundException(f"item {item_id} not found")
        return Item(id=row.id, name=row.name, quantity=row.quantity)


@post("/items")
async def create_item(data: ItemIn) -> Item:
    async with sessions() as session:
        row = BenchItem(name=data.name, quantity=data.quantity)
        session.add(row)
        await session.flush()
        return Item(id=row.id, name=row.name, quantity=row.quantity)


app = Litestar(route_handlers=[get_item, create_item], lifespan=[lifespan])
