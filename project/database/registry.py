"""The registry of database managers by alias, built from ``DATABASES``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from project.database.manager import DatabaseSessionManager
from project.errors import SettingsError
from project.schema import DatabaseSettings

if TYPE_CHECKING:
    from project.conf import OverrideScope

_SCOPE_ENDED = (
    "was built for an override_settings(DATABASES=...) block that has ended. Use it inside "
    "the block (build the app there too), or override DATABASES around the whole test"
)


class UnknownDatabaseError(SettingsError, KeyError):
    """An alias that ``DATABASES`` does not define."""

    def __str__(self) -> str:
        return self.problems[0]


class DatabaseRegistry(Mapping[str, DatabaseSessionManager]):
    """``databases["default"]``: one manager per alias, built on first use.

    Without explicit configs the registry reads ``settings.DATABASES`` the
    first time it is used, so importing it opens and reads nothing. Inside an
    ``override_settings(DATABASES=...)`` block it serves managers built from
    the overridden settings, closed when the block ends (see ``current()``).
    """

    def __init__(self, configs: Mapping[str, DatabaseSettings] | None = None) -> None:
        self._configs = configs
        self._managers: dict[str, DatabaseSessionManager] | None = None
        self._scoped: dict[int, DatabaseRegistry] = {}  # by id() of the override's scope

    def current(self) -> DatabaseRegistry:
        """The registry in force here: this one, or the one of an overridden ``DATABASES``."""
        if self._configs is not None:
            return self
        from project.conf import override_scope

        scope = override_scope("DATABASES")
        if scope is None:
            return self
        registry = self._scoped.get(id(scope))
        if registry is None:
            registry = self._scoped[id(scope)] = DatabaseRegistry(scope["DATABASES"])
            scope.on_exit(lambda: self._end(scope), lambda: self._aend(scope))
        return registry

    def _end(self, scope: OverrideScope) -> None:
        self._scoped.pop(id(scope)).reset(_SCOPE_ENDED)

    async def _aend(self, scope: OverrideScope) -> None:
        registry = self._scoped[id(scope)]
        await registry.close_all()
        self._end(scope)

    @property
    def managers(self) -> dict[str, DatabaseSessionManager]:
        registry = self.current()
        if registry._managers is None:
            configs = registry._configs
            if configs is None:
                from project.conf import settings

                configs = settings.DATABASES
            if "default" not in configs:
                raise SettingsError(
                    "DATABASES has no 'default' entry. Define DATABASES = "
                    "{'default': {'URL': ...}} in your settings module or set DATABASE_URL."
                )
            registry._managers = {
                alias: DatabaseSessionManager(alias, config) for alias, config in configs.items()
            }
        return registry._managers

    def __getitem__(self, alias: str) -> DatabaseSessionManager:
        managers = self.managers
        try:
            return managers[alias]
        except KeyError:
            known = ", ".join(repr(name) for name in managers)
            raise UnknownDatabaseError(
                f"Unknown database alias {alias!r}. DATABASES defines {known}; add an entry "
                f"for {alias!r} or set APP_DATABASES__{alias.upper()}__URL."
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.managers)

    def __len__(self) -> int:
        return len(self.managers)

    def open(self) -> None:
        """(Re)initialise every manager; engines still open lazily."""
        for manager in self.managers.values():
            if not manager.is_open:
                manager.init()

    async def close_all(self) -> None:
        """Dispose every engine of every alias. Harmless when already closed."""
        for manager in self.managers.values():
            await manager.close()

    def reset(self, why: str = "") -> None:
        """Close and forget the managers, so the next use rereads the settings.

        Managers of override blocks still in force are closed too; they are
        built again, from the block's settings, on their next use.
        """
        for manager in (self._managers or {}).values():
            manager.close_sync(why)
        self._managers = None
        for registry in self._scoped.values():
            registry.reset(why)

    def __repr__(self) -> str:
        if self._managers is None:
            return "<DatabaseRegistry [not loaded]>"
        return f"<DatabaseRegistry {list(self._managers.values())!r}>"
