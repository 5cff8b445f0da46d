"""Run one app twice: on advanced-alchemy's SQLAlchemyPlugin and on our DatabasePlugin.

Each twin run starts from fresh tables, sends the same scripted requests and
returns the transcript (status and body of every response) for comparison.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from advanced_alchemy._listeners import _active_file_operations
from advanced_alchemy.extensions.litestar import (
    AsyncSessionConfig,
    SQLAlchemyAsyncConfig,
    SQLAlchemyPlugin,
    SQLAlchemySyncConfig,
    SyncSessionConfig,
)
from advanced_alchemy.types.file_object import storages
from advanced_alchemy.types.file_object.backends.fsspec import FSSpecBackend
from litestar import Litestar
from litestar.plugins import InitPluginProtocol
from litestar.testing import AsyncTestClient
from sqlalchemy import create_engine, text

from plugins.database import DatabasePlugin, DatabasePluginConfig
from project.schema import DatabaseSettings
from project.urls import parse_database_url
from tests.compat.models import FILES, TABLES

Flavor = Literal["advanced_alchemy", "ours"]
FLAVORS: tuple[Flavor, ...] = ("advanced_alchemy", "ours")
Step = tuple[str, str, Any]  # method, path, JSON body (or None)
Transcript = list[tuple[int, Any]]

# A sync app on advanced-alchemy injects a sync Session as db_session and an Engine
# as db_engine; ours injects the async ones there unless told otherwise.
SYNC_KEYS = {
    "session_key": "db_async_session",
    "sync_session_key": "db_session",
    "engine_key": "db_async_engine",
    "sync_engine_key": "db_engine",
}


def make_plugin(flavor: Flavor, url: str, *, sync: bool = False) -> InitPluginProtocol:
    """advanced-alchemy as its examples configure it (autocommit), or ours with defaults."""
    parsed = parse_database_url(url, "test")
    if flavor == "advanced_alchemy":
        if sync:
            return SQLAlchemyPlugin(
                config=SQLAlchemySyncConfig(
                    connection_string=parsed.sync_url,
                    before_send_handler="autocommit",
                    session_config=SyncSessionConfig(expire_on_commit=False),
                )
            )
        return SQLAlchemyPlugin(
            config=SQLAlchemyAsyncConfig(
                connection_string=parsed.async_url,
                before_send_handler="autocommit",
                session_config=AsyncSessionConfig(expire_on_commit=False),
            )
        )
    keys = SYNC_KEYS if sync else {}
    databases = {"default": DatabaseSettings(URL=url)}
    config = DatabasePluginConfig(databases=databases, startup_check="off", **keys)
    return DatabasePlugin(config)


def reset_tables(url: str) -> None:
    engine = create_engine(parse_database_url(url, "test").sync_url)
    with engine.begin() as connection:
        for table in reversed(TABLES):
            table.drop(connection, checkfirst=True)
        for table in TABLES:
            table.create(connection)
    engine.dispose()


def rows(url: str, query: str) -> list[tuple[Any, ...]]:
    engine = create_engine(parse_database_url(url, "test").sync_url)
    with engine.connect() as connection:
        result = [tuple(row) for row in connection.execute(text(query))]
    engine.dispose()
    return result


def use_file_store(folder: Path) -> None:
    """Point the FileObject backend at a fresh local folder (fsspec's local-file backend)."""
    folder.mkdir(parents=True, exist_ok=True)
    storages.unregister_backend(FILES)
    storages.register_backend(FSSpecBackend(key=FILES, fs="file", prefix=str(folder)))


def stored_files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


async def files_settled() -> None:
    """Wait for advanced-alchemy's unawaited upload tasks (ours finish before the response).

    They run on the test client's event loop thread, so this polls.
    """
    for _ in range(500):
        if not _active_file_operations:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("advanced-alchemy's file uploads did not finish within 5 s")


def _normalise(body: Any) -> Any:
    """Drop the clock: created_at / updated_at differ between any two runs."""
    if isinstance(body, dict):
        return {k: _normalise(v) for k, v in body.items() if k not in ("created_at", "updated_at")}
    if isinstance(body, list):
        return [_normalise(v) for v in body]
    return body


async def run(
    app: Litestar,
    script: Sequence[Step],
    after_each: Callable[[int], None] | None = None,
) -> Transcript:
    """Send ``script`` to ``app`` in order; ``after_each(i)`` runs right after response i."""
    transcript: Transcript = []
    async with AsyncTestClient(app) as client:
        for index, (method, path, body) in enumerate(script):
            response = await client.request(method, path, json=body)
            try:
                content: Any = _normalise(response.json())
            except ValueError:
                content = response.text
            transcript.append((response.status_code, content))
            if after_each is not None:
                after_each(index)
        await files_settled()
    return transcript
