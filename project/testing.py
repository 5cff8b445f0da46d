"""Pytest helpers, registered as a pytest plugin by the package.

``override_settings`` fixture: call it with setting values; they apply for the
rest of the test and are undone afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from project.conf import override_settings as _override


@pytest.fixture
def override_settings() -> Iterator[Callable[..., None]]:
    """``override_settings(DEBUG=True)`` inside a test; undone when the test ends."""
    with ExitStack() as stack:

        def apply(**values: Any) -> None:
            stack.enter_context(_override(**values))

        yield apply
