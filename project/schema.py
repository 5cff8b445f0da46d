"""The typed schema of the known settings.

Values are checked with msgspec; a failed check becomes a sentence that names
the setting, the expected type and where the value came from.
"""

from __future__ import annotations

import typing
from typing import Any, Literal

import msgspec

from project.redact import redact

TransactionMode = Literal["auto", "atomic", "autocommit"]


class DatabaseSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """One entry of ``DATABASES``; defaults are documented in global_settings."""

    URL: str
    POOL_SIZE: int = 5
    MAX_OVERFLOW: int = 10
    POOL_TIMEOUT: float = 30.0
    POOL_RECYCLE: int = 3600
    PRE_PING: bool = False
    PING_IDLE_AFTER: float = 30.0
    ECHO: bool = False
    CONNECT_TIMEOUT: float = 10.0
    OPTIONS: dict[str, Any] = msgspec.field(default_factory=dict)
    TRANSACTION: TransactionMode = "auto"

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


def _field_types(struct: type[msgspec.Struct]) -> dict[str, Any]:
    hints = typing.get_type_hints(struct)
    return {name: hints[name] for name in struct.__struct_fields__}


KNOWN_SETTINGS: dict[str, Any] = _field_types(SettingsSchema)
DATABASE_FIELDS: dict[str, Any] = _field_types(DatabaseSettings)


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


