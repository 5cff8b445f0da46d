"""The private SQLAlchemy names our pools rely on, and nowhere else.

SQLAlchemy offers no public hook for the queue inside a pool, so
``FairAsyncQueuePool`` swaps it through the pool's ``_queue_class``; nor for
"a connection is handed out / comes back" short of events that slow every
checkout, so ``IdlePingPool`` extends the two methods each pool class
implements. What that takes from SQLAlchemy, each checked by
``tests/test_pool.py`` so an upgrade that changes one fails there, loudly,
rather than in production:

- ``Pool._do_get()`` / ``Pool._do_return_conn(record)``: what a pool class
  supplies to hand out a ``ConnectionPoolEntry`` and take it back; the first is
  called, inside the checkout's greenlet, before the entry's connection is
  (re)opened, so an entry invalidated there is reconnected.
- ``AsyncAdaptedQueuePool._queue_class``: the queue class the pool instantiates
  as ``_queue_class(pool_size, use_lifo=...)`` and calls ``get(block, timeout)``
  and ``put(item, block)`` on.
- ``AsyncAdaptedQueue``: that queue; ``_queue`` is its ``asyncio.Queue``,
  created on first use so it binds to the running loop.
- ``Empty``: what the pool expects a ``get`` that timed out to raise.
- ``await_``: runs a coroutine from the pool's synchronous code inside
  SQLAlchemy's greenlet (``await_only`` in 2.0, which we do not support: on 2.0
  a server refusing a connection reaches the app as a raw driver error).
"""

from __future__ import annotations

from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.util import await_
from sqlalchemy.util.queue import AsyncAdaptedQueue, Empty

__all__ = ["AsyncAdaptedQueue", "AsyncAdaptedQueuePool", "Empty", "await_"]
