"""An async connection pool that serves its waiters in arrival order.

SQLAlchemy's ``AsyncAdaptedQueuePool`` wakes a waiter when a connection comes
back, but a request arriving in between takes that connection first, and the
woken waiter queues again. Under load a waiter can be overtaken again and
again (a p99 hundreds of times the median), and every overtaking costs a
wake-up and a new wait. Here a returned connection goes straight to the
longest waiter: nobody overtakes, and each wait costs one future. Waits time
out on one timer per queue (set for the oldest deadline), not one per wait.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from typing import Any, TypeVar

from project.database.sqlalchemy_internals import (
    AsyncAdaptedQueue,
    AsyncAdaptedQueuePool,
    Empty,
    await_,
)

_T = TypeVar("_T")
_EARLY = 0.001  # seconds: asyncio may run a timer this much before its time


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


class FairAsyncQueuePool(AsyncAdaptedQueuePool):
    """``AsyncAdaptedQueuePool`` on a queue that serves its waiters in order."""

    _queue_class: Any = FairAsyncQueue
    # Log as SQLAlchemy's pools do, under "sqlalchemy" (quiet unless echo_pool is on).
    _sqla_logger_namespace = "sqlalchemy.pool.impl.FairAsyncQueuePool"
