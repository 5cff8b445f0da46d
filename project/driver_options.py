"""Check ``OPTIONS`` against the keyword arguments each DB-API driver accepts.

A misspelt option otherwise passes every check and fails every connection.
The names come from the drivers themselves where they can say: the signature
of ``asyncpg.connect`` and ``aiosqlite.connect``, read from their source so
that loading the settings imports no driver, and libpq's own parser for a
psycopg2 keyword missing from the documented list.
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from project.text import did_you_mean

SIDES = ("sync", "async")

# libpq's connection keywords (PostgreSQL 17 documentation, "Parameter Key Words"):
# psycopg2.connect() passes every keyword it does not know itself to libpq.
LIBPQ_KEYWORDS = frozenset(
    [
        "host",
        "hostaddr",
        "port",
        "dbname",
        "user",
        "password",
        "passfile",
        "require_auth",
        "channel_binding",
        "connect_timeout",
        "client_encoding",
        "options",
        "application_name",
        "fallback_application_name",
        "keepalives",
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
        "tcp_user_timeout",
        "replication",
        "gssencmode",
        "sslmode",
        "requiressl",
        "sslnegotiation",
        "sslcompression",
        "sslcert",
        "sslkey",
        "sslpassword",
        "sslcertmode",
        "sslrootcert",
        "sslcrl",
        "sslcrldir",
        "sslsni",
        "requirepeer",
        "ssl_min_protocol_version",
        "ssl_max_protocol_version",
        "krbsrvname",
        "gsslib",
        "gssdelegation",
        "service",
        "target_session_attrs",
        "load_balance_hosts",
    ]
)
PSYCOPG2_OWN = frozenset({"connection_factory", "cursor_factory", "async", "async_"})
# sqlite3.connect() has no introspectable signature before Python 3.13.
SQLITE3_KEYWORDS = frozenset(
    [
        "database",
        "timeout",
        "detect_types",
        "isolation_level",
        "check_same_thread",
        "factory",
        "cached_statements",
        "uri",
        "autocommit",
    ]
)
# Keywords SQLAlchemy's async adapters take out before calling the driver.
SQLALCHEMY_ASYNCPG = frozenset(
    {"async_creator_fn", "prepared_statement_cache_size", "prepared_statement_name_func"}
)


def _keywords(function: Callable[..., Any]) -> frozenset[str]:
    parameters = inspect.signature(function).parameters.values()
    return frozenset(
        p.name for p in parameters if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    ) - {"loop"}


def keywords_of(package: str, filename: str, function: str) -> frozenset[str]:
    """The keyword parameters of ``package.function``, read from ``package/filename``.

    Reading the source instead of importing the driver keeps ``manage.py --help``
    (which loads the settings) cheap; without a source file the driver is
    imported and its signature inspected.
    """
    spec = importlib.util.find_spec(package)  # a top-level package is found, not imported
    folders = list(spec.submodule_search_locations or []) if spec else []
    source = Path(folders[0], filename) if folders else None
    if source is not None and source.is_file():
        for node in ast.parse(source.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == function:
                arguments = [*node.args.args, *node.args.kwonlyargs]
                return frozenset(argument.arg for argument in arguments) - {"loop"}
    return _keywords(getattr(importlib.import_module(package), function))


@functools.cache
def _asyncpg() -> frozenset[str]:
    return keywords_of("asyncpg", "connection.py", "connect") | SQLALCHEMY_ASYNCPG


@functools.cache
def _aiosqlite() -> frozenset[str]:
    names = keywords_of("aiosqlite", "core.py", "connect")
    return names | SQLITE3_KEYWORDS | {"async_creator_fn"}


def _libpq_accepts(name: str) -> bool:
    """Whether the installed libpq knows ``name`` (a keyword newer than our list)."""
    if name in LIBPQ_KEYWORDS or name in PSYCOPG2_OWN:
        return True
    try:
        from psycopg2.extensions import parse_dsn
    except ImportError:
        return False
    try:
        parse_dsn(f"{name}=x")
    except Exception:
        return False
    return True


@dataclass(frozen=True)
class _Driver:
    """One driver: its name in messages and the keywords it takes."""

    name: str
    names: Callable[[], frozenset[str]]  # looked up on first use
    knows: Callable[[str], bool] = lambda option: False  # the last word on an unlisted name

    def takes(self, option: str) -> bool:
        return option in self.names() or self.knows(option)


DRIVERS: dict[str, dict[str, _Driver]] = {
    "postgresql": {
        "sync": _Driver("psycopg2 (libpq)", lambda: LIBPQ_KEYWORDS | PSYCOPG2_OWN, _libpq_accepts),
        "async": _Driver("asyncpg", _asyncpg),
    },
    "sqlite": {
        "sync": _Driver("sqlite3", lambda: SQLITE3_KEYWORDS),
        "async": _Driver("aiosqlite", _aiosqlite),
    },
}


def check_options(options: Mapping[str, Any], family: str) -> list[tuple[tuple[str, ...], str]]:
    """Problems with ``OPTIONS`` for one database: (path below OPTIONS, what is wrong)."""
    problems: list[tuple[tuple[str, ...], str]] = []
    for name, value in options.items():
        if name not in SIDES:
            if why := _both_sides(family, name):
                problems.append(((name,), why))
        elif not isinstance(value, Mapping):
            driver = DRIVERS[family][name].name
            why = f"must be a table of options for {driver} alone, not {type(value).__name__}."
            problems.append(((name,), why))
        else:
            problems += [
                ((name, key), why) for key in value if (why := _one_side(family, name, key))
            ]
    return problems


def _one_side(family: str, side: str, name: str) -> str | None:
    if DRIVERS[family][side].takes(name):
        return None
    driver = DRIVERS[family][side].name
    other = "async" if side == "sync" else "sync"
    if DRIVERS[family][other].takes(name):
        return (
            f"{driver} takes no option {name!r}; it is an option of "
            f"{DRIVERS[family][other].name}: move it to OPTIONS[{other!r}]."
        )
    return f"{driver} takes no option {name!r}.{_guess(family, (side,), name)}"


def _both_sides(family: str, name: str) -> str | None:
    """A shared option goes to both drivers, so both must accept it."""
    takers = [side for side in SIDES if DRIVERS[family][side].takes(name)]
    if len(takers) == len(SIDES):
        return None
    drivers = " nor ".join(DRIVERS[family][side].name for side in SIDES)
    if not takers:
        return f"neither {drivers} takes an option {name!r}.{_guess(family, SIDES, name)}"
    side = takers[0]
    other = next(s for s in SIDES if s != side)
    return (
        f"only {DRIVERS[family][side].name} takes the option {name!r}, but OPTIONS go to both "
        f"drivers and {DRIVERS[family][other].name} would refuse it: move it to "
        f"OPTIONS[{side!r}] = {{{name!r}: ...}}."
    )


def _guess(family: str, sides: tuple[str, ...], name: str) -> str:
    candidates = sorted({n for side in sides for n in DRIVERS[family][side].names()})
    guess = did_you_mean(name, candidates)
    if guess is None:
        return " Remove it, or see the driver's documentation for the options it accepts."
    takers = [side for side in sides if DRIVERS[family][side].takes(guess)]
    if len(takers) < len(sides):
        driver = DRIVERS[family][takers[0]].name
        return f" Did you mean {guess!r}? It is {driver}'s alone: set it in OPTIONS[{takers[0]!r}]."
    return f" Did you mean {guess!r}?"
