"""Several databases in one session: each model goes to the alias it is bound to.

A model names its alias with ``__bind_key__`` (advanced-alchemy's convention;
a base class may set it for all its models); a model without one lives on
"default". ``session(registry, models)`` is an ``AsyncSession`` whose
SQLAlchemy ``binds`` send each model's statements to its alias's engine. Its
commit commits each database in turn: two databases are never one atomic
transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

from project.database.manager import DatabaseSessionManager

DEFAULT = "default"


def alias_of(model: type) -> str:
    """The alias a model is bound to: its ``__bind_key__``, else "default"."""
    return getattr(model, "__bind_key__", None) or DEFAULT


def binds(
    managers: Mapping[str, DatabaseSessionManager], models: Iterable[type]
) -> dict[Any, AsyncEngine | AsyncConnection]:
    """``binds=`` for an AsyncSession: every model mapped to its alias's engine."""
    return {model: managers[alias_of(model)].async_engine for model in models}


def sync_binds(
    managers: Mapping[str, DatabaseSessionManager], models: Iterable[type]
) -> dict[Any, Engine | Connection]:
    """``binds=`` for a Session."""
    return {model: managers[alias_of(model)].sync_engine for model in models}


@asynccontextmanager
async def session(
    managers: Mapping[str, DatabaseSessionManager], models: Iterable[type]
) -> AsyncIterator[AsyncSession]:
    """An AsyncSession across aliases: commit on success, rollback on error."""
    routed = AsyncSession(binds=binds(managers, models), expire_on_commit=False)
    try:
        yield routed
        await routed.commit()
    except BaseException:
        await asyncio.shield(routed.rollback())
        raise
    finally:
        await asyncio.shield(routed.close())


def sync_session(managers: Mapping[str, DatabaseSessionManager], models: Iterable[type]) -> Session:
    """The sync counterpart: a Session with the same binds (the caller ends it)."""
    return Session(binds=sync_binds(managers, models), expire_on_commit=False)
