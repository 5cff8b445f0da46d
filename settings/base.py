"""Settings shared by every environment. Environment modules start with ``from .base import *``."""

from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

DATABASES = {
    "default": {
        "URL": f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
    },
}

ROUTE_HANDLERS = ["project.example.routes.router"]

MODEL_MODULES = ["project.example.models"]
