"""A 2xx means stored, also for writes made after the response started.

A streaming body keeps the request transaction open and commits before its
last part: a commit that fails cuts the body short (the client never sees a
complete 2xx) and is logged. What a background task writes with the request
session is committed after the task; a failure there is logged.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import psycopg2
import pytest
from litestar import Litestar, Response, post
from litestar.background_tasks import BackgroundTask
from litestar.response import Stream
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from plugins.database import DatabasePlugin, DatabasePluginConfig
from project.schema import DatabaseSettings
from tests.serve import logs_fixture, serve  # noqa: F401 - logs_fixture is the logs fixture


def _execute(url: str, *statements: str) -> list[Any]:
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
        rows = cursor.fetchall() if cursor.description else []
    connection.close()
    return rows


@pytest.fixture
def table(postgres_url: str) -> Iterator[str]:
    """Its unique constraint is checked at COMMIT, so a commit can fail on purpose."""
    name = f"w_{uuid.uuid4().hex[:12]}"
    _execute(
        postgres_url,
        f"CREATE TABLE {name} (id int, "
        f"CONSTRAINT {name}_u UNIQUE (id) DEFERRABLE INITIALLY DEFERRED)",
    )
    yield name
    _execute(postgres_url, f"DROP TABLE {name}")


def _count(url: str, table: str) -> int:
    return int(_execute(url, f"SELECT count(*) FROM {table}")[0][0])


def _app(url: str, table: str) -> Litestar:
    def insert(row_id: int) -> Any:
        return text(f"INSERT INTO {table} (id) VALUES ({row_id})")

    @post("/stream/{first:int}/{last:int}")
    async def stream(db_session: AsyncSession, first: int, last: int) -> Stream:
        async def body() -> AsyncIterator[bytes]:
            for row_id in range(first, last + 1):
                await db_session.execute(insert(row_id))
                seen = await db_session.scalar(text(f"SELECT count(*) FROM {table}"))
                yield f"{row_id}:{seen}\n".encode()

        return Stream(body())

    @post("/background/{first:int}/{last:int}")
    async def background(db_session: AsyncSession, first: int, last: int) -> Response[str]:
        async def write() -> None:
            for row_id in range(first, last + 1):
                await db_session.execute(insert(row_id))

        return Response("accepted", status_code=202, background=BackgroundTask(write))

    databases = {"default": DatabaseSettings(URL=url)}
    plugin = DatabasePlugin(DatabasePluginConfig(databases=databases, startup_check="off"))
    return Litestar(route_handlers=[stream, background], plugins=[plugin])


async def test_writes_in_a_streaming_body_are_committed_before_its_end(
    postgres_url: str, table: str
) -> None:
    async with serve(_app(postgres_url, table)) as base, httpx.AsyncClient(base_url=base) as client:
        for start in range(0, 20, 4):
            response = await client.post(f"/stream/{start}/{start + 3}")
            assert response.status_code == 201
            # Reads in the body see the body's own earlier writes: one transaction.
            assert response.text.splitlines()[-1] == f"{start + 3}:{start + 4}"
    assert _count(postgres_url, table) == 20


async def test_a_stream_whose_commit_fails_is_cut_short_and_logged(
    postgres_url: str, table: str, logs: list[logging.LogRecord]
) -> None:
    async with serve(_app(postgres_url, table)) as base, httpx.AsyncClient(base_url=base) as client:
        await client.post("/stream/1/1")
        with pytest.raises(httpx.RemoteProtocolError):  # the body never completes
            await client.post("/stream/0/2")  # row 1 again: the deferred check fails at COMMIT
    assert _count(postgres_url, table) == 1
    [logged] = [r for r in logs if r.name == "project.database"]
    assert logged.levelno == logging.ERROR
    assert "Commit after a stream failed" in logged.getMessage()


async def _wait_for_count(url: str, table: str, expected: int) -> int:
    for _ in range(100):
        count = await asyncio.to_thread(_count, url, table)
        if count == expected:
            break
        await asyncio.sleep(0.02)
    return count


async def test_writes_of_a_background_task_are_committed_after_it(
    postgres_url: str, table: str
) -> None:
    async with serve(_app(postgres_url, table)) as base, httpx.AsyncClient(base_url=base) as client:
        assert (await client.post("/background/1/3")).status_code == 202
        assert await _wait_for_count(postgres_url, table, 3) == 3


async def test_a_background_task_whose_commit_fails_is_logged(
    postgres_url: str, table: str, logs: list[logging.LogRecord]
) -> None:
    async with serve(_app(postgres_url, table)) as base, httpx.AsyncClient(base_url=base) as client:
        assert (await client.post("/background/1/1")).status_code == 202
        await _wait_for_count(postgres_url, table, 1)
        assert (await client.post("/background/0/1")).status_code == 202
        for _ in range(100):
            if any(r.name == "project.database" for r in logs):
                break
            await asyncio.sleep(0.02)
    assert _count(postgres_url, table) == 1
    [logged] = [r for r in logs if r.name == "project.database"]
    assert "Commit after a background task failed" in logged.getMessage()
