"""``manage.py dbcheck``: can every database be reached, through both drivers?

Imports no Litestar: start-up time is part of the product (containers run
this before the app). Aliases and sides are checked concurrently, each
bounded by ``--timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import click
import msgspec

from project.management.options import database_option

if TYPE_CHECKING:
    from project.database import CheckResult, DatabaseSessionManager
    from project.database.replicas import ReplicaStatus
    from project.schema import DatabaseSettings


class PoolSettings(msgspec.Struct, frozen=True):
    size: int
    max_overflow: int
    timeout: float
    recycle: int
    pre_ping: bool

    def __str__(self) -> str:
        ping = "on" if self.pre_ping else "off"
        return (
            f"pool {self.size}+{self.max_overflow} timeout={self.timeout:g}s "
            f"recycle={self.recycle}s pre_ping={ping}"
        )


class MigrationStatus(msgspec.Struct, frozen=True):
    """Where the database stands against the Alembic scripts of ``ALEMBIC_CONFIG``."""

    at_head: bool
    current: list[str]
    heads: list[str]
    error: str = ""

    def __str__(self) -> str:
        if self.error:
            return f"migrations: {self.error}"
        current = ", ".join(self.current) or "none"
        if self.at_head:
            return f"migrations: at the latest revision ({current})"
        return (
            f"migrations: NOT at the latest revision (database: {current}; latest: "
            f"{', '.join(self.heads)}). Run: alembic upgrade head"
        )


class AliasReport(msgspec.Struct):
    alias: str
    pool: PoolSettings
    checks: list[CheckResult]
    migrations: MigrationStatus | None = None
    replicas: list[ReplicaStatus] = msgspec.field(default_factory=list)

    @property
    def ok(self) -> bool:
        migrated = self.migrations is None or not self.migrations.error
        return migrated and all(check.ok for check in self.checks)


class Report(msgspec.Struct):
    ok: bool
    attempts: int
    databases: list[AliasReport]


# --- checking -----------------------------------------------------------------


async def _in_thread(func: Callable[[], CheckResult]) -> CheckResult:
    """Run ``func`` in a daemon thread: one stuck past the timeout cannot delay exit."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[CheckResult] = loop.create_future()

    def deliver(result: CheckResult) -> None:
        if not future.done():
            future.set_result(result)

    def run() -> None:
        result = func()
        with contextlib.suppress(RuntimeError):  # a closed loop no longer waits for it
            loop.call_soon_threadsafe(deliver, result)

    threading.Thread(target=run, name="dbcheck-sync", daemon=True).start()
    return await future


async def _check_side(
    manager: DatabaseSessionManager, side: Literal["sync", "async"], seconds: float
) -> CheckResult:
    from project.database import CheckResult, diagnose
    from project.redact import redact_text

    started = time.perf_counter()
    try:
        check = manager.acheck() if side == "async" else _in_thread(manager.check)
        return await asyncio.wait_for(check, seconds)
    except TimeoutError as exc:
        assert manager.url is not None
        url = manager.url.async_url if side == "async" else manager.url.sync_url
        return CheckResult(
            alias=manager.alias,
            side=side,
            ok=False,
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
            url=redact_text(url),
            error=str(diagnose(exc)),
        )


def _pool(config: DatabaseSettings) -> PoolSettings:
    from project.database.engines import pool_arguments
    from project.urls import parse_database_url

    pool = pool_arguments(config, parse_database_url(config.URL))
    return PoolSettings(
        size=pool["pool_size"],
        max_overflow=pool["max_overflow"],
        timeout=pool["pool_timeout"],
        recycle=pool.get("pool_recycle", -1),
        pre_ping=config.PRE_PING,
    )


async def _check_all(
    managers: dict[str, DatabaseSessionManager], seconds: float
) -> dict[str, list[CheckResult]]:
    sides: tuple[Literal["sync", "async"], ...] = ("sync", "async")
    checks = [
        _check_side(manager, side, seconds) for manager in managers.values() for side in sides
    ]
    results = await asyncio.gather(*checks)
    by_alias: dict[str, list[CheckResult]] = {alias: [] for alias in managers}
    for result in results:
        by_alias[result.alias].append(result)
    return by_alias


def _migrations(alembic_config: str, manager: DatabaseSessionManager) -> MigrationStatus:
    """Compare the database's Alembic revision with the scripts' heads."""
    try:
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        heads = list(ScriptDirectory.from_config(Config(alembic_config)).get_heads())
        with manager.sync_engine.connect() as connection:
            current = list(MigrationContext.configure(connection).get_current_heads())
    except Exception as exc:
        from project.redact import redact_text

        first_line = (str(exc).strip().splitlines() or [""])[0]
        why = redact_text(f"{type(exc).__name__}: {first_line}")
        return MigrationStatus(
            False, [], [], f"cannot read ALEMBIC_CONFIG {alembic_config!r}: {why}"
        )
    return MigrationStatus(sorted(current) == sorted(heads), current, heads)


async def _run(
    configs: dict[str, DatabaseSettings],
    seconds: float,
    wait: float,
    alembic_config: str,
    on_retry: Callable[[dict[str, list[CheckResult]], float], None],
) -> Report:
    from project.database import DatabaseSessionManager

    # Connecting may take no longer than the check itself.
    managers = {
        alias: DatabaseSessionManager(
            alias,
            msgspec.structs.replace(config, CONNECT_TIMEOUT=min(config.CONNECT_TIMEOUT, seconds)),
        )
        for alias, config in configs.items()
    }
    deadline = time.monotonic() + wait
    attempts = 0
    try:
        while True:
            attempts += 1
            results = await _check_all(managers, seconds)
            passed = all(r.ok for checks in results.values() for r in checks)
            left = deadline - time.monotonic()
            if passed or left <= 0:
                break
            on_retry(results, left)
            await asyncio.sleep(min(1.0, left))
        reports = [
            AliasReport(alias, _pool(configs[alias]), checks) for alias, checks in results.items()
        ]
        if alembic_config:
            reachable = [report for report in reports if report.ok]
            statuses = await asyncio.gather(
                *(
                    asyncio.to_thread(_migrations, alembic_config, managers[report.alias])
                    for report in reachable
                )
            )
            for report, status in zip(reachable, statuses, strict=True):
                report.migrations = status
        for report in reports:
            replicas = managers[report.alias].replicas
            if replicas is not None:  # listed, never failing: reads fall back to the primary
                await replicas.refresh()
                report.replicas = replicas.statuses()
    finally:
        for manager in managers.values():
            await manager.close()
    return Report(all(report.ok for report in reports), attempts, reports)


# --- output ---------------------------------------------------------------------


def _lines(report: Report) -> list[str]:
    width = max(len(alias.alias) for alias in report.databases)
    lines = []
    for alias in report.databases:
        for check in alias.checks:
            status = "OK  " if check.ok else "FAIL"
            version = check.server_version or "-"
            if check.server_version and check.url.startswith("postgresql"):
                version = f"PostgreSQL {version}"
            lines.append(
                f"{alias.alias:<{width}}  {check.side:<5}  {status}  {check.latency_ms:>8.1f} ms  "
                f"{version}  {check.url}  {alias.pool}"
            )
            if check.error:
                lines.append(f"{'':<{width}}  {check.side:<5}  {check.error}")
        if alias.migrations is not None:
            lines.append(f"{alias.alias:<{width}}  {alias.migrations}")
        for number, replica in enumerate(alias.replicas, start=1):
            state = "in rotation" if replica.in_rotation else "OUT of rotation"
            lag = "lag ?" if replica.lag_s is None else f"lag {replica.lag_s:.1f} s"
            why = f"  ({replica.error})" if replica.error else ""
            lines.append(
                f"{alias.alias:<{width}}  replica {number}  {state}  {lag}  {replica.url}{why}"
            )
    return lines


def _print_retry(results: dict[str, list[CheckResult]], left: float) -> None:
    failing = [
        f"{r.alias}/{r.side}: {r.error}" for checks in results.values() for r in checks if not r.ok
    ]
    click.echo(f"Waiting ({left:.0f}s left) for {'; '.join(failing)}", err=True)


def _selected(aliases: tuple[str, ...]) -> dict[str, Any]:
    from project.conf import settings
    from project.text import did_you_mean

    configs: dict[str, Any] = dict(settings.DATABASES)
    for alias in aliases:
        if alias not in configs:
            guess = did_you_mean(alias, configs)
            hint = f" Did you mean {guess!r}?" if guess else ""
            known = ", ".join(repr(name) for name in configs)
            raise click.UsageError(
                f"Unknown --database alias {alias!r}; DATABASES defines {known}.{hint}"
            )
    return {alias: configs[alias] for alias in aliases} if aliases else configs


@click.command(params=[database_option("Check")])
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=5.0,
    show_default=True,
    help="Seconds each check may take.",
)
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=0.0,
    metavar="SECONDS",
    help="Retry until every check passes or SECONDS have passed.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report for machines.")
def command(aliases: tuple[str, ...], timeout: float, wait: float, as_json: bool) -> None:
    """Check that every database answers, both drivers.

    Connects through the sync and the async driver of each alias, runs a
    trivial query, and exits 1 when one fails.
    """
    from project.conf import settings

    configs = _selected(aliases)
    on_retry = (lambda results, left: None) if as_json else _print_retry
    report = asyncio.run(_run(configs, timeout, wait, settings.ALEMBIC_CONFIG, on_retry))
    if as_json:
        click.echo(msgspec.json.encode(report).decode())
    else:
        click.echo("\n".join(_lines(report)))
    if not report.ok:
        raise SystemExit(1)
