"""The registry of database managers by alias, built from ``DATABASES``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from project.database.manager import DatabaseSessionManager
from project.errors import SettingsError
from project.schema import DatabaseSettings


class UnknownDatabaseError(SettingsError, KeyError):
    """An alias that ``DATABASES`` does not define."""

    def __str__(self) -> str:
        return self.problems[0]


class DatabaseRegistry(Mapping[str, DatabaseSessionManager]):
    """``databases["default"]``: one manager per alias, built on first use.

    Without explicit configs the registry reads ``settings.DATABASES`` the
    first time it is used, so importing it opens and reads nothing.
    """

    def __init__(self, configs: Mapping[str, DatabaseSettings] | None = None) -> None:
        self._configs = configs
        self._managers: dict[str, DatabaseSessionManager] | None = None

    @property
    def managers(self) -> dict[str, DatabaseSessionManager]:
        if self._managers is None:
            configs = self._configs
            if configs is None:
                from project.conf import settings

                configs = settings.DATABASES
            if "default" not in configs:
                raise SettingsError(
                    "DATABASES has no 'default' entry. Define DATABASES = "
                    "{'default': {'URL': ...}} in your settings module or set DATABASE_URL."
                )
            self._managers = {
                alias: DatabaseSessionManager(alias, config) for alias, config in configs.items()
            }
        return self._managers

    def __getitem__(self, alias: str) -> DatabaseSessionManager:
        try:
            return self.managers[alias]
        except KeyError:
            known = ", ".join(repr(name) for name in self.managers)
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
            if manager.config is None or manager._closed:
                manager.init()

    async def close_all(self) -> None:
        """Dispose every engine of every alias. Harmless when already closed."""
        for manager in self.managers.values():
            await manager.close()

    def reset(self) -> None:
        """Forget the managers (after closing them) so the next use rereads the settings."""
        for manager in (self._managers or {}).values():
            manager.close_sync()
        self._managers = None

    def __repr__(self) -> str:
        if self._managers is None:
            return "<DatabaseRegistry [not loaded]>"
        return f"<DatabaseRegistry {list(self._managers.values())!r}>"
