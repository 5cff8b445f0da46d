"""A SQLAlchemy model as the request body, as in Litestar's SQLAlchemy plugin example."""

from __future__ import annotations

from collections.abc import Sequence

from litestar import get, post
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.compat.models import TodoItem


async def _todos(done: bool | None, session: AsyncSession) -> Sequence[TodoItem]:
    query = select(TodoItem).order_by(TodoItem.title)
    if done is not None:
        query = query.where(TodoItem.done.is_(done))
    return (await session.execute(query)).scalars().all()


@get("/")
async def get_list(db_session: AsyncSession, done: bool | None = None) -> Sequence[TodoItem]:
    return await _todos(done, db_session)


@post("/")
async def add_item(data: TodoItem, db_session: AsyncSession) -> Sequence[TodoItem]:
    async with db_session.begin():
        db_session.add(data)
    return await _todos(None, db_session)


HANDLERS = [get_list, add_item]
SCRIPT = [
    ("POST", "/", {"title": "Start writing TODO list", "done": True}),
    ("POST", "/", {"title": "???", "done": False}),
    ("POST", "/", {"title": "Profit", "done": False}),
    ("GET", "/?done=false", None),
    ("POST", "/", {"title": "Profit", "done": True}),  # a raw IntegrityError at commit
    ("GET", "/", None),
]
