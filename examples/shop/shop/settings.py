"""The shop's settings: one PostgreSQL (or SQLite) database, its models and handlers."""

import os

from settings.base import *  # noqa: F403

ENVIRONMENT = "test"
DATABASES = {
    "default": {"URL": os.environ.get("SHOP_DATABASE_URL", "postgresql://postgres@127.0.0.1/shop")}
}
MODEL_MODULES = ["shop.models"]
ROUTE_HANDLERS = ["shop.routes.router"]
# "auto": the migrations in migrations/default when manage.py migrate exists, else create_all.
TEST_DATABASE_CREATE = os.environ.get("SHOP_TEST_DATABASE_CREATE", "auto")
