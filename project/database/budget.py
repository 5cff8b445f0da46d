"""The connection budget: how many connections every worker's pools may open at once.

Each worker process owns its pools, so the worst case for one database is
workers x pools x (POOL_SIZE + MAX_OVERFLOW). It must fit what the server
lets ordinary roles open (``max_connections`` minus the reserved slots), or,
behind PgBouncer, PgBouncer's ``max_client_conn``.
"""

from __future__ import annotations

import msgspec
import psycopg2
from sqlalchemy import make_url, text

from project.database.manager import DatabaseSessionManager
from project.schema import DatabaseSettings

_SERVER_LIMIT = text(
    "SELECT current_setting('max_connections')::int,"
    " current_setting('superuser_reserved_connections')::int,"
    " coalesce(current_setting('reserved_connections', true), '0')::int"
)


class Budget(msgspec.Struct, frozen=True):
    """The worst case of one alias against what its server (or PgBouncer) allows."""

    label: str  # DATABASES['default'], or DATABASES['default'] replica 1
    workers: int
    pools: list[str]
    per_pool: int
    limit: int | None
    limit_source: str

    @property
    def needed(self) -> int:
        return self.workers * len(self.pools) * self.per_pool

    @property
    def over(self) -> bool:
        return self.limit is not None and self.needed > self.limit

    def describe(self) -> str:
        pools = len(self.pools)
        sum_ = (
            f"{self.label}: {self.workers} worker{'s' * (self.workers != 1)} x "
            f"{pools} pool{'s' * (pools != 1)} ({', '.join(self.pools)}) x {self.per_pool} "
            f"connections = {self.needed} at most"
        )
        if self.limit is None:
            return f"{sum_}; {self.limit_source}"
        return f"{sum_}, {self.limit} allowed ({self.limit_source})"


def pools(config: DatabaseSettings) -> list[str]:
    """Every pool one process may open for this entry."""
    return ["sync", "async", "async AUTOCOMMIT"]


def per_pool(config: DatabaseSettings) -> int:
    return config.POOL_SIZE + config.MAX_OVERFLOW


def budgets(manager: DatabaseSessionManager, workers: int) -> list[Budget]:
    """The alias's worst case on its primary, then on each replica (one AUTOCOMMIT pool each),
    with each limit read from that server (or PgBouncer)."""
    config = manager.config
    assert config is not None
    limit, source = server_limit(manager)
    where = f"DATABASES[{manager.alias!r}]"
    found = [Budget(where, workers, pools(config), per_pool(config), limit, source)]
    for replica in manager.replicas.replicas if manager.replicas else []:
        name = f"{where} replica {replica.number}"
        limit, source = server_limit(DatabaseSessionManager(manager.alias, replica.config))
        found.append(
            Budget(name, workers, ["async AUTOCOMMIT"], per_pool(replica.config), limit, source)
        )
    return found


def server_limit(manager: DatabaseSessionManager) -> tuple[int | None, str]:
    """(connections allowed, where that number comes from); (None, why) when unreadable."""
    config = manager.config
    assert config is not None
    assert manager.url is not None
    try:
        if config.PGBOUNCER:
            return _pgbouncer_limit(manager.url.sync_url)
        with manager.sync_engine.connect() as connection:
            total, superuser, reserved = connection.execute(_SERVER_LIMIT).one()
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return None, f"could not read the server's limit: {first}"
    finally:
        manager.close_sync()
    reserved_text = f" - reserved_connections {reserved}" if reserved else ""
    return (
        total - superuser - reserved,
        f"max_connections {total} - superuser_reserved_connections {superuser}{reserved_text}",
    )


def _pgbouncer_limit(sync_url: str) -> tuple[int | None, str]:
    """PgBouncer's max_client_conn, from its admin console (the user must be in stats_users)."""
    url = make_url(sync_url)
    connection = psycopg2.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        dbname="pgbouncer",
        connect_timeout=5,
    )
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW CONFIG")
            values = {row[0]: row[1] for row in cursor.fetchall()}
    finally:
        connection.close()
    return (
        int(values["max_client_conn"]),
        f"PgBouncer's max_client_conn; it opens at most default_pool_size "
        f"{values.get('default_pool_size', '?')} server connections per database and user",
    )
