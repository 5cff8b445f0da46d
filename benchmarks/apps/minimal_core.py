"""The Core floor: Litestar, no plugin, one ``AsyncConnection`` per request by hand.

On an AUTOCOMMIT engine, like the minimal session app. What our plugin's
``db_connection`` adds is measured against this app.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, get, post
from sqlalchemy.ext.asyncio import create_async_engine

from benchmarks.apps.common import POOL_SIZE, Item, ItemIn, asyncpg_sqlalchemy_url
from benchmarks.apps.core import fetch_item, insert_item

engine = create_async_engine(
    asyncpg_sqlalchemy_url(), isolation_level="AUTOCOMMIT", pool_size=POOL_SIZE, max_overflow=0
)


@asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    try:
        yield
    finally:
        await engine.dispose()


@get("/items/{item_id:int}")
async def get_item(item_id: int) -> Item:
    async with engine.connect() as connection:
        return await fetch_item(connection, item_id)


@post("/items")
async def create_item(data: ItemIn) -> Item:
    async with engine.connect() as connection:
        return await insert_item(connection, data)


app = Litestar(route_handlers=[get_item, create_item], lifespan=[lifespan])
