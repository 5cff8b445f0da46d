"""Fail at once, not after the busy timeout, when a request deadlocks itself on SQLite.

SQLite has one writer. A request whose transaction holds the write lock (its
``db_session`` wrote, or began ``IMMEDIATE``) and that then begins a
transaction on a *second* connection to the same file (an injected engine,
``db_sync_session`` beside ``db_session``) waits for itself: the lock is
released only when the request ends. Without this guard that is a silent
10 s wait and a 500 ``database is locked``.

The plugin marks each request with ``request_scope()``; engines get
``install(engine)``. Outside a request nothing is checked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Engine, event

__all__ = ["SQLiteSelfDeadlockError", "install", "request_scope"]


class SQLiteSelfDeadlockError(RuntimeError):
    """A request began a second SQLite transaction while its first one holds the write lock."""


class _Request:
    """The SQLite write locks one request holds: database file -> DB-API connection."""

    __slots__ = ("active", "holders", "task")

    def __init__(self) -> None:
        self.active = True
        self.holders: dict[str, Any] = {}
        self.task = _current_task()


_request: ContextVar[_Request | None] = ContextVar("project_sqlite_request", default=None)


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # a worker thread (a sync handler): it runs for the request
        return None


@contextmanager
def request_scope() -> Iterator[None]:
    """Mark the code inside as one request: its connections must not wait for each other."""
    request = _Request()
    token = _request.set(request)
    try:
        yield
    finally:
        request.active = False  # tasks that copied this context outlive the request
        _request.reset(token)


def _this_request() -> _Request | None:
    request = _request.get()
    if request is None or not request.active:
        return None
    task = _current_task()
    if task is not None and task is not request.task:
        return None  # a task the request started may wait for the request's commit
    return request


def install(engine: Engine) -> None:
    """Check every transaction that begins on ``engine`` (a SQLite file) against the request."""
    path = engine.url.database or ""

    @event.listens_for(engine, "begin", insert=True)
    def _on_begin(connection: Any) -> None:
        request = _this_request()
        if request is None:
            return
        if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            return
        dbapi = connection.connection.dbapi_connection
        holder = request.holders.get(path)
        if holder is not None and holder is not dbapi:
            raise SQLiteSelfDeadlockError(_MESSAGE.format(path=path))
        request.holders[path] = dbapi

    def _on_end(connection: Any) -> None:
        request = _request.get()
        if request is None or path not in request.holders or connection.invalidated:
            return  # an invalidated connection is released when it goes back to the pool
        if request.holders[path] is connection.connection.dbapi_connection:
            del request.holders[path]

    def _on_checkin(dbapi: Any, record: Any) -> None:
        request = _request.get()
        if request is not None and request.holders.get(path) is dbapi:
            del request.holders[path]

    event.listen(engine, "commit", _on_end)
    event.listen(engine, "rollback", _on_end)
    event.listen(engine, "checkin", _on_checkin)


_MESSAGE = (
    "This request already holds the SQLite write lock on {path} through one connection and "
    "began a transaction on a second one, which would wait for the first until the busy "
    "timeout (SQLite allows one writer; the request's transaction ends only after the "
    "handler returns). Use one connection per request: db_session and db_connection share "
    "the request's connection, so use them instead of an injected engine or "
    "db_sync_session beside db_session; or give the route opt transaction='autocommit' "
    "so each statement commits on its own."
)
