"""Connection pools: async waiters served in arrival order; idle connections pinged.

SQLAlchemy's ``AsyncAdaptedQueuePool`` wakes a waiter when a connection comes
back, but a request arriving in between takes that connection first, and the
woken waiter queues again. Under load a waiter can be overtaken again and
again (a p99 hundreds of times the median), and every overtaking costs a
wake-up and a new wait. Here a returned connection goes straight to the
longest waiter: nobody overtakes, and each wait costs one future. Waits time
out on one timer per queue (set for the oldest deadline), not one per wait.

Both our pools (``FairAsyncQueuePool``, ``IdlePingQueuePool``) ping a
connection that sat in the pool longer than ``ping_idle_after`` as they hand it
out. In the pool rather than in a ``checkout`` listener: any checkout listener
sends every checkout of SQLAlchemy down its slow path (1.8% of the
instructions of a one-row ORM GET, 0.5% of a Core one), and the pool knows
when a connection came back, not only when it last went out.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from typing import Any, Self, TypeVar, cast

from sqlalchemy.engine.interfaces import DBAPIConnection, Dialect
from sqlalchemy.pool import ConnectionPoolEntry, Pool, QueuePool

from project.database.sqlalchemy_internals import (
    AsyncAdaptedQueue,
    AsyncAdaptedQueuePool,
    Empty,
    await_,
)

_T = TypeVar("_T")
_EARLY = 0.001  # seconds: asyncio may run a timer this much before its time
_RETURNED_AT = "project_returned_at"  # record.info key: when the connection came back


class FairAsyncQueue(AsyncAdaptedQueue[_T]):
    """An asyncio queue whose blocking ``get`` is served first come, first served.

    While anyone waits the queue itself stays empty (each item returned goes
    to a waiter), so the fast path of ``get`` never overtakes a waiter.
    """

    def __init__(self, maxsize: int = 0, use_lifo: bool = False) -> None:
        super().__init__(maxsize, use_lifo)
        self._waiters: deque[tuple[float, asyncio.Future[_T]]] = deque()  # (deadline, waiter)
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None

    def put_nowait(self, item: _T) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()[1]
            if not waiter.done():  # not timed out, not cancelled
                waiter.set_result(item)
                return
        super().put_nowait(item)

    def get(self, block: bool = True, timeout: float | None = None) -> _T:
        try:
            return self._queue.get_nowait()
        except asyncio.QueueEmpty:
            if not block:
                raise Empty() from None
        return await_(self._wait(timeout))

    async def _wait(self, seconds: float | None) -> _T:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[_T] = loop.create_future()
        deadline = math.inf if seconds is None else loop.time() + seconds
        self._waiters.append((deadline, waiter))
        if deadline != math.inf and (self._timer is None or self._timer_loop is not loop):
            self._start_timer(loop, deadline)
        try:
            return await waiter
        except BaseException:
            self._pass_on(waiter)
            raise

    def _start_timer(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        self._timer = loop.call_at(when, self._expire, loop)
        self._timer_loop = loop

    def _expire(self, loop: asyncio.AbstractEventLoop) -> None:
        """Fail the waits past their deadline; set the timer for the next one."""
        self._timer = None
        now = loop.time() + _EARLY
        for deadline, waiter in self._waiters:
            if deadline <= now and not waiter.done():
                waiter.set_exception(Empty())
        self._waiters = deque(entry for entry in self._waiters if not entry[1].done())
        deadlines = [deadline for deadline, _ in self._waiters if deadline != math.inf]
        if deadlines:
            self._start_timer(loop, min(deadlines))

    def _pass_on(self, waiter: asyncio.Future[_T]) -> None:
        """A waiter that gave up leaves the line; one served as it was cancelled passes it on."""
        if not waiter.done():
            waiter.cancel()
        if waiter.cancelled() or waiter.exception() is not None:
            for index, (_, queued) in enumerate(self._waiters):
                if queued is waiter:
                    del self._waiters[index]
                    break
            return
        self.put_nowait(waiter.result())


class IdlePingPool(Pool):
    """A pool that pings a connection idle longer than ``ping_idle_after`` seconds as it
    hands it out, and replaces it if the ping fails (0, the default: never).

    ``pool_pre_ping`` pays a round trip on every checkout; a connection used a
    moment ago is almost always alive, and one that died anyway is invalidated
    by SQLAlchemy at its first error. Mixed in before a SQLAlchemy pool class.
    """

    ping_idle_after: float = 0.0

    def _do_return_conn(self, record: ConnectionPoolEntry) -> None:
        if self.ping_idle_after:  # off (PRE_PING, or 0): no stamp on the hot path
            record.info[_RETURNED_AT] = time.monotonic()
        super()._do_return_conn(record)

    def _do_get(self) -> ConnectionPoolEntry:
        record = super()._do_get()
        idle_after = self.ping_idle_after
        connection = record.dbapi_connection
        if idle_after and connection is not None:
            # Popped: QueuePool._do_get may call this method again, for one checkout.
            returned_at = record.info.pop(_RETURNED_AT, None)
            if returned_at is not None and time.monotonic() - returned_at > idle_after:
                self._ping(record, connection)
        return record

    def _ping(self, record: ConnectionPoolEntry, connection: DBAPIConnection) -> None:
        """Ping ``connection``; a dead one is closed (SQLAlchemy's pool logger says why),
        and the checkout goes on to open a new one."""
        dialect = self._dialect
        assert isinstance(dialect, Dialect), "an engine's pool has the engine's dialect"
        try:
            dialect.do_ping(connection)
        except Exception as exc:
            record.invalidate(exc)

    def recreate(self) -> Self:
        """The pool ``dispose()`` puts in place pings as this one did."""
        pool = cast("Self", super().recreate())
        pool.ping_idle_after = self.ping_idle_after
        return pool


class IdlePingQueuePool(IdlePingPool, QueuePool):
    """The sync engines' pool: SQLAlchemy's ``QueuePool`` with the idle ping."""

    _sqla_logger_namespace = "sqlalchemy.pool.impl.IdlePingQueuePool"


class FairAsyncQueuePool(IdlePingPool, AsyncAdaptedQueuePool):
    """``AsyncAdaptedQueuePool`` on a queue that serves its waiters in order, with the idle
    ping."""

    _queue_class: Any = FairAsyncQueue
    # Log as SQLAlchemy's pools do, under "sqlalchemy" (quiet unless echo_pool is on).
    _sqla_logger_namespace = "sqlalchemy.pool.impl.FairAsyncQueuePool"
