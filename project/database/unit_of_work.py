"""The unit of work: one session or connection, ended once (commit or rollback), then closed.

``manager.session()`` / ``manager.connect()`` and DatabasePlugin's requests
all end their transactions here, so a block of code and a request behave
alike: commit on success, roll back on error, drop a connection that was
cancelled mid-query, and always hand the connection back, also while the
task is being cancelled.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

import anyio.to_thread
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session

AsyncResource = TypeVar("AsyncResource", AsyncSession, AsyncConnection)


class PoolExhaustedError(sa_exc.TimeoutError):
    """Every pooled connection stayed busy for longer than POOL_TIMEOUT."""


Explain = Callable[[sa_exc.TimeoutError], PoolExhaustedError]


@dataclass(slots=True)
class UnitOfWork:
    """One session or connection, and whether it holds a transaction to end."""

    resource: AsyncSession | AsyncConnection | Session
    atomic: bool
    finished: bool = False

    async def finish(self, success: bool) -> None:
        """Commit (when atomic and successful) or roll back, exactly once."""
        if self.finished:
            return
        self.finished = True
        if not self.atomic:
            return  # autocommit: nothing to end; close() hands the connection back
        resource = self.resource
        if isinstance(resource, Session):
            if resource.in_transaction():
                await anyio.to_thread.run_sync(resource.commit if success else resource.rollback)
            return
        if resource.in_transaction():
            await (resource.commit() if success else resource.rollback())

    async def abort(self, exc: BaseException) -> None:
        """The work raised ``exc``: roll back, or on cancellation drop the connection.

        A cancelled connection may be mid-query, so it is invalidated rather
        than reused; both steps are shielded so that they complete.
        """
        self.finished = True
        resource = self.resource
        if isinstance(resource, Session):
            await anyio.to_thread.run_sync(resource.rollback)
        elif isinstance(exc, asyncio.CancelledError):
            await asyncio.shield(resource.invalidate())
        else:
            await asyncio.shield(resource.rollback())

    async def close(self) -> None:
        """Hand the connection back; shielded while the task is being cancelled."""
        resource = self.resource
        if isinstance(resource, Session):
            await anyio.to_thread.run_sync(resource.close)  # not cancellable by default
        elif _being_cancelled():
            await asyncio.shield(resource.close())
        else:
            await resource.close()


def _being_cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


@asynccontextmanager
async def transaction(resource: AsyncResource, explain: Explain) -> AsyncIterator[AsyncResource]:
    """Commit ``resource`` when the block succeeds, roll back when it raises; close it.

    A pool timeout inside the block becomes ``explain(exc)``: an error that
    says how to size the pool.
    """
    work = UnitOfWork(resource, atomic=True)
    try:
        yield resource
        await work.finish(success=True)
    except BaseException as exc:
        await work.abort(exc)
        if isinstance(exc, sa_exc.TimeoutError) and not isinstance(exc, PoolExhaustedError):
            raise explain(exc) from exc
        raise
    finally:
        await work.close()
