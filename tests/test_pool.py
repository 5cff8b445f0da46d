"""Our pools: the fair async queue serves waiters in arrival order and times out."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import QueuePool
from sqlalchemy.util import greenlet_spawn

from project.database.pool import (
    FairAsyncQueue,
    FairAsyncQueuePool,
    IdlePingPool,
    IdlePingQueuePool,
)
from project.database.sqlalchemy_internals import (
    AsyncAdaptedQueue,
    AsyncAdaptedQueuePool,
    Empty,
    await_,
)


async def _get(queue: FairAsyncQueue[str], seconds: float = 5.0) -> str:
    return await greenlet_spawn(queue.get, True, seconds)


def _take_now(queue: FairAsyncQueue[str]) -> str | None:
    try:
        return queue.get(block=False)
    except Empty:
        return None


async def test_a_returned_item_goes_to_the_waiter_never_to_a_newcomer() -> None:
    queue: FairAsyncQueue[str] = FairAsyncQueue(maxsize=2)
    waiter = asyncio.create_task(_get(queue))
    await asyncio.sleep(0)  # the waiter is in line, but only just
    queue.put_nowait("first")
    assert _take_now(queue) is None  # a newcomer does not overtake even a fresh waiter
    assert await waiter == "first"
    queue.put_nowait("second")  # nobody waits: the next to ask takes it at once
    assert _take_now(queue) == "second"


async def test_waiters_are_served_in_arrival_order() -> None:
    queue: FairAsyncQueue[str] = FairAsyncQueue(maxsize=3)
    waiters = []
    for _ in range(3):
        waiters.append(asyncio.create_task(_get(queue)))
        await asyncio.sleep(0)
    for item in ("a", "b", "c"):
        queue.put_nowait(item)
    assert [await waiter for waiter in waiters] == ["a", "b", "c"]


async def test_waiting_times_out_with_empty_and_leaves_the_line() -> None:
    queue: FairAsyncQueue[str] = FairAsyncQueue(maxsize=1)
    with pytest.raises(Empty):
        await _get(queue, seconds=0.05)
    queue.put_nowait("later")
    assert _take_now(queue) == "later"


async def test_each_wait_keeps_its_own_deadline_on_the_one_timer() -> None:
    """The timer is set for the oldest deadline; when it fires, younger waits keep theirs."""
    queue: FairAsyncQueue[str] = FairAsyncQueue(maxsize=2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    short = asyncio.create_task(_get(queue, seconds=0.05))
    await asyncio.sleep(0)
    long = asyncio.create_task(_get(queue, seconds=0.3))
    with pytest.raises(Empty):
        await short
    assert loop.time() - started < 0.25
    assert not long.done()  # still waiting after the first timer fired
    with pytest.raises(Empty):
        await long
    assert loop.time() - started >= 0.3 - 0.01


async def test_a_served_waiter_leaves_the_timer_to_the_next_one() -> None:
    queue: FairAsyncQueue[str] = FairAsyncQueue(maxsize=2)
    first = asyncio.create_task(_get(queue, seconds=0.1))
    await asyncio.sleep(0)
    second = asyncio.create_task(_get(queue, seconds=0.1))
    await asyncio.sleep(0)
    queue.put_nowait("served")
    assert await first == "served"
    with pytest.raises(Empty):
        await second  # the timer set for the first wait still ends the second
    queue.put_nowait("free")
    assert _take_now(queue) == "free"


async def test_a_waiter_cancelled_after_being_served_passes_the_item_on() -> None:
    queue: FairAsyncQueue[str] = FairAsyncQueue(maxsize=1)
    cancelled = asyncio.create_task(_get(queue))
    await asyncio.sleep(0)
    patient = asyncio.create_task(_get(queue))
    await asyncio.sleep(0)
    queue.put_nowait("connection")  # handed to the first waiter...
    cancelled.cancel()  # ...which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert await patient == "connection"


async def test_a_waiter_cancelled_while_waiting_leaves_the_line() -> None:
    queue: FairAsyncQueue[str] = FairAsyncQueue(maxsize=1)
    cancelled = asyncio.create_task(_get(queue))
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    queue.put_nowait("connection")
    assert _take_now(queue) == "connection"


def test_sqlalchemy_still_has_the_internals_the_fair_pool_relies_on() -> None:
    """If this fails, SQLAlchemy changed under project/database/sqlalchemy_internals.py."""
    assert AsyncAdaptedQueuePool._queue_class is AsyncAdaptedQueue
    assert issubclass(FairAsyncQueuePool._queue_class, AsyncAdaptedQueue)
    parameters = list(inspect.signature(AsyncAdaptedQueue.__init__).parameters)
    assert parameters[:3] == ["self", "maxsize", "use_lifo"]
    assert callable(await_)
    for method in ("_do_get", "_do_return_conn"):  # what IdlePingPool extends
        assert method in vars(QueuePool), method
        assert getattr(IdlePingQueuePool, method) is getattr(IdlePingPool, method)


async def test_the_queue_it_extends_is_an_asyncio_queue_made_on_first_use() -> None:
    queue: FairAsyncQueue[str] = FairAsyncQueue(maxsize=3, use_lifo=False)
    assert isinstance(queue._queue, asyncio.Queue)
    assert queue._queue.maxsize == 3


@pytest.fixture
async def one_connection_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(
        f"sqlite+aiosqlite:///{tmp_path / 'pool.sqlite3'}",
        poolclass=FairAsyncQueuePool,
        pool_size=1,
        max_overflow=0,
        pool_timeout=0.2,
    )
    yield engine
    await engine.dispose()


async def test_a_real_engine_waits_on_the_fair_queue(one_connection_engine: AsyncEngine) -> None:
    """SQLAlchemy's pool hands waits to our queue, and gets the connection back when freed."""
    engine = one_connection_engine
    first = await engine.connect()
    assert isinstance(engine.pool, FairAsyncQueuePool)
    assert isinstance(engine.pool._pool, FairAsyncQueue)
    waiting = asyncio.create_task(engine.connect().start())
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await first.close()
    second = await asyncio.wait_for(waiting, 5)
    assert (await second.execute(text("SELECT 1"))).scalar() == 1
    await second.close()


async def test_a_real_engine_times_out_as_sqlalchemy_does(
    one_connection_engine: AsyncEngine,
) -> None:
    """A wait past pool_timeout is SQLAlchemy's TimeoutError: our Empty is the one it expects."""
    async with one_connection_engine.connect():
        with pytest.raises(sa_exc.TimeoutError):
            await one_connection_engine.connect()
