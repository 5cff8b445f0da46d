"""Sessions that join one given connection: how test fixtures share their transaction.

A test fixture opens a connection, begins a transaction and binds the
database to it; from then on every manager of that database (whichever
registry or app built it) hands out sessions on that connection with
``join_transaction_mode="create_savepoint"``, so code under test may commit
and roll back freely and the fixture still rolls everything back at the end.
Nothing is bound outside tests, and then the lookup costs one dict check.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, sessionmaker

from project.database import listeners

__all__ = [
    "Binding",
    "DatabaseKey",
    "bind",
    "binding_for",
    "bound_async_sessionmaker",
    "bound_sync_sessionmaker",
    "database_key",
    "unbind",
]

DatabaseKey = tuple[str, str | None, int | None, str | None]


def database_key(url: str | URL) -> DatabaseKey:
    """What identifies one database whatever the driver: family, host, port, name."""
    return _key(url if isinstance(url, str) else url.render_as_string(hide_password=False))


@functools.lru_cache(maxsize=64)
def _key(url: str) -> DatabaseKey:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    port = parsed.port or (5432 if backend == "postgresql" else None)
    return (backend, parsed.host, port, parsed.database)


@dataclass(frozen=True)
class Binding:
    """One database bound to one connection, on one driver side."""

    side: Literal["sync", "async"]
    connection: Connection  # for the async side, the AsyncConnection's sync_connection
    async_sessions: async_sessionmaker[AsyncSession] | None = None
    sync_sessions: sessionmaker[Session] | None = None


_bindings: dict[DatabaseKey, Binding] = {}


def bind(url: str | URL, connection: Connection | AsyncConnection) -> Binding:
    """Make every session of the database at ``url`` join ``connection``'s transaction."""
    key = database_key(url)
    if key in _bindings:
        raise RuntimeError(f"Database {key[3]!r} is already bound to a connection.")
    if isinstance(connection, AsyncConnection):
        async_sessions = listeners.make_async_sessionmaker(
            connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        if connection.sync_connection is None:
            raise RuntimeError("Bind an AsyncConnection after connecting it.")
        binding = Binding("async", connection.sync_connection, async_sessions=async_sessions)
    else:
        sync_sessions = listeners.make_sync_sessionmaker(
            connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        binding = Binding("sync", connection, sync_sessions=sync_sessions)
    _bindings[key] = binding
    return binding


def unbind(url: str | URL) -> None:
    _bindings.pop(database_key(url), None)


def binding_for(url: str | URL) -> Binding | None:
    if not _bindings:
        return None
    return _bindings.get(database_key(url))


def bound_async_sessionmaker(url: str) -> async_sessionmaker[AsyncSession] | None:
    """The sessionmaker joining the bound connection, if this database is bound async."""
    binding = binding_for(url) if _bindings else None
    return binding.async_sessions if binding else None


def bound_sync_sessionmaker(url: str) -> sessionmaker[Session] | None:
    """The sessionmaker joining the bound connection, if this database is bound sync."""
    binding = binding_for(url) if _bindings else None
    return binding.sync_sessions if binding else None
