"""The one error mapping: what a database failure means for the client, and its log line.

A failure is *unavailable* (503 with ``Retry-After``: the server is down,
starting, shutting down, unreachable, the connection was lost, or the pool
stayed full), a *conflict* (409: a constraint said no) or any other database
error (500). Drivers raise the same fault in many shapes: a raw
``ConnectionRefusedError`` from a connect, an asyncpg error translated by
SQLAlchemy, a psycopg2 ``OperationalError``, a pool timeout. ``status_for``
walks each exception's chain (``__cause__``, ``__context__``, ``.orig``) and
decides by type and SQLSTATE, never by where the exception was caught.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import Engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import ExceptionContext

from project.database.diagnose import diagnose
from project.redact import redact_text

logger = logging.getLogger("project.database")

RETRY_AFTER = 1  # seconds; a restarted server or a freed pool usually answers within that
UNAVAILABLE, CONFLICT, ERROR = 503, 409, 500

# SQLSTATEs of a server that cannot serve now: connection exceptions (class 08),
# admin/crash shutdown, "the database system is starting up / shutting down",
# too many connections.
_UNAVAILABLE_STATES = frozenset({"57P01", "57P02", "57P03", "53300"})
# Causes ``diagnose`` finds that a retry will not fix: these stay 500.
_MISCONFIGURED = (
    "authentication failed",
    "the database does not exist",
    "the URL has an option",
    "the server does not support SSL",
    "the server refused this client",
)
_DETAIL = {
    UNAVAILABLE: "Service Unavailable: the database is unavailable; retry shortly.",
    CONFLICT: "Conflict: the change violates a database constraint.",
    ERROR: "Internal Server Error: a database error occurred.",
}


class DatabaseUnavailableError(sa_exc.SQLAlchemyError):
    """A connection to the database could not be made (refused, reset, unknown host, timeout)."""


class PoolExhaustedError(sa_exc.TimeoutError):
    """Every pooled connection stayed busy for longer than POOL_TIMEOUT."""


@dataclass(frozen=True, slots=True)
class Source:
    """Which database an exception came from, for the log line."""

    alias: str
    url: str  # redacted


_SOURCE = "project_database_source"  # attribute set on an exception by ``tag``


def tag(exc: BaseException, alias: str, url: str) -> BaseException:
    """Remember on ``exc`` which database raised it (the first tag wins)."""
    if getattr(exc, _SOURCE, None) is None:
        setattr(exc, _SOURCE, Source(alias, url))
    return exc


def source_of(exc: BaseException) -> Source | None:
    for link in _chain(exc):
        source = getattr(link, _SOURCE, None)
        if isinstance(source, Source):
            return source
    return None


def watch(engine: Engine, alias: str, url: str) -> None:
    """Make a failed connect of ``engine`` a ``DatabaseUnavailableError`` naming its database.

    Drivers raise socket errors (refused, reset, unknown host, timeout) from
    connect as they are; SQLAlchemy passes them through untouched, so nothing
    would tell them apart from any other ``OSError`` in a handler.
    """

    @event.listens_for(engine, "handle_error")
    def _drop_dead_connections(context: ExceptionContext) -> None:
        # asyncpg reports "terminating connection due to administrator command"
        # before its socket closes, so SQLAlchemy would pool the dead connection.
        if not context.is_disconnect and any(
            _server_gone(link) for link in _chain(context.original_exception)
        ):
            context.is_disconnect = True

    @event.listens_for(engine, "do_connect")
    def _connect(dialect: Any, record: Any, cargs: Any, cparams: Any) -> Any:
        try:
            return dialect.connect(*cargs, **cparams)
        except OSError as exc:
            raise tag(
                DatabaseUnavailableError(
                    f"Database {alias!r} at {url} is unavailable: {diagnose(exc)}"
                ),
                alias,
                url,
            ) from exc


def explain(exc: BaseException, alias: str, pool: dict[str, Any], url: str) -> BaseException:
    """``exc`` tagged with its database; a pool timeout becomes a ``PoolExhaustedError``."""
    if not isinstance(exc, sa_exc.TimeoutError) or isinstance(exc, PoolExhaustedError):
        return tag(exc, alias, url)
    error = PoolExhaustedError(
        f"Database {alias!r}: the connection pool is exhausted. All "
        f"{pool['pool_size']} connections (+{pool['max_overflow']} overflow) stayed in use "
        f"for POOL_TIMEOUT={pool['pool_timeout']}s. Raise POOL_SIZE or MAX_OVERFLOW "
        f"(APP_DATABASES__{alias.upper()}__POOL_SIZE), keep sessions shorter, or "
        "limit concurrency; the server's max_connections must cover every process's pools."
    )
    error.__cause__ = exc
    return tag(error, alias, url)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 16:
        link = todo.pop(0)
        if id(link) in seen:
            continue
        seen.add(id(link))
        yield link
        orig = getattr(link, "orig", None)
        todo.extend(
            e for e in (orig, link.__cause__, link.__context__) if isinstance(e, BaseException)
        )


def _sqlstate(exc: BaseException) -> str | None:
    code = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    return code if isinstance(code, str) else None


def _unavailable(link: BaseException) -> bool:
    if isinstance(link, DatabaseUnavailableError | sa_exc.TimeoutError | sa_exc.DisconnectionError):
        return True
    if isinstance(link, sa_exc.DBAPIError) and link.connection_invalidated:
        return True
    if isinstance(link, OSError):  # refused, reset, unknown host (gaierror), timeout
        return True
    if _server_gone(link):
        return True
    if _sqlstate(link) is not None:
        return False
    # psycopg2 reports libpq's connection failures with no SQLSTATE at all.
    return (
        isinstance(link, sa_exc.OperationalError)
        and hasattr(link.orig, "pgcode")
        and getattr(link.orig, "pgcode", None) is None
    )


def _server_gone(link: BaseException) -> bool:
    """The server said it cannot serve this connection (shutdown, connection exception)."""
    state = _sqlstate(link)
    return state is not None and (state.startswith("08") or state in _UNAVAILABLE_STATES)


@functools.cache
def _repository_errors() -> dict[str, type[Exception]]:
    """advanced-alchemy's exceptions, imported on the first failure: it imports Litestar."""
    from advanced_alchemy import exceptions

    return {
        "any": exceptions.RepositoryError,
        "conflict": exceptions.IntegrityError,
        "not found": exceptions.NotFoundError,
        "many found": exceptions.MultipleResultsFoundError,
    }


def _conflict(link: BaseException) -> bool:
    return isinstance(link, sa_exc.IntegrityError | _repository_errors()["conflict"])


def _database_side(link: BaseException) -> bool:
    return isinstance(link, sa_exc.SQLAlchemyError | _repository_errors()["any"]) or (
        _sqlstate(link) is not None
    )


def status_for(exc: BaseException) -> int | None:
    """503, 409 or 500 for a database failure; None when ``exc`` is not one."""
    chain = list(_chain(exc))
    if not any(_database_side(link) for link in chain):
        return None
    if any(_unavailable(link) for link in chain):
        cause = diagnose(exc).cause
        return ERROR if cause.startswith(_MISCONFIGURED) else UNAVAILABLE
    if any(_conflict(link) for link in chain):
        return CONFLICT
    if _not_found(exc):
        return None
    return ERROR


def _not_found(exc: BaseException) -> bool:
    """advanced-alchemy's lookups that found nothing (or too much): not a database failure."""
    errors = _repository_errors()
    return isinstance(exc, errors["not found"] | errors["many found"])


def cause_of(exc: BaseException) -> str:
    """The failure in one line, secrets masked."""
    if isinstance(exc, PoolExhaustedError):
        return redact_text(str(exc))
    if isinstance(exc, DatabaseUnavailableError) and exc.__cause__ is not None:
        return str(diagnose(exc.__cause__))
    return str(diagnose(exc))


def body(status: int) -> bytes:
    return msgspec.json.encode({"status_code": status, "detail": _DETAIL[status]})


def headers(status: int) -> dict[str, str]:
    """Response headers of an error answer: 503 says when to retry."""
    return {"retry-after": str(RETRY_AFTER)} if status == UNAVAILABLE else {}


def describe(exc: BaseException, where: str, fallback: Source | None, status: int | None) -> str:
    """The log line of a failure: alias, redacted URL, what failed and why."""
    source = source_of(exc) or fallback
    database = f"database {source.alias!r} at {source.url}" if source else "a database"
    answered = f": answered {status}" if status else ""
    return f"{where}{answered}; {database} failed: {cause_of(exc)}"


def log(
    exc: BaseException, where: str, fallback: Source | None = None, status: int | None = None
) -> None:
    """One ERROR line per 5xx answer, or per failure the client can no longer be told of.

    A traceback only for the unexpected: an outage logs one line per request.
    """
    if status is None or status >= 500:
        message = describe(exc, where, fallback, status)
        logger.error(message, exc_info=exc if status in (None, ERROR) else None)
