"""``GET /health`` (liveness) and ``GET /health/db`` (every database, checked concurrently)."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from litestar import Request, Response, Router, get

from plugins.database import registry_of
from project.database import CheckResult
from project.database.replicas import ReplicaStatus


class HealthReport(msgspec.Struct):
    status: str
    databases: list[CheckResult]
    replicas: list[ReplicaStatus] = msgspec.field(default_factory=list)


@get("/", sync_to_thread=False)
def liveness() -> dict[str, str]:
    """The process is up; touches no database."""
    return {"status": "ok"}


@get("/db")
async def database_health(request: Request[Any, Any, Any]) -> Response[HealthReport]:
    """503 when any database fails its check; URLs in the body are redacted."""
    registry = registry_of(request.app)
    results = await asyncio.gather(*(manager.acheck() for manager in registry.values()))
    healthy = all(result.ok for result in results)
    # A replica out of rotation is reported, not an error: reads go to the primary.
    sets = [manager.replicas for manager in registry.values() if manager.replicas]
    await asyncio.gather(*(replicas.refresh() for replicas in sets))
    statuses = [status for replicas in sets for status in replicas.statuses()]
    report = HealthReport("ok" if healthy else "error", list(results), statuses)
    return Response(report, status_code=200 if healthy else 503)


health_router = Router(path="/health", route_handlers=[liveness, database_health])
