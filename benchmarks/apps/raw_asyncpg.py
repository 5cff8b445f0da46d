"""The floor of the stack: Litestar on a bare asyncpg pool, no ORM, no plugin.

The pool skips asyncpg's reset query on release (one round trip per request)
so that this app does the least work the two endpoints allow.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from litestar import Litestar, get, post
from litestar.datastructures import State
from litestar.exceptions import NotFoundException

from benchmarks.apps.common import POOL_SIZE, Item, ItemIn, database_url


async def _no_reset(connection: asyncpg.Connection) -> None:
    """Nothing to reset: the handlers leave no session state behind."""


@asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    pool = await asyncpg.create_pool(
        database_url(), min_size=POOL_SIZE, max_size=POOL_SIZE, reset=_no_reset
    )
    app.state.pool = pool
    try:
        yield
    finally:
        await pool.close()


@get("/items/{item_id:int}")
async def get_item(item_id: int, state: State) -> Item:
    row = await state.pool.fetchrow(
        "SELECT id, name, quantity FROM bench_item WHERE id = $1", item_id
    )
    if row is None:
        raise NotFoundException(f"item {item_id} not found")
    return Item(id=row[0], name=row[1], quantity=row[2])


@post("/items")
async def create_item(data: ItemIn, state: State) -> Item:
    async with state.pool.acquire() as connection, connection.transaction():
        row = await connection.fetchrow(
            "INSERT INTO bench_item (name, quantity) VALUES ($1, $2) RETURNING id",
            data.name,
            data.quantity,
        )
    return Item(id=row[0], name=data.name, quantity=data.quantity)


app = Litestar(route_handlers=[get_item, create_item], lifespan=[lifespan])
