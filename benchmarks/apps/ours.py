"""Our ``DatabasePlugin`` with its default settings (TRANSACTION="auto", no pre-ping)."""

from __future__ import annotations

from litestar import Litestar

from benchmarks.apps.common import POOL_SIZE, database_url
from benchmarks.apps.orm import route_handlers
from plugins.database import DatabasePlugin, DatabasePluginConfig
from project.schema import DatabaseSettings

settings = DatabaseSettings(URL=database_url(), POOL_SIZE=POOL_SIZE, MAX_OVERFLOW=0)
app = Litestar(
    route_handlers=route_handlers,
    plugins=[DatabasePlugin(DatabasePluginConfig(databases={"default": settings}))],
)
