"""The typed schema of the known settings, and database URL parsing.

Values are checked with msgspec; a failed check becomes a sentence that names
the setting, the expected type and where the value came from.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit

import msgspec

from project.errors import SettingsError
from project.redact import redact, redact_text

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
    ALEMBIC_CONFIG: str


def _field_types(struct: type[msgspec.Struct]) -> dict[str, Any]:
    hints = typing.get_type_hints(struct)
    return {name: hints[name] for name in struct.__struct_fields__}


KNOWN_SETTINGS: dict[str, Any] = _field_types(SettingsSchema)
DATABASE_FIELDS: dict[str, Any] = _field_types(DatabaseSettings)


def type_name(tp: Any) -> str:
    """How a type reads in an error message."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(arg) for arg in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(arg) for arg in typing.get_args(tp))
    if origin is not None:
        args = ", ".join(type_name(arg) for arg in typing.get_args(tp))
        return f"{origin.__name__}[{args}]"
    if tp is Any:
        return "any value"
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return "a table of " + ", ".join(tp.__struct_fields__)
    return getattr(tp, "__name__", str(tp))


def did_you_mean(name: str, candidates: typing.Iterable[str]) -> str | None:
    """The closest known name to a likely typo, if one is close enough."""
    matches = difflib.get_close_matches(name.upper(), [c.upper() for c in candidates], 1, 0.75)
    if not matches:
        return None
    return next(c for c in candidates if c.upper() == matches[0])


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


# --- database URLs ---------------------------------------------------------

# family -> (sync driver, async driver); every driver named in a URL maps to its family.
DRIVERS: dict[str, tuple[str, str]] = {
    "postgresql": ("psycopg2", "asyncpg"),
    "sqlite": ("pysqlite", "aiosqlite"),
}
_FAMILY_ALIASES = {"postgres": "postgresql", "postgresql": "postgresql", "sqlite": "sqlite"}
_KNOWN_DRIVERS = {
    "postgresql": {"psycopg2", "asyncpg"},
    "sqlite": {"pysqlite", "aiosqlite"},
}


class DatabaseURL(msgspec.Struct, frozen=True):
    """A checked database URL: its family and the two SQLAlchemy URLs it yields."""

    family: str
    sync_url: str
    async_url: str

    @property
    def redacted(self) -> str:
        return redact_text(self.sync_url)


def parse_database_url(url: str, setting: str = "DATABASES['default']['URL']") -> DatabaseURL:
    """Map one URL to a sync and an async URL of the same family, or explain why not."""
    shown = redact_text(url)
    supported = ", ".join(
        f"{family}+{driver}"
        for family, drivers in _KNOWN_DRIVERS.items()
        for driver in sorted(drivers)
    )
    if not url.strip():
        raise SettingsError(
            f"{setting} is empty. Set DATABASE_URL (or APP_DATABASES__<ALIAS>__URL), "
            "e.g. postgresql://user@localhost:5432/app or sqlite:///db.sqlite3."
        )
    if "#" in url:
        raise SettingsError(
            f"{setting} = {shown!r} contains '#'. A database URL has no fragment: if '#' is "
            "part of the password, percent-encode it as %23."
        )
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise SettingsError(
            f"{setting} = {shown!r} is not a URL. Expected scheme://user@host:port/name, "
            f"e.g. postgresql://app@localhost:5432/app. Supported schemes: {supported}."
        )
    query = rest.partition("?")[2]
    if "?" in rest and (not query or any("=" not in part for part in query.split("&"))):
        raise SettingsError(
            f"{setting} = {shown!r} has a stray '?'. Query options take the form "
            "?name=value&other=value; if '?' is part of the password, percent-encode it as %3F."
        )
    family_name, _, driver = scheme.partition("+")
    family = _FAMILY_ALIASES.get(family_name.lower())
    if family is None:
        raise SettingsError(
            f"{setting} = {shown!r} uses the unsupported scheme {scheme!r}. "
            f"Supported schemes: {supported} (the driver part is optional)."
        )
    if driver and driver not in _KNOWN_DRIVERS[family]:
        raise SettingsError(
            f"{setting} = {shown!r} names the unknown driver {driver!r} for {family}. "
            f"Use one of {', '.join(sorted(_KNOWN_DRIVERS[family]))}, or leave the driver out: "
            f"{family}://... picks the right driver for each side."
        )
    try:
        parsed = urlsplit(f"{family}://{rest}")
        parsed.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as exc:
        # urllib quotes the bad port, which may be the start of a password.
        reason = "the port is not a number from 0 to 65535" if "port" in str(exc).lower() else exc
        raise SettingsError(
            f"{setting} = {shown!r} could not be parsed: {reason}. If the password "
            "contains '/', percent-encode it as %2F."
        ) from None
    if "@" in parsed.path:
        raise SettingsError(
            f"{setting} = {shown!r} has an '@' after the host, so part of the password was "
            "read as the host. If the password contains '/', percent-encode it as %2F."
        )
    if family == "postgresql" and not parsed.path.strip("/"):
        raise SettingsError(
            f"{setting} = {shown!r} names no database. Add it after the host: "
            "postgresql://user:password@host:5432/<database>."
        )
    sync_driver, async_driver = DRIVERS[family]
    base, _, query = rest.partition("?")
    sync_query, async_query = _driver_queries(query, family, setting, shown)
    return DatabaseURL(
        family=family,
        sync_url=f"{family}+{sync_driver}://{base}{sync_query}",
        async_url=f"{family}+{async_driver}://{base}{async_query}",
    )


SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


def _driver_queries(query: str, family: str, setting: str, shown: str) -> tuple[str, str]:
    """The query string for each driver: libpq's ``sslmode`` is ``ssl`` to asyncpg.

    Either spelling is accepted, so one URL (``?sslmode=require``) serves both.
    """
    if family != "postgresql" or not query:
        same = f"?{query}" if query else ""
        return same, same
    pairs = parse_qsl(query, keep_blank_values=True)
    modes = {value for key, value in pairs if key in ("ssl", "sslmode")}
    if len(modes) > 1 or not modes <= set(SSL_MODES):
        raise SettingsError(
            f"{setting} = {shown!r} asks for SSL mode {' and '.join(sorted(modes))}. Give one "
            f"sslmode, one of {', '.join(SSL_MODES)}; it is passed to both drivers."
        )
    rest = [(key, value) for key, value in pairs if key not in ("ssl", "sslmode")]
    sync = rest + [("sslmode", mode) for mode in modes]
    async_ = rest + [("ssl", mode) for mode in modes]
    return _query(sync), _query(async_)


def _query(pairs: list[tuple[str, str]]) -> str:
    return f"?{urlencode(pairs)}" if pairs else ""
