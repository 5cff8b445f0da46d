"""An async connection pool that does not starve its waiters.

SQLAlchemy's ``AsyncAdaptedQueuePool`` lets a newly arriving request take a
connection that was just returned while older requests are still waiting. That
keeps connections busy, but under load a waiter can be overtaken again and
again: a p99 hundreds of times the median. This pool keeps the fast path (a
free connection goes to whoever asks first) until a waiter has waited longer
than ``PATIENCE``; from then on returned connections go to the longest waiter.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from project.database.sqlalchemy_internals import (
    AsyncAdaptedQueue,
    AsyncAdaptedQueuePool,
    Empty,
    await_,
)

_T = TypeVar("_T")

PATIENCE = 0.02  # seconds a waiter may be overtaken before it is served first
_RETRY: Any = object()  # "a connection was queued: try to take it"


@dataclass
class _Waiter(Generic[_T]):
    since: float
    future: asyncio.Future[_T]


class FairAsyncQueue(AsyncAdaptedQueue[_T]):
    """An asyncio queue whose blocking ``get`` cannot be overtaken for long."""

    def __init__(self, maxsize: int = 0, use_lifo: bool = False) -> None:
        super().__init__(maxsize, use_lifo)
        self._waiters: deque[_Waiter[_T]] = deque()

    def put_nowait(self, item: _T) -> None:
        waiter = self._first_waiter()
        if waiter is None:
            super().put_nowait(item)
        elif waiter.future.get_loop().time() - waiter.since > PATIENCE:
            self._waiters.popleft().future.set_result(item)
        else:
            super().put_nowait(item)
            self._waiters.popleft().future.set_result(_RETRY)

    def get(self, block: bool = True, timeout: float | None = None) -> _T:
        try:
            return self._queue.get_nowait()
        except asyncio.QueueEmpty:
            if not block:
                raise Empty() from None
        return await_(self._wait(timeout))

    def _first_waiter(self) -> _Waiter[_T] | None:
        while self._waiters and self._waiters[0].future.done():
            self._waiters.popleft()
        return self._waiters[0] if self._waiters else None

    def _wake_first(self) -> None:
        if self._first_waiter() is not None:
            self._waiters.popleft().future.set_result(_RETRY)

    def _enqueue(self, waiter: _Waiter[_T]) -> None:
        """Keep waiters in arrival order, also when one comes back after a retry."""
        index = len(self._waiters)
        while index and self._waiters[index - 1].since > waiter.since:
            index -= 1
        self._waiters.insert(index, waiter)

    async def _wait(self, seconds: float | None) -> _T:
        loop = asyncio.get_running_loop()
        since = loop.time()
        while True:
            waiter: _Waiter[_T] = _Waiter(since, loop.create_future())
            self._enqueue(waiter)
            left = None if seconds is None else since + seconds - loop.time()
            # A timer, not asyncio.wait_for: that would start a task for every wait.
            timer = None if left is None else loop.call_later(left, _expire, waiter.future)
            try:
                result = await waiter.future
            except BaseException:
                self._pass_on(waiter.future)
                raise
            finally:
                if timer is not None:
                    timer.cancel()
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
            if result is not _RETRY:
                return result
            try:
                return self._queue.get_nowait()
            except asyncio.QueueEmpty:
                continue  # overtaken; wait again, still in our original place

    def _pass_on(self, future: asyncio.Future[_T]) -> None:
        """A waiter cancelled after being served gives what it got to the next one."""
        if not future.done() or future.cancelled() or future.exception() is not None:
            return
        result = future.result()
        if result is _RETRY:
            self._wake_first()
        else:
            self.put_nowait(result)


def _expire(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_exception(Empty())


class FairAsyncQueuePool(AsyncAdaptedQueuePool):
    """``AsyncAdaptedQueuePool`` on a queue that does not starve its waiters."""

    _queue_class: Any = FairAsyncQueue
    # Log as SQLAlchemy's pools do, under "sqlalchemy" (quiet unless echo_pool is on).
    _sqla_logger_namespace = "sqlalchemy.pool.impl.FairAsyncQueuePool"
