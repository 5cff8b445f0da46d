"""What the three benchmark apps share: the table, the JSON shapes and the pool size.

Kept free of SQLAlchemy so the raw asyncpg app imports none of it.
"""

from __future__ import annotations

import os

import msgspec

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
POOL_SIZE = int(os.environ.get("BENCH_POOL_SIZE", "10"))
SEED_ROWS = 1000

CREATE_TABLE = (
    "CREATE TABLE IF NOT EXISTS bench_item (id serial PRIMARY KEY, name text, quantity int)"
)
RESET_TABLE = "TRUNCATE bench_item RESTART IDENTITY"
SEED_TABLE = (
    "INSERT INTO bench_item (name, quantity) "
    f"SELECT 'item ' || n, n % 100 FROM generate_series(1, {SEED_ROWS}) AS n"
)


class ItemIn(msgspec.Struct):
    name: str
    quantity: int


class Item(msgspec.Struct):
    id: int
    name: str
    quantity: int


def database_url() -> str:
    """The plain ``postgresql://`` URL the apps share (``BENCH_DATABASE_URL``)."""
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+')[0]}{sep}{rest}"


def asyncpg_sqlalchemy_url() -> str:
    return database_url().replace("postgresql://", "postgresql+asyncpg://", 1)
