"""Point every alias at its test database while a database test runs, and only then.

One ``override_settings(DATABASES=...)`` block serves the whole session, so
the registry keeps one set of managers for it (and an app built once keeps
working); it is put in force for each test that uses the database and taken
out again afterwards, so other tests see the project's own settings.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from project.conf import OverrideScope, override_scope, override_settings

__all__ = ["Pointing"]


class Pointing:
    """The session's DATABASES override, held out of force between database tests."""

    def __init__(self, urls: dict[str, str]) -> None:
        # A test database has no replicas: reads go to it too (Django's TEST MIRROR).
        databases = {alias: {"URL": url, "REPLICAS": []} for alias, url in urls.items()}
        self._block = override_settings(DATABASES=databases)
        self._block.__enter__()
        scope = override_scope("DATABASES")
        assert scope is not None
        self.scope: OverrideScope = scope
        _withdraw(scope)

    @contextmanager
    def in_force(self) -> Iterator[None]:
        from project.conf import _overrides

        _overrides.set((*_overrides.get(), self.scope))
        try:
            yield
        finally:
            _withdraw(self.scope)

    def close(self) -> None:
        """End the block: the registry closes the managers it built for it."""
        self._block.__exit__(None, None, None)


def _withdraw(scope: OverrideScope) -> None:
    # override_settings keeps its blocks in a contextvar; taking one out and putting
    # it back (in_force) is what its own __exit__ does, with the same scope object.
    from project.conf import _overrides

    _overrides.set(tuple(o for o in _overrides.get() if o is not scope))
