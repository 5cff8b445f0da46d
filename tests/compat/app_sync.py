"""A sync app: sync handlers, a sync repository and a sync Session as db_session."""

from __future__ import annotations

from typing import Any

import msgspec
from advanced_alchemy.repository import SQLAlchemySyncRepository
from litestar import Controller, delete, get, post
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tests.compat.models import Todo


class TodoRepository(SQLAlchemySyncRepository[Todo]):
    model_type = Todo


class TodoIn(msgspec.Struct):
    title: str


def out(todo: Todo) -> dict[str, Any]:
    return {"id": todo.id, "title": todo.title, "done": todo.done}


class TodoController(Controller):
    path = "/todos"

    @post(sync_to_thread=True)
    def create(self, db_session: Session, data: TodoIn) -> dict[str, Any]:
        return out(TodoRepository(session=db_session).add(Todo(title=data.title)))

    @get("/{todo_id:int}", sync_to_thread=True)
    def read(self, db_session: Session, todo_id: int) -> dict[str, Any]:
        return out(TodoRepository(session=db_session).get(todo_id))

    @delete("/{todo_id:int}", sync_to_thread=True)
    def remove(self, db_session: Session, todo_id: int) -> None:
        TodoRepository(session=db_session).delete(todo_id)

    @get(sync_to_thread=True)
    def listing(self, db_session: Session, db_engine: Engine) -> dict[str, Any]:
        todos = TodoRepository(session=db_session).list(order_by=(Todo.id, False))
        return {"dialect": db_engine.dialect.name, "todos": [out(todo) for todo in todos]}


SCRIPT = [
    ("POST", "/todos", {"title": "one"}),
    ("POST", "/todos", {"title": "two"}),
    ("POST", "/todos", {"title": "one"}),
    ("GET", "/todos/2", None),
    ("GET", "/todos/9", None),
    ("DELETE", "/todos/1", None),
    ("DELETE", "/todos/1", None),
    ("GET", "/todos", None),
]
