"""Our ``DatabasePlugin``'s ``db_connection`` (default settings), against the minimal Core app."""

from __future__ import annotations

from litestar import Litestar

from benchmarks.apps.common import POOL_SIZE, database_url
from benchmarks.apps.core import route_handlers
from plugins.database import DatabasePlugin, DatabasePluginConfig
from project.schema import DatabaseSettings

settings = DatabaseSettings(URL=database_url(), POOL_SIZE=POOL_SIZE, MAX_OVERFLOW=0)
plugin = DatabasePlugin(DatabasePluginConfig(databases={"default": settings}))

app = Litestar(route_handlers=route_handlers, plugins=[plugin])
