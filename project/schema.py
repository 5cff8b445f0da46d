"""The typed schema of the known settings.

Values are checked with msgspec; a failed check becomes a sentence that names
the setting, the expected type and where the value came from.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import msgspec

from project.redact import redact
from project.urls import DatabaseURL, parse_database_url

TransactionMode = Literal["auto", "atomic", "autocommit"]

# Valid ranges: a value outside one is refused when the settings load.
DAY = 86_400.0
Count = Annotated[int, msgspec.Meta(ge=0)]
Seconds = Annotated[float, msgspec.Meta(gt=0, le=DAY)]
SecondsOrZero = Annotated[float, msgspec.Meta(ge=0, le=DAY)]  # 0 turns the feature off
Recycle = Annotated[int, msgspec.Meta(ge=-1)]  # -1: never recycle


class PoolSettings(msgspec.Struct, frozen=True):
    """A database's pool: the one place the UPPERCASE keys become SQLAlchemy's keywords."""

    size: int
    max_overflow: int
    timeout: float
    recycle: int
    pre_ping: bool

    def engine_arguments(self) -> dict[str, Any]:
        return {
            "pool_size": self.size,
            "max_overflow": self.max_overflow,
            "pool_timeout": self.timeout,
            "pool_recycle": self.recycle,
        }

    def __str__(self) -> str:
        ping = "on" if self.pre_ping else "off"
        return (
            f"pool {self.size}+{self.max_overflow} timeout={self.timeout:g}s "
            f"recycle={self.recycle}s pre_ping={ping}"
        )


class ReplicaSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """One read replica of a ``DATABASES`` entry; unset pool keys are the entry's."""

    URL: str
    POOL_SIZE: Count | None = None
    MAX_OVERFLOW: Count | None = None
    POOL_TIMEOUT: Seconds | None = None
    POOL_RECYCLE: Recycle | None = None

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{name}={redact(getattr(self, name), name)!r}" for name in self.__struct_fields__
        )
        return f"ReplicaSettings({fields})"

    __str__ = __repr__


class DatabaseSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True, dict=True):
    """One entry of ``DATABASES``; defaults are documented in global_settings.

    Immutable, and it holds its URL parsed (``url``): the loader parses it
    once; the manager, the plugin and the commands read it from here.
    """

    URL: str
    POOL_SIZE: Count = 5
    MAX_OVERFLOW: Count = 10
    POOL_TIMEOUT: Seconds = 30.0
    POOL_RECYCLE: Recycle = 3600
    PRE_PING: bool = False
    PING_IDLE_AFTER: SecondsOrZero = 30.0
    ECHO: bool = False
    CONNECT_TIMEOUT: Seconds = 10.0
    OPTIONS: dict[str, Any] = msgspec.field(default_factory=dict)
    TRANSACTION: TransactionMode = "auto"
    PGBOUNCER: bool = False
    REPLICAS: list[str | ReplicaSettings] = msgspec.field(default_factory=list)
    REPLICA_MAX_LAG: Seconds = 10.0
    REPLICA_CHECK_INTERVAL: Seconds = 2.0

    def __post_init__(self) -> None:
        # msgspec checks ranges when it converts; an entry built in code is checked here.
        for name, tp in _RANGED.items():
            value = getattr(self, name)
            try:
                msgspec.convert(value, tp)
            except msgspec.ValidationError:
                from project.errors import SettingsError
                from project.text import type_name

                raise SettingsError(
                    f"DatabaseSettings({name}={value!r}): {name} must be {type_name(tp)}. "
                    "Pass a value in that range."
                ) from None

    def parsed_url(self, setting: str = "DATABASES[...]['URL']") -> DatabaseURL:
        """``URL`` checked and mapped to both drivers, parsed on the first call only.

        A bad URL raises ``SettingsError`` naming ``setting``.
        """
        parsed: DatabaseURL | None = self.__dict__.get("_url")
        if parsed is None:
            parsed = self.__dict__["_url"] = parse_database_url(self.URL, setting)
        return parsed

    @property
    def url(self) -> DatabaseURL:
        return self.parsed_url()

    def check(self, where: str) -> list[tuple[tuple[str, ...], str]]:
        """Parse the URL now, the one time, and check OPTIONS against its drivers.

        A bad URL raises ``SettingsError`` naming ``where``; each bad option is
        returned as (its keys below the entry, why).
        """
        url = self.parsed_url(f"{where}['URL']")
        if not self.OPTIONS:
            return []  # no options, no driver imported
        from project.driver_options import check_options

        return [
            (("OPTIONS", *below), why) for below, why in check_options(self.OPTIONS, url.family)
        ]

    @property
    def pool(self) -> PoolSettings:
        if self.url.is_memory:
            # Shared-cache tables lock per connection: one connection per side,
            # sessions take turns for it and wait up to POOL_TIMEOUT.
            return PoolSettings(1, 0, self.POOL_TIMEOUT, -1, self.PRE_PING)
        return PoolSettings(
            self.POOL_SIZE, self.MAX_OVERFLOW, self.POOL_TIMEOUT, self.POOL_RECYCLE, self.PRE_PING
        )

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{name}={redact(getattr(self, name), name)!r}" for name in self.__struct_fields__
        )
        return f"DatabaseSettings({fields})"

    __str__ = __repr__


class SettingsSchema(msgspec.Struct, frozen=True):
    """Every known top-level setting and its type."""

    DEBUG: bool
    SECRET_KEY: str
    ENVIRONMENT: Literal["development", "test", "production"]
    DATABASES: dict[str, DatabaseSettings]
    DATABASE_STARTUP_CHECK: Literal["fail", "warn", "off"]
    PLUGINS: list[str]
    ROUTE_HANDLERS: list[str]
    MODEL_MODULES: list[str]
    COMMAND_PACKAGES: list[str]
    MIGRATIONS_FOLDERS: dict[str, str]
    MIGRATIONS_ENVIRONMENT: str
    MIGRATIONS_STARTUP_CHECK: Literal["fail", "warn", "off"]
    WORKERS: Annotated[int, msgspec.Meta(ge=1)]
    TEST_DATABASE_CREATE: Literal["auto", "migrate", "create_all"]


def _field_types(struct: type[msgspec.Struct]) -> dict[str, Any]:
    hints = typing.get_type_hints(struct, include_extras=True)
    return {name: hints[name] for name in struct.__struct_fields__}


KNOWN_SETTINGS: dict[str, Any] = _field_types(SettingsSchema)
DATABASE_FIELDS: dict[str, Any] = _field_types(DatabaseSettings)
_RANGED = {name: tp for name, tp in DATABASE_FIELDS.items() if typing.get_origin(tp) is Annotated}


@dataclass(frozen=True)
class NestedSetting:
    """A setting that maps names to entries of one struct, like ``DATABASES``.

    Every layer merges it name by name and key by key; the environment sets
    one key as ``APP_<SETTING>__<NAME>__<KEY>`` (``shortcuts`` add names of
    their own). The loader, ``diffsettings`` and the registry read what is
    special about such a setting from here, so a new one needs no edits there.
    """

    entry: type[msgspec.Struct]
    noun: str  # what one entry is called in messages: "a database entry"
    required_names: tuple[str, ...] = ()  # e.g. DATABASES must define "default"
    required_keys: tuple[str, ...] = ()  # e.g. each database needs a URL
    open_keys: tuple[str, ...] = ()  # keys whose value is a dict set key by key (OPTIONS)
    shortcuts: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # env var -> path
    examples: Mapping[str, str] = field(default_factory=dict)  # key -> example value
    # Checks beyond the types: raises SettingsError for the entry as a whole, and
    # returns (keys below the entry, why) for each bad value inside it.
    check_entry: Callable[[Any, str], list[tuple[tuple[str, ...], str]]] | None = None

    def check(self, entry: Any, where: str) -> list[tuple[tuple[str, ...], str]]:
        """Checks beyond the types (a database's URL and OPTIONS); ``where`` names the entry."""
        return [] if self.check_entry is None else self.check_entry(entry, where)

    @property
    def fields(self) -> dict[str, Any]:
        return _field_types(self.entry)

    def defaults(self) -> dict[str, Any]:
        """Each key's default (keys without one are left out)."""
        found = {}
        for info in msgspec.structs.fields(self.entry):
            if info.default is not msgspec.NODEFAULT:
                found[info.name] = info.default
            elif info.default_factory is not msgspec.NODEFAULT:
                found[info.name] = info.default_factory()
        return found

    def variable(self, setting: str, name: str, key: str) -> str:
        """The environment variable that sets one key of one entry."""
        for variable, path in self.shortcuts.items():
            if path == (name, key):
                return variable
        return f"APP_{setting}__{name.upper()}__{key}"

    def missing_key(self, setting: str, name: str, key: str) -> str:
        example = self.examples.get(key, "...")
        return f"Add {key!r}: {example} or set {self.variable(setting, name, key)}."

    def missing_name(self, setting: str, name: str) -> str:
        key = self.required_keys[0] if self.required_keys else "..."
        return (
            f"{setting} has no {name!r} entry. Define {setting} = {{{name!r}: {{{key!r}: ...}}}} "
            f"in your settings module or set {self.variable(setting, name, key)}."
        )


NESTED_SETTINGS: dict[str, NestedSetting] = {
    "DATABASES": NestedSetting(
        DatabaseSettings,
        noun="a database entry",
        required_names=("default",),
        required_keys=("URL",),
        open_keys=("OPTIONS",),
        shortcuts={"DATABASE_URL": ("default", "URL")},
        examples={"URL": "'postgresql://user:password@host/name'"},
        check_entry=DatabaseSettings.check,
    ),
}


def convert(value: Any, tp: Any, *, from_text: bool = False) -> Any:
    """Check ``value`` against ``tp``; text from the environment is parsed first.

    Raises ``msgspec.ValidationError`` with msgspec's own reason.
    """
    if from_text and isinstance(value, str):
        value = _parse_text(value, tp)
    return msgspec.convert(value, tp, strict=not from_text)


def _parse_text(text: str, tp: Any) -> Any:
    origin = typing.get_origin(tp) or tp
    if origin in (list, dict) or (isinstance(origin, type) and issubclass(origin, msgspec.Struct)):
        stripped = text.strip()
        if origin is list and not stripped.startswith("["):
            return [item.strip() for item in stripped.split(",") if item.strip()]
        try:
            return msgspec.json.decode(stripped)
        except msgspec.DecodeError as exc:
            raise msgspec.ValidationError(f"not valid JSON ({exc})") from None
    return text


def settings_from_url(url: str, pool: dict[str, Any], where: str) -> DatabaseSettings:
    """A ``DATABASES`` entry from a URL and keyword settings (``pool_size=10``).

    Keywords are the entry's keys in lower case; a wrong one is a ``SettingsError``.
    """
    from project.errors import SettingsError
    from project.text import did_you_mean

    entry: dict[str, Any] = {"URL": url}
    for keyword, value in pool.items():
        key = keyword.upper()
        if key not in DATABASE_FIELDS or key == "URL":
            guess = did_you_mean(key, DATABASE_FIELDS)
            hint = (
                f"did you mean {guess.lower()}?"
                if guess
                else "known ones are "
                + ", ".join(name.lower() for name in DATABASE_FIELDS if name != "URL")
            )
            raise SettingsError(f"{where}: unknown keyword {keyword!r}; {hint}.")
        entry[key] = value
    try:
        config = msgspec.convert(entry, DatabaseSettings)
    except msgspec.ValidationError as exc:
        raise SettingsError(f"{where}: {exc}. Pass a value of the documented type.") from None
    config.parsed_url(f"{where}['URL']")
    return config
