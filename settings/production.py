"""Production: DATABASE_URL and APP_SECRET_KEY come from the environment.

The loader refuses to start with DEBUG on, an empty SECRET_KEY or no DATABASE_URL.
"""

from .base import *  # noqa: F403

DEBUG = False
ENVIRONMENT = "production"
DATABASES = {"default": {"URL": "", "PRE_PING": False}}
DATABASE_STARTUP_CHECK = "fail"
MIGRATIONS_STARTUP_CHECK = "fail"
