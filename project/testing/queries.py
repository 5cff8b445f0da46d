"""``assert_num_queries`` and ``assert_max_num_queries``: count what the code sends.

Every statement on every engine counts, except the SAVEPOINT bookkeeping of
the rollback fixtures, so the count is the same with and without them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest

from project.testing.guard import state

__all__ = ["assert_max_num_queries", "assert_num_queries"]

Counter = Callable[[int], AbstractContextManager[list[str]]]


@contextmanager
def _counting(expected: int, exact: bool) -> Iterator[list[str]]:
    recorded: list[str] = []
    state.recorders.append(recorded)
    try:
        yield recorded
    finally:
        state.recorders.remove(recorded)
    if (len(recorded) != expected) if exact else (len(recorded) > expected):
        wanted = f"{expected}" if exact else f"at most {expected}"
        listing = "\n".join(f"  {i}. {s}" for i, s in enumerate(recorded, 1))
        pytest.fail(
            f"Expected {wanted} queries, {len(recorded)} were sent:\n{listing}", pytrace=False
        )


@pytest.fixture
def assert_num_queries() -> Counter:
    """``with assert_num_queries(2): ...`` fails unless exactly 2 statements were sent."""
    return lambda expected: _counting(expected, exact=True)


@pytest.fixture
def assert_max_num_queries() -> Counter:
    """``with assert_max_num_queries(3): ...`` fails when more than 3 statements were sent."""
    return lambda expected: _counting(expected, exact=False)
