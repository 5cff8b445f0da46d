"""A service app with filter and pagination providers, in the shape of advanced-alchemy's example.

Names the app uses only in annotations are imported under TYPE_CHECKING, as
public apps do: the plugin's signature namespace must supply them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from advanced_alchemy.extensions.litestar.providers import create_service_dependencies
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.service import SQLAlchemyAsyncRepositoryService
from litestar import Controller, delete, get, post
from litestar.params import Dependency

from tests.compat.models import Todo

if TYPE_CHECKING:
    from advanced_alchemy.filters import FilterTypes
    from advanced_alchemy.service import OffsetPagination
    from sqlalchemy.ext.asyncio import AsyncEngine


class TodoOut(msgspec.Struct):
    id: int
    title: str
    done: bool


class TodoIn(msgspec.Struct):
    title: str
    done: bool = False


class TodoService(SQLAlchemyAsyncRepositoryService[Todo]):
    class Repository(SQLAlchemyAsyncRepository[Todo]):
        model_type = Todo

    repository_type = Repository


class TodoController(Controller):
    path = "/todos"
    dependencies = create_service_dependencies(
        TodoService,
        key="todos_service",
        filters={
            "id_filter": int,
            "pagination_type": "limit_offset",
            "pagination_size": 2,
            "search": "title",
            "search_ignore_case": True,
            "sort_field": "id",
            "sort_order": "asc",
        },
    )

    @get()
    async def listing(
        self,
        todos_service: TodoService,
        filters: Annotated[list[FilterTypes], Dependency(skip_validation=True)],
    ) -> OffsetPagination[TodoOut]:
        results, total = await todos_service.list_and_count(*filters)
        return todos_service.to_schema(results, total, filters=filters, schema_type=TodoOut)

    @post()
    async def create(self, todos_service: TodoService, data: TodoIn) -> TodoOut:
        todo = await todos_service.create(msgspec.structs.asdict(data))
        return todos_service.to_schema(todo, schema_type=TodoOut)

    @get("/{todo_id:int}")
    async def read(self, todos_service: TodoService, todo_id: int) -> TodoOut:
        return todos_service.to_schema(await todos_service.get(todo_id), schema_type=TodoOut)

    @delete("/{todo_id:int}")
    async def remove(self, todos_service: TodoService, todo_id: int) -> None:
        await todos_service.delete(todo_id, auto_commit=True)

    @get("/dialect")
    async def dialect(self, db_engine: AsyncEngine) -> dict[str, Any]:
        return {"dialect": db_engine.dialect.name}


SCRIPT = [
    *[
        ("POST", "/todos", {"title": title})
        for title in ("Alpha", "beta", "Gamma", "delta", "Beta2")
    ],
    ("POST", "/todos", {"title": "Alpha"}),  # duplicate -> 409
    ("GET", "/todos", None),
    ("GET", "/todos?currentPage=2&pageSize=2", None),
    ("GET", "/todos?searchString=BETA", None),
    ("GET", "/todos?currentPage=0", None),  # invalid page -> 400
    ("GET", "/todos/4", None),
    ("GET", "/todos/99", None),
    ("DELETE", "/todos/2", None),
    ("DELETE", "/todos/99", None),
    ("GET", "/todos/dialect", None),
]
