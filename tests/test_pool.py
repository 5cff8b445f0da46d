"""The fair async pool queue: a waiter is served first once it has waited PATIENCE."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.util import greenlet_spawn
from sqlalchemy.util.queue import Empty

from project.database.pool import PATIENCE, FairAsyncQueue


async def _get(queue: FairAsyncQueue[str], seconds: float = 5.0) -> str:
    return await greenlet_spawn(queue.get, True, seconds)


def _take_now(queue: FairAsyncQueue[str]) -> str | None:
    try:
        return queue.get(block=False)
    except Empty:
        return None


async def test_a_free_item_goes_to_whoever_asks_first_while_nobody_waits_long() -> None:
    queue: FairAsyncQueue[str] = FairAsyncQueue(maxsize=2)
    waiter = asyncio.create_task(_get(queue))
    await asyncio.sleep(0)  # the waiter is in line, but only just
    queue.put_nowait("first")
    assert _take_now(queue) == "first"  # a newcomer may overtake a fresh waiter
    await asyncio.sleep(PATIENCE * 2)
    queue.put_nowait("second")
    assert _take_now(queue) is None  # now the waiter has waited long enough: it is served
    assert await waiter == "second"


async def test_a_long_waiter_is_served_before_newcomers() -> None:
    queue: FairAsyncQueue[str] = FairAsyncQueue(maxsize=2)
    oldest = asyncio.create_task(_get(queue))
    await asyncio.sleep(PATIENCE * 2)
    younger = asyncio.create_task(_get(queue))
    await asyncio.sleep(0)
    queue.put_nowait("a")
    queue.put_nowait("b")
    assert await oldest == "a"
    assert await younger == "b"


async def test_waiting_times_out_with_empty_and_leaves_the_line() -> None:
    queue: FairAsyncQueue[str] = FairAsyncQueue(maxsize=1)
    with pytest.raises(Empty):
        await _get(queue, seconds=0.05)
    queue.put_nowait("later")
    assert _take_now(queue) == "later"


async def test_a_waiter_cancelled_after_being_served_passes_the_item_on() -> None:
    queue: FairAsyncQueue[str] = FairAsyncQueue(maxsize=1)
    cancelled = asyncio.create_task(_get(queue))
    await asyncio.sleep(PATIENCE * 2)
    patient = asyncio.create_task(_get(queue))
    await asyncio.sleep(0)
    queue.put_nowait("connection")  # handed to the first waiter...
    cancelled.cancel()  # ...which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert await patient == "connection"
