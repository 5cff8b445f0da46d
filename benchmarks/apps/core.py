"""Core statements on an ``AsyncConnection``, shared by the two Core apps."""

from __future__ import annotations

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
