"""Database URLs: one URL checked once, mapped to a sync and an async driver URL.

Standard library only (plus msgspec), so the settings loader can import it
without SQLAlchemy.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import msgspec

from project.errors import SettingsError
from project.redact import MASK, redact_text

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
    _check_user_info(url, setting)
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
    if family != "sqlite" and "@" in parsed.path:
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


# What a user name or password must not hold unencoded, and how to write it instead.
_RESERVED = {"@": "%40", "/": "%2F", "?": "%3F", "#": "%23"}
_QUERY_BEFORE = re.compile(r"\?.*=")


def _check_user_info(url: str, setting: str) -> None:
    """Refuse a user name or password holding a reserved character, and show how to encode it.

    Parsers split such a URL differently (``app:p@ss@db`` is host ``ss@db`` to
    SQLAlchemy, ``db`` to urllib): never guess which host or database was meant.
    """
    scheme, _, rest = url.partition("://")
    if scheme.lower().startswith("sqlite"):
        return  # a file path, which may hold '@'
    # The host follows the last '@' that is not inside the query (``?application_name=a@b``).
    at = len(rest)
    while (at := rest.rfind("@", 0, at)) != -1 and _QUERY_BEFORE.search(rest[:at]):
        pass
    if at == -1:
        return
    user, colon, password = rest[:at].partition(":")
    bad_user = [char for char in _RESERVED if char in user]
    bad_password = [char for char in _RESERVED if char in password]
    if not bad_user and not bad_password:
        return
    chars = [char for char in _RESERVED if char in bad_user + bad_password]
    which = " and ".join(
        part for part, bad in (("user name", bad_user), ("password", bad_password)) if bad
    )
    head = f"{scheme}://{quote(unquote(user), safe='')}"
    host = rest[at + 1 :]
    shown = f"{head}:{MASK}@{host}" if colon else f"{head}@{host}"
    fixed = f"{head}:<encoded password>@{host}" if bad_password else shown
    encodings = ", ".join(f"'{char}' as {_RESERVED[char]}" for char in chars)
    verb = "hold" if bad_user and bad_password else "holds"
    raise SettingsError(
        f"{setting} = {shown!r}: the {which} {verb} {_listed(chars)} unencoded, so the URL "
        f"would name the wrong host or database. Percent-encode {encodings} in the {which} "
        f"(urllib.parse.quote(text, safe='') does it) and write the URL as {fixed}."
    )


def _listed(chars: list[str]) -> str:
    quoted = [f"'{char}'" for char in chars]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


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
