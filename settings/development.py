"""Local development: debug on, a SQLite file in the project folder, no server needed."""

from .base import *  # noqa: F403

DEBUG = True
ENVIRONMENT = "development"
