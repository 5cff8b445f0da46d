"""``settings`` and ``override_settings`` fixtures: setting values for one test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from project.conf import override_settings as _override
from project.conf import settings as _settings

__all__ = ["SettingsOverride", "override_settings", "settings"]


class SettingsOverride:
    """``settings.DEBUG = True`` in a test; reads give the current values."""

    def __init__(self, stack: ExitStack) -> None:
        object.__setattr__(self, "_stack", stack)

    def __getattr__(self, name: str) -> Any:
        return getattr(_settings, name)

    def __setattr__(self, name: str, value: Any) -> None:
        self._stack.enter_context(_override(**{name: value}))

    def __call__(self, **values: Any) -> None:
        """``settings(DEBUG=True, ...)``: several at once."""
        self._stack.enter_context(_override(**values))


@pytest.fixture
def settings() -> Iterator[SettingsOverride]:
    """The settings, writable for this test: ``settings.DEBUG = True``; undone afterwards."""
    with ExitStack() as stack:
        yield SettingsOverride(stack)


@pytest.fixture
def override_settings() -> Iterator[Callable[..., None]]:
    """``override_settings(DEBUG=True)`` inside a test; undone when the test ends."""
    with ExitStack() as stack:

        def apply(**values: Any) -> None:
            stack.enter_context(_override(**values))

        yield apply
