"""Apps with exception handlers of their own, which the plugin must never override."""

from __future__ import annotations

from typing import Any

from advanced_alchemy.exceptions import RepositoryError
from litestar import Request, Response, Router, get, post
from sqlalchemy.ext.asyncio import AsyncSession

from tests.compat.app_repository import TodoIn, TodoRepository, out
from tests.compat.models import Todo


def app_repository_error(request: Request[Any, Any, Any], exc: RepositoryError) -> Response[Any]:
    """The app's own body for every repository error, NotFoundError and IntegrityError included."""
    return Response({"error": type(exc).__name__, "detail": exc.detail}, status_code=422)


def router_catch_all(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    return Response({"router": type(exc).__name__}, status_code=418)


@get("/todos/{todo_id:int}")
async def read(db_session: AsyncSession, todo_id: int) -> dict[str, Any]:
    return out(await TodoRepository(session=db_session).get(todo_id))


@post("/todos")
async def create(db_session: AsyncSession, data: TodoIn) -> dict[str, Any]:
    todo = await TodoRepository(session=db_session).add(Todo(title=data.title), auto_commit=True)
    return out(todo)


HANDLERS = [read, create, Router("/strict", route_handlers=[read, create])]
EXCEPTION_HANDLERS = {RepositoryError: app_repository_error}
SCRIPT = [
    ("POST", "/todos", {"title": "once"}),
    ("POST", "/todos", {"title": "once"}),  # DuplicateKeyError: the app's handler
    ("GET", "/todos/7", None),  # NotFoundError: the app's handler
    ("GET", "/strict/todos/7", None),
]

# Second shape: the app handles nothing itself at app level, one router catches everything.
ROUTED_HANDLERS = [
    read,
    Router(
        "/strict", route_handlers=[read, create], exception_handlers={Exception: router_catch_all}
    ),
]
ROUTED_SCRIPT = [
    ("GET", "/todos/7", None),  # no handler of the app's: the plugin's 404
    ("GET", "/strict/todos/7", None),  # the router's catch-all handles it
    ("POST", "/strict/todos", {"title": "x"}),
    ("POST", "/strict/todos", {"title": "x"}),  # the router's catch-all handles it
]
