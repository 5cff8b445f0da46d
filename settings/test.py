"""Tests: PostgreSQL when one is found, else an in-memory SQLite database.

``TEST_DATABASE_URL`` names the server; without it a server on 127.0.0.1:5432
is used if one answers. ``tests/conftest.py`` may start a throwaway cluster and
set ``TEST_DATABASE_URL`` before these settings load.
"""

import os
import socket

from .base import *  # noqa: F403

ENVIRONMENT = "test"
SECRET_KEY = "test-secret-key-not-for-production"
# Test apps start on databases that tests set up themselves, not by migrating.
MIGRATIONS_STARTUP_CHECK = "off"


def _local_postgres() -> str | None:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return "postgresql://postgres@127.0.0.1:5432/test"
    except OSError:
        return None


DATABASES = {
    "default": {
        "URL": os.environ.get("TEST_DATABASE_URL") or _local_postgres() or "sqlite://",
        "POOL_SIZE": 5,
    },
}
