"""The private SQLAlchemy names the fair pool relies on, and nowhere else.

SQLAlchemy offers no public hook for the queue inside a pool, so
``FairAsyncQueuePool`` swaps it through the pool's ``_queue_class``. What that
takes from SQLAlchemy, each checked by ``tests/test_pool.py`` so an upgrade that
changes one fails there, loudly, rather than in production:

- ``AsyncAdaptedQueuePool._queue_class``: the queue class the pool instantiates
  as ``_queue_class(pool_size, use_lifo=...)`` and calls ``get(block, timeout)``
  and ``put(item, block)`` on.
- ``AsyncAdaptedQueue``: that queue; ``_queue`` is its ``asyncio.Queue``,
  created on first use so it binds to the running loop.
- ``Empty``: what the pool expects a ``get`` that timed out to raise.
- ``await_``: runs a coroutine from the pool's synchronous code inside
  SQLAlchemy's greenlet; named ``await_only`` before 2.1.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.util.queue import AsyncAdaptedQueue, Empty

_T = TypeVar("_T")

if TYPE_CHECKING:

    def await_(awaitable: Awaitable[_T]) -> _T: ...

else:
    try:
        from sqlalchemy.util import await_
    except ImportError:  # SQLAlchemy 2.0
        from sqlalchemy.util import await_only as await_

__all__ = ["AsyncAdaptedQueue", "AsyncAdaptedQueuePool", "Empty", "await_"]
