"""advanced-alchemy's ``SQLAlchemyPlugin`` as its docs set it up (autocommit, pre-ping)."""

from __future__ import annotations

from advanced_alchemy.extensions.litestar import (
    EngineConfig,
    SQLAlchemyAsyncConfig,
    SQLAlchemyPlugin,
)
from litestar import Litestar

from benchmarks.apps.common import POOL_SIZE, asyncpg_sqlalchemy_url
from benchmarks.apps.orm import route_handlers

config = SQLAlchemyAsyncConfig(
    connection_string=asyncpg_sqlalchemy_url(),
    before_send_handler="autocommit",
    engine_config=EngineConfig(pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=0),
    create_all=False,
    session_dependency_key="db_session",
)
app = Litestar(route_handlers=route_handlers, plugins=[SQLAlchemyPlugin(config=config)])
