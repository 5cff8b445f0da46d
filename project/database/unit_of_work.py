"""The unit of work: one session or connection, ended once (commit or rollback), then closed.

``manager.session()`` / ``manager.connect()`` and DatabasePlugin's requests
all end their transactions here, so a block of code and a request behave
alike: commit on success, roll back on error, drop a connection that was
cancelled mid-query, and always hand the connection back, also while the
task is being cancelled.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import anyio.to_thread
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session

from project.database import listeners

if TYPE_CHECKING:
    from project.database.manager import DatabaseSessionManager

AsyncResource = TypeVar("AsyncResource", AsyncSession, AsyncConnection)


@dataclass(slots=True)
class UnitOfWork:
    """One session or connection, whether it holds a transaction to end, and its database."""

    resource: AsyncSession | AsyncConnection | Session
    atomic: bool
    manager: DatabaseSessionManager  # explains its errors and names it in logs

    def holds_transaction(self) -> bool:
        """Whether ending this work means a COMMIT or ROLLBACK on the server."""
        return self.atomic and self.resource.in_transaction()

    def unfinished(self) -> bool:
        """Whether ``finish`` has anything to do: a transaction, or file work to wait for."""
        return self.holds_transaction() or listeners.pending(self.resource)

    async def finish(self, success: bool) -> None:
        """Commit (when atomic and successful) or roll back whatever transaction is open.

        Harmless when nothing is open, so a request may end its work more than
        once (at the response start, then after a stream or background task).
        """
        resource = self.resource
        if isinstance(resource, Session):
            if self.atomic and resource.in_transaction():
                await anyio.to_thread.run_sync(resource.commit if success else resource.rollback)
            return
        # Autocommit: nothing to end; close() hands the connection back.
        if self.atomic and resource.in_transaction():
            await (resource.commit() if success else resource.rollback())
        if isinstance(resource, AsyncSession):
            await listeners.settle(resource)  # FileObject uploads finish before the response

    async def abort(self, exc: BaseException) -> None:
        """The work raised ``exc``: roll back, or on cancellation drop the connection.

        Cancelled inside its transaction, a connection may be mid-query, so it is
        invalidated rather than reused; cancelled after its COMMIT completed (see
        ``uninterrupted``) it is clean and goes back to the pool. Both steps are
        shielded so that they complete.
        """
        resource = self.resource
        if isinstance(resource, Session):
            await anyio.to_thread.run_sync(resource.rollback)
        elif isinstance(exc, asyncio.CancelledError):
            if resource.in_transaction():
                await asyncio.shield(resource.invalidate())
        else:
            await asyncio.shield(resource.rollback())

    async def close(self) -> None:
        """Hand the connection back; shielded while the task is being cancelled."""
        resource = self.resource
        if isinstance(resource, Session):
            await anyio.to_thread.run_sync(resource.close)  # not cancellable by default
        elif (task := asyncio.current_task()) is not None and task.cancelling():
            await asyncio.shield(resource.close())
        else:
            await resource.close()


async def uninterrupted(work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` to its end even if this task is cancelled meanwhile, then be cancelled.

    For a COMMIT: cut off half-way, its outcome would be unknown. ``asyncio.shield``
    alone would return at once and leave the work running; anyio's shielded
    cancel scope does not stop ``Task.cancel()`` (what servers and timeouts use).
    """
    task = asyncio.ensure_future(work)
    interrupted: asyncio.CancelledError | None = None
    while not task.done():
        try:
            await asyncio.wait([task])
        except asyncio.CancelledError as exc:
            interrupted = exc
    if interrupted is not None:
        if not task.cancelled():
            task.exception()  # retrieved: the cancellation is what the caller sees
        raise interrupted
    task.result()


@asynccontextmanager
async def transaction(
    resource: AsyncResource, manager: DatabaseSessionManager
) -> AsyncIterator[AsyncResource]:
    """Commit ``resource`` when the block succeeds, roll back when it raises; close it.

    An error is raised as ``manager.explain(exc)`` (tagged with its database;
    a pool timeout becomes one that says how to size the pool).
    """
    work = UnitOfWork(resource, True, manager)
    try:
        yield resource
        finishing = work.finish(success=True)
        await (uninterrupted(finishing) if work.holds_transaction() else finishing)
    except BaseException as exc:
        await work.abort(exc)
        explained = manager.explain(exc) if isinstance(exc, Exception) else exc
        if explained is exc:
            raise
        raise explained from exc
    finally:
        await work.close()
