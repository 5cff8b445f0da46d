"""Settings shared by every environment. Environment modules start with ``from .base import *``."""

from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent

DATABASES: dict[str, dict[str, Any]] = {
    "default": {
        "URL": f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
    },
}

ROUTE_HANDLERS = ["project.example.routes.router"]

MODEL_MODULES = ["project.example.models"]
