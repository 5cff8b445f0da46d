"""A repository-only CRUD app, in the shape of Litestar's async repository example."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from litestar import Controller, delete, get, patch, post

from tests.compat.models import Todo

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession  # resolved through the signature namespace


class TodoRepository(SQLAlchemyAsyncRepository[Todo]):
    model_type = Todo


class TodoIn(msgspec.Struct):
    title: str
    done: bool = False


def out(todo: Todo) -> dict[str, Any]:
    return {"id": todo.id, "title": todo.title, "done": todo.done}


class TodoController(Controller):
    path = "/todos"

    @post()
    async def create(self, db_session: AsyncSession, data: TodoIn) -> dict[str, Any]:
        todo = await TodoRepository(session=db_session).add(Todo(title=data.title, done=data.done))
        await db_session.commit()
        return out(todo)

    @get("/{todo_id:int}")
    async def read(self, db_session: AsyncSession, todo_id: int) -> dict[str, Any]:
        return out(await TodoRepository(session=db_session).get(todo_id))

    @patch("/{todo_id:int}")
    async def update(self, db_session: AsyncSession, todo_id: int, data: TodoIn) -> dict[str, Any]:
        repository = TodoRepository(session=db_session)
        todo = await repository.get(todo_id)
        todo.title, todo.done = data.title, data.done
        return out(await repository.update(todo))  # committed by the plugin

    @delete("/{todo_id:int}")
    async def remove(self, db_session: AsyncSession, todo_id: int) -> None:
        await TodoRepository(session=db_session).delete(todo_id)

    @get()
    async def listing(self, db_session: AsyncSession) -> list[dict[str, Any]]:
        todos = await TodoRepository(session=db_session).list(order_by=(Todo.id, False))
        return [out(todo) for todo in todos]


SCRIPT = [
    ("POST", "/todos", {"title": "write"}),
    ("POST", "/todos", {"title": "test"}),
    ("POST", "/todos", {"title": "write"}),  # duplicate: DuplicateKeyError -> 409
    ("GET", "/todos/1", None),
    ("GET", "/todos/99", None),  # NotFoundError -> 404
    ("PATCH", "/todos/1", {"title": "written", "done": True}),
    ("PATCH", "/todos/99", {"title": "nothing"}),
    ("DELETE", "/todos/2", None),
    ("DELETE", "/todos/2", None),
    ("GET", "/todos", None),
]
