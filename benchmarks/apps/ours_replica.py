"""``ours.py`` with one read replica (``BENCH_REPLICA_URL``): GETs read from the replica."""

from __future__ import annotations

import os

from litestar import Litestar

from benchmarks.apps.common import POOL_SIZE, database_url
from benchmarks.apps.orm import route_handlers
from plugins.database import DatabasePlugin, DatabasePluginConfig
from project.schema import DatabaseSettings

settings = DatabaseSettings(
    URL=database_url(),
    POOL_SIZE=POOL_SIZE,
    MAX_OVERFLOW=0,
    REPLICAS=[os.environ["BENCH_REPLICA_URL"]],
)
app = Litestar(
    route_handlers=route_handlers,
    plugins=[DatabasePlugin(DatabasePluginConfig(databases={"default": settings}))],
)
