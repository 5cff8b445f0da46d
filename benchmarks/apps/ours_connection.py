"""Our ``DatabasePlugin``'s ``db_connection`` (default settings), against the minimal Core app."""

from __future__ import annotations

from litestar import Litestar, get, post
from sqlalchemy.ext.asyncio import AsyncConnection

from benchmarks.apps.common import POOL_SIZE, Item, ItemIn, database_url
from benchmarks.apps.core import fetch_item, insert_item
from plugins.database import DatabasePlugin, DatabasePluginConfig
from project.schema import DatabaseSettings

settings = DatabaseSettings(URL=database_url(), POOL_SIZE=POOL_SIZE, MAX_OVERFLOW=0)
plugin = DatabasePlugin(DatabasePluginConfig(databases={"default": settings}))


@get("/items/{item_id:int}")
async def get_item(item_id: int, db_connection: AsyncConnection) -> Item:
    return await fetch_item(db_connection, item_id)


@post("/items")
async def create_item(data: ItemIn, db_connection: AsyncConnection) -> Item:
    return await insert_item(db_connection, data)


app = Litestar(route_handlers=[get_item, create_item], plugins=[plugin])
