"""``GET /health`` (liveness) and ``GET /health/db`` (every database, checked concurrently)."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from litestar import Request, Response, Router, get

from plugins.database import registry_of
from project.database import CheckResult


class HealthReport(msgspec.Struct):
    status: str
    databases: list[CheckResult]


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
    report = HealthReport(status="ok" if healthy else "error", databases=list(results))
    return Response(report, status_code=200 if healthy else 503)


health_router = Router(path="/health", route_handlers=[liveness, database_health])
