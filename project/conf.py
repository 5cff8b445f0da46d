"""The lazy ``settings`` object: ``from project.conf import settings``.

Importing this module loads nothing; the first attribute access reads the
module named by ``SETTINGS_MODULE`` and every layer above it (see
``project.loader``). ``override_settings`` layers test values on top, scoped
with contextvars so concurrent async tests do not see each other's overrides.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import Any, TypeVar

import msgspec

from project import startup_errors
from project.errors import SettingsError
from project.loader import (
    LoadedSettings,
    SettingPath,
    Source,
    deep_merge,
    load,
    validate,
)
from project.text import did_you_mean

__all__ = [
    "ENVIRONMENT_VARIABLE",
    "OverrideScope",
    "SettingsError",
    "override_scope",
    "override_settings",
    "settings",
]

ENVIRONMENT_VARIABLE = "SETTINGS_MODULE"
NOT_CONFIGURED = (
    "Requested settings, but settings are not configured. Set the environment variable "
    f"{ENVIRONMENT_VARIABLE} (e.g. settings.development) or pass --settings to manage.py."
)
_OVERRIDE_SOURCE = Source("override", "override_settings()")


class OverrideScope(dict[str, Any]):
    """The values of one ``override_settings`` block, and what to release when it ends.

    Objects built from overridden settings (the database managers of an
    overridden ``DATABASES``) live as long as the block: ``on_exit`` registers
    how to release them, from sync code and, for ``async with``, from async code.
    """

    def __init__(self, values: Mapping[str, Any]) -> None:
        super().__init__(values)
        self.releases: list[tuple[Callable[[], None], Callable[[], Awaitable[None]]]] = []

    def on_exit(self, release: Callable[[], None], arelease: Callable[[], Awaitable[None]]) -> None:
        self.releases.append((release, arelease))


_overrides: ContextVar[tuple[OverrideScope, ...]] = ContextVar("overrides", default=())


def override_scope(name: str) -> OverrideScope | None:
    """The innermost ``override_settings`` block in force that sets ``name``, if any."""
    for overlay in reversed(_overrides.get()):
        if name in overlay:
            return overlay
    return None


class LazySettings:
    """A proxy that loads the settings on first access and caches them."""

    def __init__(self) -> None:
        self._loaded: LoadedSettings | None = None

    def _setup(self) -> LoadedSettings:
        startup_errors.install()  # an uncaught settings error prints as its paragraph
        module = os.environ.get(ENVIRONMENT_VARIABLE)
        if not module:
            raise SettingsError(NOT_CONFIGURED)
        loaded = load(module)
        if loaded.problems:
            raise SettingsError(loaded.problems)
        self._loaded = loaded
        return loaded

    @property
    def loaded(self) -> LoadedSettings:
        """The settings as read from their layers, before any override."""
        return self._loaded or self._setup()

    @property
    def configured(self) -> bool:
        return self._loaded is not None

    def reset(self) -> None:
        """Forget the loaded settings, so the next access reads them again."""
        self._loaded = None

    def __getattr__(self, name: str) -> Any:
        if not name.isupper():
            raise AttributeError(name)
        for overlay in reversed(_overrides.get()):
            if name in overlay:
                return overlay[name]
        values = self.loaded.values
        if name not in values:
            guess = did_you_mean(name, values)
            hint = f" Did you mean {guess}?" if guess else ""
            raise AttributeError(f"Setting {name!r} is not defined.{hint}")
        return values[name]

    def as_dict(self) -> dict[str, Any]:
        """Every setting with overrides applied."""
        values = dict(self.loaded.values)
        for overlay in _overrides.get():
            values.update(overlay)
        return values

    def source_of(self, path: str | SettingPath) -> Source | None:
        """Which layer set a setting: ``source_of("DATABASES.default.URL")``."""
        parts = tuple(path.split(".")) if isinstance(path, str) else path
        for overlay in reversed(_overrides.get()):
            if parts[0] in overlay:
                return _OVERRIDE_SOURCE
        return self.loaded.source_of(parts)

    def __repr__(self) -> str:
        if self._loaded is None:
            return "<LazySettings [not loaded]>"
        return f"<LazySettings {self._loaded.module!r}>"


settings = LazySettings()

F = TypeVar("F", bound=Callable[..., Any])


class override_settings:
    """Layer values over the settings for a block, a function or a test.

    Nested dicts merge into the current value, as every layer does. Values are
    validated like any other layer; a bad one raises ``SettingsError``. Inside
    the block ``databases`` serves an overridden ``DATABASES`` with managers of
    its own, closed when the block ends (awaited with ``async with``).
    """

    def __init__(self, **values: Any) -> None:
        self.values = values
        self._scopes: list[OverrideScope] = []

    def __enter__(self) -> None:
        scope = OverrideScope(_validated_overlay(self.values))
        self._scopes.append(scope)
        _overrides.set((*_overrides.get(), scope))

    def __exit__(self, *exc_info: object) -> None:
        for release, _ in reversed(self._leave().releases):
            release()

    async def __aenter__(self) -> None:
        self.__enter__()

    async def __aexit__(self, *exc_info: object) -> None:
        """Like ``__exit__``, but what the block built is closed by awaiting it."""
        for _, arelease in reversed(self._leave().releases):
            await arelease()

    def _leave(self) -> OverrideScope:
        # Remove this scope rather than reset a token: a pytest fixture may exit
        # it in another context than the async test that entered it.
        scope = self._scopes.pop()
        _overrides.set(tuple(o for o in _overrides.get() if o is not scope))
        return scope

    def __call__(self, func: F) -> F:
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with override_settings(**self.values):
                    return await func(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with override_settings(**self.values):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def _validated_overlay(values: Mapping[str, Any]) -> dict[str, Any]:
    current = settings.as_dict()
    merged = {
        name: deep_merge(msgspec.to_builtins(current[name], enc_hook=str), value)
        if name in current
        else value
        for name, value in values.items()
    }
    check = LoadedSettings(module="override_settings()")
    for name in merged:
        check.sources[(name,)] = _OVERRIDE_SOURCE
    checked = validate(merged, check)
    if check.problems:
        raise SettingsError(check.problems)
    return checked
