"""Core statements on an ``AsyncConnection``, shared by the Core apps, and the handlers
that take an injected ``db_connection``."""

from __future__ import annotations

from litestar import get, post
from litestar.exceptions import NotFoundException
from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from benchmarks.apps.common import Item, ItemIn
from benchmarks.apps.orm import BenchItem

_table = BenchItem.__table__
assert isinstance(_table, Table)
SELECT_ITEM = select(_table.c.id, _table.c.name, _table.c.quantity).where(
    _table.c.id == bindparam("item_id")
)
INSERT_ITEM = insert(_table).returning(_table.c.id)


async def fetch_item(connection: AsyncConnection, item_id: int) -> Item:
    row = (await connection.execute(SELECT_ITEM, {"item_id": item_id})).first()
    if row is None:
        raise NotFoundException(f"item {item_id} not found")
    return Item(id=row[0], name=row[1], quantity=row[2])


async def insert_item(connection: AsyncConnection, data: ItemIn) -> Item:
    values = {"name": data.name, "quantity": data.quantity}
    item_id = (await connection.execute(INSERT_ITEM, values)).scalar_one()
    return Item(id=item_id, name=data.name, quantity=data.quantity)


@get("/items/{item_id:int}")
async def get_item(item_id: int, db_connection: AsyncConnection) -> Item:
    return await fetch_item(db_connection, item_id)


@post("/items")
async def create_item(data: ItemIn, db_connection: AsyncConnection) -> Item:
    return await insert_item(db_connection, data)


route_handlers = [get_item, create_item]
