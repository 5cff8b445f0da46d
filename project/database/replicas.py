"""Read replicas: reads outside a transaction go to a healthy replica, round robin.

A routing session sends each statement to the primary or to a replica:
``SELECT`` (without ``FOR UPDATE``/``FOR SHARE``) goes to the session's
replica until the session writes; after that, and for every other statement
and every flush, the primary. So reads after a write see the write.

A replica leaves the rotation when its check fails or its replay lag exceeds
``REPLICA_MAX_LAG``. The check runs in the background at most every
``REPLICA_CHECK_INTERVAL`` seconds, never per request, and each change is
logged once. Between checks, a pooled connection the replica closed is
replaced on checkout, and a replica that refuses a new connection is marked
down at once while that connection is made to the primary instead, so a
stopped replica fails no request.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from typing import Any

import msgspec
from sqlalchemy import Select, TextClause, event, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session
from sqlalchemy.pool import ConnectionPoolEntry

from project.database import listeners
from project.database.engines import _connect_args, create_engines
from project.schema import DatabaseSettings, ReplicaSettings
from project.urls import DatabaseURL, parse_database_url

logger = logging.getLogger("project.database")

_WROTE = "project.database.wrote"  # session.info: this session wrote; stay on the primary
_REPLICA = "project.database.replica"  # session.info: the replica engine this session reads from
_FALLBACK = "project.database.fallback"  # pool record: connected to the primary instead
_SECOND_LOOK = 0.1  # seconds between the two lag readings of a replica that seems behind
_LOCKS = ("for update", "for share", "for no key update", "for key share")

# Replay lag in seconds: 0 when every received WAL record is replayed (an idle
# primary is not lag), else the age of the last replayed transaction.
_LAG_QUERY = """
SELECT CASE
    WHEN NOT pg_is_in_recovery() THEN 0
    WHEN pg_last_wal_receive_lsn() IS NULL
      OR pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0
    ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)
END::float8
"""


class ReplicaStatus(msgspec.Struct, frozen=True):
    """One replica as ``dbcheck`` and ``/health/db`` show it."""

    alias: str
    url: str
    in_rotation: bool
    lag_s: float | None
    error: str = ""


def is_read(clause: Any) -> bool:
    """A statement a replica can run: a SELECT that locks no rows."""
    if isinstance(clause, Select):
        return getattr(clause, "_for_update_arg", None) is None
    if isinstance(clause, TextClause):
        sql = clause.text.lstrip().lower()
        return sql.startswith("select") and not any(lock in sql for lock in _LOCKS)
    return False


class RoutingSession(Session):
    """A Session whose reads go to a replica until it writes (see module doc)."""

    def __init__(self, *, replicas: ReplicaSet | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.replicas = replicas

    def get_bind(self, mapper: Any = None, clause: Any = None, **kw: Any) -> Any:
        if self.replicas is not None and not self.info.get(_WROTE):
            if not self._flushing and is_read(clause):
                if _REPLICA not in self.info:
                    self.info[_REPLICA] = self.replicas.pick()
                engine: AsyncEngine | None = self.info[_REPLICA]
                if engine is not None:
                    return engine.sync_engine
            else:
                self.info[_WROTE] = True
        return super().get_bind(mapper, clause=clause, **kw)


class Replica:
    """One replica: its settings, its AUTOCOMMIT engine (made on first use), its health."""

    def __init__(self, number: int, config: DatabaseSettings, url: DatabaseURL) -> None:
        self.number = number
        self.config = config
        self.url = url
        self.in_rotation = True
        self.lag: float | None = None
        self.error = ""
        self.engine: AsyncEngine | None = None

    async def measure_lag(self) -> float:
        """Replay lag in seconds, over a connection of its own (never the pool's fallback)."""
        import asyncpg

        dsn = self.url.sync_url.replace("+psycopg2", "", 1)
        timeout = self.config.CONNECT_TIMEOUT
        connection = await asyncpg.connect(dsn, timeout=timeout, statement_cache_size=0)
        try:
            lag = await self._query_lag(connection, timeout)
            if lag > 0:
                # WAL that arrived a moment ago reads as the age of the last replayed
                # transaction; a replica that keeps up has replayed it on a second look.
                await asyncio.sleep(_SECOND_LOOK)
                lag = await self._query_lag(connection, timeout)
            return lag
        finally:
            await connection.close(timeout=timeout)

    @staticmethod
    async def _query_lag(connection: Any, seconds: float) -> float:
        async with connection.transaction():  # one server connection, even behind PgBouncer
            return float(await connection.fetchval(_LAG_QUERY, timeout=seconds))


class ReplicaSet:
    """The replicas of one alias: rotation, health checks and their engines."""

    def __init__(self, alias: str, config: DatabaseSettings, primary: DatabaseURL) -> None:
        self.alias = alias
        self.max_lag = config.REPLICA_MAX_LAG
        self.interval = config.REPLICA_CHECK_INTERVAL
        self._primary_config = config
        self._primary = primary
        self.replicas = [
            Replica(number, *_replica_settings(alias, number, config, entry))
            for number, entry in enumerate(config.REPLICAS, start=1)
        ]
        self._turn = itertools.count()
        self._checked_at = -float("inf")
        self._check: asyncio.Task[None] | None = None
        self._sessionmakers: dict[int, async_sessionmaker[AsyncSession]] = {}

    # --- routing ------------------------------------------------------------

    def pick(self) -> AsyncEngine | None:
        """The next replica in rotation, or None: read from the primary."""
        self._check_soon()
        healthy = [replica for replica in self.replicas if replica.in_rotation]
        if not healthy:
            return None
        return self._engine(healthy[next(self._turn) % len(healthy)])

    def sessionmaker(self, primary: AsyncEngine) -> async_sessionmaker[AsyncSession]:
        """Routing sessions whose writes (and reads after them) use ``primary``."""
        made = self._sessionmakers.get(id(primary))
        if made is None:
            made = self._sessionmakers[id(primary)] = listeners.make_async_sessionmaker(
                primary, RoutingSession, replicas=self, expire_on_commit=False
            )
        return made

    # --- health ---------------------------------------------------------------

    def _check_soon(self) -> None:
        """Start a background check when the last one is older than the interval."""
        if time.monotonic() - self._checked_at < self.interval:
            return
        if self._check is not None and not self._check.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._checked_at = time.monotonic()
        self._check = loop.create_task(self.refresh())

    async def refresh(self) -> None:
        """Check every replica now: reachable, and lagging less than REPLICA_MAX_LAG."""
        await asyncio.gather(*(self._refresh(replica) for replica in self.replicas))
        self._checked_at = time.monotonic()

    async def _refresh(self, replica: Replica) -> None:
        try:
            lag = await asyncio.wait_for(replica.measure_lag(), replica.config.CONNECT_TIMEOUT * 2)
        except Exception as exc:
            self._set(replica, False, None, _first_line(exc))
            return
        if lag > self.max_lag:
            why = f"replay lag {lag:.1f}s is over REPLICA_MAX_LAG={self.max_lag:g}s"
            self._set(replica, False, lag, why)
        else:
            self._set(replica, True, lag, "")

    def _set(self, replica: Replica, in_rotation: bool, lag: float | None, error: str) -> None:
        replica.lag, replica.error = lag, error
        if in_rotation == replica.in_rotation:
            return
        replica.in_rotation = in_rotation
        where = f"Replica {replica.number} of database {self.alias!r} ({replica.url.redacted})"
        if in_rotation:
            logger.warning("%s is back in rotation (lag %.1fs).", where, lag or 0.0)
        else:
            logger.warning("%s is out of rotation, reads go to the primary: %s", where, error)

    def statuses(self) -> list[ReplicaStatus]:
        return [
            ReplicaStatus(
                alias=self.alias,
                url=replica.url.redacted,
                in_rotation=replica.in_rotation,
                lag_s=None if replica.lag is None else round(replica.lag, 3),
                error=replica.error,
            )
            for replica in self.replicas
        ]

    # --- engines ----------------------------------------------------------------

    def _engine(self, replica: Replica) -> AsyncEngine:
        if replica.engine is None:
            engine = create_engines(replica.config, replica.url, None, sync=False, autocommit=True)
            assert isinstance(engine, AsyncEngine)
            self._watch(replica, engine)
            replica.engine = engine
        return replica.engine

    def _watch(self, replica: Replica, engine: AsyncEngine) -> None:
        """Replace closed connections on checkout; use the primary while the replica is down."""
        sync_engine = engine.sync_engine

        @event.listens_for(sync_engine, "checkout")
        def _on_checkout(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: Any) -> None:
            closed = record.driver_connection is not None and record.driver_connection.is_closed()
            if closed or (record.info.get(_FALLBACK) and replica.in_rotation):
                raise DisconnectionError("replica connection closed, or replica back")

        @event.listens_for(sync_engine, "do_connect")
        def _on_connect(
            dialect: Any, record: ConnectionPoolEntry, cargs: Any, cparams: dict[str, Any]
        ) -> Any:
            try:
                connection = dialect.connect(*cargs, **cparams)
            except Exception as exc:
                self._set(replica, False, None, f"connect failed: {_first_line(exc)}")
                record.info[_FALLBACK] = True
                primary_args, primary_params = dialect.create_connect_args(
                    make_url(self._primary.async_url)
                )
                primary_params.update(_connect_args(self._primary_config, self._primary, "async"))
                return dialect.connect(*primary_args, **primary_params)
            record.info.pop(_FALLBACK, None)
            return connection

    def engines(self) -> list[AsyncEngine]:
        """The replica engines made so far (the manager disposes them)."""
        return [replica.engine for replica in self.replicas if replica.engine is not None]

    async def stop_checking(self) -> None:
        """Cancel a running check and wait until its connection is closed.

        A check left pending when its event loop closes would close its socket
        on a dead loop ("Event loop is closed"), so async shutdown waits for it.
        """
        check = self._check
        if check is None or check.done() or check.get_loop() is not asyncio.get_running_loop():
            return
        check.cancel()
        await asyncio.wait([check])

    def forget(self) -> None:
        """Drop the engines (after the manager disposed them) and stop checking."""
        if self._check is not None:
            self._check.cancel()
            self._check = None
        for replica in self.replicas:
            replica.engine = None
        self._sessionmakers.clear()


def _replica_settings(
    alias: str, number: int, config: DatabaseSettings, entry: str | ReplicaSettings
) -> tuple[DatabaseSettings, DatabaseURL]:
    """The entry's settings with the replica's URL and its own pool keys, if given."""
    replica = entry if isinstance(entry, ReplicaSettings) else ReplicaSettings(URL=entry)
    setting = f"DATABASES[{alias!r}]['REPLICAS'][{number - 1}]"
    url = parse_database_url(replica.URL, setting)
    if url.family != "postgresql":
        from project.errors import SettingsError

        raise SettingsError(f"{setting} = {url.redacted!r}: replicas are PostgreSQL servers.")
    given = {
        name: value
        for name in ("POOL_SIZE", "MAX_OVERFLOW", "POOL_TIMEOUT", "POOL_RECYCLE")
        if (value := getattr(replica, name)) is not None
    }
    return msgspec.structs.replace(config, URL=replica.URL, REPLICAS=[], **given), url


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
