"""What only our plugin offers to advanced-alchemy users, and the SQLite self-deadlock."""

from __future__ import annotations

import asyncio
import zlib
from pathlib import Path
from typing import Any

import pytest
from advanced_alchemy.exceptions import NotFoundError
from advanced_alchemy.types import FileObject
from litestar import Litestar, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from litestar.testing import AsyncTestClient
from sqlalchemy import Engine, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

from plugins.database import DatabasePlugin, DatabasePluginConfig, request_session
from project.database import DatabaseRegistry
from project.errors import SettingsError
from project.schema import DatabaseSettings
from tests.compat.harness import make_plugin, reset_tables, rows, stored_files, use_file_store
from tests.compat.models import FILES, Doc, Todo

TITLES = "SELECT title FROM compat_todo ORDER BY title"


def _insert(title: str) -> Any:
    """A raw insert; the id comes from the title (PostgreSQL's ids come from a client sequence)."""
    return text(
        "INSERT INTO compat_todo (id, title, done, created_at, updated_at) VALUES "
        f"({zlib.crc32(title.encode()) % 1_000_000}, '{title}', false, "
        "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
    )


def _app(url: str, handlers: list[Any], **config: Any) -> Litestar:
    plugin = DatabasePlugin(
        DatabasePluginConfig(
            databases={"default": DatabaseSettings(URL=url)}, startup_check="off", **config
        )
    )
    return Litestar(handlers, plugins=[plugin], debug=True)


async def test_session_and_connection_of_one_request_share_its_transaction(
    database_url: str,
) -> None:
    """On SQLite they are one connection; separately they would wait for each other."""

    @post("/both")
    async def both(db_session: AsyncSession, db_connection: AsyncConnection) -> None:
        await db_session.execute(_insert("session"))
        await db_connection.execute(_insert("connection"))

    @post("/both-then-fail")
    async def both_then_fail(db_session: AsyncSession, db_connection: AsyncConnection) -> None:
        await db_connection.execute(_insert("lost-1"))
        await db_session.execute(_insert("lost-2"))
        raise ValueError("rolled back together")

    reset_tables(database_url)
    async with AsyncTestClient(_app(database_url, [both, both_then_fail])) as client:
        assert (await client.post("/both")).status_code == 201
        assert (await client.post("/both-then-fail")).status_code == 500
    assert rows(database_url, TITLES) == [("connection",), ("session",)]


async def test_a_handler_that_commits_may_then_write_through_the_engine(database_url: str) -> None:
    """advanced-alchemy answers 201 here; so do we."""

    @post("/engine")
    async def engine_write(db_session: AsyncSession, db_engine: AsyncEngine) -> None:
        await db_session.execute(_insert("session"))
        await db_session.commit()
        async with db_engine.begin() as connection:
            await connection.execute(_insert("engine"))

    for flavor in ("advanced_alchemy", "ours"):
        reset_tables(database_url)
        app = Litestar([engine_write], plugins=[make_plugin(flavor, database_url)])
        async with AsyncTestClient(app) as client:
            assert (await client.post("/engine")).status_code == 201, flavor
        assert rows(database_url, TITLES) == [("engine",), ("session",)], flavor


async def test_a_second_sqlite_connection_fails_at_once_with_the_fix(
    database_url: str,
) -> None:
    """Writing through another connection while the request holds SQLite's write lock."""

    @post("/engine")
    async def engine_write(db_session: AsyncSession, db_engine: AsyncEngine) -> None:
        await db_session.execute(_insert("session"))
        async with db_engine.begin() as connection:
            await connection.execute(_insert("engine"))

    @post("/sync", sync_to_thread=True)
    def sync_beside_async(db_sync_session: Session, db_engine: Engine) -> None:
        db_sync_session.execute(_insert("sync"))
        with db_engine.begin() as connection:
            connection.execute(_insert("sync-engine"))

    reset_tables(database_url)
    app = _app(database_url, [engine_write])
    sync_app = _app(
        database_url, [sync_beside_async], engine_key="db_async_engine", sync_engine_key="db_engine"
    )
    async with AsyncTestClient(app) as client, AsyncTestClient(sync_app) as sync_client:
        first = await client.post("/engine")
        second = await sync_client.post("/sync")
    if database_url.startswith("sqlite"):
        # Not after the 10 s busy timeout: the guard raises before BEGIN waits.
        for response in (first, second):
            assert response.status_code == 500
            assert "SQLiteSelfDeadlockError" in response.text
            assert "db_session and db_connection share the request's connection" in response.text
        assert rows(database_url, TITLES) == []
    else:
        assert (first.status_code, second.status_code) == (201, 201)
        assert len(rows(database_url, TITLES)) == 4


async def test_request_session_is_the_handlers_session_outside_injection(
    database_url: str,
) -> None:
    """A guard writes through ``request_session``; it commits or rolls back with the handler."""
    seen: dict[str, AsyncSession] = {}

    async def audit(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        session = await request_session(connection)
        seen["guard"] = session
        await session.execute(_insert(f"audit-{connection.path_params['outcome']}"))

    @post("/{outcome:str}", guards=[audit])
    async def handler(db_session: AsyncSession, outcome: str) -> Response[None]:
        seen["handler"] = db_session
        await db_session.execute(_insert(f"work-{outcome}"))
        return Response(None, status_code=201 if outcome == "ok" else 400)

    reset_tables(database_url)
    async with AsyncTestClient(_app(database_url, [handler])) as client:
        assert (await client.post("/ok")).status_code == 201
        assert seen["guard"] is seen["handler"]
        assert (await client.post("/bad")).status_code == 400
    assert rows(database_url, TITLES) == [("audit-ok",), ("work-ok",)]


async def test_commit_and_rollback_statuses_are_configurable(database_url: str) -> None:
    @post("/{status:int}")
    async def answer(db_session: AsyncSession, status: int) -> Response[None]:
        await db_session.execute(_insert(str(status)))
        return Response(None, status_code=status)

    reset_tables(database_url)
    app = _app(
        database_url,
        [answer],
        extra_commit_statuses={409},
        extra_rollback_statuses={202, 302},
    )
    async with AsyncTestClient(app) as client:
        for status in (201, 202, 302, 303, 409, 422):
            assert (await client.post(f"/{status}", follow_redirects=False)).status_code == status
    assert rows(database_url, TITLES) == [("201",), ("303",), ("409",)]


def test_a_status_in_both_sets_is_refused_with_the_fix() -> None:
    with pytest.raises(SettingsError, match=r"status codes \[409\] are in both"):
        DatabasePluginConfig(extra_commit_statuses={409}, extra_rollback_statuses={409})


def test_every_name_advanced_alchemy_adds_to_the_signature_namespace_is_there(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'names.sqlite3'}"
    theirs = Litestar([], plugins=[make_plugin("advanced_alchemy", url)]).signature_namespace
    sync = Litestar([], plugins=[make_plugin("advanced_alchemy", url, sync=True)])
    ours = Litestar([], plugins=[make_plugin("ours", url)]).signature_namespace
    expected = set(theirs) | set(sync.signature_namespace)
    assert len(expected) >= 30
    assert expected <= set(ours)


async def test_file_objects_are_stored_outside_requests_too(
    database_url: str, tmp_path: Path
) -> None:
    use_file_store(tmp_path)
    reset_tables(database_url)
    manager = DatabaseRegistry({"default": DatabaseSettings(URL=database_url)})["default"]
    try:
        async with manager.session() as session:
            session.add(
                Doc(
                    name="cli",
                    file=FileObject(backend=FILES, filename="cli.txt", content=b"from a script"),
                )
            )
        assert stored_files(tmp_path) == {"cli.txt": b"from a script"}
        with manager.sync_session() as sync:
            sync.add(
                Doc(
                    name="sync",
                    file=FileObject(backend=FILES, filename="sync.txt", content=b"sync"),
                )
            )
        assert stored_files(tmp_path)["sync.txt"] == b"sync"
    finally:
        await manager.close()


def test_request_session_outside_a_request_says_what_to_do() -> None:
    scope: Any = {
        "type": "http",
        "app": Litestar(
            [],
            plugins=[
                DatabasePlugin(
                    DatabasePluginConfig(databases={"default": DatabaseSettings(URL="sqlite://")})
                )
            ],
        ),
    }
    with pytest.raises(RuntimeError, match="add the plugin to the app"):
        asyncio.run(request_session(scope))


async def test_the_apps_status_code_handler_renders_a_mapped_repository_error(
    tmp_path: Path,
) -> None:
    """An app's 404 page shows for NotFoundError; advanced-alchemy, seeing any status-code
    handler, registers no RepositoryError handler at all and answers 500."""

    def not_found_page(request: Request[Any, Any, Any], exc: Exception) -> Response[str]:
        return Response(f"no such page: {request.url.path}", status_code=404)

    @get("/missing")
    async def missing() -> None:
        raise NotFoundError(detail="No row 7")

    url = f"sqlite:///{tmp_path / 'pages.sqlite3'}"
    responses = {}
    for flavor in ("advanced_alchemy", "ours"):
        plugin = make_plugin(flavor, url)
        app = Litestar([missing], plugins=[plugin], exception_handlers={404: not_found_page})
        async with AsyncTestClient(app) as client:
            responses[flavor] = await client.get("/missing")
    assert responses["advanced_alchemy"].status_code == 500
    assert (responses["ours"].status_code, responses["ours"].text) == (
        404,
        "no such page: /missing",
    )


async def test_a_handler_that_commits_itself_has_its_files_stored_before_the_response(
    database_url: str, tmp_path: Path
) -> None:
    @post("/docs", opt={"transaction": "autocommit"})
    async def upload(db_session: AsyncSession) -> None:
        file = FileObject(backend=FILES, filename="own.txt", content=b"committed by the handler")
        db_session.add(Doc(name="own", file=file))
        await db_session.commit()

    use_file_store(tmp_path)
    reset_tables(database_url)
    async with AsyncTestClient(_app(database_url, [upload])) as client:
        assert (await client.post("/docs")).status_code == 201
        assert stored_files(tmp_path) == {"own.txt": b"committed by the handler"}


async def test_an_app_level_handler_for_a_base_class_keeps_the_errors(tmp_path: Path) -> None:
    """The plugin registers nothing under an app's catch-all (advanced-alchemy's handler
    would take NotFoundError from it); the catch-all sees database errors too."""

    def catch_all(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        return Response({"caught": type(exc).__name__}, status_code=599)

    @get("/missing")
    async def missing() -> None:
        raise NotFoundError(detail="No row 7")

    url = f"sqlite:///{tmp_path / 'catch.sqlite3'}"
    app = Litestar(
        [missing], plugins=[make_plugin("ours", url)], exception_handlers={Exception: catch_all}
    )
    assert set(app.exception_handlers) == {Exception}
    async with AsyncTestClient(app) as client:
        response = await client.get("/missing")
    assert (response.status_code, response.json()) == (599, {"caught": "NotFoundError"})


async def test_a_flush_of_models_without_file_columns_tracks_no_files(tmp_path: Path) -> None:
    """advanced-alchemy's FileObject listener runs only for models with a FileObject column."""
    use_file_store(tmp_path / "files")
    url = f"sqlite:///{tmp_path / 'flush.sqlite3'}"
    reset_tables(url)
    manager = DatabaseRegistry({"default": DatabaseSettings(URL=url)})["default"]
    try:
        async with manager.session() as session:
            session.add(Todo(title="plain"))
            await session.flush()
            assert "_aa_file_tracker" not in session.info
            session.add(Doc(name="doc", file=FileObject(backend=FILES, filename="d.txt")))
            await session.flush()
            assert "_aa_file_tracker" in session.info
    finally:
        await manager.close()


async def test_the_engines_file_object_switch_holds_and_a_session_may_turn_it_back_on(
    tmp_path: Path,
) -> None:
    """``enable_file_object_listener`` as advanced-alchemy reads it: engine option, session info."""
    use_file_store(tmp_path / "files")
    url = f"sqlite:///{tmp_path / 'switch.sqlite3'}"
    reset_tables(url)
    manager = DatabaseRegistry({"default": DatabaseSettings(URL=url)})["default"]
    manager.async_engine.update_execution_options(enable_file_object_listener=False)
    try:
        async with manager.session() as session:
            session.add(
                Doc(name="off", file=FileObject(backend=FILES, filename="off.txt", content=b"-"))
            )
        async with manager.session() as session:
            session.info["enable_file_object_listener"] = True
            session.add(
                Doc(name="on", file=FileObject(backend=FILES, filename="on.txt", content=b"+"))
            )
        assert stored_files(tmp_path / "files") == {"on.txt": b"+"}
    finally:
        await manager.close()
