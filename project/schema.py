"""The typed schema of the known settings.

Values are checked with msgspec; a failed check becomes a sentence that names
the setting, the expected type and where the value came from.
"""

from __future__ import annotations

import typing
from typing import Annotated, Any, Literal

import msgspec

from project.redact import redact

TransactionMode = Literal["auto", "atomic", "autocommit"]

# Valid ranges: a value outside one is refused when the settings load.
DAY = 86_400.0
Count = Annotated[int, msgspec.Meta(ge=0)]
Seconds = Annotated[float, msgspec.Meta(gt=0, le=DAY)]
SecondsOrZero = Annotated[float, msgspec.Meta(ge=0, le=DAY)]  # 0 turns the feature off
Recycle = Annotated[int, msgspec.Meta(ge=-1)]  # -1: never recycle


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


class DatabaseSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """One entry of ``DATABASES``; defaults are documented in global_settings."""

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
    ALEMBIC_CONFIG: str
    WORKERS: Annotated[int, msgspec.Meta(ge=1)]
    TEST_DATABASE_CREATE: Literal["auto", "migrate", "create_all"]


def _field_types(struct: type[msgspec.Struct]) -> dict[str, Any]:
    hints = typing.get_type_hints(struct, include_extras=True)
    return {name: hints[name] for name in struct.__struct_fields__}


KNOWN_SETTINGS: dict[str, Any] = _field_types(SettingsSchema)
DATABASE_FIELDS: dict[str, Any] = _field_types(DatabaseSettings)
_RANGED = {
    name: tp for name, tp in DATABASE_FIELDS.items() if typing.get_origin(tp) is Annotated
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
        return msgspec.convert(entry, DatabaseSettings)
    except msgspec.ValidationError as exc:
        raise SettingsError(f"{where}: {exc}. Pass a value of the documented type.") from None
